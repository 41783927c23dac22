// vGPUs: time-sliced vGPU slots on vgpu devices, the MIG-backed vGPU type of an instance, and which host
// path (mdev or SR-IOV) an architecture's vGPUs take.
import { vgpuCapacity } from "../../facts/vgpu-capacity";
import { CLUSTER_NAMES, type ClusterName, type ClusterSpec } from "../../spec/types";
import type { PlanIssue } from "../types";
import type { Device } from "./devices";

/** One time-sliced vGPU a device gives a cluster. */
export interface VgpuSlot {
  readonly device: Device;
  readonly cluster: ClusterName;
}

/** Time-sliced vGPUs, filling devices in order. */
export function fillVgpuSlots(
  devices: Device[],
  shares: ClusterSpec["global"]["gpu_allocation"]["vgpu_shares"],
  errors: PlanIssue[],
): VgpuSlot[] {
  const vgpuDevices = devices.filter((d) => d.spec.attach === "vgpu");
  const vgpuSlots: VgpuSlot[] = [];
  for (const cluster of CLUSTER_NAMES) {
    let wanted = shares[cluster];
    for (const device of vgpuDevices) {
      const capacity = hostVgpuCapacity(device) ?? vgpuCapacity(device.spec) ?? 0;
      const used = vgpuSlots.filter((slot) => slot.device === device).length;
      const take = Math.min(wanted, Math.max(0, capacity - used));
      for (let i = 0; i < take; i++) vgpuSlots.push({ device, cluster });
      wanted -= take;
    }
    if (wanted > 0)
      errors.push({
        message:
          `cluster ${cluster} asks for ${shares[cluster]} vGPU(s) ` +
          `but the vgpu devices have room for ${shares[cluster] - wanted}`,
        hint: "use a smaller vgpu_type or fewer vgpu_shares",
        path: `/global/gpu_allocation/vgpu_shares/${cluster}`,
      });
  }
  return vgpuSlots;
}

export function hostVgpuCapacity(device: Device): number | null {
  const type = device.host?.vgpu.types.find(
    (t) => t.name === device.spec.vgpu_type || t.name.endsWith(` ${device.spec.vgpu_type}`),
  );
  return type?.available ?? null;
}

/** MIG-backed vGPU type: `<board>-<compute slices>-<GB>C`; from the host's type list when it has one. */
export function migVgpuType(device: Device, profileName: string): string | null {
  if (device.spec.attach === "mig-in-guest") return null;
  const profile = device.profiles.find((p) => p.name === profileName);
  if (!profile) return null;
  // Type names use the marketing size (3g.40gb -> -3-40C) even where the driver renamed the profile (3g.39gb).
  const catalogProfile =
    device.entry?.profiles.find(
      (p) => p.id !== null && p.id === profile.id && p.memorySlices === profile.memorySlices,
    ) ?? device.entry?.profiles.find((p) => p.name === profileName);
  const memory = catalogProfile?.memoryGiB ?? profile.memoryGiB;
  const candidates = (device.host?.vgpu.types ?? [])
    .flatMap((t) => {
      const match = /-(\d+)-(\d+)C$/.exec(t.name);
      return match && Number(match[1]) === profile.computeSlices
        ? [{ name: t.name.replace(/^GRID /, ""), distance: Math.abs(Number(match[2]) - memory) }]
        : [];
    })
    .filter((c) => c.distance <= 2)
    .sort((a, b) => a.distance - b.distance);
  if (candidates.length > 0) return candidates[0].name;
  return device.entry?.vgpuBoard ? `${device.entry.vgpuBoard}-${profile.computeSlices}-${memory}C` : null;
}

export function vgpuPathOf(architecture: string | null): "mdev" | "sriov" | null {
  if (architecture === null) return null;
  return architecture === "ampere" || architecture === "turing" || architecture === "volta" || architecture === "pascal"
    ? "mdev"
    : "sriov";
}
