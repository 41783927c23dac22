// cloud-init for Kubernetes VMs: kernel modules and sysctls, containerd (with the NVIDIA runtime on GPU
// workers), kubelet/kubeadm/kubectl from the Kubernetes apt repository at the spec's minor version, then
// `kubeadm init` with the pre-generated CA and token, or `kubeadm join` pinned to the CA's hash.
import type { Plan, PlannedVm } from "../../plan/types";
import type { ClusterSpec } from "../../spec/types";
import { renderKubeadmInit, renderKubeadmJoin } from "../kubernetes";
import { kubernetesFacts } from "../../facts/versions";
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

/** A third-party apt repository whose signing key is fetched at first boot. */
export interface AptRepository {
  readonly name: string;
  /** The `deb` line after `[signed-by=...]`: URI and suite (and components). */
  readonly source: string;
  readonly keyUrl: string;
}

export interface AptRepositorySteps {
  /** Written by write_files where apt does not look yet, so `package_update` never sees it. */
  readonly staged: { readonly path: string; readonly permissions: string; readonly content: string };
  /** Run after package_update: the keyring first, then the source that names it. */
  readonly install: string;
}

/**
 * The order that works: cloud-init's write_files runs before package_update (apt-get update), and the
 * key can only be fetched later from runcmd. So the source is staged outside sources.list.d and moved in
 * only once its keyring exists. `root` relocates every path (tests run apt against a temporary tree).
 */
export function aptRepositorySteps(repo: AptRepository, root = ""): AptRepositorySteps {
  const keyring = `${root}/etc/apt/keyrings/${repo.name}.gpg`;
  const staged = `${root}/etc/hyperscaler/apt/${repo.name}.list`;
  return {
    staged: { path: staged, permissions: "0644", content: `deb [signed-by=${keyring}] ${repo.source}\n` },
    install: [
      "set -eu",
      `install -d -m 0755 ${root}/etc/apt/keyrings ${root}/etc/apt/sources.list.d`,
      `curl -fsSL '${repo.keyUrl}' | gpg --batch --yes --dearmor -o ${keyring}`,
      `chmod 0644 ${keyring}`,
      `install -m 0644 ${staged} ${root}/etc/apt/sources.list.d/${repo.name}.list`,
    ].join("; "),
  };
}

export function kubernetesRepository(minor: string): AptRepository {
  const uri = `https://pkgs.k8s.io/core:/stable:/v${minor}/deb/`;
  return { name: "kubernetes", source: `${uri} /`, keyUrl: `${uri}Release.key` };
}

// apt substitutes $(ARCH) in the URI, as NVIDIA's own list file relies on.
export const NVIDIA_CONTAINER_TOOLKIT_REPOSITORY: AptRepository = {
  name: "nvidia-container-toolkit",
  source: "https://nvidia.github.io/libnvidia-container/stable/deb/$(ARCH) /",
  keyUrl: "https://nvidia.github.io/libnvidia-container/gpgkey",
};

/**
 * containerd's config: systemd cgroups (as kubelet), and the sandbox image the pinned Kubernetes' kubeadm
 * expects (Debian's containerd defaults to pause:3.6).
 */
export function containerdConfigPipeline(pauseImage: string, configPath = "/etc/containerd/config.toml"): string {
  return (
    `containerd config default | sed -e 's/SystemdCgroup = false/SystemdCgroup = true/' -e 's#sandbox_image = ` +
    `".*"#sandbox_image = "${pauseImage}"#' > ${configPath}`
  );
}

export function kubernetesLayer(
  spec: ClusterSpec,
  plan: Pick<Plan, "stack" | "networks" | "gpus" | "vms">,
  vm: PlannedVm,
  secrets: KubernetesSecrets,
): CloudConfig {
  const minor = spec.clusters.cloud!.kubernetes_config.version;
  const kubernetesApt = aptRepositorySteps(kubernetesRepository(minor));
  const gpu = vm.gpus.length > 0;
  const controlPlane = vm.role === "k8s-control-plane";
  const files: Record<string, unknown>[] = [
    { path: "/etc/modules-load.d/kubernetes.conf", permissions: "0644", content: "overlay\nbr_netfilter\n" },
    {
      path: "/etc/sysctl.d/99-kubernetes.conf",
      permissions: "0644",
      content:
        "net.bridge.bridge-nf-call-iptables = 1\nnet.bridge.bridge-nf-call-ip6tables = 1\nnet.ipv4.ip_forward = 1\n",
    },
    kubernetesApt.staged,
  ];
  const runcmd: unknown[] = [
    ["modprobe", "overlay"],
    ["modprobe", "br_netfilter"],
    ["sysctl", "--system"],
    ["swapoff", "-a"],
    [
      "sh",
      "-c",
      `mkdir -p /etc/containerd && ${containerdConfigPipeline(kubernetesFacts(minor).pause)} && systemctl ` +
        `restart containerd`,
    ],
    ["sh", "-c", kubernetesApt.install],
    ["apt-get", "update"],
    ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "kubelet", "kubeadm", "kubectl"],
    ["apt-mark", "hold", "kubelet", "kubeadm", "kubectl"],
    ["systemctl", "enable", "--now", "kubelet"],
  ];
  if (gpu) {
    const toolkitApt = aptRepositorySteps(NVIDIA_CONTAINER_TOOLKIT_REPOSITORY);
    files.push(toolkitApt.staged);
    runcmd.push(
      ["sh", "-c", toolkitApt.install],
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
      {
        path: "/etc/kubernetes/kubeadm.yaml",
        permissions: "0600",
        content: renderKubeadmInit(spec, plan, secrets.token),
      },
    );
    // Guarded: cloud-init re-runs this when the VM's configuration changes (see renderMetaData).
    runcmd.push([
      "sh",
      "-c",
      "test -f /etc/kubernetes/admin.conf || kubeadm init --config /etc/kubernetes/kubeadm.yaml",
    ]);
  } else {
    files.push({
      path: "/etc/kubernetes/kubeadm-join.yaml",
      permissions: "0600",
      content: renderKubeadmJoin(spec, plan, vm, secrets.token, secrets.caCertHash),
    });
    runcmd.push([
      "sh",
      "-c",
      "test -f /etc/kubernetes/kubelet.conf || kubeadm join --config /etc/kubernetes/kubeadm-join.yaml",
    ]);
  }
  return {
    packages: ["containerd", "apt-transport-https", "ca-certificates", "curl", "gpg"],
    write_files: files,
    runcmd,
  };
}
