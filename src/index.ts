// The package's public API (package.json `main`/`exports`). Pulumi users compose the components in their own
// programs; the pure functions under them (load a spec, probe a host, plan, render) are exported too, so a
// program can check or show what the components will make. `buildStack` is the whole stack as one call
// (what this repository's own Pulumi program, index.ts, runs), the way pulumi-eks exports createCore
// under its Cluster.

// Components and their props.
export { ComponentArgsError, type ArgsProblem } from "../components/args-error";
export { BaseImage, type BaseImageArgs, type ImportedImage } from "../components/base-image";
export { ClusterNetwork, type ClusterNetworkArgs, type VmNetwork } from "../components/cluster-network";
export { GpuHost, type GpuHostArgs } from "../components/gpu-host";
export { HostFirewall, NftTable, type HostFirewallArgs } from "../components/host-firewall";
export { KubernetesAddons, type KubernetesAddonsArgs } from "../components/kubernetes-addons";
export { KubernetesCluster, type KubernetesClusterArgs } from "../components/kubernetes-cluster";
export { deployWorkloads } from "../components/kubernetes-workloads";
export { MlopsServices, type MlopsServicesArgs, type ServiceEndpoint } from "../components/mlops-services";
export { SlurmCluster, type SlurmClusterArgs } from "../components/slurm-cluster";
export { VirtualMachine, type VirtualMachineArgs, type VmSettings } from "../components/virtual-machine";

// The whole stack as one call.
export {
  buildStack,
  loadSpecOrThrow,
  settingsFromConfig,
  StackInputError,
  type StackOutputs,
  type StackSettings,
} from "./program/stack";

// Spec: load and validate cluster.yaml.
export { loadSpecFile, loadSpecText, type LoadResult } from "./spec/load";
export { formatHuman, type SpecDiagnostic } from "./spec/diagnostics";
export type {
  AttachMode,
  CloudClusterSpec,
  ClusterName,
  ClusterSpec,
  CrossClusterFlowSpec,
  GpuAllocationSpec,
  GpuDeviceSpec,
  GpuStrategy,
  HpcClusterSpec,
  MigProfileRequest,
  MigRequest,
  NetworkSpec,
  NodePoolSpec,
  NodeSize,
  ServiceName,
  ServiceSpec,
  SingleNodeSpec,
  VmRoleName,
} from "./spec/types";

// Host: probe the live host, or load a snapshot of one.
export { probeLive, type LiveProbeOptions } from "./host/live";
export { loadHost } from "./host/load";
export type { HostGpu, HostInventory, HostMigProfile, HostVgpuType } from "./host/types";

// Plan: where every VM, network and GPU slice goes.
export { buildPlan, planIssueDiagnostic, planToJson, type PlanInput } from "./plan";
export type {
  Plan,
  PlanIssue,
  PlannedGpu,
  PlannedInstance,
  PlannedNetwork,
  PlannedVgpu,
  PlannedVm,
  VmGpu,
  VmRole,
} from "./plan/types";

// Render: the files `hyperscaler render` writes, and the per-object renderers the components call.
export { renderAll, type CloudInitLayers, type RenderOptions } from "./render/files";
export {
  cloudInitLayers,
  PLACEHOLDER_SECRETS,
  vmLayers,
  type PlanLayout,
  type RoleSecrets,
  type VmSecrets,
} from "./render/layers";
export { domainTypeOf, hostFirewallOn, vmSeedFiles } from "./render/stack-inputs";
export { MissingImageError, roleDirectBoot, roleImage, type ImageSource, type RoleImage } from "./render/images";
export { seedFiles, type CloudConfig, type SeedFiles } from "./render/cloud-init/nocloud";
export type { KubernetesSecrets } from "./render/cloud-init/kubernetes";
export type { SshHostKey } from "./render/cloud-init/ssh-host-key";
export { renderDomainXml, type DirectBoot } from "./render/libvirt/domain";
export { diskVolumeName, networkName, seedVolumeName } from "./render/libvirt/names";
export { renderNetworkXml } from "./render/libvirt/network";
export { renderPoolXml } from "./render/libvirt/storage";
export { renderFirewall } from "./render/firewall";
export { mdevMap, migPartedConfig } from "./render/gpu-files";
export { renderCgroupConf, renderGresConf, renderSlurmConf } from "./render/slurm";
export { apiServerEndpoint, renderKubeadmInit, renderKubeadmJoin, renderKubeconfig } from "./render/kubernetes";
export { addonWorkloads, kubernetesWorkloads, type WorkloadItem } from "./render/workloads";
export { mlopsWorkloads, type MlopsSecrets } from "./render/mlops";
