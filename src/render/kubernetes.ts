// kubeadm configuration, the discovery hash, the kubeconfig and the GPU Operator values, from the plan.
// Pure: secrets come in as arguments (placeholders for `hyperscaler render`, Pulumi secrets in the stack).
import { createHash, X509Certificate } from "node:crypto";
import { stringify } from "yaml";
import type { Plan, PlannedVm } from "../plan/types";
import type { ClusterSpec } from "../spec/types";

export const API_SERVER_PORT = 6443;

/** kubeadm's bootstrap token format: [a-z0-9]{6}.[a-z0-9]{16}. */
export const BOOTSTRAP_TOKEN = /^[a-z0-9]{6}\.[a-z0-9]{16}$/;

/** `sha256:<hex>` of the CA's public key (DER SubjectPublicKeyInfo): what `kubeadm join` pins. */
export function discoveryHash(caCertPem: string): string {
  const spki = new X509Certificate(caCertPem).publicKey.export({ type: "spki", format: "der" });
  return `sha256:${createHash("sha256").update(spki).digest("hex")}`;
}

export function controlPlaneOf(plan: Plan): PlannedVm {
  const cp = plan.vms.find((vm) => vm.role === "k8s-control-plane");
  if (!cp) throw new Error("the plan has no Kubernetes control plane (no clusters.cloud)");
  return cp;
}

export function apiServerEndpoint(plan: Plan): string {
  return `${controlPlaneOf(plan).ip}:${API_SERVER_PORT}`;
}

export function nodeLabels(vm: PlannedVm): Record<string, string> {
  return { compute: vm.gpus.length > 0 ? "gpu" : "cpu" };
}

function labelsArg(vm: PlannedVm): string {
  return Object.entries(nodeLabels(vm)).map(([k, v]) => `${k}=${v}`).join(",");
}

export function renderKubeadmInit(spec: ClusterSpec, plan: Plan, token: string): string {
  const cloud = spec.clusters.cloud!;
  const cp = controlPlaneOf(plan);
  const network = plan.networks.find((n) => n.name === cp.network)!;
  const init = {
    apiVersion: "kubeadm.k8s.io/v1beta3",
    kind: "InitConfiguration",
    bootstrapTokens: [{ token, description: "hyperscaler worker join", ttl: "0s", usages: ["signing", "authentication"], groups: ["system:bootstrappers:kubeadm:default-node-token"] }],
    localAPIEndpoint: { advertiseAddress: cp.ip, bindPort: API_SERVER_PORT },
    nodeRegistration: { name: cp.name, criSocket: "unix:///run/containerd/containerd.sock", kubeletExtraArgs: { "node-ip": cp.ip, "node-labels": labelsArg(cp) } },
  };
  const cluster = {
    apiVersion: "kubeadm.k8s.io/v1beta3",
    kind: "ClusterConfiguration",
    clusterName: spec.metadata.name,
    controlPlaneEndpoint: apiServerEndpoint(plan),
    networking: { podSubnet: cloud.kubernetes_config.pod_cidr, serviceSubnet: cloud.kubernetes_config.service_cidr, dnsDomain: "cluster.local" },
    apiServer: { certSANs: [cp.ip, cp.name, `${cp.name}.${network.domain}`] },
  };
  const kubelet = { apiVersion: "kubelet.config.k8s.io/v1beta1", kind: "KubeletConfiguration", cgroupDriver: "systemd" };
  return [init, cluster, kubelet].map((doc) => stringify(doc)).join("---\n");
}

export function renderKubeadmJoin(plan: Plan, vm: PlannedVm, token: string, caCertHash: string): string {
  return stringify({
    apiVersion: "kubeadm.k8s.io/v1beta3",
    kind: "JoinConfiguration",
    discovery: { bootstrapToken: { apiServerEndpoint: apiServerEndpoint(plan), token, caCertHashes: [caCertHash] } },
    nodeRegistration: { name: vm.name, criSocket: "unix:///run/containerd/containerd.sock", kubeletExtraArgs: { "node-ip": vm.ip, "node-labels": labelsArg(vm) } },
  });
}

export function renderKubeconfig(spec: ClusterSpec, plan: Plan, pems: { ca: string; cert: string; key: string }): string {
  const b64 = (text: string): string => Buffer.from(text).toString("base64");
  const name = spec.metadata.name;
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name, cluster: { server: `https://${apiServerEndpoint(plan)}`, "certificate-authority-data": b64(pems.ca) } }],
    users: [{ name: `${name}-admin`, user: { "client-certificate-data": b64(pems.cert), "client-key-data": b64(pems.key) } }],
    contexts: [{ name, context: { cluster: name, user: `${name}-admin` } }],
    "current-context": name,
  });
}

/** MIG profiles Kubernetes nodes carve themselves (attach: mig-in-guest), per node. */
function inGuestProfiles(plan: Plan, vm: PlannedVm): string[] {
  return vm.gpus.filter((g) => g.kind === "mig-in-guest").flatMap((g) => plan.gpus.find((p) => p.id === g.gpu)?.instances.map((i) => i.profile) ?? []);
}

/**
 * The GPU Operator's MIG strategy: `none` unless a node carves MIG inside the guest (MIG-backed vGPUs
 * appear to the guest as whole GPUs); `single` when every such instance has the same profile; `mixed`.
 */
export function migStrategy(plan: Plan): "none" | "single" | "mixed" {
  const profiles = new Set(plan.vms.filter((vm) => vm.cluster === "cloud").flatMap((vm) => inGuestProfiles(plan, vm)));
  return profiles.size === 0 ? "none" : profiles.size === 1 ? "single" : "mixed";
}

/** Extended resources the device plugin will advertise on each GPU worker, as the plan promises. */
export function deviceResources(plan: Plan, vm: PlannedVm): Record<string, number> {
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

/**
 * Helm values of the NVIDIA GPU Operator. The guests run Debian, for which the operator ships no driver
 * container, so cloud-init installs the driver that matches each node's attach mode (Debian's datacenter
 * driver for passthrough, the vGPU guest driver with licensing for vGPU) and containerd's NVIDIA runtime;
 * the operator runs the device plugin, GPU feature discovery, the MIG manager and the DCGM exporter.
 */
export function gpuOperatorValues(spec: ClusterSpec, plan: Plan): Record<string, unknown> {
  const gpuVms = plan.vms.filter((vm) => vm.cluster === "cloud" && vm.gpus.length > 0);
  const strategy = migStrategy(plan);
  const vgpuGuests = gpuVms.some((vm) => vm.gpus.some((g) => g.kind === "mig-vgpu" || g.kind === "vgpu"));
  return {
    operator: { defaultRuntime: "containerd" },
    daemonsets: { nodeSelector: { compute: "gpu" } },
    driver: {
      enabled: false,
      ...(vgpuGuests ? { licensingConfig: { configMapName: "", nlsEnabled: true }, usePrecompiled: false } : {}),
    },
    toolkit: { enabled: false },
    devicePlugin: { enabled: true },
    gfd: { enabled: true },
    mig: { strategy: strategy === "none" ? "single" : strategy },
    migManager: { enabled: strategy !== "none" },
    dcgmExporter: { enabled: true, serviceMonitor: { enabled: spec.services.monitoring.enabled } },
    nfd: { enabled: true },
    vgpuManager: { enabled: false },
    sandboxWorkloads: { enabled: false },
  };
}
