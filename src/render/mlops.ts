// MLOps service settings from the spec: which services, their sizes, where they run, and the in-cluster
// addresses that connect them. Pure; the component turns these into Kubernetes objects.
import type { Plan } from "../plan/types";
import type { ClusterSpec, ServiceName } from "../spec/types";

export const MLOPS_NAMESPACE = "mlops";
export const MONITORING_NAMESPACE = "monitoring";
export const KSERVE_NAMESPACE = "kserve";

export const SERVICE_DEFAULTS: Record<ServiceName, { storageGiB: number | null; cpu: string; memory: string }> = {
  minio: { storageGiB: 50, cpu: "250m", memory: "512Mi" },
  postgresql: { storageGiB: 20, cpu: "250m", memory: "512Mi" },
  mlflow: { storageGiB: null, cpu: "250m", memory: "1Gi" },
  monitoring: { storageGiB: 20, cpu: "500m", memory: "2Gi" },
  kserve: { storageGiB: null, cpu: "100m", memory: "256Mi" },
};

export interface ServiceSettings {
  readonly enabled: boolean;
  readonly storageGiB: number | null;
  readonly requests: { cpu: string; memory: string };
}

export function serviceSettings(spec: ClusterSpec, name: ServiceName): ServiceSettings {
  const service = spec.services[name];
  const defaults = SERVICE_DEFAULTS[name];
  return {
    enabled: Boolean(spec.clusters.cloud) && service.enabled,
    storageGiB: service.storage_gb ?? defaults.storageGiB,
    requests: { cpu: service.cpu ?? defaults.cpu, memory: service.memory ?? defaults.memory },
  };
}

/**
 * Where services run: on compute=cpu workers (required) when the cluster has any; otherwise preferred,
 * so a cluster of GPU workers only still runs them.
 */
export function cpuPlacement(plan: Plan): { nodeSelector?: Record<string, string>; affinity?: Record<string, unknown> } {
  const hasCpuWorkers = plan.vms.some((vm) => vm.role === "k8s-cpu-worker");
  if (hasCpuWorkers) return { nodeSelector: { compute: "cpu" } };
  return { affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, preference: { matchExpressions: [{ key: "compute", operator: "In", values: ["cpu"] }] } }] } } };
}

export const ADDRESSES = {
  minio: `http://minio.${MLOPS_NAMESPACE}.svc.cluster.local:9000`,
  minioConsole: `http://minio-console.${MLOPS_NAMESPACE}.svc.cluster.local:9001`,
  postgresHost: `postgresql.${MLOPS_NAMESPACE}.svc.cluster.local`,
  mlflow: `http://mlflow.${MLOPS_NAMESPACE}.svc.cluster.local:5000`,
  prometheus: `http://monitoring-prometheus.${MONITORING_NAMESPACE}.svc.cluster.local:9090`,
  grafana: `http://monitoring-grafana.${MONITORING_NAMESPACE}.svc.cluster.local:80`,
} as const;

export const MLFLOW_BUCKET = "mlflow-artifacts";

/** MLflow's stores: PostgreSQL by service name, the password by env reference ($(VAR), expanded by the kubelet). */
export function mlflowServerArgs(): string[] {
  return [
    "server",
    "--backend-store-uri", `postgresql://mlflow:$(MLFLOW_DB_PASSWORD)@${ADDRESSES.postgresHost}:5432/mlflow`,
    "--artifacts-destination", `s3://${MLFLOW_BUCKET}`,
    "--serve-artifacts",
    "--host", "0.0.0.0",
    "--port", "5000",
  ];
}

/** A Grafana dashboard of DCGM metrics, one series per GPU or MIG instance (GPU_I_PROFILE/GPU_I_ID). */
export function gpuDashboard(): Record<string, unknown> {
  const panel = (id: number, title: string, expr: string, unit: string, y: number) => ({
    id, title, type: "timeseries", datasource: { type: "prometheus", uid: "prometheus" },
    gridPos: { h: 8, w: 24, x: 0, y },
    fieldConfig: { defaults: { unit }, overrides: [] },
    targets: [{ expr, legendFormat: "{{Hostname}} GPU{{gpu}} {{GPU_I_PROFILE}} {{GPU_I_ID}}", refId: "A" }],
  });
  return {
    uid: "hyperscaler-gpus",
    title: "GPUs and MIG instances (DCGM)",
    schemaVersion: 39,
    time: { from: "now-1h", to: "now" },
    panels: [
      panel(1, "GPU / MIG utilisation", "avg by (Hostname, gpu, GPU_I_PROFILE, GPU_I_ID) (DCGM_FI_PROF_GR_ENGINE_ACTIVE or DCGM_FI_DEV_GPU_UTIL / 100)", "percentunit", 0),
      panel(2, "Framebuffer used", "sum by (Hostname, gpu, GPU_I_PROFILE, GPU_I_ID) (DCGM_FI_DEV_FB_USED)", "decmbytes", 8),
      panel(3, "Power", "sum by (Hostname, gpu) (DCGM_FI_DEV_POWER_USAGE)", "watt", 16),
    ],
  };
}
