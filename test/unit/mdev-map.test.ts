// mdev_map.json (issue 15 bug 12): an SR-IOV vGPU (Ada, Hopper and newer) lives on a virtual function,
// so its parent is the VF, not the physical GPU; mdev vGPUs (Ampere) keep the GPU as parent.
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildPlan } from "../../src/plan";
import { buildStack } from "../../src/program/stack";
import { mdevMap } from "../../src/render/gpu-files";
import { loadSpecText } from "../../src/spec/load";
import { ROOT, tempDir } from "../helpers";
import { recorded, resetRecorded, settled } from "../mocks";

const WORKSTATION = path.join(ROOT, "test/fixtures/hosts/workstation.json");
const temporary: string[] = [];
afterAll(() => {
  for (const dir of temporary) fs.rmSync(dir, { recursive: true, force: true });
});

/** The workstation inventory with an L40S (SR-IOV vGPU host driver) in place of its GPUs. */
function l40sHost(): string {
  const inventory = JSON.parse(fs.readFileSync(WORKSTATION, "utf8"));
  const a100 = inventory.gpus[0];
  inventory.gpus = [
    {
      ...a100,
      name: "NVIDIA L40S",
      pciAddress: "0000:41:00.0",
      pciDeviceId: "10de:26b9",
      memoryMiB: 46068,
      migCapable: false,
      migMode: null,
      migProfiles: [],
      migInstances: [],
      iommuGroup: 21,
      vgpu: { framework: "sriov", types: [{ id: "nvidia-1155", name: "L40S-12Q", available: 4 }] },
    },
  ];
  inventory.iommu.groups = [{ id: 21, devices: ["0000:41:00.0"] }];
  const dir = tempDir("hs-l40s-");
  temporary.push(dir);
  const file = path.join(dir, "inventory.json");
  fs.writeFileSync(file, JSON.stringify(inventory));
  return file;
}

function planOf(file: string) {
  const loaded = loadSpecText(file, fs.readFileSync(path.join(ROOT, file), "utf8"));
  if (!loaded.ok) throw new Error(file);
  return buildPlan({ spec: loaded.spec });
}

describe("mdev_map.json parents (bug 12)", () => {
  it(
    "SR-IOV (L40S): the parent is the VF carrying the vGPU, the physical GPU is named separately; unknown before " +
      "set-up",
    () => {
      const plan = planOf("config/examples/l40s-vgpu.yaml");
      expect(plan.gpus[0].vgpuPath).toBe("sriov");
      const before = mdevMap(plan);
      expect(before.length).toBe(4);
      for (const entry of before)
        expect(entry).toMatchObject({ parent: null, physicalFunction: "0000:41:00.0", path: "sriov" });
      const vfs = Object.fromEntries(before.map((e, i) => [e.uuid, `0000:41:00.${i + 4}`]));
      for (const entry of mdevMap(plan, vfs)) {
        expect(entry.parent).toBe(vfs[entry.uuid]);
        expect(entry.parent).not.toBe(entry.physicalFunction);
      }
    },
  );

  it("mdev (A100, Ampere): the parent is the GPU itself", () => {
    const plan = planOf("config/prod.yaml");
    const entries = mdevMap(plan).filter((e) => e.path === "mdev");
    expect(entries.length).toBe(7);
    for (const entry of entries) expect(entry.parent).toBe(entry.physicalFunction);
  });

  it("the stack's mdevMap output names the VF each VgpuDevice created as parent", async () => {
    resetRecorded();
    const outputs = await buildStack({
      stack: "test",
      clusterFile: path.join(ROOT, "config/examples/l40s-vgpu.yaml"),
      hostSnapshot: l40sHost(),
      start: true,
    });
    const map = await new Promise<ReturnType<typeof mdevMap>>((resolve) =>
      outputs.mdevMap.apply((m) => (resolve(m), m)),
    );
    await settled();
    const devices = recorded.filter((r) => r.type.endsWith(":VgpuDevice"));
    expect(devices.length).toBe(4);
    for (const entry of map) {
      expect(entry.parent).toMatch(/^0000:[0-9a-f]{2}:00\.4$/);
      expect(entry.parent).not.toBe(entry.physicalFunction);
    }
  });
});
