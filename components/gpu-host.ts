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
  /** Per VM, the GPU resources it must wait for. */
  readonly devicesByVm: ReadonlyMap<string, pulumi.Resource[]>;
  /** SR-IOV VF address of each vGPU device UUID (empty for mdev devices), once created. */
  readonly vfAddresses: pulumi.Output<Record<string, string>>;
  readonly layouts: MigLayout[];

  constructor(name: string, args: GpuHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("hyperscaler:index:GpuHost", name, {}, opts);
    const devicesByVm = new Map<string, pulumi.Resource[]>();
    const add = (vm: string | null, resource: pulumi.Resource): void => {
      if (vm) devicesByVm.set(vm, [...(devicesByVm.get(vm) ?? []), resource]);
    };
    const vf: pulumi.Output<[string, string | null]>[] = [];
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
        vf.push(pulumi.all([vgpu.uuid, device.vfAddress]));
      }
    }
    this.devicesByVm = devicesByVm;
    this.vfAddresses = pulumi.all(vf).apply((pairs) => Object.fromEntries(pairs.filter(([, address]) => address).map(([uuid, address]) => [uuid, address as string])));
    this.registerOutputs({ vfAddresses: this.vfAddresses });
  }
}
