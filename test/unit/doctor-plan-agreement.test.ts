// Doctor and the planner share one owner for "needs the vGPU framework" and for capacity: over the shipped
// configs and generated hosts, doctor FAILs those checks exactly where the planner refuses the spec.
import * as fs from "node:fs";
import * as path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { runDoctor } from "../../src/preflight/doctor";
import type { HostGpu, HostInventory } from "../../src/host/types";
import { buildPlan } from "../../src/plan";
import { loadSpecText } from "../../src/spec/load";
import type { ClusterSpec } from "../../src/spec/types";
import { healthyInventory, hostGpu } from "../fixtures/host";
import { fixture, ROOT } from "../helpers";

function specOf(name: string, text: string): ClusterSpec {
  const loaded = loadSpecText(name, text);
  if (!loaded.ok) throw new Error(`${name}: ${loaded.errors.map((e) => e.message).join("; ")}`);
  return loaded.spec;
}

/** An attach: auto MIG-capable A100 the plan passes through whole: no MIG slices are asked for. */
const AUTO_WHOLE = fixture("user-example.yaml")
  .replace(
    / {4}strategy: "hybrid".*\n {4}mig_slices: .*\n {4}whole_gpus: .*\n/,
    '    strategy: "whole"\n    whole_gpus: { hpc: 1, cloud: 1 }\n',
  )
  .replace(
    /count: 4, cpu_cores: 8, memory_gb: 16, disk_gb: 200, gpu_enabled: true,\n(\s+)ip_range: "192.168.100.11-14"/,
    'count: 1, cpu_cores: 8, memory_gb: 16, disk_gb: 200, gpu_enabled: true,\n$1ip_range: "192.168.100.11"',
  )
  .replace(
    /count: 3, cpu_cores: 8, memory_gb: 16, disk_gb: 200, gpu_enabled: true,\n(\s+)ip_range: "192.168.200.12-14"/,
    'count: 1, cpu_cores: 8, memory_gb: 16, disk_gb: 200, gpu_enabled: true,\n$1ip_range: "192.168.200.12"',
  );

const yamlIn = (dir: string): string[] =>
  fs
    .readdirSync(path.join(ROOT, dir))
    .filter((f) => f.endsWith(".yaml"))
    .map((f) => path.join(dir, f));
const SPECS: [string, ClusterSpec][] = [
  ...[...yamlIn("config"), ...yamlIn("config/examples")].map((file): [string, ClusterSpec] => [
    file,
    specOf(file, fs.readFileSync(path.join(ROOT, file), "utf8")),
  ]),
  ["test/fixtures/user-example.yaml", specOf("user-example.yaml", fixture("user-example.yaml"))],
  ["attach: auto, whole GPUs only", specOf("auto-whole.yaml", AUTO_WHOLE)],
];

interface HostShape {
  readonly framework: boolean[];
  readonly vfio: boolean[];
  /** Whether the host reports MIG support on a GPU the spec says is mig_capable. */
  readonly migSupport: boolean[];
  readonly migOn: boolean[];
  readonly totalMiB: number;
  readonly threads: number;
}

/** A host carrying the spec's GPUs, with or without a vGPU framework each, and the given memory and threads. */
function hostFor(spec: ClusterSpec, shape: HostShape): HostInventory {
  const gpus: HostGpu[] = spec.global.gpu_allocation.devices.map((device, index) =>
    hostGpu({
      pciAddress: device.pci_address.toLowerCase(),
      name: device.model,
      index,
      pciDeviceId: device.pci_device_id ?? null,
      boundDriver: shape.vfio[index % shape.vfio.length] ? "vfio-pci" : "nvidia",
      migCapable: device.mig_capable ? (shape.migSupport[index % shape.migSupport.length] ?? true) : false,
      migMode: device.mig_capable
        ? {
            current: shape.migOn[index % shape.migOn.length] ?? true,
            pending: shape.migOn[index % shape.migOn.length] ?? true,
          }
        : null,
      vgpu: shape.framework[index % shape.framework.length]
        ? { framework: "mdev", types: [{ id: "nvidia-700", name: device.vgpu_type ?? "A100D-1-10C", available: 16 }] }
        : { framework: null, types: [] },
    }),
  );
  const healthy = healthyInventory(gpus);
  return { ...healthy, memory: { totalMiB: shape.totalMiB }, cpu: { ...healthy.cpu, threads: shape.threads } };
}

/** Hosts anywhere, and hosts within a GiB or a thread of each capacity boundary of this spec. */
function shapesFor(spec: ClusterSpec): fc.Arbitrary<HostShape> {
  const vms = buildPlan({ spec }).vms;
  const memoryMiB = vms.reduce((sum, vm) => sum + vm.memoryMiB, 0) + spec.host.reserved.memory_gb * 1024;
  const vcpus = vms.reduce((sum, vm) => sum + vm.vcpus, 0);
  const reserved = spec.host.reserved.cpu_cores;
  return fc.record({
    framework: fc.array(fc.boolean(), { minLength: 1, maxLength: 4 }),
    vfio: fc.array(fc.boolean(), { minLength: 1, maxLength: 4 }),
    migSupport: fc.array(fc.boolean(), { minLength: 1, maxLength: 4 }),
    migOn: fc.array(fc.boolean(), { minLength: 1, maxLength: 4 }),
    totalMiB: fc.oneof(
      fc.integer({ min: 1024, max: 1024 * 1024 }),
      fc.integer({ min: -1024, max: 1024 }).map((d) => Math.max(1024, memoryMiB + d)),
    ),
    threads: fc.oneof(
      fc.integer({ min: 1, max: 256 }),
      fc
        .tuple(fc.constantFrom(1, 4), fc.integer({ min: -1, max: 1 }))
        .map(([ratio, d]) => Math.max(1, reserved + Math.ceil(vcpus / ratio) + d)),
    ),
  });
}

const checksOf = (host: HostInventory, spec: ClusterSpec) => runDoctor(host, spec);

function verdicts(spec: ClusterSpec, host: HostInventory) {
  const plan = buildPlan({ spec, host });
  const checks = runDoctor(host, spec);
  const status = (id: string) => checks.find((c) => c.id === id)?.status;
  return { plan, checks, status };
}

describe("doctor asks the plan", () => {
  it.each(SPECS)(
    "%s: doctor FAILs the vGPU-framework and capacity checks exactly where the planner refuses",
    (_name, spec) => {
      fc.assert(
        fc.property(shapesFor(spec), (shape) => {
          const host = hostFor(spec, shape);
          const { plan, status } = verdicts(spec, host);
          for (const device of spec.global.gpu_allocation.devices) {
            const plannerRefuses = plan.errors.some(
              (e) => e.gpu === device.id && e.message.includes("no vGPU framework"),
            );
            expect(status(`gpu-${device.id}-vgpu`) === "FAIL").toBe(plannerRefuses);
            // MIG: doctor FAILs exactly where the planner refuses mig_capable, and looks at the MIG mode only of a
            // GPU the plan turns MIG on for (never of one it passes through whole).
            const refusesMig = plan.errors.some((e) => e.gpu === device.id && e.path?.endsWith("/mig_capable"));
            expect(status(`gpu-${device.id}-mig`) === "FAIL").toBe(refusesMig);
            const planned = plan.gpus.find((g) => g.id === device.id);
            const modeChecked = checksOf(host, spec).some(
              (c) => c.id === `gpu-${device.id}-mig` && c.message.includes("MIG mode"),
            );
            expect(modeChecked).toBe(!refusesMig && planned?.migEnabled === true && planned.attach !== "mig-in-guest");
          }
          expect(status("capacity-memory") === "FAIL").toBe(
            plan.errors.some((e) => e.message.includes("GiB of memory")),
          );
          expect(status("capacity-cpu") === "FAIL").toBe(
            plan.errors.some((e) => e.message.includes("vCPUs, more than 4x")),
          );
          expect(status("capacity-cpu") === "WARN").toBe(
            plan.warnings.some((w) => w.message.includes("overcommitted")),
          );
        }),
        { numRuns: 100 },
      );
    },
  );

  it("passes an attach: auto MIG GPU the plan hands out whole, on a host without a vGPU framework", () => {
    const spec = specOf("auto-whole.yaml", AUTO_WHOLE);
    expect(spec.global.gpu_allocation.devices[0]).toMatchObject({ attach: "auto", mig_capable: true });
    const host = hostFor(spec, {
      framework: [false],
      vfio: [true],
      migSupport: [true],
      migOn: [false],
      totalMiB: 512 * 1024,
      threads: 128,
    });
    const { plan, checks, status } = verdicts(spec, host);
    expect(plan.errors).toEqual([]);
    expect(plan.gpus[0].attach).toBe("passthrough");
    expect(status("gpu-GPU-0-vgpu")).toBeUndefined();
    // MIG mode is off on the host, and that is right: the plan passes the GPU through whole.
    expect(status("gpu-GPU-0-mig")).toBeUndefined();
    expect(checks.filter((c) => c.status === "WARN").map((c) => c.id)).not.toContain("gpu-GPU-0-mig");
    expect(status("gpu-GPU-0-driver")).toBe("PASS");
    expect(checks.filter((c) => c.status === "FAIL")).toEqual([]);
  });

  it("still FAILs an attach: auto MIG GPU that the plan carves into vGPUs when the host has no framework", () => {
    const spec = specOf("user-example.yaml", fixture("user-example.yaml"));
    const host = hostFor(spec, {
      framework: [false],
      vfio: [false],
      migSupport: [true],
      migOn: [true],
      totalMiB: 512 * 1024,
      threads: 128,
    });
    const { plan, status } = verdicts(spec, host);
    expect(plan.gpus[0].attach).toBe("mig-vgpu");
    expect(plan.errors.map((e) => e.path)).toContain("/global/gpu_allocation/devices/0/attach");
    expect(status("gpu-GPU-0-vgpu")).toBe("FAIL");
  });

  it(
    "FAILs a mig_capable GPU whose host reports no MIG support, as the planner refuses it, " +
      "even for attach: passthrough",
    () => {
      const spec = specOf(
        "auto-whole.yaml",
        AUTO_WHOLE.replace("mig_capable: true,", 'mig_capable: true, attach: "passthrough",'),
      );
      expect(spec.global.gpu_allocation.devices[0].attach).toBe("passthrough");
      const host = hostFor(spec, {
        framework: [false],
        vfio: [true],
        migSupport: [false],
        migOn: [false],
        totalMiB: 512 * 1024,
        threads: 128,
      });
      const { plan, checks, status } = verdicts(spec, host);
      const refusal = plan.errors.find((e) => e.path?.endsWith("/mig_capable"));
      expect(refusal).toBeDefined();
      expect(status("gpu-GPU-0-mig")).toBe("FAIL");
      expect(checks.find((c) => c.id === "gpu-GPU-0-mig")?.message).toBe(refusal!.message);
    },
  );
});
