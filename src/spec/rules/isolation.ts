// Network isolation rules: declared cross-cluster flows name two clusters of the spec on different,
// forwarding networks, with valid ports.
import type { ClusterName } from "../types";
import type { RuleContext } from "./context";

/** `6443/tcp` or `30000-32767/tcp`, already matched by the schema's pattern. */
export function parsePortSpec(text: string): { first: number; last: number; protocol: "tcp" | "udp" } | null {
  const match = /^(\d{1,5})(?:-(\d{1,5}))?\/(tcp|udp)$/.exec(text);
  if (!match) return null;
  const first = Number(match[1]);
  const last = match[2] === undefined ? first : Number(match[2]);
  return { first, last, protocol: match[3] as "tcp" | "udp" };
}

export function checkIsolation(ctx: RuleContext): void {
  const { security, clusters, global } = ctx.spec;
  const networkOf = (cluster: ClusterName): string | undefined => clusters[cluster]?.network;
  const hpcNetwork = networkOf("hpc");
  if (security.network_isolation && hpcNetwork !== undefined && hpcNetwork === networkOf("cloud")) {
    ctx.warn({
      path: "/clusters/cloud/network",
      message:
        `clusters hpc and cloud share network ${hpcNetwork}: ` +
        `traffic between them is bridged and the host firewall cannot separate them`,
      found: hpcNetwork,
      hint: "give each cluster its own network under global.networks",
    });
  }
  if (!security.network_isolation && security.cross_cluster_flows.length) {
    ctx.warn({
      path: "/security/cross_cluster_flows",
      message:
        "cross_cluster_flows are ignored because security.network_isolation is false (libvirt's NAT rules decide)",
      hint: "remove the flows or set security.network_isolation: true",
    });
  }
  // The host firewall runs nft where the VMs run: locally, or over the URI's ssh target.
  if (security.network_isolation && !/^qemu(\+unix|\+ssh)?:\/\//.test(ctx.spec.host.libvirt_uri)) {
    ctx.error({
      path: "/host/libvirt_uri",
      message:
        `network isolation needs a shell on the libvirt host to apply its nftables table, ` +
        `which ${ctx.spec.host.libvirt_uri} does not give`,
      found: ctx.spec.host.libvirt_uri,
      expected: "qemu:///system or qemu+ssh://root@host/system",
      hint: "use one of those URIs, or set security.network_isolation: false and manage the host firewall yourself",
    });
  }
  security.cross_cluster_flows.forEach((flow, index) => {
    const path = `/security/cross_cluster_flows/${index}`;
    if (flow.from === flow.to) {
      ctx.error({
        path: `${path}/to`,
        message: `flow ${index} goes from cluster ${flow.from} to itself; traffic inside a cluster is always allowed`,
        found: flow.to,
        expected: `the other cluster (${flow.from === "hpc" ? "cloud" : "hpc"})`,
        hint: "remove the flow, or set `to` to the other cluster",
      });
      return;
    }
    for (const end of ["from", "to"] as const) {
      const cluster = flow[end];
      if (!clusters[cluster]) {
        ctx.error({
          path: `${path}/${end}`,
          message: `flow ${index} names cluster ${cluster}, which the spec does not define`,
          found: cluster,
          expected: `a cluster under clusters: (${Object.keys(clusters).join(", ") || "none"})`,
          hint: `define clusters.${cluster} or remove the flow`,
        });
        return;
      }
      const network = networkOf(cluster)!;
      if (global.networks[network]?.mode === "isolated") {
        ctx.error({
          path: `${path}/${end}`,
          message: `flow ${index} needs forwarding to or from cluster ${cluster}, whose network ${network} is isolated`,
          found: cluster,
          expected: `a cluster on a network with mode nat`,
          hint: `set global.networks.${network}.mode to nat, or remove the flow`,
        });
        return;
      }
    }
    if (networkOf(flow.from) === networkOf(flow.to)) {
      ctx.error({
        path,
        message:
          `flow ${index}: clusters ${flow.from} and ${flow.to} share network ${networkOf(flow.from)}, ` +
          `so their traffic is bridged and not filtered`,
        expected: "clusters on different networks",
        hint: "give each cluster its own network, or remove the flow",
      });
    }
    flow.ports.forEach((text, portIndex) => {
      const port = parsePortSpec(text);
      if (!port) return; // the schema reports the pattern
      const bad = [port.first, port.last].find((n) => n < 1 || n > 65535);
      if (bad !== undefined) {
        ctx.error({
          path: `${path}/ports/${portIndex}`,
          message: `port ${bad} in ${JSON.stringify(text)} is out of range`,
          found: text,
          expected: "ports from 1 to 65535",
        });
      } else if (port.first > port.last) {
        ctx.error({
          path: `${path}/ports/${portIndex}`,
          message: `port range ${JSON.stringify(text)} runs backwards`,
          found: text,
          expected: "FIRST-LAST with FIRST <= LAST",
          hint: `write ${port.last}-${port.first}/${port.protocol}`,
        });
      }
    });
  });
}
