// kubeadm configuration, the discovery hash, the kubeconfig and the GPU Operator values, from the plan.
// Pure: secrets come in as arguments (placeholders for `hyperscaler render`, Pulumi secrets in the stack).
import { createHash, X509Certificate } from "node:crypto";
import { stringify } from "yaml";
import type { Plan, PlannedVm } from "../plan/types";
import type { ClusterSpec } from "../spec/types";
import { kubernetesFacts } from "../facts/versions";
import { computeLabel } from "../facts/node-labels";

export const API_SERVER_PORT = 6443;

/** kubeadm's bootstrap token format: [a-z0-9]{6}.[a-z0-9]{16}. */
export const BOOTSTRAP_TOKEN = /^[a-z0-9]{6}\.[a-z0-9]{16}$/;

/** `sha256:<hex>` of the CA's public key (DER SubjectPublicKeyInfo): what `kubeadm join` pins. */
export function discoveryHash(caCertPem: string): string {
  const spki = new X509Certificate(caCertPem).publicKey.export({ type: "spki", format: "der" });
  return `sha256:${createHash("sha256").update(spki).digest("hex")}`;
}

export function controlPlaneOf(plan: Pick<Plan, "stack" | "networks" | "gpus" | "vms">): PlannedVm {
  const cp = plan.vms.find((vm) => vm.role === "k8s-control-plane");
  if (!cp) throw new Error("the plan has no Kubernetes control plane (no clusters.cloud)");
  return cp;
}

export function apiServerEndpoint(plan: Pick<Plan, "stack" | "networks" | "gpus" | "vms">): string {
  return `${controlPlaneOf(plan).ip}:${API_SERVER_PORT}`;
}

/** The GPU Operator's per-node MIG layout label: mig-manager applies the config of that name. */
export const MIG_CONFIG_LABEL = "nvidia.com/mig.config";

/**
 * Labels kubelet sets on its node: `compute=cpu|gpu`; on CPU nodes the GPU Operator's switch that keeps
 * every GPU operand off the node; on nodes that carve MIG in the guest, the mig-manager config to keep.
 */
export function nodeLabels(vm: PlannedVm): Record<string, string> {
  if (vm.gpus.length === 0) return { ...computeLabel("cpu"), "nvidia.com/gpu.deploy.operands": "false" };
  return {
    ...computeLabel("gpu"),
    ...(vm.gpus.some((g) => g.kind === "mig-in-guest") ? { [MIG_CONFIG_LABEL]: vm.name } : {}),
  };
}

function labelsArg(vm: PlannedVm): string {
  return Object.entries(nodeLabels(vm))
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}

/** How long the bootstrap token lives: long enough for every VM's first boot, then it expires. */
export const BOOTSTRAP_TOKEN_TTL = "24h0m0s";

/** The command that mints a fresh join command on the control plane, for workers added later. */
export function joinCommandHint(plan: Pick<Plan, "stack" | "networks" | "gpus" | "vms">, adminUser: string): string {
  return `ssh ${adminUser}@${controlPlaneOf(plan).ip} sudo kubeadm token create --ttl 1h --print-join-command`;
}

/** kubelet flags in the shape the kubeadm API version expects (v1beta4: a list of name/value pairs). */
function kubeletExtraArgs(api: string, args: Record<string, string>): unknown {
  return api === "kubeadm.k8s.io/v1beta3" ? args : Object.entries(args).map(([name, value]) => ({ name, value }));
}

function nodeRegistration(api: string, vm: PlannedVm): Record<string, unknown> {
  return {
    name: vm.name,
    criSocket: "unix:///run/containerd/containerd.sock",
    kubeletExtraArgs: kubeletExtraArgs(api, { "node-ip": vm.ip, "node-labels": labelsArg(vm) }),
  };
}

export function renderKubeadmInit(
  spec: Pick<ClusterSpec, "metadata" | "clusters" | "services">,
  plan: Pick<Plan, "stack" | "networks" | "gpus" | "vms">,
  token: string,
): string {
  const cloud = spec.clusters.cloud!;
  const api = kubernetesFacts(cloud.kubernetes_config.version).kubeadmApi;
  const cp = controlPlaneOf(plan);
  const network = plan.networks.find((n) => n.name === cp.network)!;
  const init = {
    apiVersion: api,
    kind: "InitConfiguration",
    bootstrapTokens: [
      {
        token,
        description: "hyperscaler worker join",
        ttl: BOOTSTRAP_TOKEN_TTL,
        usages: ["signing", "authentication"],
        groups: ["system:bootstrappers:kubeadm:default-node-token"],
      },
    ],
    localAPIEndpoint: { advertiseAddress: cp.ip, bindPort: API_SERVER_PORT },
    nodeRegistration: nodeRegistration(api, cp),
  };
  const cluster = {
    apiVersion: api,
    kind: "ClusterConfiguration",
    clusterName: spec.metadata.name,
    controlPlaneEndpoint: apiServerEndpoint(plan),
    networking: {
      podSubnet: cloud.kubernetes_config.pod_cidr,
      serviceSubnet: cloud.kubernetes_config.service_cidr,
      dnsDomain: "cluster.local",
    },
    apiServer: { certSANs: [cp.ip, cp.name, `${cp.name}.${network.domain}`] },
  };
  const kubelet = {
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    cgroupDriver: "systemd",
  };
  return [init, cluster, kubelet].map((doc) => stringify(doc)).join("---\n");
}

export function renderKubeadmJoin(
  spec: Pick<ClusterSpec, "metadata" | "clusters" | "services">,
  plan: Pick<Plan, "stack" | "networks" | "gpus" | "vms">,
  vm: PlannedVm,
  token: string,
  caCertHash: string,
): string {
  const api = kubernetesFacts(spec.clusters.cloud!.kubernetes_config.version).kubeadmApi;
  return stringify({
    apiVersion: api,
    kind: "JoinConfiguration",
    discovery: { bootstrapToken: { apiServerEndpoint: apiServerEndpoint(plan), token, caCertHashes: [caCertHash] } },
    nodeRegistration: nodeRegistration(api, vm),
  });
}

export function renderKubeconfig(
  spec: Pick<ClusterSpec, "metadata" | "clusters" | "services">,
  plan: Pick<Plan, "stack" | "networks" | "gpus" | "vms">,
  pems: { ca: string; cert: string; key: string },
): string {
  const b64 = (text: string): string => Buffer.from(text).toString("base64");
  const name = spec.metadata.name;
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      { name, cluster: { server: `https://${apiServerEndpoint(plan)}`, "certificate-authority-data": b64(pems.ca) } },
    ],
    users: [
      { name: `${name}-admin`, user: { "client-certificate-data": b64(pems.cert), "client-key-data": b64(pems.key) } },
    ],
    contexts: [{ name, context: { cluster: name, user: `${name}-admin` } }],
    "current-context": name,
  });
}

/** MIG profiles Kubernetes nodes carve themselves (attach: mig-in-guest), per node. */
function inGuestProfiles(plan: Pick<Plan, "stack" | "networks" | "gpus" | "vms">, vm: PlannedVm): string[] {
  return vm.gpus
    .filter((g) => g.kind === "mig-in-guest")
    .flatMap((g) => plan.gpus.find((p) => p.id === g.gpu)?.instances.map((i) => i.profile) ?? []);
}

/**
 * The GPU Operator's MIG strategy: `none` unless a node carves MIG inside the guest (MIG-backed vGPUs
 * appear to the guest as whole GPUs); `single` when every such instance has the same profile; `mixed`.
 */
export function migStrategy(plan: Pick<Plan, "stack" | "networks" | "gpus" | "vms">): "none" | "single" | "mixed" {
  const profiles = new Set(plan.vms.filter((vm) => vm.cluster === "cloud").flatMap((vm) => inGuestProfiles(plan, vm)));
  return profiles.size === 0 ? "none" : profiles.size === 1 ? "single" : "mixed";
}

/** Extended resources the device plugin will advertise on each GPU worker, as the plan promises. */
export function deviceResources(
  plan: Pick<Plan, "stack" | "networks" | "gpus" | "vms">,
  vm: PlannedVm,
): Record<string, number> {
  const out: Record<string, number> = {};
  const strategy = migStrategy(plan);
  for (const gpu of vm.gpus) {
    if (gpu.kind === "mig-in-guest") {
      for (const profile of inGuestProfiles(plan, { ...vm, gpus: [gpu] })) {
        const key = strategy === "mixed" ? `nvidia.com/mig-${profile}` : "nvidia.com/gpu";
        out[key] = (out[key] ?? 0) + 1;
      }
    } else {
      out["nvidia.com/gpu"] = (out["nvidia.com/gpu"] ?? 0) + 1;
    }
  }
  return out;
}

/** The ConfigMap (in the operator's namespace) holding the mig-parted configs mig-manager applies. */
export const MIG_PARTED_CONFIGMAP = "hyperscaler-mig-parted-config";
export const GPU_OPERATOR_NAMESPACE = "gpu-operator";

/**
 * mig-parted `version: v1` configs for mig-manager: one per node that carves MIG in the guest (named
 * after the VM, selected by its `nvidia.com/mig.config` label) with exactly the planned profile counts,
 * so mig-manager finds the layout the guest's boot unit carved and keeps it; `all-disabled` stays the
 * default for every other node, as the chart sets it.
 */
export function migManagerConfig(plan: Pick<Plan, "stack" | "networks" | "gpus" | "vms">): string | null {
  const configs: Record<string, unknown[]> = {};
  for (const vm of plan.vms.filter((v) => v.cluster === "cloud")) {
    const carved = vm.gpus.filter((g) => g.kind === "mig-in-guest");
    if (carved.length === 0) continue;
    configs[vm.name] = carved.map((gpu, index) => {
      const counts: Record<string, number> = {};
      for (const instance of plan.gpus.find((p) => p.id === gpu.gpu)?.instances ?? [])
        counts[instance.profile] = (counts[instance.profile] ?? 0) + 1;
      return { devices: [index], "mig-enabled": true, "mig-devices": counts };
    });
  }
  if (Object.keys(configs).length === 0) return null;
  return stringify({
    version: "v1",
    "mig-configs": { "all-disabled": [{ devices: "all", "mig-enabled": false }], ...configs },
  });
}

/**
 * Helm values of the NVIDIA GPU Operator. The guests run Debian, for which the operator ships no driver
 * container, so cloud-init installs the driver that matches each node's attach mode (Debian's datacenter
 * driver for passthrough, the vGPU guest driver with licensing for vGPU) and containerd's NVIDIA runtime;
 * the operator runs the device plugin, GPU feature discovery, the MIG manager and the DCGM exporter.
 * Operands land only on nodes NFD finds an NVIDIA PCI device on (`nvidia.com/gpu.present`), and CPU nodes
 * carry `nvidia.com/gpu.deploy.operands=false` (see nodeLabels): the chart has no operand nodeSelector.
 */
export function gpuOperatorValues(
  spec: Pick<ClusterSpec, "metadata" | "clusters" | "services">,
  plan: Pick<Plan, "stack" | "networks" | "gpus" | "vms">,
): Record<string, unknown> {
  const gpuVms = plan.vms.filter((vm) => vm.cluster === "cloud" && vm.gpus.length > 0);
  const strategy = migStrategy(plan);
  const vgpuGuests = gpuVms.some((vm) => vm.gpus.some((g) => g.kind === "mig-vgpu" || g.kind === "vgpu"));
  return {
    operator: { defaultRuntime: "containerd" },
    driver: {
      enabled: false,
      ...(vgpuGuests ? { licensingConfig: { configMapName: "", nlsEnabled: true }, usePrecompiled: false } : {}),
    },
    toolkit: { enabled: false },
    devicePlugin: { enabled: true },
    gfd: { enabled: true },
    mig: { strategy: strategy === "none" ? "single" : strategy },
    // The chart's default config is `all-disabled`, which would wipe the layout carved in the guest.
    migManager:
      strategy === "none"
        ? { enabled: false }
        : { enabled: true, config: { name: MIG_PARTED_CONFIGMAP, create: false, default: "all-disabled" } },
    dcgmExporter: { enabled: true, serviceMonitor: { enabled: spec.services.monitoring.enabled } },
    nfd: { enabled: true },
    vgpuManager: { enabled: false },
    sandboxWorkloads: { enabled: false },
  };
}
