// Human view of a plan: per GPU a slot map of the 8 memory positions with each instance and its owner,
// then the VM table, errors, warnings and moves.
import { table } from "../util/table";
import type { Plan, PlannedGpu } from "../plan/types";

const LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

function slotMap(gpu: PlannedGpu, positions = 8): string[] {
  const cells = Array.from({ length: positions }, () => ".");
  gpu.instances.forEach((instance, index) => {
    for (let p = instance.start; p < instance.start + instance.size && p < positions; p++)
      cells[p] = LETTERS[index % 26];
  });
  return [
    `  positions  ${Array.from({ length: positions }, (_, i) => String(i)).join("  ")}`,
    `             ${cells.join("  ")}`,
  ];
}

export function planToText(plan: Plan): string {
  const out: string[] = [];
  const source =
    plan.hostSource === "spec" ? "from the spec's device list; no host probed" : `host from ${plan.hostSource}`;
  out.push(`plan ${plan.stack}: ${plan.feasible ? "feasible" : "NOT feasible"} (${source})`, "");
  for (const gpu of plan.gpus) {
    const mode =
      gpu.attach === "mig-vgpu"
        ? `MIG-backed vGPU via ${gpu.vgpuPath ?? "?"}`
        : gpu.attach === "vgpu"
          ? `time-sliced vGPU via ${gpu.vgpuPath ?? "?"}`
          : gpu.attach;
    out.push(
      `${gpu.id}  ${gpu.model}  ${gpu.pciAddress}  ` +
        `${mode}${gpu.migEnabled ? "  MIG on" : ""}${gpu.resetRequired ? `  RESET: ${gpu.resetReason}` : ""}`,
    );
    if (gpu.instances.length > 0 || gpu.migEnabled) {
      out.push(...slotMap(gpu));
      out.push(
        ...table(
          ["", "profile", "id", "start", "cluster", "vm", "vgpu type", "device uuid"],
          gpu.instances.map((instance, index) => [
            LETTERS[index % 26],
            instance.profile,
            instance.profileId === null ? "?" : String(instance.profileId),
            String(instance.start),
            instance.cluster,
            instance.assignedTo ?? "-",
            instance.vgpuType ?? "-",
            instance.deviceUuid ?? "-",
          ]),
        )
          .split("\n")
          .map((line) => `  ${line}`),
      );
    }
    for (const vgpu of gpu.vgpus)
      out.push(
        `  vGPU ${vgpu.vgpuType} -> ${vgpu.assignedTo ?? "-"} (${vgpu.cluster}) ${vgpu.deviceUuid ?? ""}`.trimEnd(),
      );
    if (gpu.wholeAssignedTo) out.push(`  whole GPU -> ${gpu.wholeAssignedTo} (${gpu.cluster})`);
    out.push("");
  }
  out.push(
    table(
      ["vm", "cluster", "role", "vcpu", "mem GiB", "disk GiB", "ip", "mac", "gpus"],
      plan.vms.map((vm) => [
        vm.name,
        vm.cluster,
        vm.role,
        String(vm.vcpus),
        String(vm.memoryMiB / 1024),
        String(vm.diskGiB),
        vm.ip,
        vm.mac,
        vm.gpus
          .map((g) =>
            g.kind === "passthrough" || g.kind === "mig-in-guest"
              ? `${g.gpu} (${g.kind})`
              : `${g.gpu}:${g.profile ?? g.vgpuType}`,
          )
          .join(", ") || "-",
      ]),
    ),
  );
  for (const move of plan.moved)
    out.push(`moved: ${move.gpu} ${move.profile} ${move.from ?? "-"} -> ${move.to ?? "removed"}: ${move.reason}`);
  for (const warning of plan.warnings)
    out.push(`warning: ${warning.message}${warning.hint ? ` (${warning.hint})` : ""}`);
  for (const error of plan.errors) out.push(`error: ${error.message}${error.hint ? `\n  hint: ${error.hint}` : ""}`);
  return out.join("\n");
}
