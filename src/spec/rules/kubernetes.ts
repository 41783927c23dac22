// Kubernetes rules: the minor version must be one the project has facts for (kubeadm config API, pause
// image), from src/facts/versions.ts, the one owner of those facts.
import { KUBERNETES } from "../../facts/versions";
import type { RuleContext } from "./context";

export function checkKubernetes(ctx: RuleContext): void {
  const version = ctx.spec.clusters.cloud?.kubernetes_config.version;
  if (version === undefined || version in KUBERNETES) return;
  const supported = Object.keys(KUBERNETES);
  ctx.error({
    path: "/clusters/cloud/kubernetes_config/version",
    message: `Kubernetes ${version} is not a version this project supports`,
    found: version,
    expected: `one of ${supported.join(", ")}`,
    hint:
      `set version: "${supported.includes("1.31") ? "1.31" : supported[supported.length - 1]}" ` +
      `(the kubeadm API and pause image of each are in src/facts/versions.ts)`,
  });
}
