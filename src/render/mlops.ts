// MLOps service settings from the spec: which services, their sizes, where they run, and the in-cluster
// addresses that connect them. Pure; the component turns these into Kubernetes objects.
import type { Plan } from "../plan/types";
import type { ClusterSpec, ServiceName } from "../spec/types";
import { mlopsNetworkPolicies } from "./network-policies";
import { IMAGES } from "../facts/versions";
import { computeLabel, preferComputeAffinity } from "../facts/node-labels";
import { helm, manifest, type ManifestObject, type WorkloadItem } from "./workloads";
import type { IIngress } from "kubernetes-models/networking.k8s.io/v1";

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

export function serviceSettings(
  spec: Pick<ClusterSpec, "metadata" | "clusters" | "services">,
  name: ServiceName,
): ServiceSettings {
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
export function cpuPlacement(plan: Pick<Plan, "stack" | "networks" | "gpus" | "vms">): {
  nodeSelector?: Record<string, string>;
  affinity?: Record<string, unknown>;
} {
  const hasCpuWorkers = plan.vms.some((vm) => vm.role === "k8s-cpu-worker");
  if (hasCpuWorkers) return { nodeSelector: computeLabel("cpu") };
  return { affinity: preferComputeAffinity("cpu") };
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

/** The MinIO user MLflow stores artifacts as (policy readwrite); the root user stays with the chart. */
export const MINIO_MLFLOW_USER = "mlflow";
/** MLflow's basic-auth users live in their own database (its migrations are separate from the tracking store's). */
export const MLFLOW_AUTH_DATABASE = "mlflow_auth";
export const MLFLOW_AUTH_CONFIG = "/etc/mlflow-auth/basic_auth.ini";

/** MLflow's stores: PostgreSQL by service name, the password by env reference ($(VAR), expanded by the kubelet). */
export function mlflowServerArgs(): string[] {
  return [
    "server",
    // MLflow's built-in authentication (HTTP basic); the admin account comes from a Kubernetes Secret.
    "--app-name",
    "basic-auth",
    "--backend-store-uri",
    `postgresql://mlflow:$(MLFLOW_DB_PASSWORD)@${ADDRESSES.postgresHost}:5432/mlflow`,
    "--artifacts-destination",
    `s3://${MLFLOW_BUCKET}`,
    "--serve-artifacts",
    "--host",
    "0.0.0.0",
    "--port",
    "5000",
  ];
}

/**
 * Writes MLflow's auth config from the container's environment (secrets never in a ConfigMap or the pod
 * spec) into a memory-backed volume, then starts the server with the given arguments.
 */
export function mlflowStartScript(): string {
  return [
    "set -eu",
    "umask 077",
    `cat > ${MLFLOW_AUTH_CONFIG} <<EOF`,
    "[mlflow]",
    "default_permission = READ",
    `database_uri = postgresql://mlflow:\${MLFLOW_DB_PASSWORD}@${ADDRESSES.postgresHost}:5432/${MLFLOW_AUTH_DATABASE}`,
    "admin_username = ${MLFLOW_ADMIN_USERNAME}",
    "admin_password = ${MLFLOW_ADMIN_PASSWORD}",
    "authorization_function = mlflow.server.auth:authenticate_request_basic_auth",
    "EOF",
    'exec mlflow "$@"',
  ].join("\n");
}

/** Secret values the MLOps services need (placeholders for render, Pulumi secrets in the stack). */
export interface MlopsSecrets<S> {
  readonly minioRootUser: S;
  readonly minioRootPassword: S;
  readonly minioMlflowSecretKey: S;
  readonly postgresPassword: S;
  readonly mlflowAdminPassword: S;
  readonly grafanaAdminPassword: S;
}

export const MLOPS_SECRET_PLACEHOLDERS: MlopsSecrets<string> = {
  minioRootUser: "${MINIO_ROOT_USER}",
  minioRootPassword: "${MINIO_ROOT_PASSWORD}",
  minioMlflowSecretKey: "${MINIO_MLFLOW_SECRET_KEY}",
  postgresPassword: "${POSTGRES_MLFLOW_PASSWORD}",
  mlflowAdminPassword: "${MLFLOW_ADMIN_PASSWORD}",
  grafanaAdminPassword: "${GRAFANA_ADMIN_PASSWORD}",
};

/** `limits` equal to `requests`: a chart default limit below what the spec requests would be rejected. */
function sized(requests: { cpu: string; memory: string }): {
  requests: { cpu: string; memory: string };
  limits: { cpu: string; memory: string };
} {
  return { requests, limits: { ...requests } };
}

function secretObject<S>(name: string, namespace: string, stringData: Record<string, S | string>): ManifestObject {
  return { apiVersion: "v1", kind: "Secret", metadata: { name, namespace }, type: "Opaque", stringData };
}

/** MinIO, PostgreSQL, MLflow, monitoring and KServe as Helm releases and manifests, with their network policies. */
export function mlopsWorkloads<S>(
  spec: Pick<ClusterSpec, "metadata" | "clusters" | "services">,
  plan: Pick<Plan, "stack" | "networks" | "gpus" | "vms">,
  storageClass: string,
  secrets: MlopsSecrets<S>,
): WorkloadItem[] {
  const placement = cpuPlacement(plan);
  const minio = serviceSettings(spec, "minio");
  const postgresql = serviceSettings(spec, "postgresql");
  const mlflow = serviceSettings(spec, "mlflow");
  const monitoring = serviceSettings(spec, "monitoring");
  const kserve = serviceSettings(spec, "kserve");
  const ingress = spec.clusters.cloud?.kubernetes_config.ingress === "nginx";
  const domain = plan.networks.find((n) => n.clusters.includes("cloud"))?.domain ?? `${spec.metadata.name}.internal`;
  const items: WorkloadItem[] = [];
  const mlopsNs = minio.enabled || postgresql.enabled || mlflow.enabled;
  if (mlopsNs) items.push(manifest("ns", { apiVersion: "v1", kind: "Namespace", metadata: { name: MLOPS_NAMESPACE } }));

  if (minio.enabled) {
    items.push(
      manifest(
        "minio-credentials",
        secretObject(MINIO_SECRET, MLOPS_NAMESPACE, {
          rootUser: secrets.minioRootUser,
          rootPassword: secrets.minioRootPassword,
        }),
        ["ns"],
      ),
    );
    items.push(
      manifest(
        "minio-mlflow-user",
        secretObject(MINIO_MLFLOW_SECRET, MLOPS_NAMESPACE, { secretKey: secrets.minioMlflowSecretKey }),
        ["ns"],
      ),
    );
    items.push(
      helm(
        "minio",
        "minio",
        "minio",
        MLOPS_NAMESPACE,
        {
          fullnameOverride: "minio",
          mode: "standalone",
          replicas: 1,
          existingSecret: MINIO_SECRET,
          // No default users: the chart's console/console123 is replaced by MLflow's own user.
          users: [
            {
              accessKey: MINIO_MLFLOW_USER,
              existingSecret: MINIO_MLFLOW_SECRET,
              existingSecretKey: "secretKey",
              policy: "readwrite",
            },
          ],
          persistence: { enabled: true, storageClass, size: `${minio.storageGiB}Gi` },
          resources: { requests: minio.requests },
          buckets: [{ name: MLFLOW_BUCKET, policy: "none", purge: false }],
          ...placement,
        },
        ["minio-credentials", "minio-mlflow-user"],
      ),
    );
  }

  if (postgresql.enabled) {
    const labels = { app: "postgresql" };
    items.push(
      manifest(
        "postgresql-credentials",
        secretObject(POSTGRES_SECRET, MLOPS_NAMESPACE, { "mlflow-password": secrets.postgresPassword }),
        ["ns"],
      ),
    );
    // Runs once, on an empty data directory (the image's entrypoint): MLflow's auth database.
    items.push(
      manifest(
        "postgresql-init",
        {
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: "postgresql-init", namespace: MLOPS_NAMESPACE },
          data: { "10-mlflow-auth.sql": `CREATE DATABASE ${MLFLOW_AUTH_DATABASE} OWNER mlflow;\n` },
        },
        ["ns"],
      ),
    );
    items.push(
      manifest(
        "postgresql-svc",
        {
          apiVersion: "v1",
          kind: "Service",
          metadata: { name: "postgresql", namespace: MLOPS_NAMESPACE },
          spec: { selector: labels, ports: [{ name: "postgres", port: 5432, targetPort: 5432 }] },
        },
        ["ns"],
      ),
    );
    items.push(
      manifest(
        "postgresql",
        {
          apiVersion: "apps/v1",
          kind: "StatefulSet",
          metadata: { name: "postgresql", namespace: MLOPS_NAMESPACE },
          spec: {
            serviceName: "postgresql",
            replicas: 1,
            selector: { matchLabels: labels },
            template: {
              metadata: { labels },
              spec: {
                ...placement,
                containers: [
                  {
                    name: "postgres",
                    image: IMAGES.postgres.image,
                    env: [
                      { name: "POSTGRES_USER", value: "mlflow" },
                      { name: "POSTGRES_DB", value: "mlflow" },
                      {
                        name: "POSTGRES_PASSWORD",
                        valueFrom: { secretKeyRef: { name: POSTGRES_SECRET, key: "mlflow-password" } },
                      },
                      { name: "PGDATA", value: "/var/lib/postgresql/data/pgdata" },
                    ],
                    ports: [{ containerPort: 5432, name: "postgres" }],
                    readinessProbe: {
                      exec: { command: ["pg_isready", "-U", "mlflow", "-d", "mlflow"] },
                      periodSeconds: 10,
                    },
                    resources: { requests: postgresql.requests },
                    volumeMounts: [
                      { name: "data", mountPath: "/var/lib/postgresql/data" },
                      { name: "init", mountPath: "/docker-entrypoint-initdb.d", readOnly: true },
                    ],
                  },
                ],
                volumes: [{ name: "init", configMap: { name: "postgresql-init" } }],
              },
            },
            volumeClaimTemplates: [
              {
                metadata: { name: "data" },
                spec: {
                  accessModes: ["ReadWriteOnce"],
                  storageClassName: storageClass,
                  resources: { requests: { storage: `${postgresql.storageGiB}Gi` } },
                },
              },
            ],
          },
        },
        ["postgresql-credentials", "postgresql-init"],
      ),
    );
  }

  if (mlflow.enabled) {
    const labels = { app: "mlflow" };
    items.push(
      manifest(
        "mlflow-admin",
        secretObject(MLFLOW_ADMIN_SECRET, MLOPS_NAMESPACE, {
          username: "admin",
          password: secrets.mlflowAdminPassword,
        }),
        ["ns"],
      ),
    );
    items.push(
      manifest(
        "mlflow",
        {
          apiVersion: "apps/v1",
          kind: "Deployment",
          metadata: { name: "mlflow", namespace: MLOPS_NAMESPACE },
          spec: {
            replicas: 1,
            selector: { matchLabels: labels },
            template: {
              metadata: { labels },
              spec: {
                ...placement,
                containers: [
                  {
                    name: "mlflow",
                    // Holds psycopg2 and boto3 already: nothing is installed at start (pods have no internet).
                    image: IMAGES.mlflow.image,
                    command: ["/bin/sh", "-c", mlflowStartScript(), "mlflow"],
                    args: mlflowServerArgs(),
                    env: [
                      {
                        name: "MLFLOW_DB_PASSWORD",
                        valueFrom: { secretKeyRef: { name: POSTGRES_SECRET, key: "mlflow-password" } },
                      },
                      {
                        name: "MLFLOW_ADMIN_USERNAME",
                        valueFrom: { secretKeyRef: { name: MLFLOW_ADMIN_SECRET, key: "username" } },
                      },
                      {
                        name: "MLFLOW_ADMIN_PASSWORD",
                        valueFrom: { secretKeyRef: { name: MLFLOW_ADMIN_SECRET, key: "password" } },
                      },
                      { name: "MLFLOW_AUTH_CONFIG_PATH", value: MLFLOW_AUTH_CONFIG },
                      { name: "MLFLOW_S3_ENDPOINT_URL", value: ADDRESSES.minio },
                      { name: "AWS_ACCESS_KEY_ID", value: MINIO_MLFLOW_USER },
                      {
                        name: "AWS_SECRET_ACCESS_KEY",
                        valueFrom: { secretKeyRef: { name: MINIO_MLFLOW_SECRET, key: "secretKey" } },
                      },
                    ],
                    ports: [{ containerPort: 5000, name: "http" }],
                    // /health answers without authentication.
                    readinessProbe: {
                      httpGet: { path: "/health", port: 5000 },
                      periodSeconds: 10,
                      initialDelaySeconds: 30,
                    },
                    resources: { requests: mlflow.requests },
                    volumeMounts: [{ name: "auth-config", mountPath: "/etc/mlflow-auth" }],
                  },
                ],
                volumes: [{ name: "auth-config", emptyDir: { medium: "Memory", sizeLimit: "1Mi" } }],
              },
            },
          },
        },
        ["mlflow-admin", ...(minio.enabled ? ["minio"] : []), ...(postgresql.enabled ? ["postgresql-svc"] : [])],
      ),
    );
    items.push(
      manifest(
        "mlflow-svc",
        {
          apiVersion: "v1",
          kind: "Service",
          metadata: { name: "mlflow", namespace: MLOPS_NAMESPACE },
          spec: { selector: labels, ports: [{ name: "http", port: 5000, targetPort: 5000 }] },
        },
        ["ns"],
      ),
    );
    if (ingress)
      items.push(
        manifest("mlflow-ingress", ingressObject("mlflow", MLOPS_NAMESPACE, `mlflow.${domain}`, "mlflow", 5000), [
          "mlflow-svc",
        ]),
      );
  }

  if (monitoring.enabled) {
    items.push(
      manifest("monitoring-ns", { apiVersion: "v1", kind: "Namespace", metadata: { name: MONITORING_NAMESPACE } }),
    );
    items.push(
      manifest(
        "grafana-admin",
        secretObject(GRAFANA_SECRET, MONITORING_NAMESPACE, {
          "admin-user": "admin",
          "admin-password": secrets.grafanaAdminPassword,
        }),
        ["monitoring-ns"],
      ),
    );
    items.push(
      manifest(
        "gpu-dashboard",
        {
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: "gpu-dashboard", namespace: MONITORING_NAMESPACE, labels: { grafana_dashboard: "1" } },
          data: { "gpus.json": JSON.stringify(gpuDashboard()) },
        },
        ["monitoring-ns"],
      ),
    );
    items.push(
      helm(
        "monitoring",
        "monitoring",
        "kubePrometheusStack",
        MONITORING_NAMESPACE,
        {
          fullnameOverride: "monitoring",
          prometheus: {
            prometheusSpec: {
              // Pick up every ServiceMonitor, including the GPU Operator's DCGM exporter.
              serviceMonitorSelectorNilUsesHelmValues: false,
              podMonitorSelectorNilUsesHelmValues: false,
              retention: "15d",
              resources: { requests: monitoring.requests },
              storageSpec: {
                volumeClaimTemplate: {
                  spec: {
                    storageClassName: storageClass,
                    accessModes: ["ReadWriteOnce"],
                    resources: { requests: { storage: `${monitoring.storageGiB}Gi` } },
                  },
                },
              },
              ...placement,
            },
          },
          grafana: {
            admin: { existingSecret: GRAFANA_SECRET, userKey: "admin-user", passwordKey: "admin-password" },
            sidecar: { dashboards: { enabled: true, label: "grafana_dashboard", searchNamespace: "ALL" } },
            resources: { requests: { cpu: "100m", memory: "256Mi" } },
            ...placement,
          },
          alertmanager: { alertmanagerSpec: { resources: { requests: { cpu: "50m", memory: "64Mi" } }, ...placement } },
          prometheusOperator: { resources: { requests: { cpu: "100m", memory: "128Mi" } }, ...placement },
          "kube-state-metrics": { resources: { requests: { cpu: "50m", memory: "64Mi" } }, ...placement },
          "prometheus-node-exporter": { resources: { requests: { cpu: "50m", memory: "32Mi" } } },
        },
        ["grafana-admin"],
      ),
    );
    if (ingress)
      items.push(
        manifest(
          "grafana-ingress",
          ingressObject("grafana", MONITORING_NAMESPACE, `grafana.${domain}`, "monitoring-grafana", 80),
          ["monitoring"],
        ),
      );
  }

  if (kserve.enabled) {
    items.push(
      helm(
        "cert-manager",
        "cert-manager",
        "certManager",
        "cert-manager",
        {
          crds: { enabled: true },
          resources: { requests: { cpu: "50m", memory: "64Mi" } },
          webhook: { resources: { requests: { cpu: "20m", memory: "32Mi" } }, ...placement },
          cainjector: { resources: { requests: { cpu: "20m", memory: "64Mi" } }, ...placement },
          ...placement,
        },
        [],
        true,
      ),
    );
    items.push(helm("kserve-crd", "kserve-crd", "kserveCrd", KSERVE_NAMESPACE, {}, ["cert-manager"], true));
    items.push(
      helm(
        "kserve",
        "kserve",
        "kserve",
        KSERVE_NAMESPACE,
        {
          // RawDeployment: plain Deployments behind the nginx ingress, no Knative or Istio needed.
          kserve: {
            controller: {
              deploymentMode: "RawDeployment",
              gateway: { ingressGateway: { className: "nginx" } },
              resources: sized(kserve.requests),
              ...placement,
            },
          },
        },
        ["kserve-crd"],
      ),
    );
  }

  const enabled = {
    mlflow: mlflow.enabled,
    postgresql: postgresql.enabled,
    minio: minio.enabled,
    monitoring: monitoring.enabled,
  };
  for (const policy of mlopsNetworkPolicies(spec, plan, enabled))
    items.push(
      manifest(`netpol-${policy.metadata.namespace}-${policy.metadata.name}`, policy, [
        policy.metadata.namespace === MLOPS_NAMESPACE ? "ns" : "monitoring-ns",
      ]),
    );
  return items;
}

function ingressObject(
  name: string,
  namespace: string,
  host: string,
  service: string,
  port: number,
): IIngress & { metadata: { name: string } } {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata: { name, namespace },
    spec: {
      ingressClassName: "nginx",
      rules: [
        {
          host,
          http: {
            paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: service, port: { number: port } } } }],
          },
        },
      ],
    },
  };
}

export const MINIO_SECRET = "minio-credentials";
export const MINIO_MLFLOW_SECRET = "minio-mlflow-user";
export const POSTGRES_SECRET = "postgresql-credentials";
export const MLFLOW_ADMIN_SECRET = "mlflow-admin";
export const GRAFANA_SECRET = "grafana-admin";

/** A Grafana dashboard of DCGM metrics, one series per GPU or MIG instance (GPU_I_PROFILE/GPU_I_ID). */
export function gpuDashboard(): Record<string, unknown> {
  const panel = (id: number, title: string, expr: string, unit: string, y: number) => ({
    id,
    title,
    type: "timeseries",
    datasource: { type: "prometheus", uid: "prometheus" },
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
      panel(
        1,
        "GPU / MIG utilisation",
        "avg by (Hostname, gpu, GPU_I_PROFILE, GPU_I_ID) (DCGM_FI_PROF_GR_ENGINE_ACTIVE or DCGM_FI_DEV_GPU_UTIL / 100)",
        "percentunit",
        0,
      ),
      panel(
        2,
        "Framebuffer used",
        "sum by (Hostname, gpu, GPU_I_PROFILE, GPU_I_ID) (DCGM_FI_DEV_FB_USED)",
        "decmbytes",
        8,
      ),
      panel(3, "Power", "sum by (Hostname, gpu) (DCGM_FI_DEV_POWER_USAGE)", "watt", 16),
    ],
  };
}
