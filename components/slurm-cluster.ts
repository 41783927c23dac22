// SlurmCluster: the HPC half. A munge key generated as a Pulumi secret, and the controller and compute
// VMs provisioned by cloud-init with munge, the rendered slurm.conf/gres.conf/cgroup.conf and the
// guest GPU driver their attach mode needs.
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { Plan, PlannedVm } from "../src/plan/types";
import { computeNodes, controllerOf } from "../src/render/slurm";
import { slurmRoleLayers } from "../src/render/stack-inputs";
import type { ClusterSpec } from "../src/spec/types";
import { VirtualMachine, type VirtualMachineArgs } from "./virtual-machine";

export interface SlurmClusterArgs {
  readonly spec: ClusterSpec;
  readonly plan: Plan;
  /** Everything a VM needs except its role's cloud-init layers (shared with the other cluster). */
  readonly vmArgs: (vm: PlannedVm) => Omit<VirtualMachineArgs, "layers">;
}

export class SlurmCluster extends pulumi.ComponentResource {
  readonly controllerAddress: string;
  readonly sinfoCommand: string;
  readonly nodes: string[];
  readonly vms: VirtualMachine[];

  constructor(name: string, args: SlurmClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("hyperscaler:index:SlurmCluster", name, {}, opts);
    const { spec, plan } = args;
    // munge wants at least 32 bytes of key; 1024 as munge's own create-munge-key makes.
    const mungeKey = new random.RandomBytes(`${name}-munge-key`, { length: 1024 }, { parent: this });
    const keyBase64 = pulumi.secret(mungeKey.base64);
    this.vms = plan.vms.filter((vm) => vm.cluster === "hpc").map((vm) => new VirtualMachine(vm.name, {
      ...args.vmArgs(vm),
      layers: keyBase64.apply((key) => slurmRoleLayers(spec, plan, vm, key)),
    }, { parent: this }));
    const controller = controllerOf(plan);
    this.controllerAddress = controller.ip;
    this.sinfoCommand = `ssh ${spec.security.admin_user}@${controller.ip} sinfo`;
    this.nodes = computeNodes(plan).map((vm) => vm.name);
    this.registerOutputs({ controllerAddress: this.controllerAddress, sinfoCommand: this.sinfoCommand, nodes: this.nodes });
  }
}
