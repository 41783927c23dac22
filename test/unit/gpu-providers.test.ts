// GPU host providers against a stateful fake nvidia-smi / mdevctl and fake sysfs trees (no GPU here).
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { makeMigLayoutProvider, makeVgpuDeviceProvider, type GpuRunner } from "../../src/providers/gpu";
import type { ExecResult } from "../../src/util/exec";
import { sample } from "../fixtures/host";
import { tempDir } from "../helpers";

interface FakeInstance {
  gi: number;
  profileId: number;
  profile: string;
  start: number;
  size: number;
}

/** Just enough nvidia-smi for the MIG layout provider: mode changes need a reset; GIs must not overlap. */
class FakeNvidiaSmi {
  migCurrent = false;
  migPending = false;
  instances: FakeInstance[] = [];
  processes = 0;
  resetBlockedBy: string | null = null;
  calls: string[] = [];
  private nextGi = 1;
  readonly profiles: Record<string, { id: number; name: string; size: number; starts: number[] }> = {
    "19": { id: 19, name: "1g.10gb", size: 1, starts: [0, 1, 2, 3, 4, 5, 6] },
    "9": { id: 9, name: "3g.40gb", size: 4, starts: [0, 4] },
    "5": { id: 5, name: "4g.40gb", size: 4, starts: [0] },
  };

  run: GpuRunner = (command, args): ExecResult => {
    const line = [command, ...args].join(" ");
    this.calls.push(line);
    const ok = (stdout = ""): ExecResult => ({ code: 0, stdout, stderr: "" });
    const fail = (stderr: string): ExecResult => ({ code: 1, stdout: "", stderr });
    if (command !== "nvidia-smi") return fail(`${command}: not found`);
    if (args[0].startsWith("--query-gpu")) {
      const onOff = (on: boolean): string => (on ? "Enabled" : "Disabled");
      const mig = args[0].includes("mig.mode") ? `, ${onOff(this.migCurrent)}, ${onOff(this.migPending)}` : "";
      return ok(`00000000:65:00.0, 0${mig}\n`);
    }
    if (args[0].startsWith("--query-compute-apps"))
      return ok(Array.from({ length: this.processes }, (_, i) => `00000000:65:00.0, ${1000 + i}`).join("\n"));
    if (args[0] === "-i" && args[2] === "-mig") {
      this.migPending = args[3] === "1";
      return ok();
    }
    if (args[0] === "-i" && args[2] === "-r") {
      if (this.resetBlockedBy) return fail(`Unable to reset GPU: in use by ${this.resetBlockedBy}`);
      this.migCurrent = this.migPending;
      return ok();
    }
    if (args[0] === "mig" && args.includes("-lgi")) {
      if (this.instances.length === 0) return { code: 6, stdout: "No GPU instances found", stderr: "" };
      return ok(
        this.instances
          .map(
            (i) =>
              `|   0  MIG ${i.profile.padEnd(12)} ${String(i.profileId).padStart(6)} ` +
              `${String(i.gi).padStart(8)}          ${i.start}:${i.size}     |`,
          )
          .join("\n"),
      );
    }
    if (args[0] === "mig" && args.includes("-cgi")) {
      if (!this.migCurrent) return fail("MIG mode is not enabled");
      const [id, start] = args[args.indexOf("-cgi") + 1].split(":");
      const profile = this.profiles[id];
      if (!profile || !profile.starts.includes(Number(start))) return fail("Invalid placement");
      const mask = (s: number, n: number) => ((1 << n) - 1) << s;
      if (this.instances.some((i) => (mask(i.start, i.size) & mask(Number(start), profile.size)) !== 0))
        return fail("Insufficient resources");
      this.instances.push({
        gi: this.nextGi++,
        profileId: profile.id,
        profile: profile.name,
        start: Number(start),
        size: profile.size,
      });
      return ok();
    }
    if (args[0] === "mig" && args.includes("-dci")) return ok();
    if (args[0] === "mig" && args.includes("-dgi")) {
      const gi = Number(args[args.indexOf("-gi") + 1]);
      this.instances = this.instances.filter((i) => i.gi !== gi);
      return ok();
    }
    return fail(`fake nvidia-smi: unsupported ${line}`);
  };
}

const layout = (instances: { profile: string; profileId: number; start: number; size: number }[], force = false) => ({
  gpu: "GPU-0",
  pciAddress: "0000:65:00.0",
  migEnabled: true,
  instances,
  force,
});
const oneG = (start: number) => ({ profile: "1g.10gb", profileId: 19, start, size: 1 });
const threeG = (start: number) => ({ profile: "3g.40gb", profileId: 9, start, size: 4 });

describe("MIG layout provider", () => {
  it("enables MIG (resetting the GPU) and creates instances at the planned starts, largest first", async () => {
    const smi = new FakeNvidiaSmi();
    const result = await makeMigLayoutProvider(smi.run).create(layout([oneG(6), threeG(0)]));
    expect(smi.migCurrent).toBe(true);
    expect(smi.calls.filter((c) => c.includes("-cgi"))).toEqual([
      "nvidia-smi mig -i 0 -cgi 9:0 -C",
      "nvidia-smi mig -i 0 -cgi 19:6 -C",
    ]);
    expect(result.outs.liveInstances.map((i: FakeInstance) => `${i.profile}@${i.start}`)).toEqual([
      "3g.40gb@0",
      "1g.10gb@6",
    ]);
  });

  it("read reports what the GPU really holds (drift after a reboot)", async () => {
    const smi = new FakeNvidiaSmi();
    const provider = makeMigLayoutProvider(smi.run);
    const created = await provider.create(layout([oneG(6)]));
    smi.instances = []; // GPU instances never survive a reboot
    const read = await provider.read!(created.id, created.outs);
    expect(read.props?.instances).toEqual([]);
    const diff = await provider.diff!(created.id, read.props as never, layout([oneG(6)]));
    expect(diff.changes).toBe(true);
    await provider.update!(created.id, read.props as never, layout([oneG(6)]));
    expect(smi.instances.map((i) => i.start)).toEqual([6]);
  });

  it("refuses to destroy instances while processes use the GPU, unless forced", async () => {
    const smi = new FakeNvidiaSmi();
    const provider = makeMigLayoutProvider(smi.run);
    const created = await provider.create(layout([oneG(0), oneG(1)]));
    smi.processes = 2;
    await expect(provider.update!(created.id, created.outs, layout([threeG(0)]))).rejects.toThrow(
      "refusing to re-carve: 2 process(es) use the GPU and 1g.10gb@0, 1g.10gb@1 would be destroyed. " +
        "Stop them, or set gpu_allocation.force_recarve: true",
    );
    expect(smi.instances).toHaveLength(2);
    await provider.update!(created.id, created.outs, layout([threeG(0)], true));
    expect(smi.instances.map((i) => `${i.profile}@${i.start}`)).toEqual(["3g.40gb@0"]);
  });

  it("explains a blocked reset", async () => {
    const smi = new FakeNvidiaSmi();
    smi.resetBlockedBy = "nvidia-persistenced";
    await expect(makeMigLayoutProvider(smi.run).create(layout([oneG(6)]))).rejects.toThrow(
      "MIG mode is pending until a GPU reset, and the reset failed: " +
        "Unable to reset GPU: in use by nvidia-persistenced. Stop nvidia-persistenced",
    );
    expect(smi.instances).toEqual([]);
  });

  it("delete removes the planned instances only", async () => {
    const smi = new FakeNvidiaSmi();
    const provider = makeMigLayoutProvider(smi.run);
    const created = await provider.create(layout([oneG(6)]));
    smi.instances.push({ gi: 99, profileId: 19, profile: "1g.10gb", start: 0, size: 1 }); // someone else's
    await provider.delete!(created.id, created.outs);
    expect(smi.instances.map((i) => i.gi)).toEqual([99]);
  });

  // The provider reads nvidia-smi with the probe's parsers: real captures (test/fixtures/samples, from the
  // team's shared reference), and a GPU named by its lspci address, without the PCI domain.
  it("reads a real `mig -lgi` capture, and finds the GPU by a normalised PCI address", async () => {
    const xml = sample("nvidia-smi-q-x_a100-sxm4-80gb_mig-enabled_4x1g.20gb_drv535.xml");
    const busId = /<gpu id="([^"]+)"/.exec(xml)![1];
    expect(busId).toBe("00000000:01:00.0");
    const calls: string[] = [];
    const run: GpuRunner = (command, args) => {
      calls.push([command, ...args].join(" "));
      if (args[0].startsWith("--query-gpu")) return { code: 0, stdout: `${busId}, 0, Enabled, Enabled\n`, stderr: "" };
      const lgi = sample("nvidia-smi-mig-lgi_a100-pcie-40gb_2x3g.20gb.txt");
      if (args.includes("-lgi")) return { code: 0, stdout: lgi, stderr: "" };
      return { code: 1, stdout: "", stderr: `unexpected ${command} ${args.join(" ")}` };
    };
    const props = { gpu: "GPU-0", pciAddress: "01:00.0", migEnabled: true, instances: [], force: false };
    const read = await makeMigLayoutProvider(run).read!("GPU-0@01:00.0", props);
    expect(calls).toContain("nvidia-smi mig -i 0 -lgi");
    expect(read.props.instances).toEqual([
      { profile: "3g.20gb", profileId: 9, start: 0, size: 4 },
      { profile: "3g.20gb", profileId: 9, start: 4, size: 4 },
    ]);
    expect(read.props.liveInstances.map((i: { gi: number }) => i.gi)).toEqual([1, 2]);
  });
});

const trees: string[] = [];
afterAll(() => trees.forEach((root) => fs.rmSync(root, { recursive: true, force: true })));

function sysTree(): string {
  const root = tempDir("hs-vgpu-sys-");
  trees.push(root);
  const write = (file: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), text);
  };
  write("bus/pci/devices/0000:65:00.0/mdev_supported_types/nvidia-700/name", "A100D-1-10C\n");
  write("bus/pci/devices/0000:65:00.0/mdev_supported_types/nvidia-700/available_instances", "7\n");
  for (const [i, vf] of ["0000:06:00.4", "0000:06:00.5"].entries()) {
    write(`bus/pci/devices/${vf}/nvidia/creatable_vgpu_types`, "ID    : vGPU Name\n1003  : NVIDIA H100XM-1-10C\n");
    write(`bus/pci/devices/${vf}/nvidia/current_vgpu_type`, "0\n");
    fs.mkdirSync(path.join(root, "bus/pci/devices/0000:06:00.0"), { recursive: true });
    fs.symlinkSync(`../${vf}`, path.join(root, `bus/pci/devices/0000:06:00.0/virtfn${i}`));
  }
  return root;
}

describe("vGPU device provider", () => {
  it("mdev: defines and starts the device on the parent that offers the type", async () => {
    const calls: string[] = [];
    const mdevctl: GpuRunner = (command, args) => (
      calls.push([command, ...args].join(" ")),
      { code: 0, stdout: args[0] === "list" ? "u-1 0000:65:00.0 nvidia-700 auto (active)" : "", stderr: "" }
    );
    const provider = makeVgpuDeviceProvider(mdevctl);
    const inputs = {
      uuid: "u-1",
      gpu: "GPU-0",
      parentPciAddress: "0000:65:00.0",
      vgpuType: "A100D-1-10C",
      path: "mdev" as const,
      sysRoot: sysTree(),
    };
    const created = await provider.create(inputs);
    expect(calls).toEqual([
      "mdevctl define --uuid u-1 --parent 0000:65:00.0 --type nvidia-700 --auto",
      "mdevctl start --uuid u-1",
    ]);
    expect((await provider.read!("u-1", created.outs)).id).toBe("u-1");
    await provider.delete!("u-1", created.outs);
    expect(calls.slice(-2)).toEqual(["mdevctl stop --uuid u-1", "mdevctl undefine --uuid u-1"]);
  });

  it("mdev: a failed start is rolled back, and a missing type is explained", async () => {
    const calls: string[] = [];
    const failing: GpuRunner = (_command, args) => (
      calls.push(args[0]),
      args[0] === "start" ? { code: 1, stdout: "", stderr: "vfio error" } : { code: 0, stdout: "", stderr: "" }
    );
    const inputs = {
      uuid: "u-2",
      gpu: "GPU-0",
      parentPciAddress: "0000:65:00.0",
      vgpuType: "A100D-1-10C",
      path: "mdev" as const,
      sysRoot: sysTree(),
    };
    await expect(makeVgpuDeviceProvider(failing).create(inputs)).rejects.toThrow(/mdevctl start failed: vfio error/);
    expect(calls).toEqual(["define", "start", "undefine"]);
    await expect(makeVgpuDeviceProvider(failing).create({ ...inputs, vgpuType: "A100D-7-80C" })).rejects.toThrow(
      /no mdev parent of 0000:65:00\.0 offers A100D-7-80C/,
    );
  });

  it("SR-IOV: takes a free VF, sets current_vgpu_type, releases it on delete", async () => {
    const root = sysTree();
    const provider = makeVgpuDeviceProvider();
    const base = {
      gpu: "H100-0",
      parentPciAddress: "0000:06:00.0",
      vgpuType: "H100XM-1-10C",
      path: "sriov" as const,
      sysRoot: root,
    };
    const first = await provider.create({ ...base, uuid: "a" });
    const second = await provider.create({ ...base, uuid: "b" });
    expect([first.outs.vfAddress, second.outs.vfAddress]).toEqual(["0000:06:00.4", "0000:06:00.5"]);
    expect(fs.readFileSync(path.join(root, "bus/pci/devices/0000:06:00.4/nvidia/current_vgpu_type"), "utf8")).toBe(
      "1003",
    );
    await expect(provider.create({ ...base, uuid: "c" })).rejects.toThrow(
      /no free virtual function of 0000:06:00\.0 offers H100XM-1-10C/,
    );
    await provider.delete!("a", first.outs);
    expect(fs.readFileSync(path.join(root, "bus/pci/devices/0000:06:00.4/nvidia/current_vgpu_type"), "utf8")).toBe("0");
    expect((await provider.read!("a", first.outs)).id).toBe("");
  });
});
