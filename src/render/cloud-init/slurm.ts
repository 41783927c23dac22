// cloud-init for Slurm VMs: munge with the cluster's key, the rendered slurm.conf/gres.conf/cgroup.conf,
// slurmctld on the controller, slurmd on compute nodes.
import type { Plan, PlannedVm } from "../../plan/types";
import type { ClusterSpec } from "../../spec/types";
import { bootsGoldenImage } from "../images";
import { renderCgroupConf, renderGresConf, renderSlurmConf } from "../slurm";
import type { CloudConfig } from "./nocloud";

/** Placeholder written into rendered files in place of the munge key (the stack uses the secret). */
export const MUNGE_KEY_PLACEHOLDER = "${MUNGE_KEY_BASE64}";

export function slurmLayer(
  spec: ClusterSpec,
  plan: Pick<Plan, "stack" | "networks" | "gpus" | "vms">,
  vm: PlannedVm,
  mungeKeyBase64: string,
): CloudConfig {
  const controller = vm.role === "slurm-controller";
  const daemon = controller ? "slurmctld" : "slurmd";
  const other = controller ? "slurmd" : "slurmctld";
  return {
    // The golden hpc image holds munge and every Slurm daemon (all disabled until configured here).
    packages: bootsGoldenImage(spec, vm) ? undefined : ["munge", daemon, "slurm-client"],
    write_files: [
      {
        path: "/etc/munge/munge.key",
        encoding: "b64",
        content: mungeKeyBase64,
        permissions: "0400",
        owner: "root:root",
        defer: false,
      },
      { path: "/etc/slurm/slurm.conf", content: renderSlurmConf(spec, plan), permissions: "0644" },
      { path: "/etc/slurm/gres.conf", content: renderGresConf(plan), permissions: "0644" },
      { path: "/etc/slurm/cgroup.conf", content: renderCgroupConf(), permissions: "0644" },
    ],
    runcmd: [
      // The munge user exists only once the package is installed: fix ownership then.
      ["chown", "munge:munge", "/etc/munge/munge.key"],
      ["install", "-d", "-o", "slurm", "-g", "slurm", "/var/spool/slurmctld", "/var/spool/slurmd", "/var/log/slurm"],
      ["systemctl", "enable", "--now", "munge"],
      ["systemctl", "restart", "munge"],
      ["systemctl", "enable", "--now", daemon],
      ["systemctl", "restart", daemon],
      // An image with both daemons runs only this node's own.
      ["sh", "-c", `systemctl disable --now ${other} 2>/dev/null || true`],
    ],
  };
}
