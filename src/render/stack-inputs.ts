// Decisions the stack's components make about provider inputs, as pure functions of the spec and plan: the
// components call them inside their Outputs, the bring-up test (test/e2e/cluster.ts) with plain values, so
// both hand the providers the same inputs.
import type { PlannedVm } from "../plan/types";
import type { ClusterSpec } from "../spec/types";
import { seedFiles, type SeedFiles } from "./cloud-init/nocloud";
import { PLACEHOLDER_SECRETS, vmLayers, type PlanLayout, type VmSecrets } from "./layers";

/** libvirt domain type: kvm, or qemu (TCG) under host.virtualization: emulated. */
export function domainTypeOf(spec: Pick<ClusterSpec, "host">): "kvm" | "qemu" {
  return spec.host.virtualization === "emulated" ? "qemu" : "kvm";
}

/**
 * The stack owns a host nftables table (and libvirt routes its networks) when isolation is on and there is
 * a network.
 */
export function hostFirewallOn(spec: Pick<ClusterSpec, "security">, plan: Pick<PlanLayout, "networks">): boolean {
  return spec.security.network_isolation && plan.networks.length > 0;
}

/**
 * A VM's seed files (VirtualMachine): its layers (render/layers.ts#vmLayers) with the real secrets; the
 * instance-id comes from the same layers with placeholders, so `hyperscaler render` shows it exactly.
 */
export function vmSeedFiles(
  spec: ClusterSpec,
  plan: PlanLayout,
  vm: PlannedVm,
  secrets: VmSecrets,
  extraKeys: readonly string[],
): Record<keyof SeedFiles, string> & Record<string, string> {
  return {
    ...seedFiles(
      spec,
      plan,
      vm,
      vmLayers(spec, plan, vm, secrets),
      extraKeys,
      vmLayers(spec, plan, vm, PLACEHOLDER_SECRETS),
    ),
  };
}
