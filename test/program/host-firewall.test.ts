// The host firewall in the stack program (mocks): one NftTable with the rendered ruleset, the networks
// depending on it and routed by libvirt; none of it when security.network_isolation is false.
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { buildPlan } from "../../src/plan";
import { buildStack } from "../../src/program/stack";
import { firewallMarker, renderFirewall } from "../../src/render/firewall";
import { loadSpecFile } from "../../src/spec/load";
import { joinedPattern, ROOT, tempDir } from "../helpers";
import { recorded, resetRecorded, settled } from "../mocks";

const HOST = path.join(ROOT, "test/fixtures/hosts/workstation.json");

async function run(file: string) {
  resetRecorded();
  await buildStack({ stack: "test", clusterFile: file, hostSnapshot: HOST, start: true });
  await settled();
  return [...recorded];
}

describe("host firewall in the stack program", () => {
  it("prod: one NftTable with the rendered ruleset, applied before any network", async () => {
    const file = path.join(tempDir(), "prod.yaml");
    fs.writeFileSync(
      file,
      fs.readFileSync(path.join(ROOT, "config/prod.yaml"), "utf8") +
        'security:\n  allowed_cidrs: ["203.0.113.0/24"]\n  cross_cluster_flows:\n    - { from: hpc, to: cloud, ' +
        'ports: ["6443/tcp"] }\n',
    );
    const resources = await run(file).finally(() => fs.rmSync(path.dirname(file), { recursive: true, force: true }));
    const loaded = loadSpecFile(path.join(ROOT, "config/prod.yaml"));
    if (!loaded.ok) throw new Error("prod.yaml");
    const tables = resources.filter((r) => r.type.endsWith(":NftTable"));
    expect(tables).toHaveLength(1);
    const table = tables[0];
    expect(table.parent).toBe("host-firewall");
    expect(table.inputs).toMatchObject({
      uri: "qemu:///system",
      table: "hyperscaler_hs_prod",
      marker: firewallMarker({ stack: "hs-prod" }),
    });
    const ruleset = table.inputs.ruleset as string;
    expect(ruleset).toContain(
      "ip saddr 192.168.100.0/24 ip daddr 192.168.200.0/24 tcp dport 6443 accept comment " +
        '"cross_cluster_flows[0]: hpc -> cloud"',
    );
    expect(ruleset).toContain(
      "ip saddr 203.0.113.0/24 ip daddr 192.168.200.0/24 tcp dport { 22, 6443, 30000-32767 } accept",
    );
    // Exactly what `hyperscaler render` writes for the same spec.
    const withSecurity = {
      ...loaded.spec,
      security: {
        ...loaded.spec.security,
        allowed_cidrs: ["203.0.113.0/24"],
        cross_cluster_flows: [{ from: "hpc" as const, to: "cloud" as const, ports: ["6443/tcp"] }],
      },
    };
    expect(ruleset).toBe(renderFirewall(withSecurity, buildPlan({ spec: withSecurity })));
    const networks = resources.filter((r) => r.type === "hyperscaler:index:ClusterNetwork");
    expect(networks).toHaveLength(2);
    for (const network of networks) expect(network.dependsOn).toContain("host-firewall-table");
    for (const network of resources.filter((r) => r.type.endsWith(":LibvirtNetwork"))) {
      expect(network.inputs.xml).toContain('<forward mode="route"/>');
      expect(network.dependsOn, network.name).toContain("host-firewall-table");
    }
  });

  it(
    "Calico encapsulates pod traffic between nodes (VXLAN " + "always), so clean-traffic on the NICs lets it through",
    async () => {
      // Natively routed pod traffic (VXLANCrossSubnet within one subnet) would leave a VM with pod source
      // addresses, which clean-traffic drops as spoofed.
      const resources = await run(path.join(ROOT, "config/dev.yaml"));
      const calico = resources.find(
        (r) => r.type === "kubernetes:helm.sh/v3:Release" && r.inputs.chart === "tigera-operator",
      );
      expect(calico).toBeDefined();
      const pools = (
        calico!.inputs.values as { installation: { calicoNetwork: { ipPools: { encapsulation: string }[] } } }
      ).installation.calicoNetwork.ipPools;
      expect(pools.map((pool) => pool.encapsulation)).toEqual(["VXLAN"]);
    },
  );

  it(
    "a libvirtUri config that gives no shell on the host " + "fails the program before any resource, with the way out",
    async () => {
      resetRecorded();
      const failure = buildStack({
        stack: "test",
        clusterFile: path.join(ROOT, "config/dev.yaml"),
        hostSnapshot: HOST,
        start: true,
        libvirtUri: "qemu+tls://gpu-box/system",
      });
      await expect(failure).rejects.toThrow(
        joinedPattern(
          /host firewall: libvirt URI qemu\+tls:\/\/gpu-box\/system gives no shell on its host to run nft; /,
          /.*set security.network_isolation: false/,
        ),
      );
      await settled();
      expect(recorded.filter((r) => r.type.endsWith(":NftTable") || r.type.endsWith(":LibvirtNetwork"))).toEqual([]);
    },
  );

  it("network_isolation: false: no table, libvirt's own NAT", async () => {
    const file = path.join(tempDir(), "dev.yaml");
    fs.writeFileSync(
      file,
      fs.readFileSync(path.join(ROOT, "config/dev.yaml"), "utf8") + "security:\n  network_isolation: false\n",
    );
    const resources = await run(file).finally(() => fs.rmSync(path.dirname(file), { recursive: true, force: true }));
    expect(resources.filter((r) => r.type.endsWith(":NftTable") || r.type.endsWith(":HostFirewall"))).toEqual([]);
    const networks = resources.filter((r) => r.type.endsWith(":LibvirtNetwork"));
    expect(networks).toHaveLength(2);
    for (const network of networks) expect(network.inputs.xml).toContain('<forward mode="nat"/>');
  });
});
