// Blast radius of a change: which resources a preview creates, updates, replaces and deletes, and which
// VMs restart. One set of rules, used by `hyperscaler plan --previous` (from two plans) and by the tests
// (which also derive it from a simulated preview of the real program with the real providers' diffs).
import type { Plan, PlannedGpu, PlannedNetwork, PlannedVm } from "../plan/types";
import { seedFiles } from "../render/cloud-init/nocloud";
import { MissingImageError, roleImage } from "../render/images";
import { cloudInitLayers } from "../render/layers";
import type { ClusterSpec } from "../spec/types";

/** One side of a change: the spec, its plan, and the stack's extra SSH keys. */
export interface StackView {
  readonly spec: ClusterSpec;
  readonly plan: Plan;
  readonly extraKeys?: readonly string[];
}

export type StepKind = "create" | "update" | "replace" | "delete";

export interface BlastRadius {
  readonly create: string[];
  readonly update: string[];
  readonly replace: string[];
  readonly delete: string[];
  /** VMs that stop and start: their domain is replaced, or its memory or vCPUs change (applied at a restart). */
  readonly restart: string[];
  /** VMs left running whose new cloud-init configuration (a new seed) applies at their next boot. */
  readonly nextBoot: string[];
}

/** A resource step as the engine would take it, with the VM it belongs to (if any). */
export interface ResourceStep {
  readonly name: string;
  readonly kind: StepKind | "same";
  /** For domains: the VM, and whether the change needs a restart (memory, vCPUs). */
  readonly vm?: string;
  readonly atNextBoot?: boolean;
  /** For seed ISOs: the VM whose seed it is. */
  readonly seedOf?: string;
}

/** Summarises steps into the sets a reviewer reads (sorted; "same" steps dropped). */
export function summarise(steps: readonly ResourceStep[]): BlastRadius {
  const of = (kind: StepKind) =>
    steps
      .filter((s) => s.kind === kind)
      .map((s) => s.name)
      .sort();
  const restart = new Set(
    steps.filter((s) => s.vm && (s.kind === "replace" || (s.kind === "update" && s.atNextBoot))).map((s) => s.vm!),
  );
  const created = new Set(steps.filter((s) => s.vm && s.kind === "create").map((s) => s.vm!));
  const nextBoot = steps
    .filter(
      (s) =>
        s.seedOf && (s.kind === "replace" || s.kind === "update") && !restart.has(s.seedOf) && !created.has(s.seedOf),
    )
    .map((s) => s.seedOf!);
  return {
    create: of("create"),
    update: of("update"),
    replace: of("replace"),
    delete: of("delete"),
    restart: [...restart].sort(),
    nextBoot: [...new Set(nextBoot)].sort(),
  };
}

// Resource names as the program gives them (components/*): kept here with the rules that use them.
const netResource = (n: PlannedNetwork) => `net-${n.name.replace(/_/g, "-")}-network`;
const migResource = (g: PlannedGpu) => `gpu-host-${g.id}-mig`;
const vgpuResource = (g: PlannedGpu, uuid: string) => `gpu-host-${g.id}-vgpu-${uuid.slice(0, 8)}`;

function vgpuDevices(
  plan: Plan,
): Map<string, { gpu: string; type: string | null; path: string | null; vm: string | null }> {
  const devices = new Map<string, { gpu: string; type: string | null; path: string | null; vm: string | null }>();
  for (const gpu of plan.gpus) {
    for (const i of gpu.instances)
      if (i.deviceUuid)
        devices.set(vgpuResource(gpu, i.deviceUuid), {
          gpu: gpu.id,
          type: i.vgpuType,
          path: gpu.vgpuPath,
          vm: i.assignedTo,
        });
    for (const v of gpu.vgpus)
      if (v.deviceUuid)
        devices.set(vgpuResource(gpu, v.deviceUuid), {
          gpu: gpu.id,
          type: v.vgpuType,
          path: gpu.vgpuPath,
          vm: v.assignedTo,
        });
  }
  return devices;
}

const json = (value: unknown) => JSON.stringify(value);
const hostdevs = (vm: PlannedVm) => json(vm.gpus.map((g) => [g.kind, g.pciAddress, g.deviceUuid]));

/** A VM's seed as the stack writes it, secrets as placeholders (what its instance-id is derived from). */
function seedOf(view: StackView, vm: PlannedVm): string {
  const files = seedFiles(
    view.spec,
    view.plan,
    vm,
    cloudInitLayers(view.spec, view.plan)(vm.name),
    view.extraKeys ?? [],
  );
  return files["user-data"] + files["network-config"];
}

/** The volume name and identity of what a role's disks overlay (golden images not built here: their reference). */
function roleImageIdentity(spec: ClusterSpec, role: PlannedVm["role"]): { name: string; key: string } {
  try {
    const { disk } = roleImage(spec, role);
    return {
      name: disk.name,
      key: json({ source: disk.source, checksum: disk.checksum, checksumUrl: disk.checksumUrl }),
    };
  } catch (error) {
    // Not built on this machine (a PR's plan diff): the reference is all there is to compare.
    if (error instanceof MissingImageError)
      return { name: spec.images.roles[role], key: `golden:${spec.images.roles[role]}` };
    throw error;
  }
}

/** The BaseImage volumes a role's image takes (resource name -> identity), as components/base-image.ts names them. */
function imageResources(spec: ClusterSpec, role: PlannedVm["role"]): [string, string][] {
  const { name, key } = roleImageIdentity(spec, role);
  if (spec.images.roles[role] === "catalog") return [["base-volume", key]];
  return [
    [`base-${name}`, key],
    [`base-${name}-kernel`, key],
    [`base-${name}-initrd`, key],
  ];
}

/**
 * The blast radius between two sides, by the providers' rules: a network replaces on a new subnet or bridge
 * (and its VMs with it), updates on DHCP hosts; a MIG layout updates in place; a vGPU device replaces on a
 * new type; a new base image replaces the disks, and so the domains, of the roles that boot it; a VM's domain replaces
 * on new GPU
 * devices, NIC, network or disk; memory and vCPUs update and need a restart; a VM whose cloud-init
 * configuration changes gets a new seed, applied at its next boot. Kubernetes services are not counted.
 */
export function planBlastRadius(beforeView: StackView, afterView: StackView): BlastRadius {
  const before = beforeView.plan;
  const after = afterView.plan;
  const steps: ResourceStep[] = [];
  const diffSets = <T>(a: Map<string, T>, b: Map<string, T>, same: (x: T, y: T) => StepKind | "same") => {
    for (const [name, value] of b) steps.push({ name, kind: a.has(name) ? same(a.get(name)!, value) : "create" });
    for (const name of a.keys()) if (!b.has(name)) steps.push({ name, kind: "delete" });
  };
  const nets = (p: Plan) => new Map(p.networks.map((n) => [netResource(n), n]));
  const replacedNetworks = new Set<string>();
  diffSets(nets(before), nets(after), (a, b) => {
    if (a.subnet !== b.subnet || a.bridge !== b.bridge || a.gateway !== b.gateway) {
      replacedNetworks.add(b.name);
      return "replace";
    }
    return json(a.hosts) === json(b.hosts) && a.mode === b.mode && a.domain === b.domain ? "same" : "update";
  });
  const migs = (p: Plan) => new Map(p.gpus.filter((g) => g.migEnabled).map((g) => [migResource(g), g]));
  diffSets(migs(before), migs(after), (a, b) =>
    a.pciAddress !== b.pciAddress
      ? "replace"
      : json(a.instances.map((i) => [i.profileId ?? i.profile, i.start])) ===
          json(b.instances.map((i) => [i.profileId ?? i.profile, i.start]))
        ? "same"
        : "update",
  );
  // A replaced device is deleted first; the VM using it is replaced with it (the domain takes its UUID output).
  const replacedDeviceVms = new Set<string>();
  diffSets(vgpuDevices(before), vgpuDevices(after), (a, b) => {
    if (a.type === b.type && a.path === b.path) return "same";
    for (const vm of [a.vm, b.vm]) if (vm) replacedDeviceVms.add(vm);
    return "replace";
  });

  // Base images: one set of volumes per distinct image the roles boot (BaseImage's resource names).
  const imagesOf = (view: StackView) =>
    new Map([...new Set(view.plan.vms.map((vm) => vm.role))].flatMap((role) => imageResources(view.spec, role)));
  diffSets(imagesOf(beforeView), imagesOf(afterView), (a, b) => (a === b ? "same" : "replace"));
  const vms = (p: Plan) => new Map(p.vms.map((v) => [v.name, v]));
  const network = (p: Plan, vm: PlannedVm) => p.networks.find((n) => n.name === vm.network);
  const beforeVms = vms(before);
  for (const vm of after.vms) {
    const old = beforeVms.get(vm.name);
    const parts = [`${vm.name}-disk`, `${vm.name}-seed`, `${vm.name}-domain`, `${vm.name}-host-key`];
    if (!old) {
      for (const name of parts)
        steps.push({ name, kind: "create", ...(name.endsWith("-domain") ? { vm: vm.name } : {}) });
      continue;
    }
    const netOld = network(before, old);
    const netNew = network(after, vm);
    const diskReplaced =
      roleImageIdentity(beforeView.spec, old.role).key !== roleImageIdentity(afterView.spec, vm.role).key ||
      vm.diskGiB < old.diskGiB;
    const domainReplaced =
      diskReplaced ||
      replacedDeviceVms.has(vm.name) ||
      hostdevs(old) !== hostdevs(vm) ||
      old.mac !== vm.mac ||
      old.network !== vm.network ||
      replacedNetworks.has(vm.network) ||
      json(netOld?.name) !== json(netNew?.name);
    const seedChanged = seedOf(beforeView, old) !== seedOf(afterView, vm);
    const atNextBoot = old.memoryMiB !== vm.memoryMiB || old.vcpus !== vm.vcpus;
    steps.push({
      name: `${vm.name}-disk`,
      kind: diskReplaced ? "replace" : vm.diskGiB > old.diskGiB ? "update" : "same",
    });
    steps.push({ name: `${vm.name}-seed`, kind: seedChanged ? "replace" : "same", seedOf: vm.name });
    steps.push({
      name: `${vm.name}-domain`,
      kind: domainReplaced ? "replace" : atNextBoot ? "update" : "same",
      vm: vm.name,
      atNextBoot,
    });
  }
  for (const vm of before.vms) {
    if (!after.vms.some((v) => v.name === vm.name))
      for (const name of [`${vm.name}-disk`, `${vm.name}-seed`, `${vm.name}-domain`, `${vm.name}-host-key`])
        steps.push({ name, kind: "delete" });
  }
  return summarise(steps);
}

/** The blast radius as text for `hyperscaler plan --previous`. */
export function blastRadiusText(radius: BlastRadius): string {
  const line = (label: string, names: string[]) => `  ${label.padEnd(9)} ${names.length ? names.join(", ") : "-"}`;
  return [
    "blast radius (against the previous plan):",
    line("create", radius.create),
    line("update", radius.update),
    line("replace", radius.replace),
    line("delete", radius.delete),
    line("restart", radius.restart),
    line("next boot", radius.nextBoot),
  ].join("\n");
}
