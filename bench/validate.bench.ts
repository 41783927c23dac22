// `hyperscaler validate` as whole processes: config/prod.yaml and a generated 2,000-node spec.
// Targets (issue 2): under 200 ms and under 1 s. Baseline: a bare `node -e 0` in the same run.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { formatIPv4, parseIPv4 } from "../src/util/ipv4";
import { report, summarise, timeProcess } from "./lib";

export function generateLargeSpec(nodes: number): string {
  const hpc = Math.floor(nodes * 0.6) - 1;
  const cloud = nodes - hpc - 2;
  return stringify({
    version: "1.0",
    metadata: { name: "bench-large" },
    global: {
      networks: {
        hpc_network: { subnet: "10.0.0.0/20", bridge: "hsb-hpc" },
        cloud_network: { subnet: "10.16.0.0/20", bridge: "hsb-cloud" },
      },
    },
    clusters: {
      hpc: {
        controller: { cpu_cores: 4, memory_gb: 8, disk_gb: 50, ip_address: "10.0.0.10" },
        compute_nodes: {
          count: hpc,
          cpu_cores: 2,
          memory_gb: 2,
          disk_gb: 20,
          ip_range: `10.0.0.11-${rangeEnd(0, 11, hpc)}`,
        },
        slurm_config: { partitions: ["batch"] },
      },
      cloud: {
        control_plane: { cpu_cores: 4, memory_gb: 8, disk_gb: 50, ip_address: "10.16.0.10" },
        worker_nodes: {
          cpu_workers: {
            count: cloud,
            cpu_cores: 2,
            memory_gb: 4,
            disk_gb: 30,
            ip_range: `10.16.0.11-${rangeEnd(16, 11, cloud)}`,
          },
        },
      },
    },
  });
}

function rangeEnd(second: number, start: number, count: number): string {
  return formatIPv4((parseIPv4(`10.${second}.0.0`) as number) + start + count - 1);
}

export function run(): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hs-bench-"));
  const large = path.join(dir, "large.yaml");
  fs.writeFileSync(large, generateLargeSpec(2000));
  const cli = path.join("bin", "hyperscaler.js");
  console.log("== validate (whole processes) ==");
  const baseline = summarise("node -e 0 (process start baseline)", timeProcess(10, process.execPath, ["-e", "0"]));
  report(baseline);
  report(
    summarise("validate config/prod.yaml", timeProcess(10, process.execPath, [cli, "validate", "config/prod.yaml"])),
    baseline,
    200,
  );
  report(
    summarise("validate generated 2,000-node spec", timeProcess(10, process.execPath, [cli, "validate", large])),
    baseline,
    1000,
  );
  fs.rmSync(dir, { recursive: true, force: true });
}

if (require.main === module) run();
