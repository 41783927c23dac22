// The bring-up test's check of network isolation as deployed: the host firewall's table, libvirt's forward
// mode, clean-traffic on every NIC (with a spoofing attempt and its control), and VMs still reaching each
// other and the host.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Plan, PlannedVm } from "../../src/plan/types";
import { firewallTableName } from "../../src/render/firewall";
import { networkName } from "../../src/render/libvirt/names";
import { hostFirewallOn } from "../../src/render/stack-inputs";
import type { ClusterSpec } from "../../src/spec/types";
import type { Sandbox } from "./namespace";

/** Runs a command on a VM over SSH; throws unless it exits 0; returns its stdout. */
export type Must = (vm: PlannedVm, command: string, timeoutMs?: number) => Promise<string>;

/** An address of the VM's subnet that no VM and no gateway has (the top of the subnet, below broadcast). */
function spoofAddress(plan: Plan, vm: PlannedVm): string {
  const network = plan.networks.find((n) => n.name === vm.network)!;
  const [base, bits] = network.subnet.split("/");
  const toInt = (ip: string) => ip.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0);
  const used = new Set([network.gateway, ...plan.vms.map((v) => v.ip)]);
  for (let n = toInt(base) + 2 ** (32 - Number(bits)) - 2; n > toInt(base); n--) {
    const ip = [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");
    if (!used.has(ip)) return ip;
  }
  throw new Error(`no free address in ${network.subnet} for the spoofing check`);
}

/**
 * Network isolation as deployed: the stack's nft table in the namespace, libvirt routing (not NATing) the
 * networks, clean-traffic bound to every VM NIC with its planned IP, and with all that VMs still reach
 * each other and the host (the gateway's DNS port), but not from a source address that is not their own;
 * the host reaches them over SSH (every other phase).
 */
export async function isolationInEffect(
  sandbox: Sandbox,
  spec: ClusterSpec,
  plan: Plan,
  must: Must,
): Promise<Record<string, unknown>> {
  const run = (args: string[]): string => {
    const result = spawnSync(args[0], args.slice(1), { encoding: "utf8" });
    if (result.status !== 0) throw new Error(`${args.join(" ")}: ${(result.stderr || result.stdout).trim()}`);
    return result.stdout;
  };
  const on = hostFirewallOn(spec, plan);
  const table = firewallTableName(plan);
  const tables = run([...sandbox.exec, "nft", "list", "tables"]);
  if (on !== tables.includes(`table inet ${table}`))
    throw new Error(
      `network_isolation is ${on}, but the namespace's nft tables are: ${tables.trim().replace(/\n/g, "; ")}`,
    );
  const forwardModes = Object.fromEntries(
    plan.networks.map((network) => {
      const xml = run(["virsh", "-q", "-c", sandbox.uri, "net-dumpxml", networkName(plan, network)]);
      return [network.name, /<forward mode=['"](\w+)['"]/.exec(xml)?.[1] ?? "none"];
    }),
  );
  for (const network of plan.networks)
    if (network.mode === "nat" && forwardModes[network.name] !== (on ? "route" : "nat"))
      throw new Error(
        `network ${network.name} forwards in mode ${forwardModes[network.name]}, expected ${on ? "route" : "nat"}`,
      );
  const bindings = run(["virsh", "-q", "-c", sandbox.uri, "nwfilter-binding-list"])
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => l.trim().split(/\s+/));
  const filters: Record<string, string> = {};
  for (const vm of plan.vms) {
    const nic = /<target dev=['"]([^'"]+)['"]/.exec(
      run(["virsh", "-q", "-c", sandbox.uri, "dumpxml", vm.name]).split("<interface")[1] ?? "",
    )?.[1];
    const filter = bindings.find((cols) => cols[0] === nic)?.[1];
    if (filter !== "clean-traffic")
      throw new Error(`${vm.name}'s NIC ${nic ?? "?"} has nwfilter ${filter ?? "none"}, expected clean-traffic`);
    const ip = /<parameter name=['"]IP['"] value=['"]([^'"]+)['"]/.exec(
      run(["virsh", "-q", "-c", sandbox.uri, "nwfilter-binding-dumpxml", nic!]),
    )?.[1];
    if (ip !== vm.ip) throw new Error(`${vm.name}'s clean-traffic binding has IP ${ip ?? "none"}, planned ${vm.ip}`);
    filters[vm.name] = `${nic}: clean-traffic IP=${ip}`;
  }
  // Each VM reaches every other VM's SSH port and the host (dnsmasq on its network's gateway).
  const reach: Record<string, string[]> = {};
  for (const vm of plan.vms) {
    const gateway = plan.networks.find((n) => n.name === vm.network)!.gateway;
    const targets = [...plan.vms.filter((other) => other !== vm).map((other) => `${other.ip}/22`), `${gateway}/53`];
    const probe = targets
      .map((t) => `timeout 10 bash -c '</dev/tcp/${t}' && echo ok ${t} || echo FAIL ${t}`)
      .join("; ");
    const out = (await must(vm, probe)).trim().split("\n");
    const failed = out.filter((line) => line.startsWith("FAIL"));
    if (failed.length) throw new Error(`${vm.name} cannot reach ${failed.map((l) => l.slice(5)).join(", ")} (TCP)`);
    reach[vm.name] = targets;
  }
  if (plan.vms.length < 2)
    return {
      networkIsolation: on,
      table: on ? table : null,
      forwardModes,
      filters,
      reach,
      spoofedSource: "not checked: one VM",
    };
  // clean-traffic at work: a connection from a VM with a source address not its own never gets through.
  const [from, to] = plan.vms;
  const spoofed = spoofAddress(plan, from);
  const spoof = [
    `dev=$(ip -o route get ${to.ip} | sed -n 's/.* dev \\([^ ]*\\).*/\\1/p')`,
    `sudo ip addr add ${spoofed}/32 dev "$dev"`,
    `sudo ip route replace ${to.ip}/32 dev "$dev" src ${spoofed}`,
    `if timeout 10 bash -c '</dev/tcp/${to.ip}/22' 2>/dev/null; then r=LEAKED; else r=BLOCKED; fi`,
    `sudo ip route del ${to.ip}/32 dev "$dev" src ${spoofed}`,
    `sudo ip addr del ${spoofed}/32 dev "$dev"`,
    `echo "$r"`,
  ].join("; ");
  const attempt = async () => (await must(from, spoof, 60_000)).trim().split("\n").pop();
  const verdict = await attempt();
  if (verdict !== "BLOCKED")
    throw new Error(
      `${from.name} reached ${to.name}:22 from the spoofed source ${spoofed} (${verdict}): clean-traffic does ` +
        `not filter its NIC`,
    );
  // The control: with the NIC's filter binding removed the same attempt gets through, so the block above
  // was clean-traffic's (not a routing or firewall accident). The binding is restored and checked again.
  const nic = filters[from.name].split(":")[0];
  const bindingFile = path.join(sandbox.state, `binding-${nic}.xml`);
  fs.writeFileSync(bindingFile, run(["virsh", "-q", "-c", sandbox.uri, "nwfilter-binding-dumpxml", nic]), {
    mode: 0o600,
  });
  run(["virsh", "-q", "-c", sandbox.uri, "nwfilter-binding-delete", nic]);
  let unfiltered: string | undefined;
  try {
    unfiltered = await attempt();
  } finally {
    run(["virsh", "-q", "-c", sandbox.uri, "nwfilter-binding-create", bindingFile]);
    fs.rmSync(bindingFile, { force: true });
  }
  if (unfiltered !== "LEAKED")
    throw new Error(
      `without its clean-traffic binding, ${from.name} still could not reach ${to.name}:22 from ${spoofed} ` +
        `(${unfiltered}): the spoofing check proves nothing`,
    );
  const again = await attempt();
  if (again !== "BLOCKED")
    throw new Error(
      `after restoring ${from.name}'s clean-traffic binding, the spoofed source ${spoofed} got through (${again})`,
    );
  const restored = await must(from, `timeout 10 bash -c '</dev/tcp/${to.ip}/22' && echo ok`, 60_000);
  if (!restored.includes("ok"))
    throw new Error(`${from.name} no longer reaches ${to.name}:22 after the spoofing check`);
  return {
    networkIsolation: on,
    table: on ? table : null,
    forwardModes,
    filters,
    reach,
    spoofedSource: {
      from: from.name,
      to: to.name,
      source: spoofed,
      filtered: verdict,
      withoutBinding: unfiltered,
      restored: again,
    },
  };
}
