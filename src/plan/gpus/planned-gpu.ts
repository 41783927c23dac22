// Output shaping: a device's entry in the plan (resolved attach mode, MIG mode and the reset it needs, its
// instances and vGPUs with their owners).
import type { PlannedGpu, PlannedInstance, PlannedVgpu, PlanIssue, ResolvedAttach } from "../types";
import type { Device } from "./devices";
import type { Share } from "./shares";
import { vgpuPathOf } from "./vgpu";

export function plannedGpu(device: Device, shares: Share[], warnings: PlanIssue[]): PlannedGpu {
  const mine = shares.filter((s) => s.device === device);
  const hasMig = device.fixed.length + device.free.length > 0;
  const attach: ResolvedAttach =
    device.spec.attach === "mig-in-guest"
      ? "mig-in-guest"
      : hasMig || device.spec.attach === "mig-vgpu"
        ? "mig-vgpu"
        : device.spec.attach === "vgpu"
          ? "vgpu"
          : device.wholeCluster
            ? "passthrough"
            : "unused";
  const migEnabled = attach === "mig-vgpu";
  const current = device.host?.migMode?.current ?? null;
  let resetRequired = false;
  let resetReason: string | null = null;
  if (device.entry) {
    if (device.host) {
      if (current === null) {
        resetRequired = migEnabled;
        resetReason = migEnabled ? "host does not report MIG mode; enabling it needs a GPU reset" : null;
      } else if (current !== migEnabled) {
        resetRequired = true;
        const from = current ? "enabled" : "disabled";
        const to = migEnabled ? "enabled" : "disabled";
        resetReason =
          `MIG mode must change from ${from} to ${to} ` +
          "(GPU reset; stop nvidia-persistenced, DCGM, fabric manager and unload nvidia_drm first)";
      }
    } else if (migEnabled) {
      resetRequired = true;
      resetReason = "host not probed: assuming MIG mode is off; enabling it needs a GPU reset";
    }
  }
  if (migEnabled && device.architecture && device.architecture !== "ampere") {
    warnings.push({
      gpu: device.spec.id,
      message:
        `${device.spec.id} (${device.architecture}) loses MIG mode and its instances at every reboot; ` +
        "`pulumi up` (or `pulumi refresh`) restores them",
    });
  }
  const instances: PlannedInstance[] = mine
    .filter((s) => s.kind === "mig-vgpu")
    .map((s) => ({
      profile: s.instance!.profile,
      profileId: device.profiles.find((p) => p.name === s.instance!.profile)?.id ?? null,
      start: s.instance!.start,
      size: s.instance!.size,
      cluster: s.cluster,
      assignedTo: s.owner,
      vgpuType: s.vgpuType ?? null,
      deviceUuid: s.uuid,
    }));
  if (attach === "mig-in-guest") {
    const owner = mine.find((s) => s.kind === "mig-in-guest")?.owner ?? null;
    for (const item of [...device.fixed, ...device.free]) {
      if (!item.placed) continue;
      instances.push({
        profile: item.placed.profile,
        profileId: device.profiles.find((p) => p.name === item.placed!.profile)?.id ?? null,
        start: item.placed.start,
        size: item.placed.size,
        cluster: item.demand.cluster,
        assignedTo: owner,
        vgpuType: null,
        deviceUuid: null,
      });
    }
  }
  instances.sort((a, b) => a.start - b.start);
  const vgpus: PlannedVgpu[] = mine
    .filter((s) => s.kind === "vgpu")
    .map((s) => ({ vgpuType: s.vgpuType ?? "", cluster: s.cluster, assignedTo: s.owner, deviceUuid: s.uuid }));
  const wholeShare = mine.find((s) => s.kind === "passthrough" || s.kind === "mig-in-guest");
  return {
    id: device.spec.id,
    pciAddress: device.spec.pci_address.toLowerCase(),
    model: device.spec.model,
    catalogKey: device.entry?.key ?? null,
    architecture: device.architecture,
    attach,
    migEnabled,
    resetRequired,
    resetReason,
    vgpuPath: attach === "mig-vgpu" || attach === "vgpu" ? vgpuPathOf(device.architecture) : null,
    instances,
    vgpus,
    wholeAssignedTo: wholeShare?.owner ?? null,
    cluster: wholeShare?.cluster ?? mine[0]?.cluster ?? null,
  };
}
