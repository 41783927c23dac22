// Everything `hyperscaler render` writes, as a map of relative path -> text. Pure.
import type { Plan, PlannedVm } from "../plan/types";
import type { ClusterSpec } from "../spec/types";
import { seedFiles, type CloudConfig } from "./cloud-init/nocloud";
import { mdevMap, migPartedConfig } from "./gpu-files";
import { renderFirewall } from "./firewall";
import { domainTypeOf, hostFirewallOn } from "./stack-inputs";
import { renderDomainXml, type DirectBoot } from "./libvirt/domain";
import { networkName } from "./libvirt/names";
import { renderNetworkXml } from "./libvirt/network";
import { renderPoolXml } from "./libvirt/storage";
import { planToJson } from "../plan";
import { renderCgroupConf, renderGresConf, renderSlurmConf } from "./slurm";
import { KUBERNETES_PLACEHOLDERS } from "./cloud-init/kubernetes";
import { renderKubeadmInit, renderKubeadmJoin } from "./kubernetes";
import { MLOPS_SECRET_PLACEHOLDERS } from "./mlops";
import { kubernetesWorkloads, renderWorkload, workloadPath } from "./workloads";

/** A VM's cloud-init layers by VM name: render/layers.ts#cloudInitLayers (vmLayers, placeholder secrets). */
export type CloudInitLayers = (vmName: string) => CloudConfig[];

export interface RenderOptions {
  /** Cloud-init layers per VM, from render/layers.ts (the components' owner too). @default none */
  readonly layers?: CloudInitLayers;
  /** The stack's `hyperscaler:sshPublicKey`, so seeds (and their instance-ids) equal the deployed ones. */
  readonly extraKeys?: readonly string[];
  /** The stack's identity (stack output stackId), so libvirt UUIDs equal the deployed ones. */
  readonly stackId?: string;
  /**
   * Direct kernel boot per VM role (golden images; render/images.ts#roleDirectBoot reads the image store). @default
   * none
   */
  readonly bootOf?: (role: PlannedVm["role"]) => DirectBoot | undefined;
}

export function renderAll(spec: ClusterSpec, plan: Plan, options: RenderOptions = {}): Map<string, string> {
  const { layers = () => [], extraKeys = [], stackId, bootOf = () => undefined } = options;
  const files = new Map<string, string>();
  files.set("plan.json", planToJson(plan));
  files.set("gpu/mdev_map.json", JSON.stringify(mdevMap(plan), null, 2) + "\n");
  files.set("gpu/mig-parted.yaml", migPartedConfig(plan));
  if (spec.clusters.hpc) {
    files.set("slurm/slurm.conf", renderSlurmConf(spec, plan));
    files.set("slurm/gres.conf", renderGresConf(plan));
    files.set("slurm/cgroup.conf", renderCgroupConf());
  }
  if (spec.clusters.cloud) {
    const secrets = KUBERNETES_PLACEHOLDERS;
    files.set("kubernetes/kubeadm-init.yaml", renderKubeadmInit(spec, plan, secrets.token));
    for (const vm of plan.vms.filter((v) => v.cluster === "cloud" && v.role !== "k8s-control-plane"))
      files.set(
        `kubernetes/join/${vm.name}.yaml`,
        renderKubeadmJoin(spec, plan, vm, secrets.token, secrets.caCertHash),
      );
  }
  // Every Helm release's values and every raw manifest the stack deploys (the same function the components use).
  for (const item of kubernetesWorkloads(spec, plan, MLOPS_SECRET_PLACEHOLDERS))
    files.set(workloadPath(item), renderWorkload(item));
  const pool = spec.host.storage_pool;
  files.set(`libvirt/pools/${pool.name}.xml`, renderPoolXml(pool.name, pool.path));
  const isolation = hostFirewallOn(spec, plan);
  for (const network of plan.networks)
    files.set(
      `libvirt/networks/${networkName(plan, network)}.xml`,
      renderNetworkXml(plan, network, { hostFirewall: isolation, stackId }),
    );
  if (isolation) files.set("firewall.nft", renderFirewall(spec, plan));
  // SR-IOV VFs get their addresses when the GPU host is set up; render shows where they go.
  const vfPlaceholders = Object.fromEntries(
    plan.vms
      .flatMap((vm) => vm.gpus)
      .filter((g) => g.deviceUuid)
      .map((g) => [g.deviceUuid!, "0000:00:00.0"]),
  );
  for (const vm of plan.vms) {
    files.set(
      `libvirt/domains/${vm.name}.xml`,
      renderDomainXml(plan, vm, {
        pool: pool.name,
        vfAddresses: vfPlaceholders,
        stackId,
        domainType: domainTypeOf(spec),
        directBoot: bootOf(vm.role),
      }),
    );
    const seed = seedFiles(spec, plan, vm, layers(vm.name), extraKeys);
    for (const [name, text] of Object.entries(seed) as [string, string][])
      files.set(`cloud-init/${vm.name}/${name}`, text);
  }
  return files;
}
