// A GPU host and one Kubernetes GPU worker: the host is probed (its GPUs, IOMMU groups, vGPU types), the
// plan places the GPU, and the components make the network, the host side of the GPU, and the cluster.
import {
  BaseImage,
  buildPlan,
  ClusterNetwork,
  domainTypeOf,
  formatHuman,
  GpuHost,
  HostFirewall,
  hostFirewallOn,
  KubernetesCluster,
  loadSpecFile,
  probeLive,
  roleImage,
  type RoleImage,
} from "hyperscaler-workstation";

export = async () => {
  const loaded = loadSpecFile(`${__dirname}/cluster.yaml`);
  if (!loaded.ok) throw new Error(loaded.errors.map((error) => formatHuman(error, undefined)).join("\n"));
  const { spec } = loaded;
  const uri = spec.host.libvirt_uri;
  const host = await probeLive({ libvirtUri: uri, diskPath: spec.host.storage_pool.path });
  const plan = buildPlan({ spec, host });
  if (!plan.feasible) throw new Error(plan.errors.map((issue) => issue.message).join("\n"));

  const images = new Map<string, RoleImage>(plan.vms.map((vm) => [vm.role, roleImage(spec, vm.role)]));
  const base = new BaseImage("base", {
    uri,
    pool: spec.host.storage_pool,
    images: [...new Map([...images.values()].map((i) => [i.disk.name, i])).values()],
  });
  const stackId = "0d9a7c3e-5b21-4e8f-a6d4-7c1b2e3f4a50";
  const firewall = hostFirewallOn(spec, plan) ? new HostFirewall("host-firewall", { spec, plan, uri }) : undefined;
  const cloud = plan.networks.find((network) => network.clusters.includes("cloud"))!;
  const network = new ClusterNetwork(
    "net-cloud",
    { plan, network: cloud, uri, stackId, hostFirewall: firewall !== undefined },
    { dependsOn: firewall ? [firewall] : [] },
  );
  const gpuHost = new GpuHost("gpu-host", { gpus: plan.gpus });

  const cluster = new KubernetesCluster(
    "k8s",
    {
      spec,
      plan,
      vmArgs: (vm) => {
        const image = base.images.get(images.get(vm.role)!.disk.name)!;
        return {
          spec,
          plan,
          vm,
          uri,
          stackId,
          pool: base.pool.name,
          poolAdopted: base.pool.adopted,
          basePath: image.path,
          directBoot: image.boot,
          domainType: domainTypeOf(spec),
          network: network.vmNetwork,
          gpuDevices: gpuHost.devicesByVm.get(vm.name) ?? [],
          vfAddresses: gpuHost.vfAddressesFor(vm.name),
        };
      },
    },
    { dependsOn: [base] },
  );

  return { apiServer: cluster.apiServer, kubeconfig: cluster.kubeconfig, gpuResources: cluster.gpuResources };
};
