// The host firewall as an nftables ruleset: one table the stack owns (`table inet hyperscaler_<stack>`),
// never flushing or touching any other table. Pure: Plan + spec.security -> nft text.
//
// Forward policy for the planned VM subnets (everything else passes untouched, policy accept):
//   - a VM network's bridge only carries its own subnet as source (anti-spoofing at L3; nwfilter
//     clean-traffic on each NIC does the same per VM at L2);
//   - replies (established, related) pass; invalid state to or from a VM subnet is dropped;
//   - traffic inside one network passes; between networks only `security.cross_cluster_flows`;
//   - from outside the host only `security.allowed_cidrs`, to SSH on every VM and to the Kubernetes
//     API and NodePorts on the cloud cluster's network (ICMP echo too, for diagnosis);
//   - VM egress to the outside passes and is masqueraded here (the libvirt networks run in route mode,
//     because libvirt's NAT mode rejects every new connection into a network in its own chains, which
//     no rule of ours could override: a packet must be accepted by every base chain on its hook).
import type { Plan, PlannedNetwork } from "../plan/types";
import type { ClusterSpec } from "../spec/types";
import { parsePortSpec } from "../spec/rules/isolation";

/**
 * TCP ports that `allowed_cidrs` may reach, by the cluster a network carries: SSH everywhere; on the cloud
 * cluster the Kubernetes API and the NodePort range (ingress-nginx is a NodePort service).
 */
export const INBOUND_PORTS: Readonly<Record<"hpc" | "cloud", readonly string[]>> = {
  hpc: ["22"],
  cloud: ["22", "6443", "30000-32767"],
};

export function firewallTableName(plan: Pick<Plan, "stack">): string {
  return `hyperscaler_${plan.stack.replace(/[^A-Za-z0-9_]/g, "_")}`;
}

/** The table's comment: how the provider recognises a table it created (and refuses any other). */
export function firewallMarker(plan: Pick<Plan, "stack">): string {
  return `managed by hyperscaler stack ${plan.stack}; do not edit`;
}

/** What libvirt must do for a planned network when the stack owns the firewall (see the header). */
export function libvirtForwardMode(network: Pick<PlannedNetwork, "mode">, isolation: boolean): "nat" | "route" | null {
  if (network.mode !== "nat") return null;
  return isolation ? "route" : "nat";
}

const set = (items: readonly (string | number)[]): string =>
  items.length === 1 ? String(items[0]) : `{ ${items.join(", ")} }`;

function portMatch(ports: readonly string[]): string[] {
  const byProtocol = new Map<string, string[]>();
  for (const text of ports) {
    const port = parsePortSpec(text);
    if (!port) throw new Error(`not a port: ${text}`);
    byProtocol.set(port.protocol, [
      ...(byProtocol.get(port.protocol) ?? []),
      port.first === port.last ? `${port.first}` : `${port.first}-${port.last}`,
    ]);
  }
  return [...byProtocol].map(([protocol, list]) => `${protocol} dport ${set(list)}`);
}

export function renderFirewall(spec: Pick<ClusterSpec, "security">, plan: Pick<Plan, "stack" | "networks">): string {
  const networks = plan.networks;
  const subnets = networks.map((n) => n.subnet);
  const bridges = networks.map((n) => `"${n.bridge}"`);
  const allVms = set(subnets);
  const subnetOf = (cluster: string): PlannedNetwork | undefined =>
    networks.find((n) => n.clusters.includes(cluster as never));
  const forward: string[] = [
    "type filter hook forward priority filter - 10; policy accept;",
    ...networks.map(
      (n) => `iifname "${n.bridge}" ip saddr != ${n.subnet} counter drop comment "spoofed source on ${n.name}"`,
    ),
    `meta nfproto ipv6 iifname ${set(bridges)} counter drop comment "VM networks are IPv4 only"`,
    `meta nfproto ipv6 oifname ${set(bridges)} counter drop comment "VM networks are IPv4 only"`,
    "ct state established,related accept",
    `ct state invalid ip saddr ${allVms} drop`,
    `ct state invalid ip daddr ${allVms} drop`,
    `ip saddr != ${allVms} ip daddr != ${allVms} accept comment "not a VM network: not ours to decide"`,
    ...networks.map((n) => `ip saddr ${n.subnet} ip daddr ${n.subnet} accept comment "inside ${n.name}"`),
  ];
  spec.security.cross_cluster_flows.forEach((flow, index) => {
    const from = subnetOf(flow.from);
    const to = subnetOf(flow.to);
    if (!from || !to || from === to) return; // validation refuses these; nothing to route
    for (const match of portMatch(flow.ports)) {
      forward.push(
        `ip saddr ${from.subnet} ip daddr ${to.subnet} ${match} accept comment "cross_cluster_flows[${index}]: ` +
          `${flow.from} -> ${flow.to}"`,
      );
    }
  });
  forward.push(`ip saddr ${allVms} ip daddr ${allVms} counter drop comment "between clusters: not declared"`);
  const allowed = spec.security.allowed_cidrs;
  if (allowed.length) {
    for (const n of networks.filter((network) => network.mode === "nat")) {
      const ports = [...new Set(n.clusters.flatMap((cluster) => INBOUND_PORTS[cluster]))].sort(
        (a, b) => parseInt(a, 10) - parseInt(b, 10),
      );
      forward.push(
        `ip saddr ${set(allowed)} ip daddr ${n.subnet} tcp dport ${set(ports)} accept comment "allowed_cidrs ` +
          `to ${n.name}"`,
      );
    }
    forward.push(
      `ip saddr ${set(allowed)} ip daddr ${allVms} icmp type echo-request accept comment "allowed_cidrs: ping"`,
    );
  }
  forward.push(`ip daddr ${allVms} counter drop comment "inbound: source not in allowed_cidrs or port not open"`);

  const exempt = set([...subnets, "224.0.0.0/24", "255.255.255.255"]);
  const postrouting = [
    "type nat hook postrouting priority srcnat + 10; policy accept;",
    ...networks
      .filter((n) => n.mode === "nat")
      .map((n) => `ip saddr ${n.subnet} ip daddr != ${exempt} masquerade comment "egress of ${n.name}"`),
  ];
  const chain = (name: string, lines: readonly string[]): string =>
    `\tchain ${name} {\n${lines.map((line) => `\t\t${line}\n`).join("")}\t}\n`;
  const described = networks.map(
    (n) => `${n.name} ${n.subnet} on ${n.bridge} (${n.clusters.join(", ") || "no cluster"})`,
  );
  return [
    `# Host firewall of stack ${plan.stack}: generated by hyperscaler and applied atomically with nft -f.`,
    `# Networks: ${described.join("; ")}.`,
    `table inet ${firewallTableName(plan)} {`,
    `\tcomment "${firewallMarker(plan)}"`,
    chain("forward", forward) + "\n" + chain("postrouting", postrouting) + "}",
    "",
  ].join("\n");
}
