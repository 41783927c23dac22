// Shares and their owners: every GPU share of a cluster (whole GPU, MIG-backed vGPU, time-sliced vGPU), and
// which VM receives each (a VM takes one vGPU, or any number of whole GPUs).
import type { Placed } from "../../gpu/solver";
import type { ClusterName, ClusterSpec } from "../../spec/types";
import { vgpuUuid } from "../ids";
import type { Plan, PlanIssue, ShareKind, VmGpu } from "../types";
import type { BareVm } from "../vms";
import type { Demand } from "./demands";
import type { Device } from "./devices";
import { groupFunctions } from "./passthrough";
import { migVgpuType, type VgpuSlot } from "./vgpu";

export interface Share {
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

/** Every share the devices give, in device order, time-sliced vGPUs last. */
export function collectShares(devices: Device[], vgpuSlots: VgpuSlot[], previous: Plan | undefined): Share[] {
  const shares: Share[] = [];
  const share = (fields: Omit<Share, "owner" | "uuid">): void =>
    void shares.push({ ...fields, owner: null, uuid: null });
  for (const device of devices) {
    if (device.wholeCluster)
      share({
        kind: "passthrough",
        device,
        cluster: device.wholeCluster,
        previousOwner: previous?.gpus.find((g) => g.id === device.spec.id)?.wholeAssignedTo ?? null,
      });
    if (device.inGuestCluster)
      share({
        kind: "mig-in-guest",
        device,
        cluster: device.inGuestCluster,
        previousOwner: previous?.gpus.find((g) => g.id === device.spec.id)?.wholeAssignedTo ?? null,
      });
    if (device.spec.attach !== "mig-in-guest") {
      const instances = [...device.fixed, ...device.free.filter((f) => f.placed !== null)] as {
        demand: Demand;
        placed: Placed;
        previousOwner: string | null;
      }[];
      for (const item of instances.sort((a, b) => a.placed.start - b.placed.start)) {
        share({
          kind: "mig-vgpu",
          device,
          cluster: item.demand.cluster,
          instance: item.placed,
          vgpuType: migVgpuType(device, item.placed.profile),
          previousOwner: item.previousOwner,
        });
      }
    }
  }
  vgpuSlots.forEach((slot, index) =>
    share({
      kind: "vgpu",
      device: slot.device,
      cluster: slot.cluster,
      vgpuType: slot.device.spec.vgpu_type ?? null,
      previousOwner:
        previous?.gpus.find((g) => g.id === slot.device.spec.id)?.vgpus[
          vgpuSlots.filter((s, i) => i < index && s.device === slot.device).length
        ]?.assignedTo ?? null,
    }),
  );
  return shares;
}

export function distribute(
  spec: ClusterSpec,
  cluster: ClusterName,
  shares: Share[],
  vms: readonly BareVm[],
  vmGpus: Map<string, VmGpu[]>,
  errors: PlanIssue[],
): void {
  if (shares.length === 0) return;
  if (vms.length === 0) return; // validation reports shares without GPU nodes
  const vgpuKinds = new Set<ShareKind>(["mig-vgpu", "vgpu"]);
  const single = shares.filter((s) => vgpuKinds.has(s.kind));
  const whole = shares.filter((s) => !vgpuKinds.has(s.kind));
  const pool = cluster === "hpc" ? "clusters.hpc.compute_nodes" : "clusters.cloud.worker_nodes.gpu_workers";
  const path = `/${pool.replace(/\./g, "/")}/count`;
  if (single.length > vms.length) {
    errors.push({
      message:
        `cluster ${cluster} has ${single.length} vGPU share(s) for ${vms.length} GPU node(s); ` +
        "a VM takes at most one vGPU (NVIDIA supports one MIG-backed vGPU per VM)",
      hint: `raise ${pool}.count to ${single.length + (whole.length ? 1 : 0)}, or ask for fewer, larger slices`,
      path,
    });
    return;
  }
  const wholeNodes = vms.length - single.length;
  if (wholeNodes > 0 && whole.length < wholeNodes) {
    errors.push({
      message:
        `cluster ${cluster} has ${vms.length} GPU node(s) but only ${single.length + whole.length} GPU share(s) ` +
        `fit them (${single.length} vGPU, ${whole.length} whole)`,
      hint: `lower ${pool}.count to ${single.length + whole.length}, or add shares`,
      path,
    });
    return;
  }
  if (wholeNodes === 0 && whole.length > 0) {
    errors.push({
      message:
        `cluster ${cluster}: ${whole.length} whole GPU(s) have no node: ` +
        `every one of the ${vms.length} GPU node(s) already holds a vGPU, ` +
        "and a VM cannot mix the vGPU guest driver with a passed-through GPU",
      hint: `raise ${pool}.count to ${vms.length + 1}`,
      path,
    });
    return;
  }
  // Nodes that held whole GPUs before keep doing so; otherwise the first nodes take the whole GPUs.
  const heldWhole = new Set(whole.map((s) => s.previousOwner).filter((o): o is string => o !== null));
  const ordered = [...vms].sort(
    (a, b) => Number(heldWhole.has(b.name)) - Number(heldWhole.has(a.name)) || a.name.localeCompare(b.name),
  );
  const wholeVms = ordered.slice(0, wholeNodes);
  const singleVms = ordered.slice(wholeNodes);
  assign(whole, wholeVms, true);
  assign(single, singleVms, false);
  for (const vm of vms) {
    const mine = shares
      .filter((s) => s.owner === vm.name)
      .sort(
        (a, b) =>
          a.device.spec.id.localeCompare(b.device.spec.id) || (a.instance?.start ?? 0) - (b.instance?.start ?? 0),
      );
    vmGpus.set(
      vm.name,
      mine.map((s, slot) => {
        s.uuid = s.kind === "mig-vgpu" || s.kind === "vgpu" ? vgpuUuid(spec.metadata.name, vm.name, slot) : null;
        const whole = s.kind === "passthrough" || s.kind === "mig-in-guest";
        const functions = whole ? groupFunctions(s.device) : [];
        return {
          kind: s.kind,
          gpu: s.device.spec.id,
          pciAddress: s.device.spec.pci_address.toLowerCase(),
          profile: s.instance?.profile ?? null,
          vgpuType: s.vgpuType ?? null,
          deviceUuid: s.uuid,
          ...(functions.length ? { groupFunctions: [...functions] } : {}),
        };
      }),
    );
  }
}

/** Gives shares to VMs: previous owners first, then round-robin over the least loaded. */
export function assign(shares: Share[], vms: readonly BareVm[], many: boolean): void {
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
