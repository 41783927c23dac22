// GPU part of the plan: which GPU carries which MIG instances at which placements, which GPUs go
// whole to which VM, which vGPUs exist, and which VM receives each share. Pure and deterministic.
import { lookupModel, nonMigArchitecture, profileByName, smallestProfile, type CatalogEntry } from "../facts/gpu-catalog";
import { effectiveProfiles, type EffectiveProfile } from "../gpu/profiles";
import { solvePlacements, type Placed } from "../gpu/solver";
import type { HostGpu, HostInventory } from "../host/types";
import { vgpuCapacity } from "../facts/vgpu-capacity";
import { CLUSTER_NAMES, type ClusterName, type ClusterSpec, type GpuDeviceSpec } from "../spec/types";
import { vgpuUuid } from "./ids";
import type { PlacementMove, Plan, PlanIssue, PlannedGpu, PlannedInstance, PlannedVgpu, ResolvedAttach, ShareKind, VmGpu } from "./types";
import type { BareVm } from "./vms";

interface Demand {
  readonly cluster: ClusterName;
  /** null: the smallest one-slice profile of whichever GPU takes it (`mig_slices: N`). */
  readonly profile: string | null;
  readonly device: string | undefined;
  readonly order: number;
  /** JSON pointer of the request in cluster.yaml. */
  readonly path: string;
}

interface Device {
  readonly spec: GpuDeviceSpec;
  readonly entry: CatalogEntry | undefined;
  readonly host: HostGpu | undefined;
  readonly profiles: EffectiveProfile[];
  readonly architecture: string | null;
  /** Instances kept where they are (from the previous plan or the host), with their demand. */
  fixed: { demand: Demand; placed: Placed; previousOwner: string | null }[];
  /** Instances placed in this run (placements recomputed as more arrive). */
  free: { demand: Demand; placed: Placed | null; previousOwner: string | null }[];
  wholeCluster: ClusterName | null;
  inGuestCluster: ClusterName | null;
}

interface Share {
  readonly kind: ShareKind;
  readonly device: Device;
  readonly cluster: ClusterName;
  readonly instance?: { profile: string; start: number; size: number };
  readonly vgpuType?: string | null;
  readonly previousOwner: string | null;
  /** Filled when distributed. */
  owner: string | null;
  uuid: string | null;
}

export interface GpuPlanInput {
  readonly spec: ClusterSpec;
  readonly host: HostInventory | undefined;
  readonly previous: Plan | undefined;
  readonly gpuVms: readonly BareVm[];
}

export interface GpuPlanOutput {
  readonly gpus: PlannedGpu[];
  readonly vmGpus: Map<string, VmGpu[]>;
  readonly errors: PlanIssue[];
  readonly warnings: PlanIssue[];
  readonly moved: PlacementMove[];
}

function isMigCarrier(device: Device): boolean {
  return device.entry !== undefined && device.spec.mig_capable && ["auto", "mig-vgpu", "mig-in-guest"].includes(device.spec.attach);
}

function allowed(device: Device, profile: EffectiveProfile): boolean {
  return device.spec.allowed_mig_profiles === undefined || device.spec.allowed_mig_profiles.includes(profile.name) || device.spec.allowed_mig_profiles.some((name) => device.entry && profileByName(device.entry, name)?.id === profile.id && profile.id !== null);
}

/** The profile a demand means on a device, or undefined when the device does not offer it. */
function profileFor(device: Device, demand: Demand): EffectiveProfile | undefined {
  if (!device.entry) return undefined;
  if (demand.profile === null) {
    const smallest = smallestProfile(device.entry);
    const candidates = device.profiles.filter((p) => p.computeSlices === 1 && !p.mediaExtensions && allowed(device, p));
    return candidates.find((p) => p.memorySlices === smallest.memorySlices) ?? candidates.sort((a, b) => a.memorySlices - b.memorySlices)[0];
  }
  const catalogProfile = profileByName(device.entry, demand.profile);
  // Live drivers rename profiles (3g.39gb for 3g.40gb): match by id and size as well as by name.
  const profile = device.profiles.find((p) => p.name === demand.profile) ?? (catalogProfile && device.profiles.find((p) => p.id !== null && p.id === catalogProfile.id && p.memorySlices === catalogProfile.memorySlices));
  return profile && allowed(device, profile) ? profile : undefined;
}

function architectureOf(spec: GpuDeviceSpec, entry: CatalogEntry | undefined): string | null {
  return entry?.architecture ?? nonMigArchitecture(spec.model);
}

function vgpuPathOf(architecture: string | null): "mdev" | "sriov" | null {
  if (architecture === null) return null;
  return architecture === "ampere" || architecture === "turing" || architecture === "volta" || architecture === "pascal" ? "mdev" : "sriov";
}

function expandDemands(spec: ClusterSpec): Demand[] {
  const demands: Demand[] = [];
  for (const cluster of CLUSTER_NAMES) {
    const request = spec.global.gpu_allocation.mig_slices[cluster];
    if (request === undefined) continue;
    if (typeof request === "number") {
      for (let i = 0; i < request; i++) demands.push({ cluster, profile: null, device: undefined, order: demands.length, path: `/global/gpu_allocation/mig_slices/${cluster}` });
    } else {
      request.forEach((item, index) => {
        for (let i = 0; i < item.count; i++) demands.push({ cluster, profile: item.profile, device: item.device, order: demands.length, path: `/global/gpu_allocation/mig_slices/${cluster}/${index}/count` });
      });
    }
  }
  return demands;
}

/** Re-solves a device's movable instances around its fixed ones; writes placements when feasible. */
function resolveDevice(device: Device, extra?: { demand: Demand; previousOwner: string | null }): { ok: true } | { ok: false; reason: string } {
  if (!device.entry) return { ok: false, reason: "model not in the MIG catalog" };
  const movable = extra ? [...device.free, { ...extra, placed: null }] : device.free;
  const names: string[] = [];
  for (const item of movable) {
    const profile = profileFor(device, item.demand);
    if (!profile) return { ok: false, reason: `does not offer ${item.demand.profile ?? "a 1g profile"}${device.spec.allowed_mig_profiles ? " among allowed_mig_profiles" : ""}` };
    names.push(profile.name);
  }
  if (extra && device.spec.attach === "mig-in-guest") {
    const clusters = new Set([...device.fixed, ...device.free].map((item) => item.demand.cluster));
    if (clusters.size > 0 && !clusters.has(extra.demand.cluster)) return { ok: false, reason: "MIG inside the guest: the whole GPU goes to one VM of another cluster" };
  }
  const result = solvePlacements(device.entry.geometry, device.profiles, device.fixed.map((f) => f.placed), names);
  if (!result.feasible) return { ok: false, reason: result.reason };
  if (extra) device.free.push({ ...extra, placed: null });
  device.free.forEach((item, index) => (item.placed = result.placements[index]));
  return { ok: true };
}

export function planGpus(input: GpuPlanInput): GpuPlanOutput {
  const { spec, host, previous } = input;
  const allocation = spec.global.gpu_allocation;
  const errors: PlanIssue[] = [];
  const warnings: PlanIssue[] = [];
  const moved: PlacementMove[] = [];

  const devices: Device[] = allocation.devices.map((deviceSpec) => {
    const hostGpu = host?.gpus.find((gpu) => gpu.pciAddress.toLowerCase() === deviceSpec.pci_address.toLowerCase());
    const lookup = lookupModel(deviceSpec.model, deviceSpec.pci_device_id ?? hostGpu?.pciDeviceId);
    const entry = deviceSpec.mig_capable && lookup.kind === "found" ? lookup.entry : undefined;
    return {
      spec: deviceSpec,
      entry,
      host: hostGpu,
      profiles: entry ? effectiveProfiles(entry, hostGpu) : [],
      architecture: architectureOf(deviceSpec, entry),
      fixed: [],
      free: [],
      wholeCluster: null,
      inGuestCluster: null,
    };
  });

  if (host) checkHost(spec, host, devices, errors, warnings);

  // 1. Keep existing placements: the previous plan's, else what the host already has carved.
  const demands = expandDemands(spec);
  const pending = [...demands];
  for (const device of devices.filter(isMigCarrier)) {
    const kept = previous?.gpus.find((gpu) => gpu.id === device.spec.id)?.instances.map((i) => ({ profile: i.profile, start: i.start, size: i.size, cluster: i.cluster as ClusterName | null, owner: i.assignedTo }))
      ?? (device.host?.migInstances ?? []).filter((i) => i.start !== null && i.size !== null).map((i) => ({ profile: i.profile, start: i.start as number, size: i.size as number, cluster: null, owner: null }));
    for (const instance of kept.sort((a, b) => a.start - b.start)) {
      const index = pending.findIndex((demand) => (demand.device === undefined || demand.device === device.spec.id) && (instance.cluster === null || demand.cluster === instance.cluster) && profileFor(device, demand)?.name === instance.profile);
      if (index < 0) {
        moved.push({ gpu: device.spec.id, profile: instance.profile, from: instance.start, to: null, reason: "no longer requested" });
        continue;
      }
      const candidate = { demand: pending[index], placed: { profile: instance.profile, start: instance.start, size: instance.size }, previousOwner: instance.owner };
      const check = device.entry ? solvePlacements(device.entry.geometry, device.profiles, [...device.fixed.map((f) => f.placed), candidate.placed], []) : { feasible: false as const };
      if (!check.feasible) {
        moved.push({ gpu: device.spec.id, profile: instance.profile, from: instance.start, to: null, reason: "its placement is no longer valid for this GPU" });
        continue;
      }
      device.fixed.push(candidate);
      pending.splice(index, 1);
    }
  }

  // 2. Place the rest: pinned first, then larger profiles, onto explicit MIG GPUs before auto ones.
  const carriers = devices.filter(isMigCarrier).sort((a, b) => Number(a.spec.attach === "auto") - Number(b.spec.attach === "auto"));
  const sizeOf = (demand: Demand): number => {
    for (const device of carriers) {
      const profile = profileFor(device, demand);
      if (profile) return profile.memorySlices * 10 + profile.computeSlices;
    }
    return 0;
  };
  pending.sort((a, b) => Number(b.device !== undefined) - Number(a.device !== undefined) || sizeOf(b) - sizeOf(a) || a.order - b.order);
  const failed = placeDemands(pending, carriers, moved);
  for (const group of groupFailures(failed)) errors.push(group);

  if (host) refuseBusyRecarve(devices, allocation.force_recarve, errors);

  // 3. Whole GPUs: explicit passthrough first, then non-MIG auto devices, then MIG devices left without slices.
  const usedForMig = new Set(devices.filter((d) => d.fixed.length + d.free.length > 0 || d.spec.attach === "mig-vgpu" || d.spec.attach === "mig-in-guest").map((d) => d.spec.id));
  const wholePool = [
    ...devices.filter((d) => d.spec.attach === "passthrough"),
    ...devices.filter((d) => d.spec.attach === "auto" && !isMigCarrier(d)),
    ...devices.filter((d) => d.spec.attach === "auto" && isMigCarrier(d) && !usedForMig.has(d.spec.id)),
  ];
  for (const cluster of CLUSTER_NAMES) {
    const wanted = allocation.whole_gpus[cluster];
    const preferred = wholePool.filter((d) => d.wholeCluster === null && previous?.gpus.find((g) => g.id === d.spec.id)?.cluster === cluster);
    const rest = wholePool.filter((d) => d.wholeCluster === null && !preferred.includes(d));
    const chosen = [...preferred, ...rest].slice(0, wanted);
    chosen.forEach((d) => (d.wholeCluster = cluster));
    if (chosen.length < wanted) {
      errors.push({ message: `cluster ${cluster} asks for ${wanted} whole GPU(s) but only ${chosen.length} GPU(s) are free for passthrough`, hint: "lower whole_gpus, or free a GPU from MIG slices", path: `/global/gpu_allocation/whole_gpus/${cluster}` });
    }
  }
  for (const device of devices) {
    if (device.spec.attach === "mig-in-guest") {
      const clusters = [...new Set([...device.fixed, ...device.free].map((f) => f.demand.cluster))];
      device.inGuestCluster = clusters[0] ?? null;
    }
  }

  // 4. Time-sliced vGPUs, filling devices in order.
  const vgpuDevices = devices.filter((d) => d.spec.attach === "vgpu");
  const vgpuSlots: { device: Device; cluster: ClusterName }[] = [];
  for (const cluster of CLUSTER_NAMES) {
    let wanted = allocation.vgpu_shares[cluster];
    for (const device of vgpuDevices) {
      const capacity = hostVgpuCapacity(device) ?? vgpuCapacity(device.spec) ?? 0;
      const used = vgpuSlots.filter((slot) => slot.device === device).length;
      const take = Math.min(wanted, Math.max(0, capacity - used));
      for (let i = 0; i < take; i++) vgpuSlots.push({ device, cluster });
      wanted -= take;
    }
    if (wanted > 0) errors.push({ message: `cluster ${cluster} asks for ${allocation.vgpu_shares[cluster]} vGPU(s) but the vgpu devices have room for ${allocation.vgpu_shares[cluster] - wanted}`, hint: "use a smaller vgpu_type or fewer vgpu_shares", path: `/global/gpu_allocation/vgpu_shares/${cluster}` });
  }

  // 5. Shares per cluster, then one VM each (a VM takes one vGPU, or any number of passthrough GPUs).
  const shares: Share[] = [];
  const share = (fields: Omit<Share, "owner" | "uuid">): void => void shares.push({ ...fields, owner: null, uuid: null });
  for (const device of devices) {
    if (device.wholeCluster) share({ kind: "passthrough", device, cluster: device.wholeCluster, previousOwner: previous?.gpus.find((g) => g.id === device.spec.id)?.wholeAssignedTo ?? null });
    if (device.inGuestCluster) share({ kind: "mig-in-guest", device, cluster: device.inGuestCluster, previousOwner: previous?.gpus.find((g) => g.id === device.spec.id)?.wholeAssignedTo ?? null });
    if (device.spec.attach !== "mig-in-guest") {
      const instances = [...device.fixed, ...device.free.filter((f) => f.placed !== null)] as { demand: Demand; placed: Placed; previousOwner: string | null }[];
      for (const item of instances.sort((a, b) => a.placed.start - b.placed.start)) {
        share({ kind: "mig-vgpu", device, cluster: item.demand.cluster, instance: item.placed, vgpuType: migVgpuType(device, item.placed.profile), previousOwner: item.previousOwner });
      }
    }
  }
  vgpuSlots.forEach((slot, index) => share({ kind: "vgpu", device: slot.device, cluster: slot.cluster, vgpuType: slot.device.spec.vgpu_type ?? null, previousOwner: previous?.gpus.find((g) => g.id === slot.device.spec.id)?.vgpus[vgpuSlots.filter((s, i) => i < index && s.device === slot.device).length]?.assignedTo ?? null }));

  const vmGpus = new Map<string, VmGpu[]>();
  for (const cluster of CLUSTER_NAMES) distribute(spec, cluster, shares.filter((s) => s.cluster === cluster), input.gpuVms.filter((vm) => vm.cluster === cluster), vmGpus, errors);

  const gpus = devices.map((device) => plannedGpu(device, shares, warnings));
  if (host) refuseMissingVgpuFramework(spec, devices, gpus, errors);
  return { gpus, vmGpus, errors, warnings, moved };
}

/**
 * The one rule for which GPUs need the host's vGPU framework (mdev or SR-IOV vGPU types): those the plan
 * resolves to hand out vGPUs. An `attach: auto` MIG GPU that the plan passes through whole does not.
 * `hyperscaler doctor` asks this of the plan too.
 */
export function needsVgpuFramework(gpu: PlannedGpu): boolean {
  return gpu.attach === "mig-vgpu" || gpu.attach === "vgpu";
}

function refuseMissingVgpuFramework(spec: ClusterSpec, devices: Device[], gpus: readonly PlannedGpu[], errors: PlanIssue[]): void {
  devices.forEach((device, index) => {
    if (!device.host || device.host.vgpu.framework !== null || !needsVgpuFramework(gpus[index])) return;
    const id = device.spec.id;
    errors.push({
      gpu: id,
      message: `${id} (${device.host.name}) must hand out ${gpus[index].attach === "vgpu" ? "time-sliced vGPUs" : "MIG slices as MIG-backed vGPUs"}, but the host shows no vGPU framework (no mdev types, no SR-IOV vGPU types)`,
      hint: "install the NVIDIA vGPU / AI Enterprise host driver, or choose attach: passthrough (whole GPU to one VM) or attach: mig-in-guest (whole GPU, MIG carved inside the guest)",
      path: devicePath(spec, device, "attach"),
    });
  });
}

/** JSON pointer of a device's setting in cluster.yaml. */
function devicePath(spec: ClusterSpec, device: Device, key: keyof GpuDeviceSpec): string {
  return `/global/gpu_allocation/devices/${spec.global.gpu_allocation.devices.indexOf(device.spec)}/${key}`;
}

/** Bound on the cross-GPU search: an infeasible spec must still answer quickly. */
const EXHAUSTIVE_STEPS = 20_000;

type Chooser = (candidates: Device[]) => Device[];

/** Devices in declared order (fills one GPU before the next: keeps whole GPUs free). */
const firstFit: Chooser = (candidates) => candidates;

/** Devices with the most free compute first (spreads large profiles so small ones still fit). */
const spread: Chooser = (candidates) => [...candidates].sort((a, b) => usedCompute(a) - usedCompute(b));

function usedCompute(device: Device): number {
  return [...device.fixed, ...device.free].reduce((sum, item) => sum + (profileFor(device, item.demand)?.computeSlices ?? 0), 0);
}

interface Failure {
  readonly demand: Demand;
  /** Why each GPU refused, with what it carried at that moment. */
  readonly reasons: { device: Device; reason: string }[];
}

function carried(device: Device): string[] {
  return [...device.fixed.map((f) => f.placed.profile), ...device.free.flatMap((f) => (f.placed ? [f.placed.profile] : []))];
}

function saveState(devices: Device[]): () => void {
  const saved = devices.map((d) => ({ d, fixed: [...d.fixed], free: d.free.map((f) => ({ ...f })) }));
  // Hand out copies: a restored state is mutated by the next attempt and must stay restorable.
  return () => saved.forEach(({ d, fixed, free }) => ((d.fixed = [...fixed]), (d.free = free.map((f) => ({ ...f })))));
}

function candidatesFor(demand: Demand, carriers: Device[]): Device[] {
  return demand.device !== undefined ? carriers.filter((d) => d.spec.id === demand.device) : carriers;
}

function greedy(pending: Demand[], carriers: Device[], choose: Chooser): Failure[] {
  const failures: Failure[] = [];
  for (const demand of pending) {
    const reasons: { device: Device; reason: string }[] = [];
    let placed = false;
    for (const device of choose(candidatesFor(demand, carriers))) {
      const holding = carried(device);
      const attempt = resolveDevice(device, { demand, previousOwner: null });
      if (attempt.ok) {
        placed = true;
        break;
      }
      reasons.push({ device, reason: `${holding.length ? `carries ${holding.join(" + ")}; ` : ""}${attempt.reason}` });
    }
    if (!placed) failures.push({ demand, reasons });
  }
  return failures;
}

/** Exhaustive search over which GPU takes each demand, with GPUs in identical state tried once. */
function exhaustive(pending: Demand[], carriers: Device[], budget: { steps: number }): boolean {
  const walk = (k: number): boolean => {
    if (k === pending.length) return true;
    if (--budget.steps < 0) return false;
    const tried = new Set<string>();
    for (const device of candidatesFor(pending[k], carriers)) {
      const state = `${device.entry?.key}|${device.spec.allowed_mig_profiles?.join(",")}|${device.spec.attach}|${[...device.fixed.map((f) => f.placed.profile), ...device.free.map((f) => profileFor(device, f.demand)?.name)].sort().join(",")}|${[...device.fixed, ...device.free].map((f) => f.demand.cluster).sort().join(",")}`;
      if (tried.has(state)) continue;
      tried.add(state);
      const restore = saveState([device]);
      if (resolveDevice(device, { demand: pending[k], previousOwner: null }).ok && walk(k + 1)) return true;
      restore();
    }
    return false;
  };
  return walk(0);
}

/** Places every pending demand: first fit, then spread, then exhaustive search; last, lets kept placements move. */
function placeDemands(pending: Demand[], carriers: Device[], moved: PlacementMove[]): Failure[] {
  const restore = saveState(carriers);
  let failures = greedy(pending, carriers, firstFit);
  if (failures.length === 0) return [];
  restore();
  failures = greedy(pending, carriers, spread);
  if (failures.length === 0) return [];
  restore();
  if (exhaustive(pending, carriers, { steps: EXHAUSTIVE_STEPS })) return [];
  restore();
  // Kept placements may be what blocks: release them and re-solve, reporting what moves.
  const kept = carriers.flatMap((d) => d.fixed.map((f) => ({ device: d, item: f })));
  if (kept.length > 0) {
    for (const device of carriers) {
      device.free = [...device.fixed.map((f) => ({ ...f })), ...device.free];
      device.fixed = [];
    }
    const retry = exhaustive(pending, carriers, { steps: EXHAUSTIVE_STEPS }) ? [] : (restore(), greedy(pending, carriers, firstFit));
    if (retry.length === 0) {
      for (const { device, item } of kept) {
        const now = device.free.find((f) => f.demand === item.demand)?.placed;
        const blocked = pending.map((d) => `${d.profile ?? "1g"} (${d.cluster})`).filter((v, i, a) => a.indexOf(v) === i).join(", ");
        if (now && now.start !== item.placed.start) moved.push({ gpu: device.spec.id, profile: item.placed.profile, from: item.placed.start, to: now.start, reason: `kept placements left no room for ${blocked}` });
      }
      return [];
    }
    return retry;
  }
  return greedy(pending, carriers, firstFit);
}

/** One error per (cluster, profile) that did not fit, with GPUs that failed for the same reason grouped. */
function groupFailures(failures: Failure[]): PlanIssue[] {
  const groups = new Map<string, Failure[]>();
  for (const failure of failures) {
    const key = `${failure.demand.cluster}|${failure.demand.profile}|${failure.demand.device}`;
    groups.set(key, [...(groups.get(key) ?? []), failure]);
  }
  return [...groups.values()].map((group) => {
    const { demand, reasons } = group[0];
    const byReason = new Map<string, Device[]>();
    for (const { device, reason } of reasons) byReason.set(reason, [...(byReason.get(reason) ?? []), device]);
    const explained = [...byReason].map(([reason, list]) => `${list.map((d) => d.spec.id).join(", ")} (${list[0].entry?.displayName ?? list[0].spec.model}): ${reason}`).join("; ");
    return {
      message: `cannot place ${group.length > 1 ? `${group.length} x ` : ""}${demand.profile ?? "one-slice instance"} for cluster ${demand.cluster}${demand.device ? ` on ${demand.device}` : ""}: ${explained || "no GPU can carry MIG slices"}`,
      gpu: demand.device ?? reasons[0]?.device.spec.id,
      hint: "ask for fewer or smaller slices (`hyperscaler plan` shows the slot map), or add a MIG-capable GPU",
      path: demand.path,
    };
  });
}

function hostVgpuCapacity(device: Device): number | null {
  const type = device.host?.vgpu.types.find((t) => t.name === device.spec.vgpu_type || t.name.endsWith(` ${device.spec.vgpu_type}`));
  return type?.available ?? null;
}

/** MIG-backed vGPU type: `<board>-<compute slices>-<GB>C`; from the host's type list when it has one. */
function migVgpuType(device: Device, profileName: string): string | null {
  if (device.spec.attach === "mig-in-guest") return null;
  const profile = device.profiles.find((p) => p.name === profileName);
  if (!profile) return null;
  // Type names use the marketing size (3g.40gb -> -3-40C) even where the driver renamed the profile (3g.39gb).
  const catalogProfile = device.entry?.profiles.find((p) => p.id !== null && p.id === profile.id && p.memorySlices === profile.memorySlices) ?? device.entry?.profiles.find((p) => p.name === profileName);
  const memory = catalogProfile?.memoryGiB ?? profile.memoryGiB;
  const candidates = (device.host?.vgpu.types ?? []).flatMap((t) => {
    const match = /-(\d+)-(\d+)C$/.exec(t.name);
    return match && Number(match[1]) === profile.computeSlices ? [{ name: t.name.replace(/^GRID /, ""), distance: Math.abs(Number(match[2]) - memory) }] : [];
  }).filter((c) => c.distance <= 2).sort((a, b) => a.distance - b.distance);
  if (candidates.length > 0) return candidates[0].name;
  return device.entry?.vgpuBoard ? `${device.entry.vgpuBoard}-${profile.computeSlices}-${memory}C` : null;
}

function distribute(spec: ClusterSpec, cluster: ClusterName, shares: Share[], vms: readonly BareVm[], vmGpus: Map<string, VmGpu[]>, errors: PlanIssue[]): void {
  if (shares.length === 0) return;
  if (vms.length === 0) return; // validation reports shares without GPU nodes
  const vgpuKinds = new Set<ShareKind>(["mig-vgpu", "vgpu"]);
  const single = shares.filter((s) => vgpuKinds.has(s.kind));
  const whole = shares.filter((s) => !vgpuKinds.has(s.kind));
  const pool = cluster === "hpc" ? "clusters.hpc.compute_nodes" : "clusters.cloud.worker_nodes.gpu_workers";
  const path = `/${pool.replace(/\./g, "/")}/count`;
  if (single.length > vms.length) {
    errors.push({ message: `cluster ${cluster} has ${single.length} vGPU share(s) for ${vms.length} GPU node(s); a VM takes at most one vGPU (NVIDIA supports one MIG-backed vGPU per VM)`, hint: `raise ${pool}.count to ${single.length + (whole.length ? 1 : 0)}, or ask for fewer, larger slices`, path });
    return;
  }
  const wholeNodes = vms.length - single.length;
  if (wholeNodes > 0 && whole.length < wholeNodes) {
    errors.push({ message: `cluster ${cluster} has ${vms.length} GPU node(s) but only ${single.length + whole.length} GPU share(s) fit them (${single.length} vGPU, ${whole.length} whole)`, hint: `lower ${pool}.count to ${single.length + whole.length}, or add shares`, path });
    return;
  }
  if (wholeNodes === 0 && whole.length > 0) {
    errors.push({
      message: `cluster ${cluster}: ${whole.length} whole GPU(s) have no node: every one of the ${vms.length} GPU node(s) already holds a vGPU, and a VM cannot mix the vGPU guest driver with a passed-through GPU`,
      hint: `raise ${pool}.count to ${vms.length + 1}`,
      path,
    });
    return;
  }
  // Nodes that held whole GPUs before keep doing so; otherwise the first nodes take the whole GPUs.
  const heldWhole = new Set(whole.map((s) => s.previousOwner).filter((o): o is string => o !== null));
  const ordered = [...vms].sort((a, b) => Number(heldWhole.has(b.name)) - Number(heldWhole.has(a.name)) || a.name.localeCompare(b.name));
  const wholeVms = ordered.slice(0, wholeNodes);
  const singleVms = ordered.slice(wholeNodes);
  assign(whole, wholeVms, true);
  assign(single, singleVms, false);
  for (const vm of vms) {
    const mine = shares.filter((s) => s.owner === vm.name).sort((a, b) => a.device.spec.id.localeCompare(b.device.spec.id) || (a.instance?.start ?? 0) - (b.instance?.start ?? 0));
    vmGpus.set(vm.name, mine.map((s, slot) => {
      s.uuid = s.kind === "mig-vgpu" || s.kind === "vgpu" ? vgpuUuid(spec.metadata.name, vm.name, slot) : null;
      const whole = s.kind === "passthrough" || s.kind === "mig-in-guest";
      // A group is viable for vfio only as a whole: every endpoint function goes with the GPU.
      const groupFunctions = whole ? s.device.host?.iommuGroupEndpoints ?? [] : [];
      return { kind: s.kind, gpu: s.device.spec.id, pciAddress: s.device.spec.pci_address.toLowerCase(), profile: s.instance?.profile ?? null, vgpuType: s.vgpuType ?? null, deviceUuid: s.uuid, ...(groupFunctions.length ? { groupFunctions: [...groupFunctions] } : {}) };
    }));
  }
}

/** Gives shares to VMs: previous owners first, then round-robin over the least loaded. */
function assign(shares: Share[], vms: readonly BareVm[], many: boolean): void {
  if (vms.length === 0) return;
  const load = new Map(vms.map((vm) => [vm.name, 0]));
  for (const s of shares) {
    if (s.previousOwner && load.has(s.previousOwner) && (many || load.get(s.previousOwner) === 0)) {
      s.owner = s.previousOwner;
      load.set(s.previousOwner, load.get(s.previousOwner)! + 1);
    }
  }
  for (const s of shares.filter((x) => x.owner === null)) {
    const target = vms.reduce((best, vm) => (load.get(vm.name)! < load.get(best.name)! ? vm : best), vms[0]);
    s.owner = target.name;
    load.set(target.name, load.get(target.name)! + 1);
  }
}

function plannedGpu(device: Device, shares: Share[], warnings: PlanIssue[]): PlannedGpu {
  const mine = shares.filter((s) => s.device === device);
  const hasMig = device.fixed.length + device.free.length > 0;
  const attach: ResolvedAttach = device.spec.attach === "mig-in-guest" ? "mig-in-guest"
    : hasMig || device.spec.attach === "mig-vgpu" ? "mig-vgpu"
    : device.spec.attach === "vgpu" ? "vgpu"
    : device.wholeCluster ? "passthrough" : "unused";
  const migEnabled = attach === "mig-vgpu";
  const current = device.host?.migMode?.current ?? null;
  let resetRequired = false;
  let resetReason: string | null = null;
  if (device.entry) {
    if (device.host) {
      if (current === null) {
        resetRequired = migEnabled;
        resetReason = migEnabled ? "host does not report MIG mode; enabling it needs a GPU reset" : null;
      } else if (current !== migEnabled) {
        resetRequired = true;
        resetReason = `MIG mode must change from ${current ? "enabled" : "disabled"} to ${migEnabled ? "enabled" : "disabled"} (GPU reset; stop nvidia-persistenced, DCGM, fabric manager and unload nvidia_drm first)`;
      }
    } else if (migEnabled) {
      resetRequired = true;
      resetReason = "host not probed: assuming MIG mode is off; enabling it needs a GPU reset";
    }
  }
  if (migEnabled && device.architecture && device.architecture !== "ampere") {
    warnings.push({ gpu: device.spec.id, message: `${device.spec.id} (${device.architecture}) loses MIG mode and its instances at every reboot; \`pulumi up\` (or \`pulumi refresh\`) restores them` });
  }
  const instances: PlannedInstance[] = mine.filter((s) => s.kind === "mig-vgpu").map((s) => ({
    profile: s.instance!.profile,
    profileId: device.profiles.find((p) => p.name === s.instance!.profile)?.id ?? null,
    start: s.instance!.start,
    size: s.instance!.size,
    cluster: s.cluster,
    assignedTo: s.owner,
    vgpuType: s.vgpuType ?? null,
    deviceUuid: s.uuid,
  }));
  if (attach === "mig-in-guest") {
    const owner = mine.find((s) => s.kind === "mig-in-guest")?.owner ?? null;
    for (const item of [...device.fixed, ...device.free]) {
      if (!item.placed) continue;
      instances.push({ profile: item.placed.profile, profileId: device.profiles.find((p) => p.name === item.placed!.profile)?.id ?? null, start: item.placed.start, size: item.placed.size, cluster: item.demand.cluster, assignedTo: owner, vgpuType: null, deviceUuid: null });
    }
  }
  instances.sort((a, b) => a.start - b.start);
  const vgpus: PlannedVgpu[] = mine.filter((s) => s.kind === "vgpu").map((s) => ({ vgpuType: s.vgpuType ?? "", cluster: s.cluster, assignedTo: s.owner, deviceUuid: s.uuid }));
  const wholeShare = mine.find((s) => s.kind === "passthrough" || s.kind === "mig-in-guest");
  return {
    id: device.spec.id,
    pciAddress: device.spec.pci_address.toLowerCase(),
    model: device.spec.model,
    catalogKey: device.entry?.key ?? null,
    architecture: device.architecture,
    attach,
    migEnabled,
    resetRequired,
    resetReason,
    vgpuPath: attach === "mig-vgpu" || attach === "vgpu" ? vgpuPathOf(device.architecture) : null,
    instances,
    vgpus,
    wholeAssignedTo: wholeShare?.owner ?? null,
    cluster: wholeShare?.cluster ?? mine[0]?.cluster ?? null,
  };
}

/** A GPU whose layout must change while processes use it: re-carving kills them, so only with force. */
function refuseBusyRecarve(devices: Device[], force: boolean, errors: PlanIssue[]): void {
  if (force) return;
  for (const device of devices) {
    const busy = device.host?.processes ?? 0;
    if (!device.host || busy === 0 || !isMigCarrier(device)) continue;
    const planned = new Set([...device.fixed.map((f) => f.placed), ...device.free.flatMap((f) => (f.placed ? [f.placed] : []))].map((p) => `${p.profile}@${p.start}`));
    const live = device.host.migInstances.filter((i) => i.start !== null).map((i) => `${i.profile}@${i.start}`);
    const destroyed = live.filter((key) => !planned.has(key));
    const modeChange = device.host.migMode?.current === false && planned.size > 0;
    if (destroyed.length === 0 && !modeChange) continue;
    errors.push({
      gpu: device.spec.id,
      message: `refusing to re-carve ${device.spec.id}: ${busy} process(es) use it and ${modeChange ? "enabling MIG resets the GPU" : `${destroyed.join(", ")} would be destroyed`}`,
      hint: "stop the processes (nvidia-smi shows them), or set gpu_allocation.force_recarve: true to kill them",
      path: "/global/gpu_allocation/force_recarve",
    });
  }
}

/** Facts from a probed host that make the spec impossible, each with the alternatives. */
function checkHost(spec: ClusterSpec, host: HostInventory, devices: Device[], errors: PlanIssue[], warnings: PlanIssue[]): void {
  const hostList = host.gpus.map((g) => `${g.pciAddress} ${g.name}`).join(", ") || "none";
  for (const device of devices) {
    const id = device.spec.id;
    if (!device.host) {
      errors.push({ gpu: id, message: `${id}: no GPU at ${device.spec.pci_address} on this host (host GPUs: ${hostList})`, hint: "correct pci_address (see `hyperscaler probe`)", path: devicePath(spec, device, "pci_address") });
      continue;
    }
    if (device.spec.mig_capable && device.host.migCapable === false) {
      errors.push({ gpu: id, message: `${id}: the spec says mig_capable but the host reports ${device.host.name} without MIG support`, hint: "set mig_capable: false", path: devicePath(spec, device, "mig_capable") });
    }
    if (device.spec.attach === "vgpu" && device.host.vgpu.types.length > 0 && !device.host.vgpu.types.some((t) => t.name.replace(/^GRID /, "") === device.spec.vgpu_type)) {
      errors.push({ gpu: id, message: `${id}: vGPU type ${device.spec.vgpu_type} is not offered by the host`, hint: `offered types: ${device.host.vgpu.types.map((t) => t.name).join(", ")}`, path: devicePath(spec, device, "vgpu_type") });
    }
    if ((device.spec.attach === "passthrough" || device.spec.attach === "mig-in-guest") && device.host.iommuIsolated === false) {
      warnings.push({ gpu: id, message: `${id} shares its IOMMU group with other devices; passthrough will take them all`, hint: "move the card to another slot or enable ACS; `hyperscaler doctor` shows the group" });
    }
  }
}
