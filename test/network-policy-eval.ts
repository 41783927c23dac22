// Evaluates NetworkPolicies for one flow by the Kubernetes semantics (test-only: the cluster's CNI does
// this for real; here it checks the policy set against the expected flow matrix).
import type { NetworkPolicy } from "../src/render/network-policies";

type Selector = Record<string, string>;
type Peer = {
  podSelector?: { matchLabels?: Selector };
  namespaceSelector?: { matchLabels?: Selector };
  ipBlock?: { cidr: string };
};

/** A flow between two pods, as the tests (and the README) describe the expected matrix. */
export interface Flow {
  readonly from: { readonly namespace: string; readonly labels: Selector } | { readonly ip: string };
  readonly to: { readonly namespace: string; readonly labels: Selector } | { readonly ip: string };
  readonly port: number;
  readonly protocol: "TCP" | "UDP";
}

type Endpoint = Flow["from"];

function matches(selector: { matchLabels?: Selector } | undefined, labels: Selector): boolean {
  return Object.entries(selector?.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
}

function inCidr(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split("/");
  const toInt = (a: string): number => a.split(".").reduce((n, o) => n * 256 + Number(o), 0);
  const mask = Number(bits) === 0 ? 0 : (0xffffffff << (32 - Number(bits))) >>> 0;
  return (toInt(ip) & mask) >>> 0 === (toInt(base) & mask) >>> 0;
}

function peerMatches(peer: Peer, policyNamespace: string, endpoint: Endpoint): boolean {
  if (peer.ipBlock) return "ip" in endpoint && inCidr(endpoint.ip, peer.ipBlock.cidr);
  if (!("namespace" in endpoint)) return false;
  const namespaceOk = peer.namespaceSelector
    ? matches(peer.namespaceSelector, { "kubernetes.io/metadata.name": endpoint.namespace })
    : endpoint.namespace === policyNamespace;
  return namespaceOk && matches(peer.podSelector, endpoint.labels);
}

function sideAllows(
  policies: readonly NetworkPolicy[],
  side: Endpoint,
  peer: Endpoint,
  direction: "Ingress" | "Egress",
  port: number,
  protocol: string,
): boolean {
  if (!("namespace" in side)) return true;
  const selecting = policies.filter(
    (p) =>
      p.metadata.namespace === side.namespace &&
      p.spec.policyTypes.includes(direction) &&
      matches(p.spec.podSelector, side.labels),
  );
  if (selecting.length === 0) return true;
  return selecting.some((p) =>
    (direction === "Ingress" ? p.spec.ingress : p.spec.egress)!.some((rule) => {
      const peers = "from" in rule ? rule.from : (rule as { to?: Peer[] }).to;
      const portOk = !rule.ports || rule.ports.some((r) => r.port === port && r.protocol === protocol);
      return portOk && (!peers || peers.some((x) => peerMatches(x, p.metadata.namespace, peer)));
    }),
  );
}

/**
 * Whether the policies allow a flow, by the NetworkPolicy semantics (a pod selected by no policy of a
 * direction is open in it; selected pods allow the union of their rules; both ends must allow).
 */
export function flowAllowed(policies: readonly NetworkPolicy[], flow: Flow): boolean {
  return (
    sideAllows(policies, flow.from, flow.to, "Egress", flow.port, flow.protocol) &&
    sideAllows(policies, flow.to, flow.from, "Ingress", flow.port, flow.protocol)
  );
}
