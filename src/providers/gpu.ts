// Pulumi dynamic providers for the GPU host: a GPU's MIG mode and GPU instances at the planned
// placements (`nvidia-smi mig -cgi ID:START -C`), and vGPU devices (mdev on Ampere via mdevctl,
// SR-IOV VF + current_vgpu_type on Ada/Hopper and newer).
//
// Like the libvirt providers, methods load Node built-ins at call time (the engine serializes them). They read
// nvidia-smi with the probe's parsers (host/parsers/nvidia-smi.ts): a local module is serialized by value,
// only the functions called, and those import nothing.
import type * as dynamic from "@pulumi/pulumi/dynamic";
import { normalisePciAddress, parseMigLgi } from "../host/parsers/nvidia-smi";
import { builtin } from "../util/builtin";
import { execCommand, type ExecResult } from "../util/exec";

export type GpuRunner = (command: string, args: readonly string[]) => ExecResult;

export function localGpuRunner(command: string, args: readonly string[]): ExecResult {
  return execCommand(command, args, { timeoutMs: 600_000 });
}

function must(run: GpuRunner, what: string, command: string, args: readonly string[]): string {
  const result = run(command, args);
  if (result.code !== 0) {
    const output = (result.stderr || result.stdout).trim() || `exit code ${result.code}`;
    throw new Error(`${what}: ${command} ${args.join(" ")} failed: ${output}`);
  }
  return result.stdout;
}

interface GpuStatus {
  readonly index: number;
  readonly migCurrent: boolean;
  readonly migPending: boolean;
}

function gpuStatus(run: GpuRunner, what: string, pciAddress: string): GpuStatus {
  const out = must(run, what, "nvidia-smi", [
    "--query-gpu=pci.bus_id,index,mig.mode.current,mig.mode.pending",
    "--format=csv,noheader",
  ]);
  for (const line of out.split("\n")) {
    const [bus, index, current, pending] = line.split(",").map((s) => s.trim());
    if (bus && normalisePciAddress(bus) === normalisePciAddress(pciAddress))
      return { index: Number(index), migCurrent: current === "Enabled", migPending: pending === "Enabled" };
  }
  throw new Error(`${what}: nvidia-smi does not list a GPU at ${pciAddress}`);
}

export interface GpuInstance {
  readonly profile: string;
  readonly profileId: number | null;
  readonly start: number;
  readonly size: number;
}

interface LiveInstance extends GpuInstance {
  readonly gi: number;
}

/** The GPU instances `nvidia-smi mig -lgi` lists on one GPU. */
function gpuInstances(run: GpuRunner, index: number): LiveInstance[] {
  const result = run("nvidia-smi", ["mig", "-i", String(index), "-lgi"]);
  if (result.code !== 0) return []; // "No GPU instances found" exits non-zero
  return parseMigLgi(result.stdout).map((row) => ({
    profile: row.name,
    profileId: row.profileId,
    gi: row.gi,
    start: row.start,
    size: row.size,
  }));
}

function computeProcesses(run: GpuRunner, pciAddress: string): number {
  const result = run("nvidia-smi", ["--query-compute-apps=gpu_bus_id,pid", "--format=csv,noheader"]);
  if (result.code !== 0) return 0;
  return result.stdout
    .split("\n")
    .filter((line) => line.trim() && normalisePciAddress(line.split(",")[0]) === normalisePciAddress(pciAddress))
    .length;
}

const key = (i: GpuInstance): string => `${i.profileId ?? i.profile}@${i.start}`;

// --------------------------------------------------------------------------------------- MIG layout

export interface MigLayoutInputs {
  readonly gpu: string;
  readonly pciAddress: string;
  readonly migEnabled: boolean;
  readonly instances: readonly GpuInstance[];
  /** Re-carve even when processes use the GPU (they are killed). */
  readonly force: boolean;
}

function applyLayout(run: GpuRunner, inputs: MigLayoutInputs): LiveInstance[] {
  const what = `MIG layout of ${inputs.gpu} (${inputs.pciAddress})`;
  let status = gpuStatus(run, what, inputs.pciAddress);
  if (status.migCurrent !== inputs.migEnabled) {
    must(run, what, "nvidia-smi", ["-i", String(status.index), "-mig", inputs.migEnabled ? "1" : "0"]);
    status = gpuStatus(run, what, inputs.pciAddress);
    if (status.migCurrent !== inputs.migEnabled) {
      // Ampere applies the mode at the next GPU reset; Hopper also at reload. Try the reset now.
      const reset = run("nvidia-smi", ["-i", String(status.index), "-r"]);
      if (reset.code !== 0) {
        throw new Error(
          `${what}: MIG mode is pending until a GPU reset, ` +
            `and the reset failed: ${(reset.stderr || reset.stdout).trim()}. ` +
            "Stop nvidia-persistenced, DCGM (nv-hostengine) and fabric manager, unload nvidia_drm, " +
            "then run pulumi up again",
        );
      }
      status = gpuStatus(run, what, inputs.pciAddress);
    }
  }
  if (!inputs.migEnabled) return [];
  const live = gpuInstances(run, status.index);
  const wanted = new Set(inputs.instances.map(key));
  const extra = live.filter((i) => !wanted.has(key(i)));
  const have = new Set(live.map(key));
  const missing = inputs.instances.filter((i) => !have.has(key(i)));
  if (extra.length > 0 && !inputs.force) {
    const busy = computeProcesses(run, inputs.pciAddress);
    if (busy > 0) {
      const destroyed = extra.map((i) => `${i.profile}@${i.start}`).join(", ");
      throw new Error(
        `${what}: refusing to re-carve: ${busy} process(es) use the GPU and ${destroyed} would be destroyed. ` +
          "Stop them, or set gpu_allocation.force_recarve: true",
      );
    }
  }
  for (const instance of extra) {
    run("nvidia-smi", ["mig", "-i", String(status.index), "-dci", "-gi", String(instance.gi)]);
    must(run, what, "nvidia-smi", ["mig", "-i", String(status.index), "-dgi", "-gi", String(instance.gi)]);
  }
  // Explicit placements, largest first: the host is never left half-carved by trial and error.
  for (const instance of [...missing].sort((a, b) => b.size - a.size || a.start - b.start)) {
    must(run, what, "nvidia-smi", [
      "mig",
      "-i",
      String(status.index),
      "-cgi",
      `${instance.profileId ?? instance.profile}:${instance.start}`,
      "-C",
    ]);
  }
  return gpuInstances(run, status.index);
}

export function makeMigLayoutProvider(run: GpuRunner = localGpuRunner): dynamic.ResourceProvider {
  return {
    async create(inputs: MigLayoutInputs) {
      const live = applyLayout(run, inputs);
      return { id: `${inputs.gpu}@${inputs.pciAddress}`, outs: { ...inputs, liveInstances: live } };
    },
    async read(id: string, props: MigLayoutInputs) {
      const status = gpuStatus(run, `MIG layout of ${props.gpu}`, props.pciAddress);
      const live = status.migCurrent ? gpuInstances(run, status.index) : [];
      return {
        id,
        props: {
          ...props,
          migEnabled: status.migCurrent,
          instances: live.map(({ profile, profileId, start, size }) => ({ profile, profileId, start, size })),
          liveInstances: live,
        },
      };
    },
    async diff(_id: string, olds: MigLayoutInputs, news: MigLayoutInputs) {
      const sameInstances =
        JSON.stringify([...olds.instances].map(key).sort()) === JSON.stringify([...news.instances].map(key).sort());
      const replaces = olds.pciAddress !== news.pciAddress ? ["pciAddress"] : [];
      return {
        changes:
          replaces.length > 0 || !sameInstances || olds.migEnabled !== news.migEnabled || olds.force !== news.force,
        replaces,
      };
    },
    async update(_id: string, _olds: MigLayoutInputs, news: MigLayoutInputs) {
      return { outs: { ...news, liveInstances: applyLayout(run, news) } };
    },
    async delete(_id: string, props: MigLayoutInputs & { liveInstances?: LiveInstance[] }) {
      const result = run("nvidia-smi", ["--query-gpu=pci.bus_id,index", "--format=csv,noheader"]);
      const line = result.stdout
        .split("\n")
        .find((l) => l.trim() && normalisePciAddress(l.split(",")[0]) === normalisePciAddress(props.pciAddress));
      if (!line) return; // GPU gone: nothing to remove
      const index = line.split(",")[1].trim();
      const planned = new Set(props.instances.map(key));
      for (const instance of gpuInstances(run, Number(index)).filter((i) => planned.has(key(i)))) {
        run("nvidia-smi", ["mig", "-i", index, "-dci", "-gi", String(instance.gi)]);
        must(run, `MIG layout of ${props.gpu}`, "nvidia-smi", ["mig", "-i", index, "-dgi", "-gi", String(instance.gi)]);
      }
    },
  };
}

// --------------------------------------------------------------------------------------- vGPU device

export interface VgpuDeviceInputs {
  readonly uuid: string;
  readonly gpu: string;
  readonly parentPciAddress: string;
  /** vGPU type name (A100D-1-10C). */
  readonly vgpuType: string;
  readonly path: "mdev" | "sriov";
  /** Root of sysfs (tests point it at a fake tree). */
  readonly sysRoot: string;
}

function readText(file: string): string | null {
  try {
    return builtin<typeof import("node:fs")>("node:fs").readFileSync(file, "utf8").trim();
  } catch {
    return null;
  }
}

function virtualFunctions(sysRoot: string, pf: string): string[] {
  const fs = builtin<typeof import("node:fs")>("node:fs");
  const path = builtin<typeof import("node:path")>("node:path");
  const dir = path.join(sysRoot, "bus/pci/devices", pf);
  let entries: string[];
  try {
    entries = fs
      .readdirSync(dir)
      .filter((e) => /^virtfn\d+$/.test(e))
      .sort((a, b) => Number(a.slice(6)) - Number(b.slice(6)));
  } catch {
    return [];
  }
  return entries.map((e) => path.basename(fs.readlinkSync(path.join(dir, e))));
}

/** The VF that already carries this device (its current type's UUID file), or a free one. */
function sriovAssign(inputs: VgpuDeviceInputs): string {
  const fs = builtin<typeof import("node:fs")>("node:fs");
  const path = builtin<typeof import("node:path")>("node:path");
  const what = `vGPU ${inputs.uuid} (${inputs.vgpuType} on ${inputs.gpu})`;
  const vfs = virtualFunctions(inputs.sysRoot, inputs.parentPciAddress);
  if (vfs.length === 0)
    throw new Error(
      `${what}: ${inputs.parentPciAddress} has no SR-IOV virtual functions; ` +
        `run sriov-manage -e ${inputs.parentPciAddress} (vGPU host driver)`,
    );
  const base = (vf: string): string => path.join(inputs.sysRoot, "bus/pci/devices", vf, "nvidia");
  const owner = (vf: string): string | null => readText(path.join(base(vf), "hyperscaler-uuid"));
  const existing = vfs.find((vf) => owner(vf) === inputs.uuid);
  if (existing) return existing;
  for (const vf of vfs) {
    if ((readText(path.join(base(vf), "current_vgpu_type")) ?? "0") !== "0") continue;
    const creatable = readText(path.join(base(vf), "creatable_vgpu_types")) ?? "";
    const line = creatable
      .split("\n")
      .find((l) =>
        new RegExp(`:\\s*(NVIDIA\\s+)?${inputs.vgpuType.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\s*$`).test(l),
      );
    if (!line) continue;
    fs.writeFileSync(path.join(base(vf), "current_vgpu_type"), line.split(":")[0].trim());
    // Remember which device this VF carries, so read and delete find it again.
    try {
      fs.writeFileSync(path.join(base(vf), "hyperscaler-uuid"), inputs.uuid);
    } catch {
      /* real sysfs has no such file: the domain's hostdev address records the VF instead */
    }
    return vf;
  }
  throw new Error(`${what}: no free virtual function of ${inputs.parentPciAddress} offers ${inputs.vgpuType}`);
}

function mdevParentAndType(inputs: VgpuDeviceInputs): { parent: string; typeId: string } {
  const what = `vGPU ${inputs.uuid} (${inputs.vgpuType} on ${inputs.gpu})`;
  const path = builtin<typeof import("node:path")>("node:path");
  // Ampere with SR-IOV hosts mdevs on its VFs; older GPUs on the PF itself.
  const parents = [inputs.parentPciAddress, ...virtualFunctions(inputs.sysRoot, inputs.parentPciAddress)];
  const fs = builtin<typeof import("node:fs")>("node:fs");
  for (const parent of parents) {
    const dir = path.join(inputs.sysRoot, "bus/pci/devices", parent, "mdev_supported_types");
    let types: string[];
    try {
      types = fs.readdirSync(dir);
    } catch {
      continue;
    }
    for (const typeId of types) {
      const name = readText(path.join(dir, typeId, "name")) ?? "";
      const available = Number(readText(path.join(dir, typeId, "available_instances")) ?? "0");
      if (name.replace(/^GRID /, "") === inputs.vgpuType && available > 0) return { parent, typeId };
    }
  }
  throw new Error(
    `${what}: no mdev parent of ${inputs.parentPciAddress} offers ${inputs.vgpuType} with a free instance ` +
      "(mdevctl types lists what is available)",
  );
}

export function makeVgpuDeviceProvider(run: GpuRunner = localGpuRunner): dynamic.ResourceProvider {
  return {
    async create(inputs: VgpuDeviceInputs) {
      const what = `vGPU ${inputs.uuid} (${inputs.vgpuType} on ${inputs.gpu})`;
      if (inputs.path === "sriov") {
        const vf = sriovAssign(inputs);
        return { id: inputs.uuid, outs: { ...inputs, vfAddress: vf, mdevParent: null } };
      }
      const { parent, typeId } = mdevParentAndType(inputs);
      must(run, what, "mdevctl", ["define", "--uuid", inputs.uuid, "--parent", parent, "--type", typeId, "--auto"]);
      const started = run("mdevctl", ["start", "--uuid", inputs.uuid]);
      if (started.code !== 0) {
        run("mdevctl", ["undefine", "--uuid", inputs.uuid]);
        throw new Error(`${what}: mdevctl start failed: ${started.stderr.trim()}`);
      }
      return { id: inputs.uuid, outs: { ...inputs, vfAddress: null, mdevParent: parent } };
    },
    async read(id: string, props: VgpuDeviceInputs & { vfAddress: string | null; mdevParent: string | null }) {
      if (props.path === "sriov") {
        const path = builtin<typeof import("node:path")>("node:path");
        const current = props.vfAddress
          ? readText(path.join(props.sysRoot, "bus/pci/devices", props.vfAddress, "nvidia", "current_vgpu_type"))
          : null;
        return current && current !== "0" ? { id, props } : { id: "", props: {} };
      }
      const listed = run("mdevctl", ["list", "--uuid", id]);
      return listed.code === 0 && listed.stdout.includes(id) ? { id, props } : { id: "", props: {} };
    },
    async diff(_id: string, olds: VgpuDeviceInputs, news: VgpuDeviceInputs) {
      const replaces = (["uuid", "parentPciAddress", "vgpuType", "path"] as const).filter((k) => olds[k] !== news[k]);
      return { changes: replaces.length > 0, replaces, deleteBeforeReplace: true };
    },
    async delete(id: string, props: VgpuDeviceInputs & { vfAddress: string | null }) {
      if (props.path === "sriov") {
        if (!props.vfAddress) return;
        const fs = builtin<typeof import("node:fs")>("node:fs");
        const path = builtin<typeof import("node:path")>("node:path");
        const base = path.join(props.sysRoot, "bus/pci/devices", props.vfAddress, "nvidia");
        try {
          fs.writeFileSync(path.join(base, "current_vgpu_type"), "0");
        } catch {
          /* VF gone (reboot): nothing to release */
        }
        fs.rmSync(path.join(base, "hyperscaler-uuid"), { force: true });
        return;
      }
      run("mdevctl", ["stop", "--uuid", id]);
      const undefined_ = run("mdevctl", ["undefine", "--uuid", id]);
      if (undefined_.code !== 0 && !/not (found|defined)|no such/i.test(undefined_.stderr))
        throw new Error(`vGPU ${id}: mdevctl undefine failed: ${undefined_.stderr.trim()}`);
    },
  };
}
