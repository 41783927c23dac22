// cloud-init for Kubernetes VMs: kernel modules and sysctls, containerd (with the NVIDIA runtime on GPU
// workers), kubelet/kubeadm/kubectl from the Kubernetes apt repository at the spec's minor version, then
// `kubeadm init` with the pre-generated CA and token, or `kubeadm join` pinned to the CA's hash.
import type { Plan, PlannedVm } from "../../plan/types";
import type { ClusterSpec } from "../../spec/types";
import { renderKubeadmInit, renderKubeadmJoin } from "../kubernetes";
import type { CloudConfig } from "./nocloud";

export interface KubernetesSecrets {
  readonly token: string;
  readonly caCertPem: string;
  readonly caKeyPem: string;
  readonly caCertHash: string;
}

/** Placeholders `hyperscaler render` writes instead of secrets. */
export const KUBERNETES_PLACEHOLDERS: KubernetesSecrets = {
  token: "abcdef.0123456789abcdef",
  caCertPem: "${KUBERNETES_CA_CERT_PEM}",
  caKeyPem: "${KUBERNETES_CA_KEY_PEM}",
  caCertHash: "sha256:${KUBERNETES_CA_PUBLIC_KEY_SHA256}",
};

export function kubernetesLayer(spec: ClusterSpec, plan: Plan, vm: PlannedVm, secrets: KubernetesSecrets): CloudConfig {
  const minor = spec.clusters.cloud!.kubernetes_config.version;
  const repo = `https://pkgs.k8s.io/core:/stable:/v${minor}/deb/`;
  const gpu = vm.gpus.length > 0;
  const controlPlane = vm.role === "k8s-control-plane";
  const files: Record<string, unknown>[] = [
    { path: "/etc/modules-load.d/kubernetes.conf", permissions: "0644", content: "overlay\nbr_netfilter\n" },
    { path: "/etc/sysctl.d/99-kubernetes.conf", permissions: "0644", content: "net.bridge.bridge-nf-call-iptables = 1\nnet.bridge.bridge-nf-call-ip6tables = 1\nnet.ipv4.ip_forward = 1\n" },
    { path: "/etc/apt/sources.list.d/kubernetes.list", permissions: "0644", content: `deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] ${repo} /\n` },
  ];
  const runcmd: unknown[] = [
    ["modprobe", "overlay"],
    ["modprobe", "br_netfilter"],
    ["sysctl", "--system"],
    ["swapoff", "-a"],
    ["sh", "-c", "mkdir -p /etc/containerd && containerd config default | sed 's/SystemdCgroup = false/SystemdCgroup = true/' > /etc/containerd/config.toml && systemctl restart containerd"],
    ["sh", "-c", `install -d -m 0755 /etc/apt/keyrings && curl -fsSL ${repo}Release.key | gpg --dearmor -o /etc/apt/keyrings/kubernetes-apt-keyring.gpg`],
    ["apt-get", "update"],
    ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "kubelet", "kubeadm", "kubectl"],
    ["apt-mark", "hold", "kubelet", "kubeadm", "kubectl"],
    ["systemctl", "enable", "--now", "kubelet"],
  ];
  if (gpu) {
    files.push({ path: "/etc/apt/sources.list.d/nvidia-container-toolkit.list", permissions: "0644", content: "deb [signed-by=/etc/apt/keyrings/nvidia-container-toolkit.gpg] https://nvidia.github.io/libnvidia-container/stable/deb/$(ARCH) /\n" });
    runcmd.push(
      ["sh", "-c", "curl -fsSL https://nvidia.github.io/libnvidia-container/gpgkey | gpg --dearmor -o /etc/apt/keyrings/nvidia-container-toolkit.gpg && sed -i 's/$(ARCH)/amd64/' /etc/apt/sources.list.d/nvidia-container-toolkit.list"],
      ["apt-get", "update"],
      ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "nvidia-container-toolkit"],
      // The NVIDIA runtime becomes containerd's default, so GPU pods need no runtimeClassName.
      ["nvidia-ctk", "runtime", "configure", "--runtime=containerd", "--set-as-default"],
      ["systemctl", "restart", "containerd"],
    );
  }
  if (controlPlane) {
    files.push(
      { path: "/etc/kubernetes/pki/ca.crt", permissions: "0644", content: secrets.caCertPem },
      { path: "/etc/kubernetes/pki/ca.key", permissions: "0600", content: secrets.caKeyPem },
      { path: "/etc/kubernetes/kubeadm.yaml", permissions: "0600", content: renderKubeadmInit(spec, plan, secrets.token) },
    );
    // Guarded: cloud-init re-runs this when the VM's configuration changes (see renderMetaData).
    runcmd.push(["sh", "-c", "test -f /etc/kubernetes/admin.conf || kubeadm init --config /etc/kubernetes/kubeadm.yaml"]);
  } else {
    files.push({ path: "/etc/kubernetes/kubeadm-join.yaml", permissions: "0600", content: renderKubeadmJoin(plan, vm, secrets.token, secrets.caCertHash) });
    runcmd.push(["sh", "-c", "test -f /etc/kubernetes/kubelet.conf || kubeadm join --config /etc/kubernetes/kubeadm-join.yaml"]);
  }
  return { packages: ["containerd", "apt-transport-https", "ca-certificates", "curl", "gpg"], write_files: files, runcmd };
}
