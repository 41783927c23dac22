// ClusterSpec + HostInventory (+ previous Plan) -> Plan. Pure and deterministic.
import type { HostInventory } from "../host/types";
import type { Finding, SpecDiagnostic } from "../spec/diagnostics";
import type { ClusterSpec } from "../spec/types";
import { planGpus } from "./gpus";
import type { Plan, PlanIssue, PlannedVm } from "./types";
import { isGpuNode, planNetworks, planVms, specPathOfRole, type BareVm } from "./vms";

export { needsVgpuFramework } from "./gpus";

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
      errors.push({
        vm: vm.name,
        message: `${vm.name} is GPU-enabled but received no GPU share`,
        hint: "add GPU shares for its cluster or lower the pool's count",
        path: `${specPathOfRole(vm.role)}/count`,
      });
    }
  }
  if (host) {
    const capacity = capacityOf(vms, host, spec.host.reserved);
    if (capacity.memory && !capacity.memory.fits) {
      errors.push({
        message:
          `the VMs need ${capacity.memory.neededGiB} GiB of memory; the host has ${capacity.memory.hostGiB} GiB ` +
          `with ${capacity.memory.reservedGiB} GiB reserved`,
        hint: "lower memory_gb or node counts, or host.reserved.memory_gb",
        path: capacity.memory.largestPath,
      });
    }
    if (capacity.cpu?.verdict === "over-limit") {
      errors.push({
        message:
          `the VMs need ${capacity.cpu.vcpus} vCPUs, more than 4x the host's ${capacity.cpu.threads} threads ` +
          `(less ${capacity.cpu.reservedCores} reserved)`,
        hint: "lower cpu_cores or node counts",
        path: capacity.cpu.largestPath,
      });
    } else if (capacity.cpu?.verdict === "overcommitted") {
      gpu.warnings.push({
        message:
          `the VMs have ${capacity.cpu.vcpus} vCPUs on ${capacity.cpu.threads} host threads: ` +
          "CPUs are overcommitted",
      });
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

/** The VMs measured against the host: the one capacity rule (the planner refuses, doctor FAILs, on it). */
export interface Capacity {
  /** null when the host does not report its memory. */
  readonly memory: {
    readonly neededGiB: number;
    readonly availableGiB: number;
    readonly hostGiB: number;
    readonly reservedGiB: number;
    readonly fits: boolean;
    readonly largestPath: string;
  } | null;
  /** null when the host does not report its threads. Over 4 vCPUs per available thread is refused. */
  readonly cpu: {
    readonly vcpus: number;
    readonly threads: number;
    readonly available: number;
    readonly reservedCores: number;
    readonly verdict: "fits" | "overcommitted" | "over-limit";
    readonly largestPath: string;
  } | null;
  /** Declared disk over all VMs (overlays are thin: informational only). */
  readonly diskGiB: number;
}

export const CPU_OVERCOMMIT_LIMIT = 4;

export function capacityOf(
  vms: readonly BareVm[],
  host: HostInventory,
  reserved: { readonly memory_gb: number; readonly cpu_cores: number },
): Capacity {
  const memoryMiB = vms.reduce((sum, vm) => sum + vm.memoryMiB, 0);
  const vcpus = vms.reduce((sum, vm) => sum + vm.vcpus, 0);
  const totalMiB = host.memory.totalMiB;
  const threads = host.cpu.threads;
  const cpuAvailable = threads === null ? 0 : Math.max(0, threads - reserved.cpu_cores);
  return {
    memory:
      totalMiB === null
        ? null
        : {
            neededGiB: Math.ceil(memoryMiB / 1024),
            availableGiB: Math.max(0, Math.floor(totalMiB / 1024 - reserved.memory_gb)),
            hostGiB: Math.floor(totalMiB / 1024),
            reservedGiB: reserved.memory_gb,
            fits: memoryMiB <= totalMiB - reserved.memory_gb * 1024,
            largestPath: `${largestConsumer(vms, (vm) => vm.memoryMiB)}/memory_gb`,
          },
    cpu:
      threads === null
        ? null
        : {
            vcpus,
            threads,
            available: cpuAvailable,
            reservedCores: reserved.cpu_cores,
            verdict:
              vcpus <= cpuAvailable
                ? "fits"
                : vcpus <= cpuAvailable * CPU_OVERCOMMIT_LIMIT
                  ? "overcommitted"
                  : "over-limit",
            largestPath: `${largestConsumer(vms, (vm) => vm.vcpus)}/cpu_cores`,
          },
    diskGiB: vms.reduce((sum, vm) => sum + vm.diskGiB, 0),
  };
}

/** The cluster.yaml node or pool whose VMs take the most of a resource: the setting most worth lowering. */
function largestConsumer(vms: readonly BareVm[], amount: (vm: BareVm) => number): string {
  const totals = new Map<string, number>();
  for (const vm of vms) totals.set(specPathOfRole(vm.role), (totals.get(specPathOfRole(vm.role)) ?? 0) + amount(vm));
  let best = "/clusters";
  let bestTotal = -1;
  for (const [path, total] of totals) if (total > bestTotal) [best, bestTotal] = [path, total];
  return best;
}

/** A plan refusal as a spec diagnostic, at the cluster.yaml setting to change (the document when it names none). */
export function planIssueDiagnostic(issue: PlanIssue, place: (finding: Finding) => SpecDiagnostic): SpecDiagnostic {
  return place({ path: issue.path ?? "", message: issue.message, ...(issue.hint ? { hint: issue.hint } : {}) });
}

/** Canonical JSON of a plan: stable key order (as built), two-space indent, trailing newline. */
export function planToJson(plan: Plan): string {
  return JSON.stringify(plan, null, 2) + "\n";
}
