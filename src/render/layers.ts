// Which cloud-init layers a VM gets, and in which order: the one owner of that decision. The components
// (VirtualMachine, through vmSeedFiles) call it with the real secrets, `hyperscaler render` (renderAll's
// `layers`, cloudInitLayers below) with placeholders; so both write the same layers for every VM.
import type { Plan, PlannedVm } from "../plan/types";
import type { ClusterSpec } from "../spec/types";
import { gpuDriverLayer } from "./cloud-init/gpu-driver";
import { KUBERNETES_PLACEHOLDERS, kubernetesLayer, type KubernetesSecrets } from "./cloud-init/kubernetes";
import type { CloudConfig } from "./cloud-init/nocloud";
import { MUNGE_KEY_PLACEHOLDER, slurmLayer } from "./cloud-init/slurm";
import { SSH_HOST_KEY_PLACEHOLDER, sshHostKeyLayer, type SshHostKey } from "./cloud-init/ssh-host-key";
import type { CloudInitLayers } from "./files";

/** The plan's part a VM's cloud-init reads: names, networks, GPUs and the other VMs of its cluster. */
export type PlanLayout = Pick<Plan, "stack" | "networks" | "gpus" | "vms">;

/** The secrets a VM's role layers embed: the munge key (Slurm VMs) or the cluster PKI and token (Kubernetes). */
export interface RoleSecrets {
  /** The Slurm cluster's munge key, base64. Required for `hpc` VMs. */
  readonly mungeKeyBase64?: string;
  /** The Kubernetes cluster's CA, token and discovery hash. Required for `cloud` VMs. */
  readonly kubernetes?: KubernetesSecrets;
}

/** Everything secret in a VM's cloud-init: its role's secrets and its own SSH host key. */
export interface VmSecrets extends RoleSecrets {
  readonly sshHostKey: SshHostKey;
}

/** What `hyperscaler render` writes instead of secrets (and what the instance-id is derived from). */
export const PLACEHOLDER_SECRETS: Required<VmSecrets> = {
  mungeKeyBase64: MUNGE_KEY_PLACEHOLDER,
  kubernetes: KUBERNETES_PLACEHOLDERS,
  sshHostKey: SSH_HOST_KEY_PLACEHOLDER,
};

function required<T>(value: T | undefined, vm: PlannedVm, what: string): T {
  if (value === undefined)
    throw new Error(`cloud-init layers of ${vm.name} (${vm.cluster} ${vm.role}): no ${what} given`);
  return value;
}

/** A VM's cloud-init layers: guest GPU driver, its cluster's role (Slurm or Kubernetes), its SSH host key. */
export function vmLayers(spec: ClusterSpec, plan: PlanLayout, vm: PlannedVm, secrets: VmSecrets): CloudConfig[] {
  const layers = [gpuDriverLayer(spec, plan, vm)];
  if (vm.cluster === "hpc") layers.push(slurmLayer(spec, plan, vm, required(secrets.mungeKeyBase64, vm, "munge key")));
  if (vm.cluster === "cloud")
    layers.push(kubernetesLayer(spec, plan, vm, required(secrets.kubernetes, vm, "Kubernetes secrets")));
  layers.push(sshHostKeyLayer(secrets.sshHostKey));
  return layers;
}

/** Render's layers per VM name (secrets as placeholders), for renderAll's `layers` option. */
export function cloudInitLayers(spec: ClusterSpec, plan: PlanLayout): CloudInitLayers {
  return (name) => {
    const vm = plan.vms.find((v) => v.name === name);
    return vm ? vmLayers(spec, plan, vm, PLACEHOLDER_SECRETS) : [];
  };
}
