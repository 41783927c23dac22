// The node label that says what a Kubernetes worker is for: kubelet puts `compute=cpu` or `compute=gpu`
// on its node (render/kubernetes.ts), and workloads are placed by it (render/mlops.ts, render/workloads.ts,
// verify). One owner, so a renamed key or value cannot leave a selector that matches no node.

/** The label's key. */
export const COMPUTE_LABEL = "compute";

/** What a node is for: CPU workers (and the control plane) or GPU workers. */
export type ComputeKind = "cpu" | "gpu";

/** The label as an object entry, for node labels and `nodeSelector`: `{ compute: "cpu" }`. */
export function computeLabel(kind: ComputeKind): { readonly [COMPUTE_LABEL]: ComputeKind } {
  return { [COMPUTE_LABEL]: kind };
}

/** The label as kubelet's `--node-labels` and `kubectl -l` write it: `compute=cpu`. */
export function computeLabelText(kind: ComputeKind): string {
  return `${COMPUTE_LABEL}=${kind}`;
}

/** A node-affinity term that prefers (weight 100) nodes of one kind without requiring them. */
export function preferComputeAffinity(kind: ComputeKind): Record<string, unknown> {
  const matchExpressions = [{ key: COMPUTE_LABEL, operator: "In", values: [kind] }];
  const preferred = [{ weight: 100, preference: { matchExpressions } }];
  return { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: preferred } };
}
