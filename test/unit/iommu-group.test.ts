// Passthrough of a GPU whose IOMMU group has other endpoint functions (issue 15 bug 2): the probe lists
// them through the injectable sysfs root (bridges excluded), the plan attaches every one with the GPU,
// the domain carries a managed hostdev per function (libvirt binds each to vfio-pci), and the doctor
// says what passthrough will take.
import Ajv2020 from "ajv/dist/2020";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { XMLParser } from "fast-xml-parser";
import { runDoctor } from "../../src/preflight/doctor";
import { inventoryFrom } from "../../src/host/probe";
import { liveSource } from "../../src/host/source";
import type { HostInventory } from "../../src/host/types";
import { buildPlan } from "../../src/plan";
import { renderDomainXml } from "../../src/render/libvirt/domain";
import { loadSpecText } from "../../src/spec/load";
import { fakeExecutor, fakeRoot } from "../fixtures/host";
import { ROOT, tempDir } from "../helpers";

const temporary: string[] = [];
afterAll(() => {
  for (const dir of temporary) fs.rmSync(dir, { recursive: true, force: true });
});

const SAMPLE = path.join(
  ROOT,
  "..",
  "shared",
  "reference",
  "samples",
  "find-sys-kernel-iommu_groups_intel-host_nvidia-gt710-group13.txt",
);

/** The sample's groups: `find /sys/kernel/iommu_groups/ -type l` on an Intel host with a GT 710. */
function sampleGroups(): Map<number, string[]> {
  const groups = new Map<number, string[]>();
  for (const match of fs
    .readFileSync(SAMPLE, "utf8")
    .matchAll(/^\/sys\/kernel\/iommu_groups\/(\d+)\/devices\/(\S+)$/gm)) {
    groups.set(Number(match[1]), [...(groups.get(Number(match[1])) ?? []), match[2]].sort());
  }
  return groups;
}

/** A fake sysfs root holding the GPU at `gpu` with its group's members from the sample; bridges get class 0x0604. */
function rootFor(gpu: string, group: number, bridges: string[] = []): string {
  const members = sampleGroups().get(group)!;
  const sameCard = (a: string) => a.slice(0, a.lastIndexOf(".")) === gpu.slice(0, gpu.lastIndexOf("."));
  const root = fakeRoot({
    iommuClass: true,
    gpus: [
      {
        address: gpu,
        device: "0x128b",
        driver: "vfio-pci",
        group,
        functions: members.filter((m) => m !== gpu && sameCard(m)),
        groupMates: members.filter((m) => !sameCard(m)),
      },
    ],
  });
  temporary.push(root);
  for (const bridge of bridges) {
    const dir = path.join(root, "sys/bus/pci/devices", bridge);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "class"), "0x060400\n");
  }
  return root;
}

describe("IOMMU groups with several functions (bug 2)", () => {
  it("the probe lists the GT 710's HDMI audio (group 13 of the sample) as an endpoint passthrough must take", () => {
    expect(sampleGroups().get(13)).toEqual(["0000:05:00.0", "0000:05:00.1"]);
    const gpu = inventoryFrom(liveSource({ root: rootFor("0000:05:00.0", 13), executor: fakeExecutor() })).gpus[0];
    expect(gpu).toMatchObject({
      pciAddress: "0000:05:00.0",
      iommuGroup: 13,
      iommuIsolated: true,
      iommuGroupEndpoints: ["0000:05:00.1"],
    });
  });

  it(
    "a PCI bridge in the group (sample group 1: root port 00:01.0 with 01:00.0) is neither taken nor a reason to " +
      "refuse",
    () => {
      expect(sampleGroups().get(1)).toEqual(["0000:00:01.0", "0000:01:00.0"]);
      const gpu = inventoryFrom(
        liveSource({ root: rootFor("0000:01:00.0", 1, ["0000:00:01.0"]), executor: fakeExecutor() }),
      ).gpus[0];
      expect(gpu).toMatchObject({ iommuGroup: 1, iommuIsolated: true, iommuGroupEndpoints: [] });
    },
  );

  it(
    "the plan attaches the whole group, the domain has a managed hostdev per function, libvirt's schema accepts " +
      "it, the doctor says so",
    () => {
      const host = JSON.parse(
        fs.readFileSync(path.join(ROOT, "test/fixtures/hosts/workstation.json"), "utf8"),
      ) as HostInventory;
      const rtx = host.gpus.find((g) => g.pciAddress === "0000:ca:00.0")! as { iommuGroupEndpoints?: string[] };
      rtx.iommuGroupEndpoints = ["0000:ca:00.1"];
      (host.iommu.groups as { id: number; devices: string[] }[]).push({
        id: 40,
        devices: ["0000:ca:00.0", "0000:ca:00.1"],
      });
      const loaded = loadSpecText("config/prod.yaml", fs.readFileSync(path.join(ROOT, "config/prod.yaml"), "utf8"));
      if (!loaded.ok) throw new Error("prod.yaml");
      const plan = buildPlan({ spec: loaded.spec, host });
      expect(plan.feasible, JSON.stringify(plan.errors)).toBe(true);
      const vm = plan.vms.find((v) => v.gpus.some((g) => g.pciAddress === "0000:ca:00.0"))!;
      expect(vm.gpus.find((g) => g.pciAddress === "0000:ca:00.0")!.groupFunctions).toEqual(["0000:ca:00.1"]);
      // vGPU shares (mdev) take no companions.
      for (const other of plan.vms.flatMap((v) => v.gpus).filter((g) => g.kind === "mig-vgpu"))
        expect(other.groupFunctions).toBeUndefined();
      const validate = new Ajv2020({ strict: true, allowUnionTypes: true }).compile(
        JSON.parse(fs.readFileSync(path.join(ROOT, "schemas/plan.schema.json"), "utf8")),
      );
      expect(validate(JSON.parse(JSON.stringify(plan))), JSON.stringify(validate.errors)).toBe(true);

      const xml = renderDomainXml(plan, vm, { pool: "hs-prod" });
      const parsed = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "@" }).parse(xml);
      const hostdevs = [parsed.domain.devices.hostdev].flat() as {
        "@managed": string;
        source: { address: Record<string, string> };
      }[];
      const addresses = hostdevs.map(
        (h) => `${h.source.address["@bus"]}:${h.source.address["@slot"]}.${h.source.address["@function"]}`,
      );
      expect(addresses).toEqual(["0xca:0x00.0x0", "0xca:0x00.0x1"]);
      expect(hostdevs.every((h) => h["@managed"] === "yes")).toBe(true);
      const dir = tempDir("hs-iommu-");
      temporary.push(dir);
      fs.writeFileSync(path.join(dir, "domain.xml"), xml);
      const check = spawnSync("virt-xml-validate", [path.join(dir, "domain.xml"), "domain"], { encoding: "utf8" });
      expect(check.status, check.stdout + check.stderr).toBe(0);

      const doctor = runDoctor(host).find((c) => c.id === "iommu-group-0000:ca:00.0")!;
      expect(doctor.status).toBe("PASS");
      expect(doctor.message).toContain("passthrough takes 0000:ca:00.0, 0000:ca:00.1 (libvirt binds each to vfio-pci)");
    },
  );
});
