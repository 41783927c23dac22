// Plan refusals point at the cluster.yaml setting to change, as spec errors do: file:line:column, the
// source line and a caret, for every kind of refusal the planner makes.
import Ajv2020 from "ajv/dist/2020";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { runPlan } from "../../src/cli/plan";
import type { HostGpu, HostInventory } from "../../src/host/types";
import { buildPlan, planIssueDiagnostic } from "../../src/plan";
import { formatHuman } from "../../src/spec/diagnostics";
import { loadSpecText } from "../../src/spec/load";
import { healthyInventory, hostGpu } from "../fixtures/host";
import { captureIO, fixture, lineOf, ROOT } from "../helpers";

const DEV = fixture("../../config/dev.yaml");
const L40S = fixture("../../config/examples/l40s-vgpu.yaml");
const USER = fixture("user-example.yaml");
const A100 = (fields: Partial<HostGpu> = {}): HostGpu =>
  hostGpu({ pciAddress: "0000:65:00.0", name: "NVIDIA A100 80GB PCIe", pciDeviceId: "10de:20b5", ...fields });
const L40S_GPU = (types: string[]): HostGpu =>
  hostGpu({
    pciAddress: "0000:41:00.0",
    name: "NVIDIA L40S",
    migCapable: false,
    migMode: null,
    vgpu: { framework: "sriov", types: types.map((name, i) => ({ id: `nvidia-${i}`, name, available: 2 })) },
  });
const RTX = hostGpu({
  pciAddress: "0000:ca:00.0",
  name: "NVIDIA RTX 6000",
  index: 1,
  boundDriver: "vfio-pci",
  migCapable: false,
  migMode: null,
  vgpu: { framework: null, types: [] },
});
const host = (gpus: HostGpu[], fields: Partial<HostInventory> = {}): HostInventory => ({
  ...healthyInventory(gpus),
  ...fields,
});

interface Case {
  readonly kind: string;
  readonly text: string;
  readonly host: HostInventory;
  /** Part of the refusal's message. */
  readonly says: string;
  readonly path: string;
  /** The line holding the setting, and the text just before its value (the caret goes after it). */
  readonly line: string;
  readonly before: string;
}

const CASES: Case[] = [
  {
    kind: "a whole GPU with no node",
    text: USER,
    host: host([A100(), RTX]),
    says: "whole GPU(s) have no node",
    path: "/clusters/cloud/worker_nodes/gpu_workers/count",
    line: "gpu_workers: { count: 3",
    before: "count: ",
  },
  {
    kind: "memory exceeded",
    text: DEV,
    host: host([A100()], { memory: { totalMiB: 16 * 1024 } }),
    says: "GiB of memory",
    path: "/clusters/hpc/compute_nodes/memory_gb",
    line: "compute_nodes: {",
    before: "memory_gb: ",
  },
  {
    kind: "vCPUs exceeded",
    text: DEV,
    host: host([A100()], { cpu: { ...healthyInventory().cpu, threads: 2 } }),
    says: "vCPUs, more than 4x",
    path: "/clusters/hpc/compute_nodes/cpu_cores",
    line: "compute_nodes: {",
    before: "cpu_cores: ",
  },
  {
    kind: "no GPU at the address",
    text: DEV,
    host: host([A100({ pciAddress: "0000:66:00.0" })]),
    says: "no GPU at 0000:65:00.0",
    path: "/global/gpu_allocation/devices/0/pci_address",
    line: "id: GPU-0",
    before: "pci_address: ",
  },
  {
    kind: "no vGPU framework",
    text: DEV,
    host: host([A100({ vgpu: { framework: null, types: [] } })]),
    says: "no vGPU framework",
    path: "/global/gpu_allocation/devices/0/attach",
    line: "id: GPU-0",
    before: "attach: ",
  },
  {
    kind: "MIG not supported by the host",
    text: DEV,
    host: host([A100({ migCapable: false })]),
    says: "without MIG support",
    path: "/global/gpu_allocation/devices/0/mig_capable",
    line: "id: GPU-0",
    before: "mig_capable: ",
  },
  {
    kind: "MIG slices that do not fit",
    text: DEV.replace(
      "mig_slices: { hpc: 1, cloud: 1 }",
      "mig_slices: { hpc: [{ profile: 3g.40gb, count: 2 }], cloud: 1 }",
    ),
    host: host([A100()]),
    says: "cannot place",
    path: "/global/gpu_allocation/mig_slices/cloud",
    line: "mig_slices:",
    before: "cloud: ",
  },
  {
    kind: "more vGPUs than GPU nodes",
    text: DEV.replace("mig_slices: { hpc: 1, cloud: 1 }", "mig_slices: { hpc: 2, cloud: 1 }"),
    host: host([A100()]),
    says: "a VM takes at most one vGPU",
    path: "/clusters/hpc/compute_nodes/count",
    line: "compute_nodes: {",
    before: "count: ",
  },
  {
    kind: "re-carving a busy GPU",
    text: DEV,
    host: host([
      A100({ processes: 3, migInstances: [{ gi: 1, profileId: 9, profile: "3g.40gb", start: 0, size: 4 }] }),
    ]),
    says: "refusing to re-carve",
    path: "/global/gpu_allocation/force_recarve",
    line: "    devices:",
    before: "",
  },
  {
    kind: "vGPU type not offered",
    text: L40S,
    host: host([L40S_GPU(["NVIDIA L40S-24Q"])]),
    says: "is not offered by the host",
    path: "/global/gpu_allocation/devices/0/vgpu_type",
    line: "id: L40S-0",
    before: "vgpu_type: ",
  },
  {
    kind: "more vGPUs than the GPU has room for",
    text: L40S,
    host: host([L40S_GPU(["L40S-12Q"])]),
    says: "have room for 2",
    path: "/global/gpu_allocation/vgpu_shares/cloud",
    line: "vgpu_shares:",
    before: "cloud: ",
  },
];

describe("plan refusals carry the position of the setting to change", () => {
  it.each(CASES)("$kind", ({ text, host: inventory, says, path: pointer, line, before }) => {
    const loaded = loadSpecText("cluster.yaml", text);
    if (!loaded.ok) throw new Error(loaded.errors.map((e) => e.message).join("; "));
    const plan = buildPlan({ spec: loaded.spec, host: inventory });
    const refusal = plan.errors.find((e) => e.message.includes(says));
    expect(refusal, plan.errors.map((e) => e.message).join("\n")).toBeDefined();
    expect(refusal!.path).toBe(pointer);
    const diagnostic = planIssueDiagnostic(refusal!, loaded.place);
    const lineNo = lineOf(text, line);
    const source = text.split("\n")[lineNo - 1];
    const anchor = source.indexOf(line.trim());
    expect({ line: diagnostic.line, column: diagnostic.column }).toEqual({
      line: lineNo,
      column: source.indexOf(before, anchor) + before.length + 1,
    });
    const shown = formatHuman(diagnostic, loaded.lines?.[diagnostic.line - 1]).split("\n");
    expect(shown[0]).toBe(`cluster.yaml:${diagnostic.line}:${diagnostic.column}: error: ${refusal!.message}`);
    expect(shown[1]).toBe(`  ${source}`);
    expect(shown[2]).toBe(`  ${" ".repeat(diagnostic.column - 1)}^`);
    expect(shown[3]).toBe(`  hint: ${refusal!.hint}`);
  });

  it("every refusal of these plans names a setting", () => {
    for (const { text, host: inventory } of CASES) {
      const loaded = loadSpecText("cluster.yaml", text);
      if (!loaded.ok) throw new Error("invalid");
      for (const error of buildPlan({ spec: loaded.spec, host: inventory }).errors)
        expect(error.path, error.message).toMatch(/^\/(global|clusters|host)\//);
    }
  });

  it("refused plans, with the settings' pointers, conform to schemas/plan.schema.json", () => {
    const validate = new Ajv2020({ strict: true, allowUnionTypes: true }).compile(
      JSON.parse(fs.readFileSync(path.join(ROOT, "schemas/plan.schema.json"), "utf8")),
    );
    for (const { text, host: inventory } of CASES) {
      const loaded = loadSpecText("cluster.yaml", text);
      if (!loaded.ok) throw new Error("invalid");
      const plan = buildPlan({ spec: loaded.spec, host: inventory });
      expect(plan.errors.length).toBeGreaterThan(0);
      expect(validate(JSON.parse(JSON.stringify(plan))), JSON.stringify(validate.errors)).toBe(true);
    }
  });

  it("hyperscaler plan prints each refusal at file:line:column with the line and a caret", () => {
    const io = captureIO();
    const file = path.join(ROOT, "test/fixtures/user-example.yaml");
    expect(runPlan(file, { host: path.join(ROOT, "test/fixtures/hosts/workstation.json") }, io)).toBe(1);
    const at = lineOf(USER, "gpu_workers: { count: 3");
    const column = USER.split("\n")[at - 1].indexOf("count: ") + 8;
    expect(io.stderr.join("\n")).toContain(
      `${file}:${at}:${column}: error: cluster cloud: 1 whole GPU(s) have no node`,
    );
    expect(io.stderr.join("\n")).toContain(
      `  ${" ".repeat(column - 1)}^\n  hint: raise clusters.cloud.worker_nodes.gpu_workers.count to 4`,
    );
  });
});
