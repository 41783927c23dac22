// The host firewall renderer: spec -> nftables rules (tables of cases), nft's own check mode on the
// ruleset of every shipped config, the spec rules for declared flows, the libvirt side (route mode,
// clean-traffic on every NIC), and where the provider runs nft for each libvirt URI.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildPlan } from "../../src/plan";
import { makeFirewallProvider, nftInvocation } from "../../src/providers/firewall";
import { renderAll } from "../../src/render/files";
import { firewallMarker, firewallTableName, libvirtForwardMode, renderFirewall } from "../../src/render/firewall";
import { renderDomainXml } from "../../src/render/libvirt/domain";
import { renderNetworkXml } from "../../src/render/libvirt/network";
import { loadSpecFile, loadSpecText } from "../../src/spec/load";
import { lineOf, ROOT } from "../helpers";

const DEV = fs.readFileSync(path.join(ROOT, "config/dev.yaml"), "utf8");
const CONFIGS = [
  "config/dev.yaml",
  "config/prod.yaml",
  ...fs.readdirSync(path.join(ROOT, "config/examples")).map((f) => `config/examples/${f}`),
];

function load(text: string) {
  const loaded = loadSpecText("cluster.yaml", text);
  if (!loaded.ok) throw new Error(loaded.errors.map((e) => `${e.line}:${e.column} ${e.message}`).join("\n"));
  return { spec: loaded.spec, plan: buildPlan({ spec: loaded.spec }), warnings: loaded.warnings };
}

const devWith = (security: string) => `${DEV}security:\n${security}`;
/** The forward chain's rules, one per line, without indentation. */
const forwardRules = (ruleset: string): string[] =>
  ruleset
    .split("chain forward {\n")[1]
    .split("\n\t}")[0]
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);

describe("renderFirewall", () => {
  const HPC = "192.168.110.0/24";
  const CLOUD = "192.168.210.0/24";
  const BOTH = `{ ${HPC}, ${CLOUD} }`;

  it.each([
    {
      name: "default: nothing crosses, nothing comes in, egress is masqueraded",
      security: "  admin_user: hyperscaler\n",
      present: [
        `iifname "virbr110" ip saddr != ${HPC} counter drop comment "spoofed source on hpc_network"`,
        "ct state established,related accept",
        `ip saddr ${HPC} ip daddr ${HPC} accept comment "inside hpc_network"`,
        `ip saddr ${BOTH} ip daddr ${BOTH} counter drop comment "between clusters: not declared"`,
        `ip daddr ${BOTH} counter drop comment "inbound: source not in allowed_cidrs or port not open"`,
        `ip saddr ${HPC} ip daddr != { ${HPC}, ${CLOUD}, 224.0.0.0/24, 255.255.255.255 } masquerade comment ` +
          `"egress of hpc_network"`,
      ],
      absent: ["cross_cluster_flows[", "allowed_cidrs to"],
    },
    {
      name: "declared flows become accepts before the cross-cluster drop, tcp and udp apart",
      security:
        '  cross_cluster_flows:\n    - { from: hpc, to: cloud, ports: ["6443/tcp", "30000-32767/tcp", ' +
        '"53/udp"] }\n    - { from: cloud, to: hpc, ports: ["6817/tcp"] }\n',
      present: [
        `ip saddr ${HPC} ip daddr ${CLOUD} tcp dport { 6443, 30000-32767 } accept comment ` +
          `"cross_cluster_flows[0]: hpc -> cloud"`,
        `ip saddr ${HPC} ip daddr ${CLOUD} udp dport 53 accept comment "cross_cluster_flows[0]: hpc -> cloud"`,
        `ip saddr ${CLOUD} ip daddr ${HPC} tcp dport 6817 accept comment "cross_cluster_flows[1]: cloud -> hpc"`,
      ],
      absent: ["allowed_cidrs to"],
    },
    {
      name: "allowed_cidrs reach SSH everywhere, the API and NodePorts on the cloud network, and ping",
      security: '  allowed_cidrs: ["203.0.113.0/24", "198.51.100.7/32"]\n',
      present: [
        `ip saddr { 203.0.113.0/24, 198.51.100.7/32 } ip daddr ${HPC} tcp dport 22 accept comment ` +
          `"allowed_cidrs to hpc_network"`,
        `ip saddr { 203.0.113.0/24, 198.51.100.7/32 } ip daddr ${CLOUD} tcp dport { 22, 6443, 30000-32767 } ` +
          `accept comment "allowed_cidrs to cloud_network"`,
        `ip saddr { 203.0.113.0/24, 198.51.100.7/32 } ip daddr ${BOTH} icmp type echo-request accept comment ` +
          `"allowed_cidrs: ping"`,
      ],
      absent: ["cross_cluster_flows["],
    },
  ])("$name", ({ security, present, absent }) => {
    const { spec, plan } = load(devWith(security));
    const rules = forwardRules(renderFirewall(spec, plan));
    for (const rule of present) if (!rule.includes("masquerade")) expect(rules).toContain(rule);
    const text = renderFirewall(spec, plan);
    for (const rule of present) expect(text).toContain(rule);
    for (const word of absent) expect(text).not.toContain(word);
  });

  it(
    "orders the chain: anti-spoofing, replies, declared " + "flows, cross-cluster drop, inbound allows, inbound drop",
    () => {
      const { spec, plan } = load(
        devWith(
          '  allowed_cidrs: ["203.0.113.0/24"]\n  cross_cluster_flows:\n    - { from: hpc, to: cloud, ports: ' +
            '["6443/tcp"] }\n',
        ),
      );
      const rules = forwardRules(renderFirewall(spec, plan));
      const at = (fragment: string) => rules.findIndex((rule) => rule.includes(fragment));
      const order = [
        "spoofed source",
        "established,related",
        "inside hpc_network",
        "cross_cluster_flows[0]",
        "between clusters",
        "allowed_cidrs to hpc_network",
        "inbound: source",
      ].map(at);
      expect(order.every((index) => index >= 0)).toBe(true);
      expect([...order].sort((a, b) => a - b)).toEqual(order);
      expect(rules[0]).toBe("type filter hook forward priority filter - 10; policy accept;");
    },
  );

  it("an isolated network is filtered but neither masqueraded nor opened to allowed_cidrs", () => {
    const { spec, plan } = load(
      devWith('  allowed_cidrs: ["203.0.113.0/24"]\n').replace(
        'bridge: "virbr210" }',
        'bridge: "virbr210", mode: isolated }',
      ),
    );
    const text = renderFirewall(spec, plan);
    expect(text).toContain('comment "egress of hpc_network"');
    expect(text).not.toContain('comment "egress of cloud_network"');
    expect(text).not.toContain("allowed_cidrs to cloud_network");
    expect(text).toContain('iifname "virbr210" ip saddr != 192.168.210.0/24 counter drop');
  });

  it("one table named after the stack, marked as the stack's, and nothing outside it", () => {
    const { spec, plan } = load(DEV);
    const text = renderFirewall(spec, plan);
    expect(firewallTableName(plan)).toBe("hyperscaler_hs_dev");
    expect(text.match(/^table /gm)).toEqual(["table "]);
    expect(text).toContain(`table inet hyperscaler_hs_dev {\n\tcomment "${firewallMarker(plan)}"`);
    expect(text).not.toMatch(/flush|delete/);
  });

  it("is stable: snapshot of prod with a flow and an allowed CIDR", () => {
    const prod = fs.readFileSync(path.join(ROOT, "config/prod.yaml"), "utf8");
    const { spec, plan } = load(
      `${prod}security:\n  allowed_cidrs: ["203.0.113.0/24"]\n  cross_cluster_flows:\n    - { from: hpc, to: ` +
        `cloud, ports: ["6443/tcp"] }\n`,
    );
    expect(renderFirewall(spec, plan)).toMatchSnapshot();
  });
});

const nftUsable = process.getuid?.() === 0 && spawnSync("nft", ["--version"]).status === 0;
if (!nftUsable) console.log("nft check mode skipped: needs root and nft (Debian package nftables)");

describe.skipIf(!nftUsable)("nft -c accepts the ruleset (check mode, nothing applied)", () => {
  const check = (ruleset: string): void => {
    const result = spawnSync("nft", ["-c", "-f", "-"], { input: ruleset, encoding: "utf8" });
    expect(result.status, result.stderr).toBe(0);
  };

  it.each(CONFIGS)("%s", (file) => {
    const loaded = loadSpecFile(path.join(ROOT, file));
    if (!loaded.ok) throw new Error(file);
    const files = renderAll(loaded.spec, buildPlan({ spec: loaded.spec }));
    expect(files.has("firewall.nft")).toBe(true);
    check(files.get("firewall.nft")!);
  });

  it("with flows in both directions, overlapping allowed CIDRs and port ranges", () => {
    const { spec, plan } = load(
      devWith(
        '  allowed_cidrs: ["10.0.0.0/8", "10.1.0.0/16", "203.0.113.5/32"]\n  cross_cluster_flows:\n    - { ' +
          'from: hpc, to: cloud, ports: ["6443/tcp", "30000-32767/tcp", "53/udp"] }\n    - { from: cloud, to: ' +
          'hpc, ports: ["6817-6819/tcp"] }\n',
      ),
    );
    check(renderFirewall(spec, plan));
  });
});

describe("spec: network isolation fields", () => {
  it("defaults: isolation on, no flows", () => {
    const { spec } = load(DEV);
    expect(spec.security.network_isolation).toBe(true);
    expect(spec.security.cross_cluster_flows).toEqual([]);
  });

  it.each([
    {
      name: "flow to itself",
      flow: '{ from: hpc, to: hpc, ports: ["22/tcp"] }',
      pointer: "/security/cross_cluster_flows/0/to",
      message: /goes from cluster hpc to itself/,
    },
    {
      name: "port out of range",
      flow: '{ from: hpc, to: cloud, ports: ["70000/tcp"] }',
      pointer: "/security/cross_cluster_flows/0/ports/0",
      message: /port 70000 in "70000\/tcp" is out of range/,
    },
    {
      name: "range backwards",
      flow: '{ from: hpc, to: cloud, ports: ["200-100/udp"] }',
      pointer: "/security/cross_cluster_flows/0/ports/0",
      message: /runs backwards/,
    },
    {
      name: "port without protocol",
      flow: '{ from: hpc, to: cloud, ports: ["6443"] }',
      pointer: "/security/cross_cluster_flows/0/ports/0",
      message: /6443/,
    },
    {
      name: "unknown cluster name",
      flow: '{ from: hpc, to: k8s, ports: ["6443/tcp"] }',
      pointer: "/security/cross_cluster_flows/0/to",
      message: /must be one of hpc, cloud/,
    },
    {
      name: "no ports",
      flow: "{ from: hpc, to: cloud, ports: [] }",
      pointer: "/security/cross_cluster_flows/0/ports",
      message: /at least 1/,
    },
  ])("refuses a $name with its position", ({ flow, pointer, message }) => {
    const text = devWith(`  cross_cluster_flows:\n    - ${flow}\n`);
    const loaded = loadSpecText("cluster.yaml", text);
    expect(loaded.ok).toBe(false);
    if (loaded.ok) return;
    const error = loaded.errors.find((e) => e.path === pointer);
    expect(error, JSON.stringify(loaded.errors)).toBeDefined();
    expect(error!.message).toMatch(message);
    expect(error!.line).toBe(lineOf(text, flow));
  });

  it("refuses a flow to a cluster the spec does not define, and one into an isolated network", () => {
    const noCloud = DEV.replace(/ {2}cloud:\n[\s\S]*?(?=services:)/, "");
    const missing = loadSpecText(
      "cluster.yaml",
      `${noCloud}security:\n  cross_cluster_flows:\n    - { from: hpc, to: cloud, ports: ["6443/tcp"] }\n`,
    );
    expect(missing.ok).toBe(false);
    if (!missing.ok)
      expect(missing.errors.map((e) => e.message)).toContainEqual(
        expect.stringMatching(/names cluster cloud, which the spec does not define/),
      );
    const isolated = loadSpecText(
      "cluster.yaml",
      devWith('  cross_cluster_flows:\n    - { from: hpc, to: cloud, ports: ["6443/tcp"] }\n').replace(
        'bridge: "virbr210" }',
        'bridge: "virbr210", mode: isolated }',
      ),
    );
    expect(isolated.ok).toBe(false);
    if (!isolated.ok)
      expect(isolated.errors[0]).toMatchObject({
        path: "/security/cross_cluster_flows/0/to",
        hint: "set global.networks.cloud_network.mode to nat, or remove the flow",
      });
  });

  it("refuses a libvirt URI without a shell on the host while isolation is on, at its position", () => {
    const text = DEV.replace("host:\n", "host:\n  libvirt_uri: qemu+tcp://gpu-box/system\n");
    const loaded = loadSpecText("cluster.yaml", text);
    expect(loaded.ok).toBe(false);
    if (loaded.ok) return;
    expect(loaded.errors[0]).toMatchObject({
      path: "/host/libvirt_uri",
      line: lineOf(text, "qemu+tcp://"),
      expected: "qemu:///system or qemu+ssh://root@host/system",
    });
    expect(loadSpecText("cluster.yaml", `${text}security:\n  network_isolation: false\n`).ok).toBe(true);
  });

  it(
    "warns when flows are declared with isolation off, and " + "render then writes no firewall and keeps libvirt's NAT",
    () => {
      const { spec, plan, warnings } = load(
        devWith(
          '  network_isolation: false\n  cross_cluster_flows:\n    - { from: hpc, to: cloud, ports: ["6443/tcp"] }\n',
        ),
      );
      expect(warnings.map((w) => w.message)).toContainEqual(
        expect.stringMatching(/ignored because security.network_isolation is false/),
      );
      const files = renderAll(spec, plan);
      expect(files.has("firewall.nft")).toBe(false);
      expect(
        [...files]
          .filter(([name]) => name.startsWith("libvirt/networks/"))
          .every(([, xml]) => xml.includes('<forward mode="nat"/>')),
      ).toBe(true);
    },
  );
});

describe("libvirt side", () => {
  const { spec, plan } = load(DEV);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hs-fw-xml-"));
  const validate = (name: string, xml: string, schema: string) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, xml);
    const result = spawnSync("virt-xml-validate", [file, schema], { encoding: "utf8" });
    expect(result.status, result.stdout + result.stderr).toBe(0);
  };

  it("with the host firewall, NAT networks are routed by libvirt (the table NATs); isolated stay isolated", () => {
    expect(libvirtForwardMode({ mode: "nat" }, true)).toBe("route");
    expect(libvirtForwardMode({ mode: "nat" }, false)).toBe("nat");
    expect(libvirtForwardMode({ mode: "isolated" }, true)).toBeNull();
    const files = renderAll(spec, plan);
    for (const network of plan.networks) {
      const xml = renderNetworkXml(plan, network, { hostFirewall: true });
      expect(xml).toContain('<forward mode="route"/>');
      expect([...files.values()]).toContain(xml);
      validate(`${network.name}.xml`, xml, "network");
    }
  });

  it("every VM NIC carries clean-traffic with its planned address, and the domain validates", () => {
    for (const vm of plan.vms) {
      const xml = renderDomainXml(plan, vm, { pool: "hs" });
      expect(xml).toContain(
        `<filterref filter="clean-traffic">\n        <parameter name="IP" value="${vm.ip}"/>\n      </filterref>`,
      );
      validate(`${vm.name}.xml`, xml, "domain");
    }
  });

  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
});

describe("provider errors name the cause and the fix", () => {
  const inputs = {
    uri: "qemu:///system",
    table: "hyperscaler_hs_dev",
    marker: "managed by hyperscaler stack hs-dev; do not edit",
    ruleset: "table inet hyperscaler_hs_dev {\n}\n",
  };

  it("nft missing on the host", async () => {
    const provider = makeFirewallProvider(() => ({ code: null, stdout: "", stderr: "spawnSync nft ENOENT" }));
    await expect(provider.create(inputs)).rejects.toThrow(
      "host firewall: nft is not installed on the host (Debian package nftables)",
    );
  });

  it("not root", async () => {
    const provider = makeFirewallProvider(() => ({
      code: 1,
      stdout: "",
      stderr: "Error: Could not process rule: Operation not permitted",
    }));
    await expect(provider.create(inputs)).rejects.toThrow(
      "nft list table inet hyperscaler_hs_dev failed: Error: Could not process rule: Operation not permitted " +
        "(nft needs root: run pulumi as root on the host, or use a root ssh user in the libvirt URI)",
    );
  });

  it("a URI without a shell on the host: refused before nft runs", async () => {
    const calls: string[] = [];
    const provider = makeFirewallProvider((command) => {
      calls.push(command);
      return { code: 0, stdout: "", stderr: "" };
    });
    await expect(provider.create({ ...inputs, uri: "qemu+tls://gpu-box/system" })).rejects.toThrow(
      /host firewall: libvirt URI qemu\+tls:\/\/gpu-box\/system gives no shell/,
    );
    expect(calls).toEqual([]);
  });
});

describe("where the provider runs nft", () => {
  it.each([
    ["qemu:///system", { command: "nft", prefix: [] }],
    ["qemu+unix:///system", { command: "nft", prefix: [] }],
    [
      "qemu+ssh://root@gpu-box/system",
      { command: "ssh", prefix: ["-o", "BatchMode=yes", "root@gpu-box", "--", "nft"] },
    ],
    [
      "qemu+ssh://admin@gpu-box:2222/system?keyfile=/k",
      { command: "ssh", prefix: ["-o", "BatchMode=yes", "-p", "2222", "admin@gpu-box", "--", "nft"] },
    ],
    ["qemu+ssh://gpu-box/system", { command: "ssh", prefix: ["-o", "BatchMode=yes", "gpu-box", "--", "nft"] }],
  ])("%s", (uri, expected) => {
    expect(nftInvocation(uri)).toEqual(expected);
  });

  it.each(["qemu+tcp://gpu-box/system", "qemu+tls://gpu-box/system", "test:///default"])(
    "%s is refused with the way out",
    (uri) => {
      const how = nftInvocation(uri);
      expect(how).toHaveProperty("refused");
      expect((how as { refused: string }).refused).toMatch(
        /qemu\+ssh:\/\/root@host\/system, or set security.network_isolation: false/,
      );
    },
  );
});
