// The one rule for which GPUs need the host's vGPU framework, and the refusal when a probed host lacks it.
import type { ClusterSpec } from "../../spec/types";
import type { PlannedGpu, PlanIssue } from "../types";
import { devicePath, type Device } from "./devices";

/**
 * The one rule for which GPUs need the host's vGPU framework (mdev or SR-IOV vGPU types): those the plan
 * resolves to hand out vGPUs. An `attach: auto` MIG GPU that the plan passes through whole does not.
 * `hyperscaler doctor` asks this of the plan too.
 */
export function needsVgpuFramework(gpu: PlannedGpu): boolean {
  return gpu.attach === "mig-vgpu" || gpu.attach === "vgpu";
}

export function refuseMissingVgpuFramework(
  spec: ClusterSpec,
  devices: Device[],
  gpus: readonly PlannedGpu[],
  errors: PlanIssue[],
): void {
  devices.forEach((device, index) => {
    if (!device.host || device.host.vgpu.framework !== null || !needsVgpuFramework(gpus[index])) return;
    const id = device.spec.id;
    const shares = gpus[index].attach === "vgpu" ? "time-sliced vGPUs" : "MIG slices as MIG-backed vGPUs";
    errors.push({
      gpu: id,
      message:
        `${id} (${device.host.name}) must hand out ${shares}, ` +
        "but the host shows no vGPU framework (no mdev types, no SR-IOV vGPU types)",
      hint:
        "install the NVIDIA vGPU / AI Enterprise host driver, " +
        "or choose attach: passthrough (whole GPU to one VM) " +
        "or attach: mig-in-guest (whole GPU, MIG carved inside the guest)",
      path: devicePath(spec, device, "attach"),
    });
  });
}
