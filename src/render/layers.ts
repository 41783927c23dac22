// Role layers of cloud-init per VM. The Slurm and Kubernetes renderers plug in here; secrets appear
// as placeholders in rendered files and as Pulumi secrets in the stack.
import type { Plan } from "../plan/types";
import type { ClusterSpec } from "../spec/types";
import type { CloudInitLayers } from "./files";

export function cloudInitLayers(_spec: ClusterSpec, _plan: Plan): CloudInitLayers {
  return () => [];
}
