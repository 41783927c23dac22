// Decisions the stack's components make about provider inputs, as pure functions of the spec and plan: the
// components call them inside their Outputs, the bring-up test (test/e2e/cluster.ts) with plain values, so
// both hand the providers the same inputs.
import type { Plan, PlannedVm } from "../plan/types";
import type { ClusterSpec } from "../spec/types";
import { gpuDriverLayer } from "./cloud-init/gpu-driver";
import { seedFiles, type CloudConfig, type SeedFiles } from "./cloud-init/nocloud";
import { slurmLayer } from "./cloud-init/slurm";
import { cloudInitLayers } from "./layers";

/** libvirt domain type: kvm, or qemu (TCG) under host.virtualization: emulated. */
export function domainTypeOf(spec: Pick<ClusterSpec, "host">): "kvm" | "qemu" {
  return spec.host.virtualization === "emulated" ? "qemu" : "kvm";
}

/** The stack owns a host nftables table (and libvirt routes its networks) when isolation is on and there is a network. */
export function hostFirewallOn(spec: Pick<ClusterSpec, "security">, plan: Pick<Plan, "networks">): boolean {
  return spec.security.network_isolation && plan.networks.length > 0;
}

/** The cloud-init layers a Slurm VM's role adds (SlurmCluster), with the real munge key. */
export function slurmRoleLayers(spec: ClusterSpec, plan: Plan, vm: PlannedVm, mungeKeyBase64: string): CloudConfig[] {
  return [gpuDriverLayer(spec, plan, vm), slurmLayer(spec, plan, vm, mungeKeyBase64)];
}

/**
 * A VM's seed files (VirtualMachine): its role layers then its SSH host key layer; the instance-id comes
 * from render's layers (secrets as placeholders), so `hyperscaler render` shows it exactly.
 */
export function vmSeedFiles(spec: ClusterSpec, plan: Plan, vm: PlannedVm, roleLayers: readonly CloudConfig[], hostKeyLayer: CloudConfig, extraKeys: readonly string[]): Record<keyof SeedFiles, string> & Record<string, string> {
  return { ...seedFiles(spec, plan, vm, [...roleLayers, hostKeyLayer], extraKeys, cloudInitLayers(spec, plan)(vm.name)) };
}
