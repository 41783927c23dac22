// Network isolation, proven with real packets: a "router" namespace stands in for the host, with one
// bridge per planned VM network (the plan's real bridges, gateways and subnets), "VM" namespaces on
// them at planned addresses, and two "outside" namespaces (one inside allowed_cidrs, one not). The
// rendered ruleset is loaded into the router by the real provider (nft -f). Every flow is first shown
// to connect without the table (so a blocked flow is blocked by the table, not by the topology), then
// checked against the table. All addresses live only inside the namespaces, which the test removes.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPlan } from "../../src/plan";
import type { Plan } from "../../src/plan/types";
import { makeFirewallProvider, type FirewallOutputs, type NftRunner } from "../../src/providers/firewall";
import { firewallMarker, firewallTableName, renderFirewall } from "../../src/render/firewall";
import { renderDomainXml } from "../../src/render/libvirt/domain";
import { loadSpecText } from "../../src/spec/load";
import type { ClusterSpec } from "../../src/spec/types";
import { ROOT } from "../helpers";
import { leftovers, libvirtReachable, virsh } from "./libvirt-lab";
import { NetnsLab, netnsUnavailable } from "./netns-lab";

const unavailable = netnsUnavailable();
const iptablesRestore = spawnSync("sh", ["-c", "command -v iptables-restore"]).status === 0;
if (unavailable) console.log(`network isolation test skipped: ${unavailable}`);

const ALLOWED = { cidr: "203.0.113.0/24", router: "203.0.113.1", host: "203.0.113.10" };
const DENIED = { router: "198.51.100.1", host: "198.51.100.10" };

function prodWithIsolation(): { spec: ClusterSpec; plan: Plan } {
  const text =
    fs.readFileSync(path.join(ROOT, "config/prod.yaml"), "utf8") +
    `\nsecurity:\n  allowed_cidrs: ["${ALLOWED.cidr}"]\n  cross_cluster_flows:\n    - { from: hpc, to: cloud, ` +
    `ports: ["6443/tcp"] }\n`;
  const loaded = loadSpecText("prod-isolated.yaml", text);
  if (!loaded.ok) throw new Error(loaded.errors.map((e) => e.message).join("\n"));
  return { spec: loaded.spec, plan: buildPlan({ spec: loaded.spec }) };
}

describe.skipIf(unavailable !== null)("network isolation between the clusters and from outside (namespaces)", () => {
  const lab = new NetnsLab();
  const { spec, plan } = prodWithIsolation();
  const hpcNet = plan.networks.find((n) => n.clusters.includes("hpc"))!;
  const cloudNet = plan.networks.find((n) => n.clusters.includes("cloud"))!;
  const hpcVm = plan.vms.find((vm) => vm.role === "slurm-controller")!;
  const cloudVm = plan.vms.find((vm) => vm.role === "k8s-control-plane")!;
  const spoofedSource = plan.vms.find((vm) => vm.cluster === "cloud" && vm.name !== cloudVm.name)!.ip;
  const ns = { router: "", hpc: "", cloud: "", allowed: "", denied: "" };
  let provider: ReturnType<typeof makeFirewallProvider>;
  let state: FirewallOutputs;
  const started = Date.now();
  let received: () => string = () => "";
  let datagrams = 0;
  /** Sends a UDP datagram from the hpc VM to the cloud VM; true when the cloud VM received it. */
  const udpArrives = async (bind?: string): Promise<boolean> => {
    const payload = `datagram-${++datagrams}\n`;
    lab.sendUdp(ns.hpc, cloudVm.ip, 9999, payload, bind);
    for (let waited = 0; waited < 1000 && !received().includes(payload); waited += 50)
      await new Promise((resolve) => setTimeout(resolve, 50));
    return received().includes(payload);
  };

  /** Each flow: who connects where, the peer address the listener must see (null: must not connect). */
  const flows = (): { name: string; from: string; to: string; port: number; expect: string | null }[] => [
    { name: "hpc -> cloud 6443/tcp (declared flow)", from: ns.hpc, to: cloudVm.ip, port: 6443, expect: hpcVm.ip },
    { name: "hpc -> cloud 5432/tcp (undeclared port)", from: ns.hpc, to: cloudVm.ip, port: 5432, expect: null },
    { name: "cloud -> hpc 6817/tcp (undeclared direction)", from: ns.cloud, to: hpcVm.ip, port: 6817, expect: null },
    {
      name: `${ALLOWED.host} (allowed_cidrs) -> cloud 6443/tcp`,
      from: ns.allowed,
      to: cloudVm.ip,
      port: 6443,
      expect: ALLOWED.host,
    },
    {
      name: `${ALLOWED.host} (allowed_cidrs) -> cloud 30080/tcp (NodePort)`,
      from: ns.allowed,
      to: cloudVm.ip,
      port: 30080,
      expect: ALLOWED.host,
    },
    {
      name: `${ALLOWED.host} (allowed_cidrs) -> hpc 22/tcp`,
      from: ns.allowed,
      to: hpcVm.ip,
      port: 22,
      expect: ALLOWED.host,
    },
    {
      name: `${ALLOWED.host} (allowed_cidrs) -> hpc 6817/tcp (port not open)`,
      from: ns.allowed,
      to: hpcVm.ip,
      port: 6817,
      expect: null,
    },
    {
      name: `${DENIED.host} (not allowed) -> cloud 6443/tcp`,
      from: ns.denied,
      to: cloudVm.ip,
      port: 6443,
      expect: null,
    },
    { name: `${DENIED.host} (not allowed) -> hpc 22/tcp`, from: ns.denied, to: hpcVm.ip, port: 22, expect: null },
    {
      name: "hpc -> outside 8080/tcp (egress, masqueraded)",
      from: ns.hpc,
      to: ALLOWED.host,
      port: 8080,
      expect: ALLOWED.router,
    },
    {
      name: "cloud -> outside 8080/tcp (egress, masqueraded)",
      from: ns.cloud,
      to: DENIED.host,
      port: 8080,
      expect: DENIED.router,
    },
  ];

  beforeAll(() => {
    ns.router = lab.add("host");
    ns.hpc = lab.add("hpc");
    ns.cloud = lab.add("cloud");
    ns.allowed = lab.add("out-ok");
    ns.denied = lab.add("out-no");
    // Forwarding only inside the router namespace; reverse-path filtering off so that only the
    // ruleset can stop a spoofed source.
    for (const setting of [
      "net.ipv4.ip_forward=1",
      "net.ipv4.conf.all.rp_filter=0",
      "net.ipv4.conf.default.rp_filter=0",
    ])
      lab.sysctl(ns.router, setting);
    for (const network of [hpcNet, cloudNet]) {
      lab.ip(ns.router, "link", "add", network.bridge, "type", "bridge");
      lab.ip(ns.router, "addr", "add", `${network.gateway}/${network.prefix}`, "dev", network.bridge);
      lab.ip(ns.router, "link", "set", network.bridge, "up");
    }
    lab.link(ns.router, "vm-hpc", ns.hpc, `${hpcVm.ip}/${hpcNet.prefix}`, hpcNet.gateway, { bridge: hpcNet.bridge });
    lab.link(ns.router, "vm-cloud", ns.cloud, `${cloudVm.ip}/${cloudNet.prefix}`, cloudNet.gateway, {
      bridge: cloudNet.bridge,
    });
    lab.link(ns.router, "up-ok", ns.allowed, `${ALLOWED.host}/24`, ALLOWED.router, {
      routerAddress: `${ALLOWED.router}/24`,
    });
    lab.link(ns.router, "up-no", ns.denied, `${DENIED.host}/24`, DENIED.router, {
      routerAddress: `${DENIED.router}/24`,
    });
    // A guest that configures an address of the other network on its NIC (what a spoofer does).
    lab.ip(ns.hpc, "addr", "add", `${spoofedSource}/32`, "dev", "eth0");
    for (const vmNs of [ns.hpc, ns.cloud]) for (const port of [22, 5432, 6443, 6817, 30080]) lab.listen(vmNs, port);
    for (const outside of [ns.allowed, ns.denied]) lab.listen(outside, 8080);
    received = lab.receiveUdp(ns.cloud, 9999);
    lab.waitListening(ns.cloud, cloudVm.ip, 6443);
    lab.waitListening(ns.hpc, hpcVm.ip, 6817);
    lab.waitListening(ns.allowed, ALLOWED.host, 8080);
    lab.waitListening(ns.denied, DENIED.host, 8080);
    const inRouter: NftRunner = (command, args, input) => lab.exec(ns.router, command, args, input);
    provider = makeFirewallProvider(inRouter);
  });

  /**
   * The iptables rules libvirt 9.0 (Debian bookworm; iptables-nft) installs for a started network,
   * transcribed from its network_iptables.c: private chains jumped to from FORWARD and POSTROUTING.
   * NAT mode admits only replies into a network; route mode admits anything addressed to the subnet.
   */
  const libvirtRules = (mode: "nat" | "route"): string => {
    const filter = [hpcNet, cloudNet].flatMap((n) => [
      `-A LIBVIRT_FWX -i ${n.bridge} -o ${n.bridge} -j ACCEPT`,
      mode === "nat"
        ? `-A LIBVIRT_FWI -d ${n.subnet} -o ${n.bridge} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`
        : `-A LIBVIRT_FWI -d ${n.subnet} -o ${n.bridge} -j ACCEPT`,
      `-A LIBVIRT_FWI -o ${n.bridge} -j REJECT --reject-with icmp-port-unreachable`,
      `-A LIBVIRT_FWO -s ${n.subnet} -i ${n.bridge} -j ACCEPT`,
      `-A LIBVIRT_FWO -i ${n.bridge} -j REJECT --reject-with icmp-port-unreachable`,
    ]);
    const nat =
      mode === "nat"
        ? [hpcNet, cloudNet].flatMap((n) => [
            `-A LIBVIRT_PRT -s ${n.subnet} -d 224.0.0.0/24 -j RETURN`,
            `-A LIBVIRT_PRT -s ${n.subnet} -d 255.255.255.255/32 -j RETURN`,
            `-A LIBVIRT_PRT -s ${n.subnet} ! -d ${n.subnet} -j MASQUERADE`,
          ])
        : [];
    return [
      "*filter",
      ":LIBVIRT_FWX - [0:0]",
      ":LIBVIRT_FWI - [0:0]",
      ":LIBVIRT_FWO - [0:0]",
      "-A FORWARD -j LIBVIRT_FWX",
      "-A FORWARD -j LIBVIRT_FWI",
      "-A FORWARD -j LIBVIRT_FWO",
      ...filter,
      "COMMIT",
      "*nat",
      ":LIBVIRT_PRT - [0:0]",
      "-A POSTROUTING -j LIBVIRT_PRT",
      ...nat,
      "COMMIT",
      "",
    ].join("\n");
  };
  const loadLibvirtRules = (mode: "nat" | "route"): void => {
    const loaded = lab.exec(ns.router, "iptables-restore", [], libvirtRules(mode));
    if (loaded.code !== 0) throw new Error(`iptables-restore in the router namespace: ${loaded.stderr}`);
  };
  const removeLibvirtRules = (): void => {
    for (const table of ["filter", "nat"]) lab.exec(ns.router, "nft", ["delete", "table", "ip", table]);
  };

  afterAll(() => {
    const left = lab.destroy();
    console.log(
      `network isolation test: ${((Date.now() - started) / 1000).toFixed(1)} s; namespaces left: ${left.length}`,
    );
    expect(left).toEqual([]);
  });

  it("without the table every flow connects, unfiltered and not masqueraded (the topology routes them all)", () => {
    const seen = flows().map((flow) => ({ flow: flow.name, peer: lab.connect(flow.from, flow.to, flow.port) }));
    const viaRouter = (peer: string | null) => peer !== null;
    expect(seen.filter((s) => !viaRouter(s.peer))).toEqual([]);
    // No NAT without the table: the outside sees the VM's own address.
    expect(seen.find((s) => s.flow.startsWith("hpc -> outside"))!.peer).toBe(hpcVm.ip);
  });

  it(
    "without the table a datagram from the hpc VM reaches " + "the cloud VM, with its own or a spoofed cloud source",
    async () => {
      expect(await udpArrives()).toBe(true);
      expect(await udpArrives(spoofedSource)).toBe(true);
    },
  );

  it("with the table: the declared flow, allowed_cidrs and egress connect; everything else is blocked", async () => {
    const inputs = {
      uri: "qemu:///system",
      table: firewallTableName(plan),
      marker: firewallMarker(plan),
      ruleset: renderFirewall(spec, plan),
    };
    state = (await provider.create(inputs)).outs as FirewallOutputs;
    const results = flows().map((flow) => ({
      flow: flow.name,
      expected: flow.expect,
      seen: lab.connect(flow.from, flow.to, flow.port),
    }));
    console.log(
      "network isolation flows with the table:\n" +
        results.map((r) => `  ${r.seen === null ? "blocked" : `allowed (peer ${r.seen})`}: ${r.flow}`).join("\n"),
    );
    expect(results.map((r) => ({ flow: r.flow, seen: r.seen }))).toEqual(
      results.map((r) => ({ flow: r.flow, seen: r.expected })),
    );
    // The drops were the table's: its counters saw the blocked packets.
    const listed = lab.exec(ns.router, "nft", ["list", "table", "inet", inputs.table]).stdout;
    for (const comment of ["between clusters: not declared", "inbound: source not in allowed_cidrs or port not open"]) {
      const line = listed.split("\n").find((l) => l.includes(`comment "${comment}"`))!;
      expect(Number(/packets (\d+)/.exec(line)![1]), comment).toBeGreaterThan(0);
    }
  });

  it(
    "with the table a datagram from the hpc bridge with a cloud source is dropped (the table's rule for traffic " +
      "inside the cloud network would pass it)",
    async () => {
      expect(await udpArrives(spoofedSource)).toBe(false);
      expect(await udpArrives()).toBe(false); // and the real source is an undeclared cross-cluster flow
      const listed = lab.exec(ns.router, "nft", ["list", "table", "inet", state.table]).stdout;
      const line = listed.split("\n").find((l) => l.includes('comment "spoofed source on hpc_network"'))!;
      expect(Number(/packets (\d+)/.exec(line)![1])).toBeGreaterThan(0);
    },
  );

  it("deleting the table restores the unfiltered state; deleting again is a no-op", async () => {
    await provider.delete!(state.appliedDigest, state);
    await provider.delete!(state.appliedDigest, state);
    expect(lab.exec(ns.router, "nft", ["list", "tables"]).stdout).not.toContain(state.table);
    expect(lab.connect(ns.denied, cloudVm.ip, 6443)).toBe(DENIED.host);
  });

  it.skipIf(!iptablesRestore)(
    "libvirt's own NAT-mode rules reject the declared flow and allowed_cidrs: why the stack has libvirt route instead",
    () => {
      loadLibvirtRules("nat");
      try {
        expect(lab.connect(ns.hpc, cloudVm.ip, 6443)).toBeNull();
        expect(lab.connect(ns.allowed, cloudVm.ip, 6443)).toBeNull();
        expect(lab.connect(ns.hpc, ALLOWED.host, 8080)).toBe(ALLOWED.router); // libvirt's masquerade
      } finally {
        removeLibvirtRules();
      }
    },
  );

  it.skipIf(!iptablesRestore)(
    "with libvirt's route-mode rules in place too, the table decides exactly as alone",
    async () => {
      loadLibvirtRules("route");
      const created = (
        await provider.create({
          uri: "qemu:///system",
          table: firewallTableName(plan),
          marker: firewallMarker(plan),
          ruleset: renderFirewall(spec, plan),
        })
      ).outs as FirewallOutputs;
      try {
        const results = flows().map((flow) => ({ flow: flow.name, seen: lab.connect(flow.from, flow.to, flow.port) }));
        expect(results).toEqual(flows().map((flow) => ({ flow: flow.name, seen: flow.expect })));
        expect(await udpArrives(spoofedSource)).toBe(false);
      } finally {
        await provider.delete!(created.appliedDigest, created);
        removeLibvirtRules();
      }
    },
  );
});

describe.skipIf(!libvirtReachable())("libvirt keeps clean-traffic on every NIC (real libvirtd, define only)", () => {
  it("each dev VM, defined under a unique name, keeps the filter with its planned address; the filter exists", () => {
    const loaded = loadSpecText("dev.yaml", fs.readFileSync(path.join(ROOT, "config/dev.yaml"), "utf8"));
    if (!loaded.ok) throw new Error("dev.yaml");
    const plan = buildPlan({ spec: loaded.spec });
    expect(virsh("nwfilter-dumpxml", "clean-traffic").stdout).toContain("<filterref filter='no-ip-spoofing'/>");
    const suffix = randomBytes(3).toString("hex");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hs-fw-domain-"));
    const defined: string[] = [];
    try {
      for (const vm of plan.vms) {
        const name = `hsfw${suffix}-${vm.name}`;
        const file = path.join(dir, `${name}.xml`);
        // A fresh name and no UUID: nothing of another test or stack is touched.
        fs.writeFileSync(
          file,
          renderDomainXml(plan, { ...vm, name }, { pool: "hs-dev", domainType: "qemu" }).replace(
            /<uuid>[^<]*<\/uuid>/,
            "",
          ),
        );
        expect(virsh("define", file).code, name).toBe(0);
        defined.push(name);
        const xml = virsh("dumpxml", "--inactive", name).stdout;
        expect(xml).toContain(`<filterref filter='clean-traffic'>\n        <parameter name='IP' value='${vm.ip}'/>`);
      }
    } finally {
      for (const name of defined) virsh("undefine", name);
      fs.rmSync(dir, { recursive: true, force: true });
    }
    expect(leftovers(`hsfw${suffix}`)).toEqual([]);
  });
});
