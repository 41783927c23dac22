// MlopsServices: MinIO (bucket for MLflow artifacts), PostgreSQL (MLflow's database), the MLflow tracking
// server, Prometheus + Grafana scraping the DCGM exporter with a GPU dashboard, and KServe. Each switchable
// and sized in cluster.yaml; passwords generated as Pulumi secrets and handed over as Kubernetes Secrets.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { Plan } from "../src/plan/types";
import {
  ADDRESSES, cpuPlacement, gpuDashboard, KSERVE_NAMESPACE, MLFLOW_BUCKET, MLOPS_NAMESPACE, mlflowServerArgs, MONITORING_NAMESPACE, serviceSettings,
} from "../src/render/mlops";
import type { ClusterSpec } from "../src/spec/types";

export const MLOPS_CHARTS = {
  minio: { chart: "minio", version: "5.3.0", repo: "https://charts.min.io/" },
  kubePrometheusStack: { chart: "kube-prometheus-stack", version: "65.1.1", repo: "https://prometheus-community.github.io/helm-charts" },
  certManager: { chart: "cert-manager", version: "v1.16.1", repo: "https://charts.jetstack.io" },
  kserveCrd: { chart: "oci://ghcr.io/kserve/charts/kserve-crd", version: "v0.14.0" },
  kserve: { chart: "oci://ghcr.io/kserve/charts/kserve", version: "v0.14.0" },
} as const;

export const IMAGES = {
  postgres: "postgres:16.4",
  mlflow: "ghcr.io/mlflow/mlflow:v2.16.2",
} as const;

export interface MlopsServicesArgs {
  readonly spec: ClusterSpec;
  readonly plan: Plan;
  readonly storageClass: string;
}

export interface ServiceEndpoint {
  readonly url: string;
  readonly credentials: string | null;
}

const password = (name: string, parent: pulumi.Resource) => new random.RandomPassword(name, { length: 32, special: false }, { parent });

export class MlopsServices extends pulumi.ComponentResource {
  readonly endpoints: Record<string, ServiceEndpoint> = {};

  constructor(name: string, args: MlopsServicesArgs, opts: pulumi.ComponentResourceOptions & { provider: k8s.Provider }) {
    super("hyperscaler:index:MlopsServices", name, {}, opts);
    const { spec, plan } = args;
    const child = { parent: this, provider: opts.provider };
    const placement = cpuPlacement(plan);
    const minio = serviceSettings(spec, "minio");
    const postgresql = serviceSettings(spec, "postgresql");
    const mlflow = serviceSettings(spec, "mlflow");
    const monitoring = serviceSettings(spec, "monitoring");
    const kserve = serviceSettings(spec, "kserve");

    const mlops = minio.enabled || postgresql.enabled || mlflow.enabled ? new k8s.core.v1.Namespace(`${name}-ns`, { metadata: { name: MLOPS_NAMESPACE } }, child) : undefined;
    const inMlops = mlops ? { ...child, dependsOn: [mlops] } : child;

    let minioRelease: k8s.helm.v3.Release | undefined;
    if (minio.enabled) {
      const user = new random.RandomString(`${name}-minio-user`, { length: 16, special: false, upper: false }, { parent: this });
      const secret = new k8s.core.v1.Secret(`${name}-minio-credentials`, {
        metadata: { name: "minio-credentials", namespace: MLOPS_NAMESPACE },
        stringData: { rootUser: user.result, rootPassword: password(`${name}-minio-password`, this).result },
      }, inMlops);
      minioRelease = new k8s.helm.v3.Release(`${name}-minio`, {
        chart: MLOPS_CHARTS.minio.chart, version: MLOPS_CHARTS.minio.version, repositoryOpts: { repo: MLOPS_CHARTS.minio.repo },
        namespace: MLOPS_NAMESPACE,
        values: {
          fullnameOverride: "minio", mode: "standalone", replicas: 1,
          existingSecret: "minio-credentials",
          persistence: { enabled: true, storageClass: args.storageClass, size: `${minio.storageGiB}Gi` },
          resources: { requests: minio.requests },
          buckets: [{ name: MLFLOW_BUCKET, policy: "none", purge: false }],
          ...placement,
        },
      }, { ...inMlops, dependsOn: [secret] });
      this.endpoints.minio = { url: ADDRESSES.minio, credentials: `kubectl -n ${MLOPS_NAMESPACE} get secret minio-credentials (rootUser, rootPassword)` };
    }

    let postgresService: k8s.core.v1.Service | undefined;
    if (postgresql.enabled) {
      const secret = new k8s.core.v1.Secret(`${name}-postgresql-credentials`, {
        metadata: { name: "postgresql-credentials", namespace: MLOPS_NAMESPACE },
        stringData: { "mlflow-password": password(`${name}-postgresql-password`, this).result },
      }, inMlops);
      const labels = { app: "postgresql" };
      postgresService = new k8s.core.v1.Service(`${name}-postgresql-svc`, {
        metadata: { name: "postgresql", namespace: MLOPS_NAMESPACE },
        spec: { selector: labels, ports: [{ name: "postgres", port: 5432, targetPort: 5432 }] },
      }, inMlops);
      new k8s.apps.v1.StatefulSet(`${name}-postgresql`, {
        metadata: { name: "postgresql", namespace: MLOPS_NAMESPACE },
        spec: {
          serviceName: "postgresql",
          replicas: 1,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              ...placement,
              containers: [{
                name: "postgres",
                image: IMAGES.postgres,
                env: [
                  { name: "POSTGRES_USER", value: "mlflow" },
                  { name: "POSTGRES_DB", value: "mlflow" },
                  { name: "POSTGRES_PASSWORD", valueFrom: { secretKeyRef: { name: "postgresql-credentials", key: "mlflow-password" } } },
                  { name: "PGDATA", value: "/var/lib/postgresql/data/pgdata" },
                ],
                ports: [{ containerPort: 5432, name: "postgres" }],
                readinessProbe: { exec: { command: ["pg_isready", "-U", "mlflow", "-d", "mlflow"] }, periodSeconds: 10 },
                resources: { requests: postgresql.requests },
                volumeMounts: [{ name: "data", mountPath: "/var/lib/postgresql/data" }],
              }],
            },
          },
          volumeClaimTemplates: [{ metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], storageClassName: args.storageClass, resources: { requests: { storage: `${postgresql.storageGiB}Gi` } } } }],
        },
      }, { ...inMlops, dependsOn: [secret] });
      this.endpoints.postgresql = { url: `postgresql://${ADDRESSES.postgresHost}:5432/mlflow`, credentials: `kubectl -n ${MLOPS_NAMESPACE} get secret postgresql-credentials (mlflow-password)` };
    }

    if (mlflow.enabled) {
      const labels = { app: "mlflow" };
      new k8s.apps.v1.Deployment(`${name}-mlflow`, {
        metadata: { name: "mlflow", namespace: MLOPS_NAMESPACE },
        spec: {
          replicas: 1,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              ...placement,
              containers: [{
                name: "mlflow",
                image: IMAGES.mlflow,
                // The official image has neither the PostgreSQL driver nor boto3.
                command: ["sh", "-c", "pip install --no-cache-dir psycopg2-binary==2.9.9 boto3==1.35.36 && exec mlflow \"$@\"", "mlflow"],
                args: mlflowServerArgs(),
                env: [
                  { name: "MLFLOW_DB_PASSWORD", valueFrom: { secretKeyRef: { name: "postgresql-credentials", key: "mlflow-password" } } },
                  { name: "MLFLOW_S3_ENDPOINT_URL", value: ADDRESSES.minio },
                  { name: "AWS_ACCESS_KEY_ID", valueFrom: { secretKeyRef: { name: "minio-credentials", key: "rootUser" } } },
                  { name: "AWS_SECRET_ACCESS_KEY", valueFrom: { secretKeyRef: { name: "minio-credentials", key: "rootPassword" } } },
                ],
                ports: [{ containerPort: 5000, name: "http" }],
                readinessProbe: { httpGet: { path: "/health", port: 5000 }, periodSeconds: 10, initialDelaySeconds: 30 },
                resources: { requests: mlflow.requests },
              }],
            },
          },
        },
      }, { ...inMlops, dependsOn: [...(minioRelease ? [minioRelease] : []), ...(postgresService ? [postgresService] : [])] });
      new k8s.core.v1.Service(`${name}-mlflow-svc`, { metadata: { name: "mlflow", namespace: MLOPS_NAMESPACE }, spec: { selector: labels, ports: [{ name: "http", port: 5000, targetPort: 5000 }] } }, inMlops);
      this.endpoints.mlflow = { url: ADDRESSES.mlflow, credentials: null };
    }

    if (monitoring.enabled) {
      const ns = new k8s.core.v1.Namespace(`${name}-monitoring-ns`, { metadata: { name: MONITORING_NAMESPACE } }, child);
      const inMonitoring = { ...child, dependsOn: [ns] };
      const grafanaSecret = new k8s.core.v1.Secret(`${name}-grafana-admin`, {
        metadata: { name: "grafana-admin", namespace: MONITORING_NAMESPACE },
        stringData: { "admin-user": "admin", "admin-password": password(`${name}-grafana-password`, this).result },
      }, inMonitoring);
      new k8s.core.v1.ConfigMap(`${name}-gpu-dashboard`, {
        metadata: { name: "gpu-dashboard", namespace: MONITORING_NAMESPACE, labels: { grafana_dashboard: "1" } },
        data: { "gpus.json": JSON.stringify(gpuDashboard()) },
      }, inMonitoring);
      new k8s.helm.v3.Release(`${name}-monitoring`, {
        chart: MLOPS_CHARTS.kubePrometheusStack.chart, version: MLOPS_CHARTS.kubePrometheusStack.version, repositoryOpts: { repo: MLOPS_CHARTS.kubePrometheusStack.repo },
        name: "monitoring",
        namespace: MONITORING_NAMESPACE,
        values: {
          fullnameOverride: "monitoring",
          prometheus: { prometheusSpec: {
            // Pick up every ServiceMonitor, including the GPU Operator's DCGM exporter.
            serviceMonitorSelectorNilUsesHelmValues: false,
            podMonitorSelectorNilUsesHelmValues: false,
            retention: "15d",
            resources: { requests: monitoring.requests },
            storageSpec: { volumeClaimTemplate: { spec: { storageClassName: args.storageClass, accessModes: ["ReadWriteOnce"], resources: { requests: { storage: `${monitoring.storageGiB}Gi` } } } } },
            ...placement,
          } },
          grafana: {
            admin: { existingSecret: "grafana-admin", userKey: "admin-user", passwordKey: "admin-password" },
            sidecar: { dashboards: { enabled: true, label: "grafana_dashboard", searchNamespace: "ALL" } },
            resources: { requests: { cpu: "100m", memory: "256Mi" } },
            ...placement,
          },
          alertmanager: { alertmanagerSpec: { resources: { requests: { cpu: "50m", memory: "64Mi" } }, ...placement } },
          prometheusOperator: { resources: { requests: { cpu: "100m", memory: "128Mi" } }, ...placement },
          "kube-state-metrics": { resources: { requests: { cpu: "50m", memory: "64Mi" } }, ...placement },
          "prometheus-node-exporter": { resources: { requests: { cpu: "50m", memory: "32Mi" } } },
        },
      }, { ...inMonitoring, dependsOn: [grafanaSecret] });
      this.endpoints.prometheus = { url: ADDRESSES.prometheus, credentials: null };
      this.endpoints.grafana = { url: ADDRESSES.grafana, credentials: `kubectl -n ${MONITORING_NAMESPACE} get secret grafana-admin (admin-user, admin-password)` };
    }

    if (kserve.enabled) {
      const certManager = new k8s.helm.v3.Release(`${name}-cert-manager`, {
        chart: MLOPS_CHARTS.certManager.chart, version: MLOPS_CHARTS.certManager.version, repositoryOpts: { repo: MLOPS_CHARTS.certManager.repo },
        namespace: "cert-manager", createNamespace: true,
        values: { crds: { enabled: true }, resources: { requests: { cpu: "50m", memory: "64Mi" } }, webhook: { resources: { requests: { cpu: "20m", memory: "32Mi" } }, ...placement }, cainjector: { resources: { requests: { cpu: "20m", memory: "64Mi" } }, ...placement }, ...placement },
      }, child);
      const crds = new k8s.helm.v3.Release(`${name}-kserve-crd`, { chart: MLOPS_CHARTS.kserveCrd.chart, version: MLOPS_CHARTS.kserveCrd.version, namespace: KSERVE_NAMESPACE, createNamespace: true }, { ...child, dependsOn: [certManager] });
      new k8s.helm.v3.Release(`${name}-kserve`, {
        chart: MLOPS_CHARTS.kserve.chart, version: MLOPS_CHARTS.kserve.version, namespace: KSERVE_NAMESPACE,
        // RawDeployment: plain Deployments behind the nginx ingress, no Knative or Istio needed.
        values: { kserve: { controller: { deploymentMode: "RawDeployment", gateway: { ingressGateway: { className: "nginx" } }, resources: { requests: kserve.requests }, ...placement } } },
      }, { ...child, dependsOn: [crds] });
      this.endpoints.kserve = { url: `InferenceServices in any namespace (kubectl get isvc -A)`, credentials: null };
    }
    this.registerOutputs({ endpoints: this.endpoints });
  }
}
