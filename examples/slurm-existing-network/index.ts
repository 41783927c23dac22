// A Slurm cluster (one controller, two CPU compute nodes) on a libvirt network that already exists on the
// host: no network, no GPU and no firewall resources, only the image pool and the cluster's VMs.
import {
  BaseImage,
  buildPlan,
  formatHuman,
  loadSpecFile,
  networkName,
  roleImage,
  SlurmCluster,
} from "hyperscaler-workstation";

const loaded = loadSpecFile(`${__dirname}/cluster.yaml`);
if (!loaded.ok) throw new Error(loaded.errors.map((error) => formatHuman(error, undefined)).join("\n"));
const { spec } = loaded;
// No GPUs: the plan needs no host inventory.
const plan = buildPlan({ spec });
if (!plan.feasible) throw new Error(plan.errors.map((issue) => issue.message).join("\n"));

const uri = spec.host.libvirt_uri;
const image = roleImage(spec, "slurm-compute");
const base = new BaseImage("base", { uri, pool: spec.host.storage_pool, images: [image] });
const imported = base.images.get(image.disk.name)!;

// The existing network, by the name the plan gives it (the VM checks that its NIC names this network).
const hpc = plan.networks.find((network) => network.clusters.includes("hpc"))!;
const network = { planName: hpc.name, libvirtName: networkName(plan, hpc) };

const slurm = new SlurmCluster(
  "slurm",
  {
    vms: plan.vms.filter((vm) => vm.cluster === "hpc"),
    adminUser: spec.security.admin_user,
    vmArgs: (vm) => ({
      spec,
      plan,
      vm,
      uri,
      network,
      pool: base.pool.name,
      poolAdopted: base.pool.adopted,
      basePath: imported.path,
      directBoot: imported.boot,
      // Keep it stable: the libvirt UUIDs of the VMs derive from it.
      stackId: "6f1c2a4e-8b3d-4f7a-9c51-2e0d7b9a4c13",
    }),
  },
  { dependsOn: [base] },
);

export const controller = slurm.controllerAddress;
export const sinfo = slurm.sinfoCommand;
export const nodes = slurm.nodes;
