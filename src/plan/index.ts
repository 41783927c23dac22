// ClusterSpec + HostInventory (+ previous Plan) -> Plan. Pure and deterministic.
import type { HostInventory } from "../host/types";
import type { ClusterSpec } from "../spec/types";
import { planGpus } from "./gpus";
import type { Plan, PlannedVm } from "./types";
import { isGpuNode, planNetworks, planVms } from "./vms";

export interface PlanInput {
  readonly spec: ClusterSpec;
  readonly host?: HostInventory;
  readonly previous?: Plan;
}

export function buildPlan({ spec, host, previous }: PlanInput): Plan {
  const bare = planVms(spec);
  const gpuVms = bare.filter((vm) => isGpuNode(spec, vm));
  const gpu = planGpus({ spec, host, previous, gpuVms });
  const vms: PlannedVm[] = bare.map((vm) => ({ ...vm, gpus: gpu.vmGpus.get(vm.name) ?? [] }));
  const errors = [...gpu.errors];
  for (const vm of gpuVms) {
    if ((gpu.vmGpus.get(vm.name) ?? []).length === 0 && gpu.errors.length === 0) {
      errors.push({ vm: vm.name, message: `${vm.name} is GPU-enabled but received no GPU share`, hint: "add GPU shares for its cluster or lower the pool's count" });
    }
  }
  if (host) {
    const vcpus = vms.reduce((sum, vm) => sum + vm.vcpus, 0);
    const memoryMiB = vms.reduce((sum, vm) => sum + vm.memoryMiB, 0);
    const reserved = spec.host.reserved;
    if (host.memory.totalMiB !== null && memoryMiB > host.memory.totalMiB - reserved.memory_gb * 1024) {
      errors.push({ message: `the VMs need ${Math.ceil(memoryMiB / 1024)} GiB of memory; the host has ${Math.floor(host.memory.totalMiB / 1024)} GiB with ${reserved.memory_gb} GiB reserved`, hint: "lower memory_gb or node counts, or host.reserved.memory_gb" });
    }
    if (host.cpu.threads !== null && vcpus > (host.cpu.threads - reserved.cpu_cores) * 4) {
      errors.push({ message: `the VMs need ${vcpus} vCPUs, more than 4x the host's ${host.cpu.threads} threads (less ${reserved.cpu_cores} reserved)`, hint: "lower cpu_cores or node counts" });
    } else if (host.cpu.threads !== null && vcpus > host.cpu.threads - reserved.cpu_cores) {
      gpu.warnings.push({ message: `the VMs have ${vcpus} vCPUs on ${host.cpu.threads} host threads: CPUs are overcommitted` });
    }
  }
  return {
    planVersion: 1,
    stack: spec.metadata.name,
    feasible: errors.length === 0,
    errors,
    warnings: gpu.warnings,
    hostSource: host ? host.source.kind : "spec",
    networks: planNetworks(spec, bare),
    gpus: gpu.gpus,
    vms,
    moved: gpu.moved,
  };
}

/** Canonical JSON of a plan: stable key order (as built), two-space indent, trailing newline. */
export function planToJson(plan: Plan): string {
  return JSON.stringify(plan, null, 2) + "\n";
}
