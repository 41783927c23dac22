// Facts of a probed host that refuse or warn about a plan: devices missing or unlike the spec, vGPU types
// not offered, shared IOMMU groups, and re-carving a GPU that processes use.
import type { HostInventory } from "../../host/types";
import type { ClusterSpec } from "../../spec/types";
import type { PlanIssue } from "../types";
import { devicePath, isMigCarrier, type Device } from "./devices";

/** A GPU whose layout must change while processes use it: re-carving kills them, so only with force. */
export function refuseBusyRecarve(devices: Device[], force: boolean, errors: PlanIssue[]): void {
  if (force) return;
  for (const device of devices) {
    const busy = device.host?.processes ?? 0;
    if (!device.host || busy === 0 || !isMigCarrier(device)) continue;
    const planned = new Set(
      [...device.fixed.map((f) => f.placed), ...device.free.flatMap((f) => (f.placed ? [f.placed] : []))].map(
        (p) => `${p.profile}@${p.start}`,
      ),
    );
    const live = device.host.migInstances.filter((i) => i.start !== null).map((i) => `${i.profile}@${i.start}`);
    const destroyed = live.filter((key) => !planned.has(key));
    const modeChange = device.host.migMode?.current === false && planned.size > 0;
    if (destroyed.length === 0 && !modeChange) continue;
    const harm = modeChange ? "enabling MIG resets the GPU" : `${destroyed.join(", ")} would be destroyed`;
    errors.push({
      gpu: device.spec.id,
      message: `refusing to re-carve ${device.spec.id}: ${busy} process(es) use it and ${harm}`,
      hint: "stop the processes (nvidia-smi shows them), or set gpu_allocation.force_recarve: true to kill them",
      path: "/global/gpu_allocation/force_recarve",
    });
  }
}

/** Facts from a probed host that make the spec impossible, each with the alternatives. */
export function checkHost(
  spec: ClusterSpec,
  host: HostInventory,
  devices: Device[],
  errors: PlanIssue[],
  warnings: PlanIssue[],
): void {
  const hostList = host.gpus.map((g) => `${g.pciAddress} ${g.name}`).join(", ") || "none";
  for (const device of devices) {
    const id = device.spec.id;
    if (!device.host) {
      errors.push({
        gpu: id,
        message: `${id}: no GPU at ${device.spec.pci_address} on this host (host GPUs: ${hostList})`,
        hint: "correct pci_address (see `hyperscaler probe`)",
        path: devicePath(spec, device, "pci_address"),
      });
      continue;
    }
    if (device.spec.mig_capable && device.host.migCapable === false) {
      errors.push({
        gpu: id,
        message: `${id}: the spec says mig_capable but the host reports ${device.host.name} without MIG support`,
        hint: "set mig_capable: false",
        path: devicePath(spec, device, "mig_capable"),
      });
    }
    if (
      device.spec.attach === "vgpu" &&
      device.host.vgpu.types.length > 0 &&
      !device.host.vgpu.types.some((t) => t.name.replace(/^GRID /, "") === device.spec.vgpu_type)
    ) {
      errors.push({
        gpu: id,
        message: `${id}: vGPU type ${device.spec.vgpu_type} is not offered by the host`,
        hint: `offered types: ${device.host.vgpu.types.map((t) => t.name).join(", ")}`,
        path: devicePath(spec, device, "vgpu_type"),
      });
    }
    if (
      (device.spec.attach === "passthrough" || device.spec.attach === "mig-in-guest") &&
      device.host.iommuIsolated === false
    ) {
      warnings.push({
        gpu: id,
        message: `${id} shares its IOMMU group with other devices; passthrough will take them all`,
        hint: "move the card to another slot or enable ACS; `hyperscaler doctor` shows the group",
      });
    }
  }
}
