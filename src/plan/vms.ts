// VMs and networks of the plan: names, sizes, addresses and deterministic MACs, straight from the spec.
import { formatIPv4, gatewayOf, parseCidr, parseIPv4, parseRange, prefixMask } from "../util/ipv4";
import type { ClusterName, ClusterSpec, NodePoolSpec, SingleNodeSpec } from "../spec/types";
import { macFor } from "./ids";
import type { PlannedNetwork, PlannedVm, VmRole } from "./types";

/** A VM before GPUs are attached. */
export type BareVm = Omit<PlannedVm, "gpus">;

function single(
  stack: string,
  name: string,
  cluster: ClusterName,
  role: VmRole,
  node: SingleNodeSpec,
  network: string,
): BareVm {
  return {
    name: `${stack}-${name}`,
    cluster,
    role,
    vcpus: node.cpu_cores,
    memoryMiB: node.memory_gb * 1024,
    diskGiB: node.disk_gb,
    ip: node.ip_address,
    mac: "",
    network,
  };
}

function pool(
  stack: string,
  prefix: string,
  cluster: ClusterName,
  role: VmRole,
  spec: NodePoolSpec | undefined,
  network: string,
): BareVm[] {
  if (!spec || spec.count === 0 || spec.ip_range === undefined) return [];
  const range = parseRange(spec.ip_range);
  if (!range.ok) return [];
  const width = Math.max(2, String(spec.count).length);
  return Array.from({ length: spec.count }, (_, i) => ({
    name: `${stack}-${prefix}-${String(i + 1).padStart(width, "0")}`,
    cluster,
    role,
    vcpus: spec.cpu_cores,
    memoryMiB: spec.memory_gb * 1024,
    diskGiB: spec.disk_gb,
    ip: formatIPv4(range.first + i),
    mac: "",
    network,
  }));
}

/** VMs in a fixed order: Slurm controller, Slurm compute, Kubernetes control plane, CPU workers, GPU workers. */
export function planVms(spec: ClusterSpec): BareVm[] {
  const stack = spec.metadata.name;
  const vms: BareVm[] = [];
  const { hpc, cloud } = spec.clusters;
  if (hpc) {
    vms.push(single(stack, "slurm-ctl", "hpc", "slurm-controller", hpc.controller, hpc.network));
    vms.push(...pool(stack, "slurm-node", "hpc", "slurm-compute", hpc.compute_nodes, hpc.network));
  }
  if (cloud) {
    vms.push(single(stack, "k8s-cp", "cloud", "k8s-control-plane", cloud.control_plane, cloud.network));
    vms.push(...pool(stack, "k8s-cpu", "cloud", "k8s-cpu-worker", cloud.worker_nodes.cpu_workers, cloud.network));
    vms.push(...pool(stack, "k8s-gpu", "cloud", "k8s-gpu-worker", cloud.worker_nodes.gpu_workers, cloud.network));
  }
  // MACs: hashed from the name; a collision (1 in 16M per pair) is resolved by salting the later VM.
  const taken = new Set<string>();
  return vms.map((vm) => {
    let salt = 0;
    let mac = macFor(stack, vm.name);
    while (taken.has(mac)) mac = macFor(stack, vm.name, ++salt);
    taken.add(mac);
    return { ...vm, mac };
  });
}

/** JSON pointer of the cluster.yaml node (or pool) a VM of this role is made from. */
export function specPathOfRole(role: VmRole): string {
  switch (role) {
    case "slurm-controller":
      return "/clusters/hpc/controller";
    case "slurm-compute":
      return "/clusters/hpc/compute_nodes";
    case "k8s-control-plane":
      return "/clusters/cloud/control_plane";
    case "k8s-cpu-worker":
      return "/clusters/cloud/worker_nodes/cpu_workers";
    case "k8s-gpu-worker":
      return "/clusters/cloud/worker_nodes/gpu_workers";
  }
}

/** Whether a VM must receive a GPU share. */
export function isGpuNode(spec: ClusterSpec, vm: BareVm): boolean {
  if (vm.role === "slurm-compute") return spec.clusters.hpc?.compute_nodes.gpu_enabled ?? false;
  if (vm.role === "k8s-gpu-worker") return spec.clusters.cloud?.worker_nodes.gpu_workers?.gpu_enabled ?? false;
  return false;
}

export function planNetworks(spec: ClusterSpec, vms: readonly BareVm[]): PlannedNetwork[] {
  return Object.entries(spec.global.networks).map(([name, network]) => {
    const parsed = parseCidr(network.subnet);
    if (!parsed.ok) throw new Error(`plan: invalid subnet ${network.subnet} passed validation`);
    const clusters = (["hpc", "cloud"] as const).filter((cluster) => spec.clusters[cluster]?.network === name);
    return {
      name,
      bridge: network.bridge,
      subnet: network.subnet,
      prefix: parsed.cidr.prefix,
      netmask: formatIPv4(prefixMask(parsed.cidr.prefix)),
      gateway: formatIPv4(gatewayOf(parsed.cidr)),
      mode: network.mode,
      domain: `${name.replace(/_/g, "-")}.${spec.metadata.name}.internal`,
      clusters,
      hosts: vms
        .filter((vm) => vm.network === name)
        .map((vm) => ({ name: vm.name, mac: vm.mac, ip: vm.ip }))
        .sort((a, b) => (parseIPv4(a.ip) ?? 0) - (parseIPv4(b.ip) ?? 0)),
    };
  });
}

/** The planned network a VM is on; a plan whose VM names no network of it is a bug upstream of render. */
export function networkOf(
  plan: { readonly networks: readonly PlannedNetwork[] },
  vm: Pick<PlannedVm, "name" | "network">,
): PlannedNetwork {
  const network = plan.networks.find((n) => n.name === vm.network);
  if (!network) throw new Error(`VM ${vm.name} is on network ${vm.network}, which the plan does not define`);
  return network;
}
