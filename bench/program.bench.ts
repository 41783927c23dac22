// Program evaluation under Pulumi mocks: prod, and generated specs up to 200 VMs on 16 GPUs.
// Targets (issue 6): prod under 2 s, 200-VM/16-GPU under 10 s, growing linearly.
import * as path from "node:path";
import * as fs from "node:fs";
import * as os from "node:os";
import { stringify } from "yaml";
import { buildStack } from "../src/program/stack";
import { installMocks, resetRecorded, recorded, settled } from "../test/mocks";
import { report, ROOT, summarise } from "./lib";

function generatedSpec(vms: number, gpus: number): string {
  const gpuNodes = gpus * 7;
  const perCluster = Math.floor(gpuNodes / 2);
  const cpu = Math.max(0, vms - gpuNodes - 2);
  // The third and fourth octets of the n-th address after 10.x.0.0 (a range of count VMs from .11 ends at 10 + count).
  const upTo = (n: number): string => `${Math.floor(n / 256)}.${n % 256}`;
  const devices = Array.from({ length: gpus }, (_, i) => ({
    id: `GPU-${i}`,
    pci_address: `0000:${(0x10 + i * 8).toString(16).padStart(2, "0")}:00.0`,
    model: "NVIDIA A100 80GB",
    pci_device_id: "10de:20b5",
    mig_capable: true,
    attach: "mig-vgpu",
  }));
  return stringify({
    version: "1.0",
    metadata: { name: `bench${vms}` },
    global: {
      networks: {
        hpc_network: { subnet: "10.1.0.0/22", bridge: "hsb-hpc" },
        cloud_network: { subnet: "10.2.0.0/22", bridge: "hsb-cloud" },
      },
      gpu_allocation: { devices, strategy: "mig", mig_slices: { hpc: perCluster, cloud: gpuNodes - perCluster } },
    },
    clusters: {
      hpc: {
        controller: { cpu_cores: 2, memory_gb: 2, disk_gb: 20, ip_address: "10.1.0.10" },
        compute_nodes: {
          count: perCluster,
          cpu_cores: 2,
          memory_gb: 2,
          disk_gb: 20,
          gpu_enabled: true,
          ip_range: `10.1.0.11-10.1.${upTo(10 + perCluster)}`,
        },
        slurm_config: { partitions: ["gpu"] },
      },
      cloud: {
        control_plane: { cpu_cores: 2, memory_gb: 2, disk_gb: 20, ip_address: "10.2.0.10" },
        worker_nodes: {
          gpu_workers: {
            count: gpuNodes - perCluster,
            cpu_cores: 2,
            memory_gb: 2,
            disk_gb: 20,
            gpu_enabled: true,
            ip_range: `10.2.0.11-10.2.${upTo(10 + gpuNodes - perCluster)}`,
          },
          ...(cpu > 0
            ? {
                cpu_workers: {
                  count: cpu,
                  cpu_cores: 2,
                  memory_gb: 2,
                  disk_gb: 20,
                  ip_range: `10.2.1.11-10.2.${upTo(256 + 10 + cpu)}`,
                },
              }
            : {}),
        },
      },
    },
  });
}

/** A host with the given number of A100 80GB GPUs, MIG off, mdev types available. */
function host(gpus: number) {
  const base = JSON.parse(fs.readFileSync(path.join(ROOT, "test/fixtures/hosts/workstation.json"), "utf8"));
  const a100 = base.gpus[0];
  return {
    ...base,
    memory: { totalMiB: 4 * 1024 * 1024 },
    cpu: { ...base.cpu, threads: 1024 },
    gpus: Array.from({ length: gpus }, (_, i) => ({
      ...a100,
      index: i,
      pciAddress: `0000:${(0x10 + i * 8).toString(16).padStart(2, "0")}:00.0`,
    })),
  };
}

async function evaluate(clusterFile: string, inventory?: unknown): Promise<{ ms: number; resources: number }> {
  resetRecorded();
  const start = process.hrtime.bigint();
  await buildStack(
    {
      stack: "bench",
      clusterFile,
      start: true,
      hostSnapshot: inventory ? undefined : path.join(ROOT, "test/fixtures/hosts/workstation.json"),
    },
    inventory as never,
  );
  await settled();
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, resources: recorded.length };
}

export async function run(): Promise<void> {
  // The program resolves each role's golden image; under mocks it reads the tests' fixture store (as
  // test/setup.ts does), so the figures do not depend on which images this machine has built.
  process.env.HYPERSCALER_IMAGES_DIR = path.join(ROOT, "test/fixtures/image-store");
  await installMocks();
  console.log("== program under mocks ==");
  await evaluate(path.join(ROOT, "config/dev.yaml")); // warm-up (provider serialization is cached per process)
  const prod: number[] = [];
  let count = 0;
  for (let i = 0; i < 5; i++) {
    const r = await evaluate(path.join(ROOT, "config/prod.yaml"));
    prod.push(r.ms);
    count = r.resources;
  }
  const prodFigures = summarise(`prod (${count} resources)`, prod);
  report(prodFigures, undefined, 2000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hs-bench-program-"));
  for (const [vms, gpus] of [
    [50, 4],
    [100, 8],
    [200, 16],
  ] as const) {
    const file = path.join(dir, `spec-${vms}.yaml`);
    fs.writeFileSync(file, generatedSpec(vms, gpus));
    const samples: number[] = [];
    let resources = 0;
    for (let i = 0; i < 3; i++) {
      const r = await evaluate(file, host(gpus));
      samples.push(r.ms);
      resources = r.resources;
    }
    const figures = summarise(`${vms} VMs, ${gpus} GPUs (${resources} resources)`, samples);
    report(figures, prodFigures, vms === 200 ? 10_000 : undefined);
    console.log(`  ${(figures.medianMs / resources).toFixed(2)} ms per resource`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

if (require.main === module) void run();
