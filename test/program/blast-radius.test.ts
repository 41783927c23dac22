// The preview blast radius of config/prod.yaml under typical edits: the real program previewed against the
// state of the unedited spec (test/program/preview-engine.ts), with exact sets of resources created,
// updated, replaced and deleted and of VMs restarted. `hyperscaler plan --previous` computes the same from
// two plans (planBlastRadius), checked here against the preview for every edit the plan can see.
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPlan } from "../../src/plan";
import { blastRadiusText, planBlastRadius, type BlastRadius, type StackView } from "../../src/preview/blast-radius";
import type { StackSettings } from "../../src/program/stack";
import { loadHost } from "../../src/host/load";
import { loadSpecText } from "../../src/spec/load";
import { ROOT, tempDir } from "../helpers";
import { previewChange, upState, type StackState } from "./preview-engine";

const HOST = path.join(ROOT, "test/fixtures/hosts/workstation.json");
const PROD = fs.readFileSync(path.join(ROOT, "config/prod.yaml"), "utf8");
const dir = tempDir("hs-blast-");
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const KEY_A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJq9dHsK7yYpXwqW5xB2rV0cTn8m7lQ3cZs9aE4d1f2g ops@laptop";
const KEY_B = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBq9dHsK7yYpXwqW5xB2rV0cTn8m7lQ3cZs9aE4d1f2h ops@desk";

function edit(text: string, from: string | RegExp, to: string): string {
  const next = text.replace(from, to);
  if (next === text) throw new Error(`edit found nothing to change: ${from}`);
  return next;
}

const SLURM_NODES =
  'count: 4, cpu_cores: 8, memory_gb: 16, disk_gb: 200, gpu_enabled: true, ip_range: "192.168.100.11-14"';
const K8S_GPU = 'count: 4, cpu_cores: 8, memory_gb: 16, disk_gb: 200, gpu_enabled: true, ip_range: "192.168.200.12-15"';

const SLURM = ["slurm-ctl", "slurm-node-01", "slurm-node-02", "slurm-node-03", "slurm-node-04"];

/** Per edit: the domains the preview touches (updated or replaced) and the VMs restarted, spelled out. */
const TOUCHED: Record<string, { domains: string[]; restart: string[] }> = {
  "one VM's memory": { domains: ["slurm-ctl"], restart: ["slurm-ctl"] },
  // The other nodes' domains stay untouched; their seeds (slurm.conf) wait for their next boot.
  "add a Slurm compute node": { domains: [], restart: [] },
  "remove a Slurm compute node": { domains: [], restart: [] },
  // Only the VM on the re-carved slice.
  "one GPU's MIG layout / one VM's vGPU type": { domains: ["slurm-node-04"], restart: ["slurm-node-04"] },
  "a network's subnet": { domains: SLURM, restart: SLURM },
  "the Slurm roles' golden image (rolled back to an older version)": {
    domains: [...SLURM].sort(),
    restart: [...SLURM].sort(),
  },
  "the SSH key": { domains: [], restart: [] },
  "one service": { domains: [], restart: [] },
};

const EDITS: Record<string, { spec?: string; settings?: Partial<StackSettings> }> = {
  "one VM's memory": {
    spec: edit(PROD, "controller:    { cpu_cores: 4, memory_gb: 8", "controller:    { cpu_cores: 4, memory_gb: 12"),
  },
  // prod's A100 is fully carved: the new Slurm node takes a slice from the Kubernetes GPU workers.
  "add a Slurm compute node": {
    spec: edit(
      edit(
        edit(PROD, SLURM_NODES, SLURM_NODES.replace("count: 4", "count: 5").replace("11-14", "11-15")),
        "mig_slices: { hpc: 4, cloud: 3 }",
        "mig_slices: { hpc: 5, cloud: 2 }",
      ),
      K8S_GPU,
      K8S_GPU.replace("count: 4", "count: 3").replace("12-15", "12-14"),
    ),
  },
  "remove a Slurm compute node": {
    spec: edit(
      edit(PROD, SLURM_NODES, SLURM_NODES.replace("count: 4", "count: 3").replace("11-14", "11-13")),
      "mig_slices: { hpc: 4, cloud: 3 }",
      "mig_slices: { hpc: 3, cloud: 3 }",
    ),
  },
  // On a MIG-backed vGPU GPU one VM's vGPU type is its MIG profile: this changes both the layout and the type.
  "one GPU's MIG layout / one VM's vGPU type": {
    spec: edit(
      edit(PROD, 'allowed_mig_profiles: ["1g.10gb",', 'allowed_mig_profiles: ["1g.10gb", "1g.20gb",'),
      "mig_slices: { hpc: 4, cloud: 3 }",
      'mig_slices: { hpc: [{ profile: "1g.20gb", count: 1 }, { profile: "1g.10gb", count: 3 }], cloud: 3 }',
    ),
  },
  "a network's subnet": {
    spec: edit(
      edit(
        edit(PROD, 'subnet: "192.168.100.0/24"', 'subnet: "192.168.110.0/24"'),
        'ip_address: "192.168.100.10"',
        'ip_address: "192.168.110.10"',
      ),
      'ip_range: "192.168.100.11-14"',
      'ip_range: "192.168.110.11-14"',
    ),
  },
  "the Slurm roles' golden image (rolled back to an older version)": {
    spec: edit(
      PROD,
      "services:",
      "images: { roles: { slurm-controller: hpc@00000000000000a0, slurm-compute: hpc@00000000000000a0 } }\nservices:",
    ),
  },
  "the SSH key": { settings: { sshPublicKey: KEY_B } },
  "one service": { spec: edit(PROD, "monitoring: { storage_gb: 50 }", "monitoring: { enabled: false }") },
};

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

const baseSettings = (clusterFile: string, extra: Partial<StackSettings> = {}): StackSettings => ({
  stack: "test",
  clusterFile,
  hostSnapshot: HOST,
  start: true,
  sshPublicKey: KEY_A,
  ...extra,
});

function viewOf(text: string, extraKeys: string[], previous?: ReturnType<typeof buildPlan>): StackView {
  const loaded = loadSpecText("prod.yaml", text);
  if (!loaded.ok) throw new Error(loaded.errors.map((e) => e.message).join("\n"));
  return { spec: loaded.spec, plan: buildPlan({ spec: loaded.spec, host: loadHost(HOST), previous }), extraKeys };
}

const results = new Map<string, BlastRadius>();

describe("preview blast radius of config/prod.yaml", () => {
  const before = viewOf(PROD, [KEY_A]);
  const previousFile = write("previous-plan.json", JSON.stringify(before.plan));
  const prodFile = write("prod.yaml", PROD);

  let state: StackState;
  beforeAll(async () => {
    state = await upState(baseSettings(prodFile));
  });

  afterAll(() => {
    const short = (names: string[]) => (names.length ? names.map((n) => n.replace(/^hs-prod-/, "")).join(", ") : "-");
    const rows = [...results].map(
      ([change, r]) =>
        `| ${change} | ${r.create.length} | ${r.update.length} | ${r.replace.length} | ${r.delete.length} | ` +
        `${short(r.restart)} | ${short(r.nextBoot)} |`,
    );
    console.log(
      [
        "| change | created | updated | replaced | deleted | VMs restarted | new seed at next boot |",
        "|---|---|---|---|---|---|---|",
        ...rows,
      ].join("\n"),
    );
  });

  it.each(Object.keys(EDITS))("%s", async (change) => {
    const { spec, settings } = EDITS[change];
    const file = spec ? write(`${change.replace(/\W+/g, "-")}.yaml`, spec) : prodFile;
    const preview = await previewChange(state, baseSettings(file, { previousPlan: previousFile, ...settings }));
    results.set(change, preview.radius);
    expect(preview.radius).toMatchSnapshot();
    const short = (names: string[]) => names.map((n) => n.replace(/^hs-prod-/, ""));
    const domains = short(
      [...preview.radius.update, ...preview.radius.replace]
        .filter((n) => n.endsWith("-domain"))
        .map((n) => n.replace(/-domain$/, "")),
    ).sort();
    expect({ domains, restart: short(preview.radius.restart) }).toEqual(TOUCHED[change]);
    {
      // The same rules from the two sides (what plan --previous uses), for the libvirt and GPU resources.
      const fromPlans = planBlastRadius(before, viewOf(spec ?? PROD, [settings?.sshPublicKey ?? KEY_A], before.plan));
      const planned = (names: string[]) =>
        names.filter((n) => /-(domain|disk|seed|network|mig|vgpu-[0-9a-f]{8})$|^base-/.test(n));
      expect(fromPlans.restart, "VMs restarted").toEqual(preview.radius.restart);
      expect(fromPlans.nextBoot, "VMs with a new seed").toEqual(preview.radius.nextBoot);
      for (const kind of ["create", "delete", "replace"] as const)
        expect(planned(fromPlans[kind]), kind).toEqual(planned(preview.radius[kind]));
    }
  });
});

describe("hyperscaler plan --previous", () => {
  it("states the blast radius computed by planBlastRadius", async () => {
    const { runPlan } = await import("../../src/cli/plan");
    const { captureIO } = await import("../helpers");
    const before = viewOf(PROD, []);
    const previous = write("cli-previous.json", JSON.stringify(before.plan));
    const change = EDITS["one GPU's MIG layout / one VM's vGPU type"].spec!;
    const io = captureIO();
    expect(runPlan(write("cli-edit.yaml", change), { previous, host: HOST }, io)).toBe(0);
    const expected = blastRadiusText(
      planBlastRadius({ spec: viewOf(change, []).spec, plan: before.plan }, viewOf(change, [], before.plan)),
    );
    expect(io.stdout.join("\n")).toContain(expected);
    expect(expected).toContain("restart   hs-prod-slurm-node-04");
  });
});
