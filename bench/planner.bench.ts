// Planner: solve every profile multiset of the 7-slice geometry (p50/p99 per GPU), and plan a 16-GPU
// host with 7 slices each. Targets (issue 4): p99 under 5 ms per GPU, 16-GPU plan under 100 ms.
import * as fs from "node:fs";
import * as path from "node:path";
import { stringify } from "yaml";
import { CATALOG } from "../src/facts/gpu-catalog";
import { profileMultisets, solvePlacements } from "../src/gpu/solver";
import { buildPlan } from "../src/plan";
import { loadSpecText } from "../src/spec/load";
import { report, summarise, timeSync } from "./lib";

function sixteenGpuSpec(): string {
  const devices = Array.from({ length: 16 }, (_, i) => ({
    id: `GPU-${i}`,
    pci_address: `0000:${(0x10 + i * 8).toString(16).padStart(2, "0")}:00.0`,
    model: "NVIDIA H100 80GB HBM3",
    pci_device_id: "10de:2330",
    mig_capable: true,
    attach: "mig-vgpu",
  }));
  const profiles = ["3g.40gb", "2g.20gb", "1g.10gb", "1g.10gb"]; // 7 compute slices per GPU
  const request = profiles
    .map((profile) => ({ profile, count: profile === "1g.10gb" ? 16 : 16 }))
    .filter((v, i, a) => a.findIndex((x) => x.profile === v.profile) === i)
    .map((r) => ({ ...r, count: r.profile === "1g.10gb" ? 32 : 16 }));
  const hpc = request.map((r) => ({ ...r, count: r.count / 2 }));
  return stringify({
    version: "1.0",
    metadata: { name: "bench16" },
    global: {
      networks: {
        hpc_network: { subnet: "10.1.0.0/22", bridge: "hsb-hpc" },
        cloud_network: { subnet: "10.2.0.0/22", bridge: "hsb-cloud" },
      },
      gpu_allocation: { devices, strategy: "mig", mig_slices: { hpc, cloud: hpc } },
    },
    clusters: {
      hpc: {
        controller: { cpu_cores: 4, memory_gb: 8, disk_gb: 50, ip_address: "10.1.0.10" },
        compute_nodes: {
          count: 32,
          cpu_cores: 4,
          memory_gb: 16,
          disk_gb: 50,
          gpu_enabled: true,
          ip_range: "10.1.0.11-42",
        },
        slurm_config: { partitions: ["gpu"] },
      },
      cloud: {
        control_plane: { cpu_cores: 4, memory_gb: 8, disk_gb: 50, ip_address: "10.2.0.10" },
        worker_nodes: {
          gpu_workers: {
            count: 32,
            cpu_cores: 4,
            memory_gb: 16,
            disk_gb: 50,
            gpu_enabled: true,
            ip_range: "10.2.0.11-42",
          },
        },
      },
    },
  });
}

export function run(): void {
  console.log("== planner ==");
  const entry = CATALOG.find((e) => e.key === "H100-SXM5-80GB")!;
  const all = profileMultisets(
    entry.profiles.map((p) => p.name),
    entry.geometry.computeSlices + 1,
  );
  for (const requests of all) solvePlacements(entry.geometry, entry.profiles, [], requests); // warm-up
  const samples = all.map(
    (requests) => timeSync(1, () => solvePlacements(entry.geometry, entry.profiles, [], requests))[0],
  );
  const perGpu = summarise(`solve each of ${all.length} multisets (per GPU)`, samples);
  report(perGpu, undefined, 5);
  console.log(
    `  per GPU: p50 ${(perGpu.medianMs * 1000).toFixed(1)} us, p99 ${(perGpu.p99Ms * 1000).toFixed(1)} us, max ` +
      `${(Math.max(...samples) * 1000).toFixed(1)} us`,
  );
  const allTimes = timeSync(5, () => {
    for (const requests of all) solvePlacements(entry.geometry, entry.profiles, [], requests);
  });
  report(summarise(`all ${all.length} multisets in one pass`, allTimes));

  const loaded = loadSpecText("bench16.yaml", sixteenGpuSpec());
  if (!loaded.ok) throw new Error(loaded.errors.map((e) => `${e.path} ${e.message}`).join("\n"));
  const spec = loaded.spec;
  const first = buildPlan({ spec });
  if (!first.feasible) throw new Error(`16-GPU plan infeasible: ${first.errors.map((e) => e.message).join("; ")}`);
  const instances = first.gpus.reduce((n, g) => n + g.instances.length, 0);
  const baseline = summarise(
    "plan the 4-node dev spec (baseline)",
    timeSync(20, () => buildPlan({ spec: loadDev() })),
  );
  report(baseline);
  report(
    summarise(
      `plan 16 GPUs x 7 slices (${instances} instances, ${first.vms.length} VMs)`,
      timeSync(20, () => buildPlan({ spec })),
    ),
    baseline,
    100,
  );
  report(
    summarise(
      "re-plan the same with --previous",
      timeSync(20, () => buildPlan({ spec, previous: first })),
    ),
    baseline,
    100,
  );
}

let dev: ReturnType<typeof loadSpecText> | undefined;
function loadDev() {
  dev ??= loadSpecText("dev.yaml", fs.readFileSync(path.join(__dirname, "..", "config", "dev.yaml"), "utf8"));
  if (!dev.ok) throw new Error("dev.yaml invalid");
  return dev.spec;
}

if (require.main === module) run();
