// Role layers of cloud-init per VM, for `hyperscaler render` (secrets as placeholders; the stack passes
// the real secrets to the same functions).
import type { Plan } from "../plan/types";
import type { ClusterSpec } from "../spec/types";
import { gpuDriverLayer } from "./cloud-init/gpu-driver";
import { KUBERNETES_PLACEHOLDERS, kubernetesLayer } from "./cloud-init/kubernetes";
import { MUNGE_KEY_PLACEHOLDER, slurmLayer } from "./cloud-init/slurm";
import { SSH_HOST_KEY_PLACEHOLDER, sshHostKeyLayer } from "./cloud-init/ssh-host-key";
import type { CloudInitLayers } from "./files";

export function cloudInitLayers(spec: ClusterSpec, plan: Plan): CloudInitLayers {
  return (name) => {
    const vm = plan.vms.find((v) => v.name === name);
    if (!vm) return [];
    const layers = [gpuDriverLayer(spec, plan, vm)];
    if (vm.cluster === "hpc") layers.push(slurmLayer(spec, plan, vm, MUNGE_KEY_PLACEHOLDER));
    if (vm.cluster === "cloud") layers.push(kubernetesLayer(spec, plan, vm, KUBERNETES_PLACEHOLDERS));
    layers.push(sshHostKeyLayer(SSH_HOST_KEY_PLACEHOLDER));
    return layers;
  };
}
