// GPU part of the plan: which GPU carries which MIG instances at which placements, which GPUs go
// whole to which VM, which vGPUs exist, and which VM receives each share. Pure and deterministic.
// The steps, one file each: demands, devices, MIG placement, whole GPUs, vGPUs, shares, output.
import type { HostInventory } from "../../host/types";
import { CLUSTER_NAMES, type ClusterSpec } from "../../spec/types";
import type { PlacementMove, Plan, PlanIssue, PlannedGpu, VmGpu } from "../types";
import type { BareVm } from "../vms";
import { expandDemands } from "./demands";
import { buildDevices } from "./devices";
import { checkHost, refuseBusyRecarve } from "./host-checks";
import { groupFailures, keepPlacements, placeRemaining } from "./mig-placement";
import { chooseWholeGpus, settleInGuestClusters } from "./passthrough";
import { plannedGpu } from "./planned-gpu";
import { collectShares, distribute } from "./shares";
import { fillVgpuSlots } from "./vgpu";
import { refuseMissingVgpuFramework } from "./vgpu-framework";

export { needsVgpuFramework } from "./vgpu-framework";

export interface GpuPlanInput {
  readonly spec: ClusterSpec;
  readonly host: HostInventory | undefined;
  readonly previous: Plan | undefined;
  readonly gpuVms: readonly BareVm[];
}

export interface GpuPlanOutput {
  readonly gpus: PlannedGpu[];
  readonly vmGpus: Map<string, VmGpu[]>;
  readonly errors: PlanIssue[];
  readonly warnings: PlanIssue[];
  readonly moved: PlacementMove[];
}

export function planGpus(input: GpuPlanInput): GpuPlanOutput {
  const { spec, host, previous } = input;
  const allocation = spec.global.gpu_allocation;
  const errors: PlanIssue[] = [];
  const warnings: PlanIssue[] = [];
  const moved: PlacementMove[] = [];

  const devices = buildDevices(allocation.devices, host);
  if (host) checkHost(spec, host, devices, errors, warnings);

  // 1. Keep existing placements: the previous plan's, else what the host already has carved.
  const pending = keepPlacements(devices, expandDemands(spec), previous, moved);

  // 2. Place the rest: pinned first, then larger profiles, onto explicit MIG GPUs before auto ones.
  for (const group of groupFailures(placeRemaining(devices, pending, moved))) errors.push(group);

  if (host) refuseBusyRecarve(devices, allocation.force_recarve, errors);

  // 3. Whole GPUs: explicit passthrough first, then non-MIG auto devices, then MIG devices left without slices.
  chooseWholeGpus(devices, allocation.whole_gpus, previous, errors);
  settleInGuestClusters(devices);

  // 4. Time-sliced vGPUs, filling devices in order.
  const vgpuSlots = fillVgpuSlots(devices, allocation.vgpu_shares, errors);

  // 5. Shares per cluster, then one VM each (a VM takes one vGPU, or any number of passthrough GPUs).
  const shares = collectShares(devices, vgpuSlots, previous);
  const vmGpus = new Map<string, VmGpu[]>();
  for (const cluster of CLUSTER_NAMES) {
    const vms = input.gpuVms.filter((vm) => vm.cluster === cluster);
    distribute(
      spec,
      cluster,
      shares.filter((s) => s.cluster === cluster),
      vms,
      vmGpus,
      errors,
    );
  }

  const gpus = devices.map((device) => plannedGpu(device, shares, warnings));
  if (host) refuseMissingVgpuFramework(spec, devices, gpus, errors);
  return { gpus, vmGpus, errors, warnings, moved };
}
