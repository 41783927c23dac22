// libvirt object names derived from the plan: one place, so builders, providers and components agree.
import type { Plan, PlannedNetwork, PlannedVm } from "../../plan/types";

export function networkName(plan: Pick<Plan, "stack">, network: Pick<PlannedNetwork, "name">): string {
  return `${plan.stack}-${network.name.replace(/_/g, "-")}`;
}

export function diskVolumeName(vm: Pick<PlannedVm, "name">): string {
  return `${vm.name}.qcow2`;
}

export function seedVolumeName(vm: Pick<PlannedVm, "name">): string {
  return `${vm.name}-seed.iso`;
}

export function baseVolumeName(image: string): string {
  return `${image}-base.qcow2`;
}
