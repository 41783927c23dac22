// Time-sliced vGPU arithmetic shared by validation and planning.
import { lookupModel } from "./gpu-catalog";

/** Time-sliced vGPUs one GPU holds: board memory / framebuffer of the type (A100-20C on 80 GB: 4). */
export function vgpuCapacity(device: { model: string; pci_device_id?: string; vgpu_type?: string }): number | null {
  const framebuffer = /-([0-9]+)[A-Z]$/.exec(device.vgpu_type ?? "");
  const lookup = lookupModel(device.model, device.pci_device_id);
  const memory =
    lookup.kind === "found" ? lookup.entry.memoryGiB : Number(/([0-9]+)\s*GB/i.exec(device.model)?.[1] ?? NaN);
  if (!framebuffer || !Number.isFinite(memory)) return null;
  return Math.floor(memory / Number(framebuffer[1]));
}
