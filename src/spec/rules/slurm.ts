// Slurm rules: the default partition exists and MaxTime is in a format slurmctld accepts.
import type { RuleContext } from "./context";

/** Slurm time strings: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS, or UNLIMITED/INFINITE. */
export function parseSlurmTime(text: string): number | null {
  if (/^(UNLIMITED|INFINITE)$/i.test(text)) return Infinity;
  const match = /^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$/.exec(text);
  if (!match) return null;
  const [, days, a, b, c] = match;
  const n = (value: string | undefined): number => (value === undefined ? 0 : Number(value));
  const sixty = (value: string | undefined): boolean => value === undefined || Number(value) < 60;
  if (days !== undefined) {
    // D-HH[:MM[:SS]]
    if (n(a) > 23 || !sixty(b) || !sixty(c)) return null;
    return n(days) * 1440 + n(a) * 60 + n(b) + n(c) / 60;
  }
  if (c !== undefined) return sixty(b) && sixty(c) ? n(a) * 60 + n(b) + n(c) / 60 : null; // HH:MM:SS
  if (b !== undefined) return sixty(b) ? n(a) + n(b) / 60 : null; // MM:SS
  return n(a); // minutes
}

export function checkSlurm(ctx: RuleContext): void {
  const hpc = ctx.spec.clusters.hpc;
  if (!hpc) return;
  const config = hpc.slurm_config;
  if (config.default_partition !== undefined && !config.partitions.includes(config.default_partition)) {
    ctx.error({
      path: "/clusters/hpc/slurm_config/default_partition",
      message:
        `default_partition ${JSON.stringify(config.default_partition)} is not one of partitions ` +
        `(${config.partitions.join(", ")})`,
      found: config.default_partition,
      expected: `one of ${config.partitions.join(", ")}`,
      hint: `add ${config.default_partition} to partitions, or pick one of ${config.partitions.join(", ")}`,
    });
  }
  if (parseSlurmTime(config.max_job_time) === null) {
    ctx.error({
      path: "/clusters/hpc/slurm_config/max_job_time",
      message: `max_job_time ${JSON.stringify(config.max_job_time)} is not a Slurm time`,
      found: config.max_job_time,
      expected: "minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS or UNLIMITED (minutes and seconds below 60)",
      hint: 'for one day write "24:00:00" or "1-00:00:00"',
    });
  }
  const gpuNodes = hpc.compute_nodes.gpu_enabled && hpc.compute_nodes.count > 0;
  if (config.partitions.includes("gpu") && !gpuNodes) {
    ctx.error({
      path: "/clusters/hpc/slurm_config/partitions",
      message: "partition gpu holds the GPU nodes, but compute_nodes are not gpu_enabled",
      found: config.partitions,
      expected: "a gpu partition only with gpu_enabled compute nodes",
      hint: "set compute_nodes.gpu_enabled: true, or drop the gpu partition",
    });
  }
}
