// GpuHost: the host side of the GPU plan. MIG mode and GPU instances at the planned placements on each
// MIG GPU, then one vGPU device per planned vGPU (mdev or SR-IOV VF). VMs depend on their devices.
import * as pulumi from "@pulumi/pulumi";
import type { Plan } from "../src/plan/types";
import { MigLayout, VgpuDevice } from "../src/providers/resources";

export interface GpuHostArgs {
  readonly plan: Plan;
  /** Re-carve GPUs even when processes use them (spec: gpu_allocation.force_recarve). */
  readonly force: boolean;
  /** sysfs root (default /sys). */
  readonly sysRoot?: string;
}

export class GpuHost extends pulumi.ComponentResource {
  /** Per VM, its vGPU devices. */
  readonly devicesByVm: ReadonlyMap<string, VgpuDevice[]>;
  /** Per VM, the SR-IOV VF address of each of its vGPU devices (device UUID -> VF), once created. */
  private readonly vfByVm = new Map<string, pulumi.Output<[string, string | null]>[]>();
  readonly layouts: MigLayout[];

  constructor(name: string, args: GpuHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("hyperscaler:index:GpuHost", name, {}, opts);
    const devicesByVm = new Map<string, VgpuDevice[]>();
    const add = (vm: string | null, resource: VgpuDevice): void => {
      if (vm) devicesByVm.set(vm, [...(devicesByVm.get(vm) ?? []), resource]);
    };
    this.layouts = [];
    for (const gpu of args.plan.gpus) {
      let layout: MigLayout | undefined;
      if (gpu.migEnabled) {
        layout = new MigLayout(`${name}-${gpu.id}-mig`, {
          gpu: gpu.id,
          pciAddress: gpu.pciAddress,
          migEnabled: true,
          instances: gpu.instances.map(({ profile, profileId, start, size }) => ({ profile, profileId, start, size })),
          force: args.force,
        }, { parent: this });
        this.layouts.push(layout);
      }
      const vgpus = [
        ...gpu.instances.filter((i) => i.deviceUuid).map((i) => ({ uuid: i.deviceUuid!, type: i.vgpuType, vm: i.assignedTo })),
        ...gpu.vgpus.filter((v) => v.deviceUuid).map((v) => ({ uuid: v.deviceUuid!, type: v.vgpuType, vm: v.assignedTo })),
      ];
      for (const vgpu of vgpus) {
        if (!vgpu.type) throw new Error(`GpuHost: vGPU ${vgpu.uuid} on ${gpu.id} has no vGPU type; plan with --host so the type is taken from the host`);
        const device = new VgpuDevice(`${name}-${gpu.id}-vgpu-${vgpu.uuid.slice(0, 8)}`, {
          uuid: vgpu.uuid,
          gpu: gpu.id,
          parentPciAddress: gpu.pciAddress,
          vgpuType: vgpu.type,
          path: gpu.vgpuPath ?? "mdev",
          sysRoot: args.sysRoot ?? "/sys",
        }, { parent: this, dependsOn: layout ? [layout] : [] });
        add(vgpu.vm, device);
        // Only SR-IOV devices have an address the domain XML needs; mdev devices are named by their UUID.
        if (vgpu.vm && gpu.vgpuPath === "sriov") this.vfByVm.set(vgpu.vm, [...(this.vfByVm.get(vgpu.vm) ?? []), pulumi.all([vgpu.uuid, device.vfAddress])]);
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
    return pulumi.all(pairs).apply((known) => Object.fromEntries(known.filter(([, address]) => address).map(([uuid, address]) => [uuid, address as string])));
  }

  /** Every SR-IOV vGPU's VF address (device UUID -> VF), for outputs about the whole host (not for domains). */
  allVfAddresses(): pulumi.Output<Record<string, string>> {
    return pulumi.all([...this.vfByVm.keys()].map((vm) => pulumi.output(this.vfAddressesFor(vm)))).apply((maps) => Object.assign({}, ...maps) as Record<string, string>);
  }
}
