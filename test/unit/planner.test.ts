// The planner: determinism, stability across re-plans, infeasibility messages, host-driven refusals.
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { buildPlan, planToJson } from "../../src/plan";
import { macFor, uuidV5, vgpuUuid } from "../../src/plan/ids";
import type { Plan } from "../../src/plan/types";
import { loadSpecFile, loadSpecText } from "../../src/spec/load";
import type { ClusterSpec } from "../../src/spec/types";
import { healthyInventory, hostGpu } from "../fixtures/host";
import { fixture, ROOT } from "../helpers";

function specFrom(text: string): ClusterSpec {
  const result = loadSpecText("cluster.yaml", text);
  if (!result.ok) throw new Error(result.errors.map((e) => `${e.path}: ${e.message}`).join("\n"));
  return result.spec;
}

function config(name: string): ClusterSpec {
  const result = loadSpecFile(path.join(ROOT, name));
  if (!result.ok) throw new Error(`${name} invalid`);
  return result.spec;
}

const DEV = fs.readFileSync(path.join(ROOT, "config/dev.yaml"), "utf8");
const PROD = fs.readFileSync(path.join(ROOT, "config/prod.yaml"), "utf8");

describe("identities", () => {
  it("UUIDv5 matches the RFC 4122 reference vector", () => {
    expect(uuidV5("www.example.com", "6ba7b810-9dad-11d1-80b4-00c04fd430c8")).toBe(
      "2ed6657d-e927-568b-95e1-2665a8aea6a2",
    );
  });
  it("vGPU UUIDs and MACs are stable and distinct", () => {
    expect(vgpuUuid("s", "vm", 0)).toBe(vgpuUuid("s", "vm", 0));
    expect(vgpuUuid("s", "vm", 0)).not.toBe(vgpuUuid("s", "vm", 1));
    expect(macFor("s", "vm")).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
  });
});

describe("prod plan", () => {
  const plan = buildPlan({ spec: config("config/prod.yaml") });

  it("is feasible and matches the reviewed snapshot", () => {
    expect(plan.errors).toEqual([]);
    expect(plan.feasible).toBe(true);
    expect(planToJson(plan)).toMatchSnapshot();
  });

  it("is byte-identical when planned again", () => {
    expect(planToJson(buildPlan({ spec: config("config/prod.yaml") }))).toBe(planToJson(plan));
  });

  it("gives every GPU node exactly one share, never mixing vGPU and passthrough", () => {
    const gpuVms = plan.vms.filter((vm) => vm.role === "slurm-compute" || vm.role === "k8s-gpu-worker");
    expect(gpuVms).toHaveLength(8);
    for (const vm of gpuVms) expect(vm.gpus).toHaveLength(1);
    const a100 = plan.gpus.find((g) => g.id === "GPU-0")!;
    expect(a100.instances.map((i) => i.profile)).toEqual(Array(7).fill("1g.10gb"));
    expect(a100.instances.filter((i) => i.cluster === "hpc")).toHaveLength(4);
    expect(a100).toMatchObject({ attach: "mig-vgpu", migEnabled: true, vgpuPath: "mdev", resetRequired: true });
    expect(plan.gpus.find((g) => g.id === "GPU-1")).toMatchObject({
      attach: "passthrough",
      wholeAssignedTo: "hs-prod-k8s-gpu-01",
      migEnabled: false,
    });
    expect(new Set(plan.vms.map((vm) => vm.mac)).size).toBe(plan.vms.length);
  });
});

describe("refusals with the reason and the fix", () => {
  it("the user's original example: 4 cloud shares for 3 GPU workers", () => {
    const plan = buildPlan({ spec: specFrom(fixture("user-example.yaml")) });
    expect(plan.feasible).toBe(false);
    expect(plan.errors[0].message).toMatch(
      /1 whole GPU\(s\) have no node: every one of the 3 GPU node\(s\) already holds a vGPU/,
    );
    expect(plan.errors[0].hint).toBe("raise clusters.cloud.worker_nodes.gpu_workers.count to 4");
  });

  it("profiles that fit no GPU name the GPU, the profiles, the free positions and a fix", () => {
    const text = fs
      .readFileSync(path.join(ROOT, "config/examples/h100-mig-vgpu.yaml"), "utf8")
      .replace(
        "- { profile: 3g.40gb, count: 2, device: H100-0 }",
        "- { profile: 3g.40gb, count: 1, device: H100-0 }\n        - { profile: 4g.40gb, count: 1, device: H100-0 }",
      )
      .replace("- { profile: 4g.40gb, count: 1, device: H100-1 }", "- { profile: 4g.40gb, count: 1, device: H100-0 }");
    const plan = buildPlan({ spec: specFrom(text) });
    expect(plan.feasible).toBe(false);
    const error = plan.errors.find((e) => /cannot place 4g\.40gb/.test(e.message))!;
    expect(error.message).toMatch(
      /on H100-0: H100-0 \(NVIDIA H100 SXM5 80GB\): carries 4g\.40gb; needs 8 compute slices; the GPU has 7/,
    );
    expect(error.gpu).toBe("H100-0");
    expect(error.hint).toMatch(/fewer or smaller slices/);
  });

  it("spreads profiles over GPUs when first fit would strand small ones", () => {
    const text = fs
      .readFileSync(path.join(ROOT, "config/examples/h100-mig-vgpu.yaml"), "utf8")
      .replace(
        /mig_slices:\n(.|\n)*?clusters:/,
        "mig_slices:\n      hpc:\n        - { profile: 3g.40gb, count: 2 }\n        - { profile: 1g.10gb, " +
          "count: 2 }\n      cloud:\n        - { profile: 2g.20gb, count: 2 }\n        - { profile: 1g.10gb, " +
          "count: 2 }\nclusters:",
      )
      .replace(
        "compute_nodes: { count: 2, cpu_cores: 16, memory_gb: 64, disk_gb: 100, gpu_enabled: true, ip_range: " +
          '"10.10.0.11-12" }',
        "compute_nodes: { count: 4, cpu_cores: 16, memory_gb: 64, disk_gb: 100, gpu_enabled: true, ip_range: " +
          '"10.10.0.11-14" }',
      )
      .replace(
        "gpu_workers: { count: 3, cpu_cores: 8, memory_gb: 32, disk_gb: 100, gpu_enabled: true, ip_range: " +
          '"10.20.0.12-14" }',
        "gpu_workers: { count: 4, cpu_cores: 8, memory_gb: 32, disk_gb: 100, gpu_enabled: true, ip_range: " +
          '"10.20.0.12-15" }',
      );
    const plan = buildPlan({ spec: specFrom(text) });
    expect(plan.errors).toEqual([]);
    for (const gpu of plan.gpus)
      expect(gpu.instances.map((i) => i.profile).sort()).toEqual(["1g.10gb", "1g.10gb", "2g.20gb", "3g.40gb"]);
  });

  it("more vGPU shares than GPU nodes", () => {
    const plan = buildPlan({
      spec: specFrom(
        DEV.replace("mig_slices: { hpc: 1, cloud: 1 }", "mig_slices: { hpc: 2, cloud: 1 }").replace(
          "compute_nodes: { count: 1,",
          "compute_nodes: { count: 1,",
        ),
      ),
    });
    expect(plan.errors[0].message).toMatch(
      /cluster hpc has 2 vGPU share\(s\) for 1 GPU node\(s\); a VM takes at most one vGPU/,
    );
  });

  it("a host without a vGPU framework: the reason and the alternatives", () => {
    const host = healthyInventory([
      hostGpu({
        pciAddress: "0000:65:00.0",
        name: "NVIDIA A100 80GB PCIe",
        pciDeviceId: "10de:20b5",
        vgpu: { framework: null, types: [] },
      }),
    ]);
    const plan = buildPlan({ spec: config("config/dev.yaml"), host });
    expect(plan.feasible).toBe(false);
    expect(plan.errors[0]).toMatchObject({
      gpu: "GPU-0",
      message: expect.stringMatching(/shows no vGPU framework/),
      hint: expect.stringMatching(/attach: passthrough .* attach: mig-in-guest/),
    });
  });

  it("a spec GPU missing from the host", () => {
    const plan = buildPlan({ spec: config("config/dev.yaml"), host: healthyInventory([]) });
    expect(plan.errors[0].message).toMatch(/no GPU at 0000:65:00\.0 on this host \(host GPUs: none\)/);
  });
});

describe("host inventory drives the plan", () => {
  it("live profiles override the catalog: an R470 A100 40GB has no 1g.10gb", () => {
    const text = DEV.replace('model: "NVIDIA A100 80GB"', 'model: "NVIDIA A100-PCIE-40GB"').replace(
      "mig_slices: { hpc: 1, cloud: 1 }",
      "mig_slices: { hpc: [{ profile: 1g.10gb }], cloud: 1 }",
    );
    const spec = specFrom(text);
    expect(buildPlan({ spec }).feasible).toBe(true); // the catalog (R525+) offers it
    const r470 = [
      {
        id: 19,
        name: "1g.5gb",
        instancesFree: 7,
        instancesTotal: 7,
        memoryMiB: 4864,
        placements: [0, 1, 2, 3, 4, 5, 6].map((start) => ({ start, size: 1 })),
      },
      {
        id: 9,
        name: "3g.20gb",
        instancesFree: 2,
        instancesTotal: 2,
        memoryMiB: 20096,
        placements: [
          { start: 0, size: 4 },
          { start: 4, size: 4 },
        ],
      },
    ];
    const host = healthyInventory([
      hostGpu({
        pciAddress: "0000:65:00.0",
        name: "NVIDIA A100-PCIE-40GB",
        pciDeviceId: "10de:20f1",
        migProfiles: r470,
      }),
    ]);
    const plan = buildPlan({ spec, host });
    expect(plan.feasible).toBe(false);
    expect(plan.errors[0].message).toBe(
      "cannot place 1g.10gb for cluster hpc: GPU-0 (NVIDIA A100 40GB): carries 1g.5gb; does not offer 1g.10gb",
    );
  });

  it("a renamed live profile (3g.39gb) is matched by id and geometry", () => {
    const text = DEV.replace(
      "mig_slices: { hpc: 1, cloud: 1 }",
      "mig_slices: { hpc: [{ profile: 3g.40gb }], cloud: 1 }",
    );
    const live = [
      {
        id: 19,
        name: "1g.10gb",
        instancesFree: 7,
        instancesTotal: 7,
        memoryMiB: 9984,
        placements: [0, 1, 2, 3, 4, 5, 6].map((start) => ({ start, size: 1 })),
      },
      {
        id: 9,
        name: "3g.39gb",
        instancesFree: 2,
        instancesTotal: 2,
        memoryMiB: 40192,
        placements: [
          { start: 0, size: 4 },
          { start: 4, size: 4 },
        ],
      },
    ];
    const host = healthyInventory([
      hostGpu({
        pciAddress: "0000:65:00.0",
        name: "NVIDIA A100 80GB PCIe",
        pciDeviceId: "10de:20b5",
        migProfiles: live,
        vgpu: {
          framework: "mdev",
          types: [
            { id: "nvidia-702", name: "A100D-3-40C", available: 2 },
            { id: "nvidia-700", name: "A100D-1-10C", available: 7 },
          ],
        },
      }),
    ]);
    const plan = buildPlan({ spec: specFrom(text), host });
    expect(plan.errors).toEqual([]);
    expect(plan.gpus[0].instances.map((i) => `${i.profile}@${i.start}:${i.vgpuType}`)).toEqual([
      "1g.10gb@3:A100D-1-10C",
      "3g.39gb@4:A100D-3-40C",
    ]);
  });

  it("refuses to re-carve a GPU that processes use, unless forced", () => {
    const busy = (processes: number) =>
      healthyInventory([
        hostGpu({
          pciAddress: "0000:65:00.0",
          name: "NVIDIA A100 80GB PCIe",
          pciDeviceId: "10de:20b5",
          processes,
          migInstances: [{ gi: 1, profileId: 9, profile: "3g.40gb", start: 0, size: 4 }],
        }),
      ]);
    const plan = buildPlan({ spec: config("config/dev.yaml"), host: busy(3) });
    expect(plan.errors).toEqual([
      {
        gpu: "GPU-0",
        message: "refusing to re-carve GPU-0: 3 process(es) use it and 3g.40gb@0 would be destroyed",
        hint: "stop the processes (nvidia-smi shows them), or set gpu_allocation.force_recarve: true to kill them",
        path: "/global/gpu_allocation/force_recarve",
      },
    ]);
    expect(buildPlan({ spec: config("config/dev.yaml"), host: busy(0) }).errors).toEqual([]);
    const forced = specFrom(DEV.replace("strategy: mig", "strategy: mig\n    force_recarve: true"));
    expect(buildPlan({ spec: forced, host: busy(3) }).errors).toEqual([]);
  });

  it("instances already carved on the host stay where they are", () => {
    const host = healthyInventory([
      hostGpu({
        pciAddress: "0000:65:00.0",
        name: "NVIDIA A100 80GB PCIe",
        pciDeviceId: "10de:20b5",
        migInstances: [
          { gi: 1, profileId: 19, profile: "1g.10gb", start: 0, size: 1 },
          { gi: 2, profileId: 19, profile: "1g.10gb", start: 3, size: 1 },
        ],
      }),
    ]);
    const plan = buildPlan({ spec: config("config/dev.yaml"), host });
    expect(plan.errors).toEqual([]);
    expect(plan.gpus[0].instances.map((i) => i.start)).toEqual([0, 3]);
    expect(plan.gpus[0].resetRequired).toBe(false);
  });
});

describe("stability across re-plans (--previous)", () => {
  const previous: Plan = buildPlan({ spec: config("config/prod.yaml") });

  it("adding a VM moves no slice and keeps every owner", () => {
    const grown = specFrom(
      PROD.replace(
        'cpu_workers: { count: 1, cpu_cores: 4, memory_gb: 8, disk_gb: 100, ip_range: "192.168.200.11" }',
        'cpu_workers: { count: 2, cpu_cores: 4, memory_gb: 8, disk_gb: 100, ip_range: "192.168.200.20-21" }',
      ),
    );
    const plan = buildPlan({ spec: grown, previous });
    expect(plan.errors).toEqual([]);
    expect(plan.moved).toEqual([]);
    expect(plan.gpus).toEqual(previous.gpus);
    expect(plan.vms).toHaveLength(previous.vms.length + 1);
  });

  it("growing the slices keeps the existing placements", () => {
    const before = buildPlan({ spec: config("config/dev.yaml") });
    const grown = specFrom(
      DEV.replace("mig_slices: { hpc: 1, cloud: 1 }", "mig_slices: { hpc: 2, cloud: 1 }").replace(
        "compute_nodes: { count: 1, cpu_cores: 4, memory_gb: 8, disk_gb: 40, gpu_enabled: true, ip_range: " +
          '"192.168.110.11" }',
        "compute_nodes: { count: 2, cpu_cores: 4, memory_gb: 8, disk_gb: 40, gpu_enabled: true, ip_range: " +
          '"192.168.110.11-12" }',
      ),
    );
    const after = buildPlan({ spec: grown, previous: before });
    expect(after.errors).toEqual([]);
    for (const instance of before.gpus[0].instances) expect(after.gpus[0].instances).toContainEqual(instance);
    expect(after.gpus[0].instances).toHaveLength(3);
    expect(after.moved).toEqual([]);
  });

  it("lists what moved and why when kept placements block the new spec", () => {
    const text = DEV.replace(
      "mig_slices: { hpc: 1, cloud: 1 }",
      "mig_slices: { hpc: [{ profile: 1g.10gb }], cloud: [{ profile: 4g.40gb }] }",
    );
    const blocking: Plan = {
      ...previous,
      gpus: [
        {
          ...previous.gpus[0],
          id: "GPU-0",
          instances: [
            {
              profile: "1g.10gb",
              profileId: 19,
              start: 0,
              size: 1,
              cluster: "hpc",
              assignedTo: "hs-dev-slurm-node-01",
              vgpuType: "A100D-1-10C",
              deviceUuid: null,
            },
          ],
        },
      ],
    };
    const plan = buildPlan({ spec: specFrom(text), previous: blocking });
    expect(plan.errors).toEqual([]);
    expect(plan.moved).toEqual([
      { gpu: "GPU-0", profile: "1g.10gb", from: 0, to: 6, reason: "kept placements left no room for 4g.40gb (cloud)" },
    ]);
    expect(plan.gpus[0].instances.map((i) => `${i.profile}@${i.start}`)).toEqual(["4g.40gb@0", "1g.10gb@6"]);
  });

  it("removed instances are listed", () => {
    const shrunk = specFrom(
      DEV.replace("mig_slices: { hpc: 1, cloud: 1 }", "mig_slices: { hpc: 1 }").replace(
        "gpu_workers: { count: 1, cpu_cores: 4, memory_gb: 8, disk_gb: 40, gpu_enabled: true,",
        "gpu_workers: { count: 1, cpu_cores: 4, memory_gb: 8, disk_gb: 40, gpu_enabled: false,",
      ),
    );
    const plan = buildPlan({ spec: shrunk, previous: buildPlan({ spec: config("config/dev.yaml") }) });
    expect(plan.moved).toEqual([
      { gpu: "GPU-0", profile: "1g.10gb", from: expect.any(Number), to: null, reason: "no longer requested" },
    ]);
  });
});

describe("other attach modes", () => {
  it("time-sliced vGPUs on an L40S go one per worker, SR-IOV path", () => {
    const plan = buildPlan({ spec: config("config/examples/l40s-vgpu.yaml") });
    expect(plan.errors).toEqual([]);
    expect(plan.gpus[0]).toMatchObject({ attach: "vgpu", vgpuPath: "sriov", migEnabled: false });
    expect(plan.gpus[0].vgpus.map((v) => v.assignedTo)).toEqual([
      "hs-l40s-k8s-gpu-01",
      "hs-l40s-k8s-gpu-02",
      "hs-l40s-k8s-gpu-03",
      "hs-l40s-k8s-gpu-04",
    ]);
  });

  it("MIG inside the guest passes the whole GPU to one VM", () => {
    const text = DEV.replace("attach: mig-vgpu", "attach: mig-in-guest")
      .replace("mig_slices: { hpc: 1, cloud: 1 }", "mig_slices: { hpc: 2 }")
      .replace(
        "gpu_workers: { count: 1, cpu_cores: 4, memory_gb: 8, disk_gb: 40, gpu_enabled: true,",
        "gpu_workers: { count: 1, cpu_cores: 4, memory_gb: 8, disk_gb: 40, gpu_enabled: false,",
      );
    const plan = buildPlan({ spec: specFrom(text) });
    expect(plan.errors).toEqual([]);
    expect(plan.gpus[0]).toMatchObject({
      attach: "mig-in-guest",
      migEnabled: false,
      wholeAssignedTo: "hs-dev-slurm-node-01",
      resetRequired: false,
    });
    expect(plan.gpus[0].instances).toHaveLength(2);
    expect(plan.vms.find((vm) => vm.name === "hs-dev-slurm-node-01")!.gpus).toEqual([
      {
        kind: "mig-in-guest",
        gpu: "GPU-0",
        pciAddress: "0000:65:00.0",
        profile: null,
        vgpuType: null,
        deviceUuid: null,
      },
    ]);
  });

  it("Hopper MIG warns that instances do not survive a reboot", () => {
    const plan = buildPlan({ spec: config("config/examples/h100-mig-vgpu.yaml") });
    expect(plan.feasible).toBe(true);
    expect(plan.gpus.map((g) => g.vgpuPath)).toEqual(["sriov", "sriov"]);
    expect(plan.warnings.some((w) => /loses MIG mode and its instances at every reboot/.test(w.message))).toBe(true);
  });
});
