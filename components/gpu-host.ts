// GpuHost: the host side of the GPU plan. MIG mode and GPU instances at the planned placements on each
// MIG GPU, then one vGPU device per planned vGPU (mdev or SR-IOV VF). VMs depend on their devices.
import * as pulumi from "@pulumi/pulumi";
import type { PlannedGpu } from "../src/plan/types";
import { MigLayout, VgpuDevice } from "../src/providers/resources";
import { duplicateOf } from "../src/util/duplicates";
import { refuseArgs } from "./args-error";

export interface GpuHostArgs {
  /** The planned GPUs (Plan.gpus): MIG layouts and vGPU devices with their types and VMs. */
  readonly gpus: readonly PlannedGpu[];
  /** Re-carve GPUs even when processes use them (spec: gpu_allocation.force_recarve). @default false */
  readonly force?: boolean;
  /** sysfs root. @default "/sys" */
  readonly sysRoot?: string;
}

interface PlannedVgpu {
  readonly uuid: string;
  readonly type: string | null;
  readonly vm: string | null;
}

/** The vGPU devices of one planned GPU: MIG-backed ones first, then time-sliced ones. */
function vgpusOf(gpu: PlannedGpu): PlannedVgpu[] {
  return [
    ...gpu.instances
      .filter((i) => i.deviceUuid)
      .map((i) => ({ uuid: i.deviceUuid!, type: i.vgpuType, vm: i.assignedTo })),
    ...gpu.vgpus.filter((v) => v.deviceUuid).map((v) => ({ uuid: v.deviceUuid!, type: v.vgpuType, vm: v.assignedTo })),
  ];
}

function validate(name: string, args: GpuHostArgs): void {
  const untyped = args.gpus.flatMap((gpu) =>
    vgpusOf(gpu)
      .filter((v) => !v.type)
      .map((v) => `${gpu.id}: vGPU ${v.uuid}`),
  );
  const uuids = args.gpus.flatMap((gpu) => vgpusOf(gpu).map((v) => v.uuid));
  refuseArgs("GpuHost", name, [
    duplicateOf(args.gpus.map((g) => g.id)) !== undefined && {
      problem: "two GPUs have the same id",
      found: duplicateOf(args.gpus.map((g) => g.id)),
      expected: "one entry per GPU",
      fix: "pass plan.gpus as buildPlan returns it",
    },
    untyped.length > 0 && {
      problem: "a vGPU has no vGPU type",
      found: untyped[0],
      expected: "a vGPU type from the host (e.g. nvidia-1152)",
      fix: "plan with --host (probeLive or loadHost) so the type is taken from the host",
    },
    duplicateOf(uuids) !== undefined && {
      problem: "two vGPU devices have the same UUID",
      found: duplicateOf(uuids),
      expected: "one UUID per device",
      fix: "pass plan.gpus as buildPlan returns it",
    },
  ]);
}

export class GpuHost extends pulumi.ComponentResource {
  /** Per VM, its vGPU devices. */
  readonly devicesByVm: ReadonlyMap<string, VgpuDevice[]>;
  /** Per VM, the SR-IOV VF address of each of its vGPU devices (device UUID -> VF), once created. */
  private readonly vfByVm = new Map<string, pulumi.Output<[string, string | null]>[]>();
  readonly layouts: MigLayout[];

  constructor(name: string, args: GpuHostArgs, opts?: pulumi.ComponentResourceOptions) {
    validate(name, args);
    super("hyperscaler:index:GpuHost", name, {}, opts);
    const devicesByVm = new Map<string, VgpuDevice[]>();
    const add = (vm: string | null, resource: VgpuDevice): void => {
      if (vm) devicesByVm.set(vm, [...(devicesByVm.get(vm) ?? []), resource]);
    };
    this.layouts = [];
    for (const gpu of args.gpus) {
      let layout: MigLayout | undefined;
      if (gpu.migEnabled) {
        layout = new MigLayout(
          `${name}-${gpu.id}-mig`,
          {
            gpu: gpu.id,
            pciAddress: gpu.pciAddress,
            migEnabled: true,
            instances: gpu.instances.map(({ profile, profileId, start, size }) => ({
              profile,
              profileId,
              start,
              size,
            })),
            force: args.force ?? false,
          },
          { parent: this },
        );
        this.layouts.push(layout);
      }
      for (const vgpu of vgpusOf(gpu)) {
        const device = new VgpuDevice(
          `${name}-${gpu.id}-vgpu-${vgpu.uuid.slice(0, 8)}`,
          {
            uuid: vgpu.uuid,
            gpu: gpu.id,
            parentPciAddress: gpu.pciAddress,
            vgpuType: vgpu.type!,
            path: gpu.vgpuPath ?? "mdev",
            sysRoot: args.sysRoot ?? "/sys",
          },
          { parent: this, dependsOn: layout ? [layout] : [] },
        );
        add(vgpu.vm, device);
        // Only SR-IOV devices have an address the domain XML needs; mdev devices are named by their UUID.
        if (vgpu.vm && gpu.vgpuPath === "sriov")
          this.vfByVm.set(vgpu.vm, [...(this.vfByVm.get(vgpu.vm) ?? []), pulumi.all([vgpu.uuid, device.vfAddress])]);
      }
    }
    this.devicesByVm = devicesByVm;
    this.registerOutputs({});
  }

  /**
   * The VF addresses one VM's domain needs: only its own devices' outputs, so replacing one vGPU device
   * changes the inputs of that VM alone (a plain {} for VMs without SR-IOV vGPUs: known in every preview).
   */
  vfAddressesFor(vm: string): pulumi.Input<Record<string, string>> {
    const pairs = this.vfByVm.get(vm);
    if (!pairs) return {};
    return pulumi
      .all(pairs)
      .apply((known) =>
        Object.fromEntries(known.filter(([, address]) => address).map(([uuid, address]) => [uuid, address as string])),
      );
  }

  /** Every SR-IOV vGPU's VF address (device UUID -> VF), for outputs about the whole host (not for domains). */
  allVfAddresses(): pulumi.Output<Record<string, string>> {
    return pulumi
      .all([...this.vfByVm.keys()].map((vm) => pulumi.output(this.vfAddressesFor(vm))))
      .apply((maps) => Object.assign({}, ...maps) as Record<string, string>);
  }
}
