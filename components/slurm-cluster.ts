// SlurmCluster: the HPC half. A munge key generated as a Pulumi secret, and the controller and compute
// VMs provisioned by cloud-init with munge, the rendered slurm.conf/gres.conf/cgroup.conf and the
// guest GPU driver their attach mode needs (render/layers.ts#vmLayers decides which layers).
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { PlannedVm } from "../src/plan/types";
import { duplicateOf } from "../src/util/duplicates";
import { refuseArgs } from "./args-error";
import { VirtualMachine, type VmSettings } from "./virtual-machine";

export interface SlurmClusterArgs {
  /** The Slurm cluster's planned VMs: one `slurm-controller` and its `slurm-compute` nodes (cluster `hpc`). */
  readonly vms: readonly PlannedVm[];
  /** The admin user on the VMs (spec: security.admin_user), for the `sinfoCommand` output. */
  readonly adminUser: string;
  /** Everything a VM needs except its role's secrets (shared with the other cluster). */
  readonly vmArgs: (vm: PlannedVm) => VmSettings;
}

function validate(name: string, args: SlurmClusterArgs): void {
  const names = args.vms.map((vm) => vm.name);
  const controllers = args.vms.filter((vm) => vm.role === "slurm-controller");
  const foreign = args.vms.find((vm) => vm.cluster !== "hpc");
  refuseArgs("SlurmCluster", name, [
    args.vms.length === 0 && {
      problem: "vms is empty",
      found: [],
      expected: "a slurm-controller and its compute nodes",
      fix: 'pass plan.vms.filter((vm) => vm.cluster === "hpc")',
    },
    duplicateOf(names) !== undefined && {
      problem: "two VMs have the same name",
      found: duplicateOf(names),
      expected: "distinct VM names",
      fix: "pass each planned VM once",
    },
    foreign !== undefined && {
      problem: `VM ${foreign?.name} is not a Slurm VM`,
      found: foreign?.cluster,
      expected: "hpc",
      fix: "pass only the VMs of cluster hpc",
    },
    controllers.length !== 1 && {
      problem: "the cluster needs exactly one controller",
      found: controllers.map((vm) => vm.name),
      expected: "one VM with role slurm-controller",
      fix: "add clusters.hpc.controller to the spec and pass its planned VM",
    },
    !args.adminUser && {
      problem: "adminUser is empty",
      found: args.adminUser,
      expected: "the VMs' admin user",
      fix: "pass security.admin_user",
    },
  ]);
}

export class SlurmCluster extends pulumi.ComponentResource {
  readonly controllerAddress: string;
  readonly sinfoCommand: string;
  readonly nodes: string[];
  readonly vms: VirtualMachine[];

  constructor(name: string, args: SlurmClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    validate(name, args);
    super("hyperscaler:index:SlurmCluster", name, {}, opts);
    // munge wants at least 32 bytes of key; 1024 as munge's own create-munge-key makes.
    const mungeKey = new random.RandomBytes(`${name}-munge-key`, { length: 1024 }, { parent: this });
    const roleSecrets = pulumi.secret(mungeKey.base64).apply((mungeKeyBase64) => ({ mungeKeyBase64 }));
    this.vms = args.vms.map((vm) => new VirtualMachine(vm.name, { ...args.vmArgs(vm), roleSecrets }, { parent: this }));
    const controller = args.vms.find((vm) => vm.role === "slurm-controller")!;
    this.controllerAddress = controller.ip;
    this.sinfoCommand = `ssh ${args.adminUser}@${controller.ip} sinfo`;
    this.nodes = args.vms.filter((vm) => vm.role === "slurm-compute").map((vm) => vm.name);
    this.registerOutputs({
      controllerAddress: this.controllerAddress,
      sinfoCommand: this.sinfoCommand,
      nodes: this.nodes,
    });
  }
}
