// Image rules: every role a cluster of the spec runs names a golden image defined in images/golden (or
// `catalog`), and emulated hosts are warned off GPU devices.
import { availableImages } from "../../facts/golden-images";
import type { RuleContext } from "./context";

const ROLES_OF = {
  hpc: ["slurm-controller", "slurm-compute"],
  cloud: ["k8s-control-plane", "k8s-cpu-worker", "k8s-gpu-worker"],
} as const;

export function checkImages(ctx: RuleContext): void {
  const { spec } = ctx;
  const defined = availableImages();
  for (const cluster of ["hpc", "cloud"] as const) {
    if (!spec.clusters[cluster]) continue;
    for (const role of ROLES_OF[cluster]) {
      const reference = spec.images.roles[role];
      const name = reference.split("@")[0];
      if (name === "catalog" || defined.includes(name)) continue;
      ctx.error({
        path: `/images/roles/${role}`,
        message: `images.roles.${role} names golden image ${JSON.stringify(name)}, which images/golden does not define`,
        found: reference,
        expected: `catalog or one of ${defined.join(", ")} (optionally @<version>)`,
        hint: `use one of ${defined.join(", ")}, or catalog for the published Debian cloud image`,
      });
    }
  }
  if (spec.host.virtualization === "emulated" && spec.global.gpu_allocation.devices.length > 0) {
    ctx.warn({
      path: "/host/virtualization",
      message:
        "host.virtualization is emulated but gpu_allocation lists GPUs: " +
        "GPU passthrough and vGPUs need KVM; emulated guests would not use them",
      found: "emulated",
      expected: "kvm on a host with GPUs",
      hint:
        "set host.virtualization: kvm (hyperscaler doctor says whether this host supports it), " +
        "or remove the GPU devices",
    });
  }
}
