// Parsers over real command outputs captured on users' machines (shared/reference/samples).
import { describe, expect, it } from "vitest";
import {
  normalisePciAddress,
  parseMigLci,
  parseMigLgi,
  parseMigLgip,
  parseMigLgipp,
  parseNvidiaSmiL,
  parseNvidiaSmiXml,
} from "../../src/host/parsers/nvidia-smi";
import {
  nouveauBlacklisted,
  parseCpuinfo,
  parseCreatableVgpuTypes,
  parseLspci,
  parseMdevctlTypes,
  parseVirshVersion,
} from "../../src/host/parsers/system";
import { sample } from "../fixtures/host";

describe("nvidia-smi parsers", () => {
  it("normalises PCI addresses from nvidia-smi and lspci", () => {
    expect(normalisePciAddress("00000000:65:00.0")).toBe("0000:65:00.0");
    expect(normalisePciAddress("65:00.0")).toBe("0000:65:00.0");
    expect(normalisePciAddress("0000:CA:00.0")).toBe("0000:ca:00.0");
  });

  it("-q -x with MIG devices (A100-SXM4-80GB, driver 535)", () => {
    const report = parseNvidiaSmiXml(sample("nvidia-smi-q-x_a100-sxm4-80gb_mig-enabled_4x1g.20gb_drv535.xml"));
    expect(report.driverVersion).toBe("535.54.03");
    expect(report.gpus).toHaveLength(1);
    expect(report.gpus[0]).toMatchObject({
      pciAddress: "0000:01:00.0",
      name: "NVIDIA A100-SXM4-80GB",
      pciDeviceId: "10de:20b2",
      migMode: { current: true, pending: true },
      migDevices: 4,
      architecture: "Ampere",
    });
    expect(report.gpus[0].memoryMiB).toBeGreaterThan(80000);
  });

  it("-q -x without MIG (RTX 4090, driver 535)", () => {
    const report = parseNvidiaSmiXml(sample("nvidia-smi-q-x_rtx-4090_non-mig_drv535.xml"));
    expect(report.gpus).toHaveLength(1);
    expect(report.gpus[0]).toMatchObject({
      name: "NVIDIA GeForce RTX 4090",
      pciDeviceId: "10de:2684",
      migMode: null,
      migDevices: 0,
    });
  });

  it("rejects a document that is not nvidia-smi XML", () => {
    expect(() => parseNvidiaSmiXml("<html></html>")).toThrow(/not an nvidia-smi/);
  });

  it("-L with MIG devices under GPU 0 of four", () => {
    const gpus = parseNvidiaSmiL(sample("nvidia-smi-L_a100-sxm4-80gb_x4_gpu0-mig-4x1g.20gb_others-non-mig.txt"));
    expect(gpus.map((g) => g.index)).toEqual([0, 1, 2, 3]);
    expect(gpus[0].migDevices).toHaveLength(4);
    expect(gpus[0].migDevices[0]).toEqual({ profile: "1g.20gb", uuid: "MIG-ce861fb0-a248-58ce-a9a8-f9adbc22a66a" });
    expect(gpus[1]).toMatchObject({
      name: "NVIDIA A100-SXM4-80GB",
      uuid: "GPU-d8594bd4-0fc3-8595-e355-7c98138f3b95",
      migDevices: [],
    });
  });

  it("-lgip in the R470 table layout", () => {
    const rows = parseMigLgip(sample("nvidia-smi-mig-lgip_a100-pcie-40gb_r470-era.txt"));
    expect(rows.map((r) => `${r.name}:${r.id}:${r.instancesFree}/${r.instancesTotal}`)).toEqual([
      "1g.5gb:19:7/7",
      "1g.5gb+me:20:1/1",
      "2g.10gb:14:3/3",
      "3g.20gb:9:2/2",
      "4g.20gb:5:1/1",
      "7g.40gb:0:1/1",
    ]);
    expect(rows[0].memoryMiB).toBe(4864);
  });

  it("-lgip in the newer layout (extra columns, several GPUs)", () => {
    const text = [
      "+-----------------------------------------------------------------------------+",
      "| GPU instance profiles:                                                      |",
      "| GPU   Name             ID    Instances   Memory     P2P    SM    DEC   ENC  |",
      "|                              Free/Total   GiB              CE    JPEG  OFA  |",
      "|=============================================================================|",
      "|   0  MIG 1g.10gb       19     7/7        9.75       No     16     1     0   |",
      "|                                                             1     1     0   |",
      "+-----------------------------------------------------------------------------+",
      "|   1  MIG 3g.40gb        9     1/2        39.25      No     60     3     0   |",
      "|                                                             3     3     0   |",
      "+-----------------------------------------------------------------------------+",
    ].join("\n");
    expect(parseMigLgip(text).map((r) => [r.gpu, r.name, r.id, r.instancesFree])).toEqual([
      [0, "1g.10gb", 19, 7],
      [1, "3g.40gb", 9, 1],
    ]);
  });

  it("-lgipp including the singular 'Placement :' lines", () => {
    const rows = parseMigLgipp(sample("nvidia-smi-mig-lgipp_h100-pcie-80gb_drv525.txt"));
    expect(rows).toHaveLength(7);
    expect(rows.find((r) => r.id === 15)).toEqual({ gpu: 0, id: 15, starts: [0, 2, 4, 6], size: 2 });
    expect(rows.find((r) => r.id === 0)).toEqual({ gpu: 0, id: 0, starts: [0], size: 8 });
  });

  it("-lgi and -lci", () => {
    expect(parseMigLgi(sample("nvidia-smi-mig-lgi_a100-pcie-40gb_2x3g.20gb.txt"))).toEqual([
      { gpu: 0, name: "3g.20gb", profileId: 9, gi: 1, start: 0, size: 4 },
      { gpu: 0, name: "3g.20gb", profileId: 9, gi: 2, start: 4, size: 4 },
    ]);
    const cis = parseMigLci(sample("nvidia-smi-mig-lci_a100-pcie-40gb_mixed-ci.txt"));
    expect(cis.map((c) => `${c.gi}/${c.ci} ${c.name} ${c.start}:${c.size}`)).toEqual([
      "1/0 3g.20gb 0:3",
      "2/0 1c.3g.20gb 0:1",
      "2/1 1c.3g.20gb 1:1",
      "2/2 1c.3g.20gb 2:1",
    ]);
  });
});

describe("system parsers", () => {
  it("lspci -nn without domain (four H100 SXM5)", () => {
    const devices = parseLspci(sample("lspci-nn_h100-sxm5-80gb_x4.txt"));
    expect(devices.map((d) => d.address)).toEqual(["0000:06:00.0", "0000:0c:00.0", "0000:46:00.0", "0000:4c:00.0"]);
    expect(devices[0]).toMatchObject({
      classCode: "0302",
      vendorDevice: "10de:2330",
      description: "NVIDIA Corporation GH100 [H100 SXM5 80GB]",
    });
  });

  it("mdevctl types (Tesla P4, GRID types)", () => {
    const parents = parseMdevctlTypes(sample("mdevctl-types_tesla-p4_grid-types_drv525.txt"));
    const types = parents.get("0000:01:00.0")!;
    expect(types).toHaveLength(14);
    expect(types.find((t) => t.id === "nvidia-63")).toEqual({
      id: "nvidia-63",
      name: "GRID P4-1Q",
      available: 0,
      description: "num_heads=4, frl_config=60, framebuffer=1024M, max_resolution=5120x2880, max_instance=8",
      deviceApi: "vfio-pci",
    });
  });

  it("cpuinfo, creatable vGPU types, virsh version, nouveau blacklist", () => {
    expect(
      parseCpuinfo("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: EPYC\nflags\t: fpu svm\n\n"),
    ).toMatchObject({ vendor: "AuthenticAMD", virtualization: "svm", threads: 1 });
    expect(
      parseCreatableVgpuTypes("ID    : vGPU Name\n1003  : NVIDIA H100XM-1-10C\n1004  : NVIDIA H100XM-2-20C\n"),
    ).toEqual([
      { id: "1003", name: "H100XM-1-10C" },
      { id: "1004", name: "H100XM-2-20C" },
    ]);
    expect(parseVirshVersion("Compiled against library: libvirt 9.0.0\nUsing library: libvirt 9.0.0\n")).toBe("9.0.0");
    expect(nouveauBlacklisted("quiet modprobe.blacklist=nouveau", null)).toBe(true);
    expect(nouveauBlacklisted("quiet", "blacklist nouveau\noptions nouveau modeset=0\n")).toBe(true);
    expect(nouveauBlacklisted("quiet", "")).toBe(false);
    expect(nouveauBlacklisted(null, null)).toBeNull();
  });
});
