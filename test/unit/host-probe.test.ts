// The probe: replay of snapshots built from real samples, fake sysfs trees (IOMMU grouping, driver
// binding, mdev types, SR-IOV creatable_vgpu_types), capture -> replay round trips, and a live probe.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { inventoryFrom } from "../../src/host/probe";
import { liveSource, recordingSource, snapshotSource } from "../../src/host/source";
import { fakeExecutor, fakeRoot, sample, snapshotDir } from "../fixtures/host";
import { ROOT, tempDir } from "../helpers";

describe("replay of captured samples", () => {
  it("A100-SXM4-80GB with MIG enabled: XML + -L", () => {
    const dir = snapshotDir({
      "nvidia-smi-q-x.xml": sample("nvidia-smi-q-x_a100-sxm4-80gb_mig-enabled_4x1g.20gb_drv535.xml"),
      "nvidia-smi-L.txt": sample("nvidia-smi-L_a100-sxm4-80gb_x4_gpu0-mig-4x1g.20gb_others-non-mig.txt"),
    });
    const inventory = inventoryFrom(snapshotSource(dir));
    expect(inventory.source.kind).toBe("replay");
    expect(inventory.gpus).toHaveLength(1);
    expect(inventory.gpus[0]).toMatchObject({
      index: 0,
      pciAddress: "0000:01:00.0",
      pciDeviceId: "10de:20b2",
      uuid: "GPU-513536b6-7d19-9063-b049-1e69664bb298",
      driverVersion: "535.54.03",
      boundDriver: "nvidia",
      migCapable: true,
      migMode: { current: true, pending: true },
    });
    // No sysfs captured: unknown stays null.
    expect(inventory.gpus[0].iommuGroup).toBeNull();
    expect(inventory.iommu.enabled).toBeNull();
  });

  it("RTX 4090 without MIG", () => {
    const inventory = inventoryFrom(
      snapshotSource(snapshotDir({ "nvidia-smi-q-x.xml": sample("nvidia-smi-q-x_rtx-4090_non-mig_drv535.xml") })),
    );
    expect(inventory.gpus[0]).toMatchObject({
      name: "NVIDIA GeForce RTX 4090",
      migCapable: false,
      migMode: null,
      migProfiles: [],
    });
  });

  it("four H100 SXM5 from lspci, MIG placements from -lgipp on GPU 0 (nvidia-smi's PCI order)", () => {
    const inventory = inventoryFrom(
      snapshotSource(
        snapshotDir({
          "lspci-Dnn.txt": sample("lspci-nn_h100-sxm5-80gb_x4.txt"),
          "nvidia-smi-mig-lgipp.txt": sample("nvidia-smi-mig-lgipp_h100-pcie-80gb_drv525.txt"),
        }),
      ),
    );
    expect(inventory.gpus.map((g) => g.pciAddress)).toEqual([
      "0000:06:00.0",
      "0000:0c:00.0",
      "0000:46:00.0",
      "0000:4c:00.0",
    ]);
    expect(inventory.gpus[0].name).toBe("H100 SXM5 80GB");
    expect(inventory.gpus[0].boundDriver).toBeNull(); // found through PCI, no driver information
    expect(
      inventory.gpus[0].migProfiles.map((p) => `${p.name}:${p.id}:${p.placements.map((x) => x.start).join(",")}`),
    ).toEqual([
      "1g.10gb:19:0,1,2,3,4,5,6",
      "1g.10gb+me:20:0,1,2,3,4,5,6",
      "1g.20gb:15:0,2,4,6",
      "2g.20gb:14:0,2,4",
      "3g.40gb:9:0,4",
      "4g.40gb:5:0",
      "7g.80gb:0:0",
    ]);
    expect(inventory.gpus[1].migProfiles).toEqual([]);
  });

  it("A100-PCIE-40GB on R470: profile table, two 3g instances and their compute instances", () => {
    const inventory = inventoryFrom(
      snapshotSource(
        snapshotDir({
          "lspci-Dnn.txt":
            "0000:3b:00.0 3D controller [0302]: NVIDIA Corporation GA100 [A100 PCIe 40GB] [10de:20f1] (rev a1)\n" +
            "0000:3b:00.1 Audio device [0403]: NVIDIA Corporation Device [10de:1aef]\n",
          "nvidia-smi-mig-lgip.txt": sample("nvidia-smi-mig-lgip_a100-pcie-40gb_r470-era.txt"),
          "nvidia-smi-mig-lgi.txt": sample("nvidia-smi-mig-lgi_a100-pcie-40gb_2x3g.20gb.txt"),
          "nvidia-smi-mig-lci.txt": sample("nvidia-smi-mig-lci_a100-pcie-40gb_mixed-ci.txt"),
        }),
      ),
    );
    expect(inventory.gpus).toHaveLength(1);
    const gpu = inventory.gpus[0];
    expect(gpu.migProfiles.map((p) => p.name)).toEqual([
      "1g.5gb",
      "1g.5gb+me",
      "2g.10gb",
      "3g.20gb",
      "4g.20gb",
      "7g.40gb",
    ]);
    expect(gpu.migInstances).toEqual([
      { gi: 1, profileId: 9, profile: "3g.20gb", start: 0, size: 4 },
      { gi: 2, profileId: 9, profile: "3g.20gb", start: 4, size: 4 },
    ]);
    expect((gpu as unknown as { computeInstances: unknown[] }).computeInstances).toHaveLength(4);
  });

  it("an 8-GPU snapshot", () => {
    const lspci = Array.from(
      { length: 8 },
      (_, i) =>
        `0000:${(0x18 + i * 0x10).toString(16)}:00.0 3D controller [0302]: NVIDIA Corporation GH100 [H100 SXM5 ` +
        `80GB] [10de:2330] (rev a1)`,
    ).join("\n");
    const lgipp = Array.from({ length: 8 }, (_, g) =>
      sample("nvidia-smi-mig-lgipp_h100-pcie-80gb_drv525.txt").replace(/GPU {2}0/g, `GPU  ${g}`),
    ).join("\n");
    const inventory = inventoryFrom(
      snapshotSource(snapshotDir({ "lspci-Dnn.txt": lspci, "nvidia-smi-mig-lgipp.txt": lgipp })),
    );
    expect(inventory.gpus).toHaveLength(8);
    expect(inventory.gpus.every((g) => g.migProfiles.length === 7)).toBe(true);
    expect(inventory.gpus.map((g) => g.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it("an empty snapshot knows nothing and says so with nulls", () => {
    const inventory = inventoryFrom(snapshotSource(snapshotDir({})));
    expect(inventory).toMatchObject({
      gpus: [],
      cpu: { vendor: null, virtualization: null },
      memory: { totalMiB: null },
      iommu: { enabled: null },
      nouveau: { loaded: null, blacklisted: null },
      libvirt: { reachable: false },
    });
  });
});

describe("fake sysfs trees", () => {
  it("finds a GPU bound to vfio-pci, alone in its group with its own audio function", () => {
    const root = fakeRoot({
      iommuClass: true,
      gpus: [{ address: "0000:65:00.0", device: "0x20b5", driver: "vfio-pci", group: 13, functions: ["0000:65:00.1"] }],
    });
    const inventory = inventoryFrom(liveSource({ root, executor: fakeExecutor() }));
    expect(inventory.gpus).toHaveLength(1);
    expect(inventory.gpus[0]).toMatchObject({
      pciAddress: "0000:65:00.0",
      pciDeviceId: "10de:20b5",
      name: "NVIDIA GPU 10de:20b5",
      boundDriver: "vfio-pci",
      iommuGroup: 13,
      iommuIsolated: true,
      migCapable: true,
      index: null,
    });
    expect(inventory.iommu).toEqual({ enabled: true, groups: [{ id: 13, devices: ["0000:65:00.0", "0000:65:00.1"] }] });
    expect(inventory.cpu).toMatchObject({ vendor: "GenuineIntel", virtualization: "vmx", threads: 2, cores: 2 });
    expect(inventory.memory.totalMiB).toBe(257735);
    expect(inventory.nouveau).toEqual({ loaded: false, blacklisted: true });
  });

  it("a GPU sharing its group with an unrelated device is not isolated; no driver is null", () => {
    const root = fakeRoot({
      iommuClass: true,
      gpus: [{ address: "0000:01:00.0", device: "0x2684", group: 1, groupMates: ["0000:00:01.0"] }],
    });
    const gpu = inventoryFrom(liveSource({ root, executor: fakeExecutor() })).gpus[0];
    expect(gpu).toMatchObject({ boundDriver: null, iommuGroup: 1, iommuIsolated: false, migCapable: null });
  });

  it("reads mdev types (Ampere) from mdev_supported_types", () => {
    const root = fakeRoot({
      iommuClass: true,
      gpus: [
        {
          address: "0000:65:00.0",
          device: "0x20b5",
          driver: "nvidia",
          group: 5,
          mdevTypes: [
            { id: "nvidia-700", name: "A100D-1-10C", available: 7 },
            { id: "nvidia-701", name: "A100D-2-20C", available: 3 },
          ],
        },
      ],
    });
    expect(inventoryFrom(liveSource({ root, executor: fakeExecutor() })).gpus[0].vgpu).toEqual({
      framework: "mdev",
      types: [
        { id: "nvidia-700", name: "A100D-1-10C", available: 7 },
        { id: "nvidia-701", name: "A100D-2-20C", available: 3 },
      ],
    });
  });

  it("reads SR-IOV creatable_vgpu_types (Hopper) from the virtual functions", () => {
    const creatable = "ID    : vGPU Name\n1003  : NVIDIA H100XM-1-10C\n1005  : NVIDIA H100XM-3-40C\n";
    const root = fakeRoot({
      iommuClass: true,
      gpus: [
        {
          address: "0000:06:00.0",
          device: "0x2330",
          driver: "nvidia",
          group: 7,
          vfs: [
            { address: "0000:06:00.4", creatable },
            { address: "0000:06:00.5", creatable },
          ],
        },
      ],
    });
    expect(inventoryFrom(liveSource({ root, executor: fakeExecutor() })).gpus[0].vgpu).toEqual({
      framework: "sriov",
      types: [
        { id: "1003", name: "H100XM-1-10C", available: 2 },
        { id: "1005", name: "H100XM-3-40C", available: 2 },
      ],
    });
  });

  it("IOMMU off: no class/iommu, no groups", () => {
    const root = fakeRoot({ gpus: [{ address: "0000:01:00.0", device: "0x2684", driver: "nvidia" }] });
    const inventory = inventoryFrom(liveSource({ root, executor: fakeExecutor() }));
    expect(inventory.iommu.enabled).toBe(false);
    expect(inventory.gpus[0].iommuIsolated).toBeNull();
  });

  it("reset blockers and nouveau from modules and processes, nvidia-smi through the executor", () => {
    const root = fakeRoot({
      iommuClass: true,
      modules: "nvidia_drm 100 0 - Live 0x0\nnouveau 10 0 - Live 0x0\n",
      cmdline: "quiet\n",
      gpus: [{ address: "0000:01:00.0", device: "0x20b2", driver: "nvidia", group: 3 }],
    });
    fs.mkdirSync(path.join(root, "proc/4242"), { recursive: true });
    fs.writeFileSync(path.join(root, "proc/4242/comm"), "nvidia-persistenced\n");
    fs.mkdirSync(path.join(root, "etc/modprobe.d"), { recursive: true });
    fs.writeFileSync(path.join(root, "etc/modprobe.d/kvm.conf"), "options kvm ignore_msrs=1\n");
    const executor = fakeExecutor({
      "nvidia-smi -q -x": sample("nvidia-smi-q-x_a100-sxm4-80gb_mig-enabled_4x1g.20gb_drv535.xml"),
      "virsh -c qemu:///system version": "Using library: libvirt 9.0.0\n",
    });
    const inventory = inventoryFrom(liveSource({ root, executor }));
    expect(inventory.resetBlockers).toEqual(["nvidia_drm module loaded", "nvidia-persistenced running"]);
    expect(inventory.nouveau).toEqual({ loaded: true, blacklisted: false });
    expect(inventory.libvirt).toEqual({ reachable: true, version: "9.0.0", uri: "qemu:///system" });
    expect(inventory.gpus[0]).toMatchObject({
      name: "NVIDIA A100-SXM4-80GB",
      migMode: { current: true, pending: true },
      index: 0,
    });
    expect(executor.calls).toContain("nvidia-smi mig -lgip");
  });

  it("capture then replay gives the same inventory", () => {
    const root = fakeRoot({
      iommuClass: true,
      kvm: true,
      gpus: [
        {
          address: "0000:65:00.0",
          device: "0x20b5",
          driver: "nvidia",
          group: 13,
          functions: ["0000:65:00.1"],
          mdevTypes: [{ id: "nvidia-700", name: "A100D-1-10C", available: 7 }],
        },
        {
          address: "0000:ca:00.0",
          device: "0x26b1",
          driver: "vfio-pci",
          group: 40,
          vfs: [{ address: "0000:ca:00.4", creatable: "ID : vGPU Name\n900 : NVIDIA L40S-12Q\n" }],
        },
      ],
    });
    const executor = fakeExecutor({
      "mdevctl types": "0000:65:00.0\n  nvidia-700\n    Available instances: 7\n    Name: A100D-1-10C\n",
    });
    const recorder = recordingSource(liveSource({ root, executor }));
    const live = inventoryFrom(recorder.source);
    const dir = tempDir("hs-capture-");
    const written = recorder.write(dir);
    expect(written).toEqual(
      expect.arrayContaining(["proc-cpuinfo.txt", "proc-meminfo.txt", "mdevctl-types.txt", "dev-kvm.txt"]),
    );
    expect(fs.existsSync(path.join(dir, "sysfs", ".links.json"))).toBe(true);
    const replayed = inventoryFrom(snapshotSource(dir));
    expect({ ...replayed, source: null }).toEqual({ ...live, source: null });
    expect(replayed.gpus).toHaveLength(2);
  });
});

describe("live probe of this machine", () => {
  it("succeeds as a whole process and reports zero GPUs", () => {
    const child = spawnSync(process.execPath, [path.join(ROOT, "bin", "hyperscaler.js"), "probe", "--json"], {
      encoding: "utf8",
    });
    expect(child.status, child.stderr).toBe(0);
    const inventory = JSON.parse(child.stdout);
    expect(inventory.source.kind).toBe("live");
    expect(inventory.gpus).toEqual([]);
    expect(inventory.memory.totalMiB).toBeGreaterThan(1024);
    expect(inventory.cpu.threads).toBeGreaterThanOrEqual(1);
  });

  it("--capture writes a snapshot that --replay reads back", () => {
    const dir = tempDir("hs-live-capture-");
    const capture = spawnSync(
      process.execPath,
      [path.join(ROOT, "bin", "hyperscaler.js"), "probe", "--json", "--capture", dir],
      { encoding: "utf8" },
    );
    expect(capture.status, capture.stderr).toBe(0);
    const replay = spawnSync(
      process.execPath,
      [path.join(ROOT, "bin", "hyperscaler.js"), "probe", "--json", "--replay", dir],
      { encoding: "utf8" },
    );
    expect(replay.status, replay.stderr).toBe(0);
    const [a, b] = [JSON.parse(capture.stdout), JSON.parse(replay.stdout)];
    expect(b.source.kind).toBe("replay");
    expect(b.cpu).toMatchObject({ vendor: a.cpu.vendor, virtualization: a.cpu.virtualization });
    expect(b.memory).toEqual(a.memory);
    expect(b.kvm).toEqual(a.kvm);
    expect(b.libvirt).toEqual(a.libvirt);
    expect(b.gpus).toEqual(a.gpus);
  });
});
