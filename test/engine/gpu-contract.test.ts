// Contract tests of the GPU resource types (MIG layout, vGPU device) through the SDK's provider host. There is
// no GPU here: the host process runs the providers' real default executor against stand-in nvidia-smi and
// mdevctl programs on its PATH (test/engine/stand-ins) and a fake sysfs tree; the point is the protocol path.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type * as Gpu from "../../src/providers/gpu";
import { requireBuilt } from "./built-package";
import { runContract } from "./contract";
import { EngineResource } from "./engine-resource";
import { ProviderHost, serializeProvider, UNKNOWN } from "./provider-host";

const figures: Record<string, string[]> = {};

describe("GPU resource contracts through the provider host", () => {
  let host: ProviderHost;
  let gpu: typeof Gpu;
  let state: string;
  let sysRoot: string;

  const write = (file: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(sysRoot, file)), { recursive: true });
    fs.writeFileSync(path.join(sysRoot, file), text);
  };

  beforeAll(async () => {
    gpu = requireBuilt<typeof Gpu>("src/providers/gpu.js");
    state = fs.mkdtempSync(path.join(os.tmpdir(), "hs-gpu-contract-"));
    sysRoot = path.join(state, "sys");
    for (const [id, name] of [
      ["nvidia-700", "A100D-1-10C"],
      ["nvidia-701", "A100D-2-20C"],
    ]) {
      write(`bus/pci/devices/0000:65:00.0/mdev_supported_types/${id}/name`, `${name}\n`);
      write(`bus/pci/devices/0000:65:00.0/mdev_supported_types/${id}/available_instances`, "3\n");
    }
    for (const [i, vf] of ["0000:06:00.4", "0000:06:00.5"].entries()) {
      write(
        `bus/pci/devices/${vf}/nvidia/creatable_vgpu_types`,
        "ID    : vGPU Name\n1003  : NVIDIA H100XM-1-10C\n1004  : NVIDIA H100XM-2-20C\n",
      );
      write(`bus/pci/devices/${vf}/nvidia/current_vgpu_type`, "0\n");
      fs.mkdirSync(path.join(sysRoot, "bus/pci/devices/0000:06:00.0"), { recursive: true });
      fs.symlinkSync(`../${vf}`, path.join(sysRoot, `bus/pci/devices/0000:06:00.0/virtfn${i}`));
    }
    host = await ProviderHost.start({
      ...process.env,
      PATH: `${path.join(__dirname, "stand-ins")}:${process.env.PATH}`,
      HS_STAND_IN_STATE: state,
    });
    await host.configure();
  });

  afterAll(async () => {
    await host?.stop();
    fs.rmSync(state, { recursive: true, force: true });
    console.log(
      `provider-host GPU contracts:\n${Object.entries(figures)
        .map(([type, t]) => `  ${type}: ${t.length} (${t.join(", ")})`)
        .join("\n")}`,
    );
  });

  const smi = () =>
    JSON.parse(fs.readFileSync(path.join(state, "nvidia-smi.json"), "utf8")) as {
      migCurrent: boolean;
      instances: { profile: string; start: number }[];
    };
  const oneG = (start: number) => ({ profile: "1g.10gb", profileId: 19, start, size: 1 });
  const threeG = (start: number) => ({ profile: "3g.40gb", profileId: 9, start, size: 4 });

  it("MIG layout: create (MIG on, instances at the planned starts), re-carve in place, delete twice", async () => {
    const layout = new EngineResource(
      host,
      "MigLayout",
      "gpu-host-GPU-0-mig",
      await serializeProvider(gpu.makeMigLayoutProvider()),
    );
    const inputs = (instances: ReturnType<typeof oneG>[], force = false) => ({
      gpu: "GPU-0",
      pciAddress: "0000:65:00.0",
      migEnabled: true,
      instances,
      force,
    });
    figures["MIG layout"] = await runContract({
      resource: layout,
      inputs: inputs([threeG(0), oneG(4)]),
      updates: [
        { property: "instances", inputs: inputs([threeG(0), oneG(4), oneG(5)]) },
        { property: "force", inputs: inputs([threeG(0), oneG(4), oneG(5)], true) },
      ],
      replaces: [],
      verify: (_outputs, i) =>
        expect(
          smi()
            .instances.map((x) => `${x.profile}@${x.start}`)
            .sort(),
        ).toEqual((i.instances as ReturnType<typeof oneG>[]).map((x) => `${x.profile}@${x.start}`).sort()),
      gone: () => smi().instances.length === 0,
      readAfterDelete: (outputs) => expect(outputs).toMatchObject({ instances: [], liveInstances: [] }),
    });
    expect(smi().migCurrent).toBe(true);
  });

  it("vGPU device (mdev): create, replace on a new type, delete twice", async () => {
    const device = new EngineResource(
      host,
      "VgpuDevice",
      "vgpu-mdev",
      await serializeProvider(gpu.makeVgpuDeviceProvider()),
    );
    const inputs = (vgpuType: string) => ({
      uuid: "0f0e0d0c-0000-4000-8000-000000000001",
      gpu: "GPU-0",
      parentPciAddress: "0000:65:00.0",
      vgpuType,
      path: "mdev",
      sysRoot,
    });
    const devices = () =>
      JSON.parse(fs.readFileSync(path.join(state, "mdevctl.json"), "utf8")) as Record<
        string,
        { type: string; started: boolean }
      >;
    figures["vGPU device (mdev)"] = await runContract({
      resource: device,
      inputs: inputs("A100D-1-10C"),
      updates: [],
      replaces: [{ property: "vgpuType", inputs: inputs("A100D-2-20C") }],
      verify: (outputs, i) => {
        expect(outputs).toMatchObject({ mdevParent: "0000:65:00.0", vfAddress: null });
        expect(devices()[i.uuid as string]).toMatchObject({
          type: i.vgpuType === "A100D-1-10C" ? "nvidia-700" : "nvidia-701",
          started: true,
        });
      },
      gone: () => Object.keys(devices()).length === 0,
    });
  });

  it("vGPU device (SR-IOV VF): create, replace on a new type, delete twice; the VF address is an output", async () => {
    const device = new EngineResource(
      host,
      "VgpuDevice",
      "vgpu-vf",
      await serializeProvider(gpu.makeVgpuDeviceProvider()),
    );
    const inputs = (vgpuType: string) => ({
      uuid: "0f0e0d0c-0000-4000-8000-000000000002",
      gpu: "H100-0",
      parentPciAddress: "0000:06:00.0",
      vgpuType,
      path: "sriov",
      sysRoot,
    });
    const current = (vf: string) =>
      fs.readFileSync(path.join(sysRoot, "bus/pci/devices", vf, "nvidia/current_vgpu_type"), "utf8").trim();
    figures["vGPU device (SR-IOV)"] = await runContract({
      resource: device,
      inputs: inputs("H100XM-1-10C"),
      updates: [],
      replaces: [{ property: "vgpuType", inputs: inputs("H100XM-2-20C") }],
      verify: (outputs, i) =>
        expect(current(outputs.vfAddress as string)).toBe(i.vgpuType === "H100XM-1-10C" ? "1003" : "1004"),
      gone: () => current("0000:06:00.4") === "0" && current("0000:06:00.5") === "0",
    });
    // Preview of a device whose GPU is being re-carved: an unknown type proposes a replacement, not an error.
    await device.up(inputs("H100XM-1-10C"));
    const step = await device.preview({ ...inputs("H100XM-1-10C"), vgpuType: UNKNOWN });
    expect(step.kind).toBe("replace");
    await device.destroy();
  });
});
