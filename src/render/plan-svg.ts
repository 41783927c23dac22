// SVG drawing of the plan: each GPU's 8 memory positions with its instances, and the VMs they feed.
import type { Plan } from "../plan/types";

const COLORS = { hpc: "#4e79a7", cloud: "#59a14f", whole: "#e15759", free: "#eeeeee" } as const;

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

export function planToSvg(plan: Plan): string {
  const cell = 56;
  const rowHeight = 92;
  const left = 20;
  const vmX = left + 8 * cell + 220;
  const gpuVms = plan.vms.filter((vm) => vm.gpus.length > 0);
  const height = Math.max(plan.gpus.length * rowHeight, gpuVms.length * 28) + 80;
  const vmY = new Map(gpuVms.map((vm, i) => [vm.name, 60 + i * 28]));
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${vmX + 320}" height="${height}" font-family="monospace" font-size="12">`,
  );
  parts.push(
    `<text x="${left}" y="24" ` +
      `font-size="15">${escape(`plan ${plan.stack}: ${plan.feasible ? "feasible" : "NOT feasible"}`)}</text>`,
  );
  plan.gpus.forEach((gpu, row) => {
    const y = 50 + row * rowHeight;
    parts.push(`<text x="${left}" y="${y}">${escape(`${gpu.id} ${gpu.model} (${gpu.attach})`)}</text>`);
    const top = y + 8;
    if (
      gpu.attach === "passthrough" ||
      gpu.attach === "mig-in-guest" ||
      gpu.attach === "vgpu" ||
      gpu.attach === "unused"
    ) {
      parts.push(
        `<rect x="${left}" y="${top}" width="${8 * cell}" height="40" ` +
          `fill="${gpu.attach === "unused" ? COLORS.free : COLORS.whole}" stroke="#333"/>`,
      );
      if (gpu.wholeAssignedTo)
        parts.push(
          `<line x1="${left + 8 * cell}" y1="${top + 20}" x2="${vmX}" ` +
            `y2="${(vmY.get(gpu.wholeAssignedTo) ?? 0) - 4}" stroke="${COLORS.whole}"/>`,
        );
    }
    for (let p = 0; p < 8; p++)
      parts.push(`<rect x="${left + p * cell}" y="${top}" width="${cell}" height="40" fill="none" stroke="#999"/>`);
    for (const instance of gpu.instances) {
      const x = left + instance.start * cell;
      parts.push(
        `<rect x="${x + 2}" y="${top + 2}" width="${instance.size * cell - 4}" height="36" ` +
          `fill="${COLORS[instance.cluster]}" rx="4"/>`,
      );
      parts.push(`<text x="${x + 6}" y="${top + 24}" fill="#fff">${escape(instance.profile)}</text>`);
      if (instance.assignedTo)
        parts.push(
          `<line x1="${x + (instance.size * cell) / 2}" y1="${top + 38}" x2="${vmX}" ` +
            `y2="${(vmY.get(instance.assignedTo) ?? 0) - 4}" stroke="${COLORS[instance.cluster]}" ` +
            `stroke-opacity="0.6"/>`,
        );
    }
  });
  for (const vm of gpuVms)
    parts.push(`<text x="${vmX + 6}" y="${vmY.get(vm.name)}">${escape(`${vm.name} (${vm.cluster})`)}</text>`);
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}
