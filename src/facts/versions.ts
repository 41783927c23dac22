// Every chart and image the Kubernetes and MLOps layers deploy, in one place, each with the upstream
// release it was checked against. The oracle test (test/unit/chart-values-oracle.test.ts) reads each
// chart's default values from ../shared/reference/charts/<chart>-<version>/ (referenceDir): bumping a
// version here without adding that directory fails the test, which says what to copy.

export interface ChartPin {
  /** Chart name, or an OCI reference (oci://...). */
  readonly chart: string;
  readonly version: string;
  /** Helm repository; absent for OCI charts. */
  readonly repo?: string;
  /** The upstream tag and file the reference was copied from. */
  readonly checkedAgainst: string;
}

export const CHARTS = {
  calico: {
    chart: "tigera-operator",
    version: "v3.28.2",
    repo: "https://docs.tigera.io/calico/charts",
    checkedAgainst: "projectcalico/calico@v3.28.2 charts/tigera-operator/values.yaml",
  },
  ingressNginx: {
    chart: "ingress-nginx",
    version: "4.11.3",
    repo: "https://kubernetes.github.io/ingress-nginx",
    checkedAgainst: "kubernetes/ingress-nginx@helm-chart-4.11.3 charts/ingress-nginx/values.yaml (controller v1.11.3)",
  },
  gpuOperator: {
    chart: "gpu-operator",
    version: "v24.9.0",
    repo: "https://helm.ngc.nvidia.com/nvidia",
    checkedAgainst:
      "NVIDIA/gpu-operator@v24.9.0 deployments/gpu-operator/values.yaml (+ vendored node-feature-discovery)",
  },
  minio: {
    chart: "minio",
    version: "5.3.0",
    repo: "https://charts.min.io/",
    checkedAgainst: "minio/minio@RELEASE.2024-10-13T13-34-11Z helm/minio/values.yaml (= helm-releases/minio-5.3.0.tgz)",
  },
  kubePrometheusStack: {
    chart: "kube-prometheus-stack",
    version: "65.1.1",
    repo: "https://prometheus-community.github.io/helm-charts",
    checkedAgainst:
      "prometheus-community/helm-charts@kube-prometheus-stack-65.1.1 (+ grafana 8.5.2, kube-state-metrics " +
      "5.25.1, prometheus-node-exporter 4.39.0)",
  },
  certManager: {
    chart: "cert-manager",
    version: "v1.16.1",
    repo: "https://charts.jetstack.io",
    checkedAgainst: "cert-manager/cert-manager@v1.16.1 deploy/charts/cert-manager/values.yaml + values.schema.json",
  },
  kserveCrd: {
    chart: "oci://ghcr.io/kserve/charts/kserve-crd",
    version: "v0.14.0",
    checkedAgainst: "kserve/kserve@v0.14.0 charts/kserve-crd/values.yaml (empty)",
  },
  kserve: {
    chart: "oci://ghcr.io/kserve/charts/kserve",
    version: "v0.14.0",
    checkedAgainst: "kserve/kserve@v0.14.0 charts/kserve-resources/values.yaml",
  },
} as const satisfies Record<string, ChartPin>;

export type ChartKey = keyof typeof CHARTS;

/** The reference directory of a pinned chart: `<chart name>-<version>` (the OCI path's last part). */
export function referenceDir(pin: Pick<ChartPin, "chart" | "version">): string {
  return `${pin.chart.split("/").pop()}-${pin.version}`;
}

export interface ImagePin {
  readonly image: string;
  readonly checkedAgainst: string;
}

export const IMAGES = {
  localPathProvisioner: {
    image: "rancher/local-path-provisioner:v0.0.30",
    checkedAgainst:
      "rancher/local-path-provisioner@v0.0.30 deploy/local-path-storage.yaml " +
      "(reference/manifests/local-path-provisioner-v0.0.30)",
  },
  localPathHelper: {
    image: "busybox:1.36.1",
    checkedAgainst: "the helper pod of local-path-storage.yaml v0.0.30 (upstream leaves busybox unpinned; pinned here)",
  },
  postgres: {
    image: "postgres:16.4",
    checkedAgainst:
      "docker-library/postgres 16.4 (bookworm); entrypoint runs /docker-entrypoint-initdb.d/*.sql on an empty " +
      "data directory",
  },
  // The official ghcr.io/mlflow/mlflow image has neither psycopg2 nor boto3; Bitnami's build has both
  // (libpq5 in the image, the Bitnami MLflow chart's PostgreSQL + S3 set-up) and the basic-auth app.
  mlflow: {
    image: "docker.io/bitnami/mlflow:2.22.0-debian-12-r1",
    checkedAgainst:
      "bitnami/containers@017953dd bitnami/mlflow/2/debian-12/Dockerfile (MLflow 2.22.0, Python 3.12, libpq5, " +
      "ENTRYPOINT python, mlflow on PATH)",
  },
} as const satisfies Record<string, ImagePin>;

/**
 * Kubernetes facts per supported minor version: kubeadm's config API and the sandbox (pause) image its
 * `kubeadm config images list` prints. v1beta4 is documented from 1.31 (v1beta3 deprecated there).
 */
export const KUBERNETES = {
  "1.28": {
    kubeadmApi: "kubeadm.k8s.io/v1beta3",
    pause: "registry.k8s.io/pause:3.9",
    checkedAgainst: "kubernetes/kubernetes@v1.28.0 cmd/kubeadm/app/constants (PauseVersion 3.9)",
  },
  "1.29": {
    kubeadmApi: "kubeadm.k8s.io/v1beta3",
    pause: "registry.k8s.io/pause:3.9",
    checkedAgainst: "kubernetes/kubernetes@v1.29.0 cmd/kubeadm/app/constants (PauseVersion 3.9)",
  },
  "1.30": {
    kubeadmApi: "kubeadm.k8s.io/v1beta3",
    pause: "registry.k8s.io/pause:3.9",
    checkedAgainst:
      "kubernetes/kubernetes@v1.30.0 cmd/kubeadm/app/constants (PauseVersion 3.9); v1beta4 arrives in 1.31",
  },
  "1.31": {
    kubeadmApi: "kubeadm.k8s.io/v1beta4",
    pause: "registry.k8s.io/pause:3.10",
    checkedAgainst: "kubernetes/kubernetes@v1.31.0 cmd/kubeadm/app/constants (PauseVersion 3.10); kubeadm v1beta4 docs",
  },
} as const;

export type KubernetesMinor = keyof typeof KUBERNETES;

/** The facts for a spec's Kubernetes minor version; unknown minors fail loudly with the supported list. */
export function kubernetesFacts(minor: string): (typeof KUBERNETES)[KubernetesMinor] {
  const facts = (KUBERNETES as Record<string, (typeof KUBERNETES)[KubernetesMinor]>)[minor];
  if (!facts)
    throw new Error(
      `Kubernetes ${minor} is not supported: expected one of ${Object.keys(KUBERNETES).join(", ")} (set ` +
        `clusters.cloud.kubernetes_config.version)`,
    );
  return facts;
}
