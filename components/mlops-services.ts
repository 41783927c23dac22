// MlopsServices: MinIO (bucket for MLflow artifacts), PostgreSQL (MLflow's database), the MLflow tracking
// server behind its basic-auth app, Prometheus + Grafana scraping the DCGM exporter with a GPU dashboard,
// KServe, and default-deny NetworkPolicies with the flows they need. What is deployed is
// src/render/mlops.ts#mlopsWorkloads (render writes the same); this component only makes the secrets.
import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import {
  ADDRESSES,
  GRAFANA_SECRET,
  MINIO_SECRET,
  MLFLOW_ADMIN_SECRET,
  MLOPS_NAMESPACE,
  mlopsWorkloads,
  MONITORING_NAMESPACE,
  POSTGRES_SECRET,
  serviceSettings,
  type MlopsSecrets,
} from "../src/render/mlops";
import type { PlanLayout } from "../src/render/layers";
import type { ClusterSpec } from "../src/spec/types";
import { refuseArgs } from "./args-error";
import { deployWorkloads } from "./kubernetes-workloads";

export interface MlopsServicesArgs {
  /** The spec's cluster name, `clusters.cloud` and `services` (which services run, their sizes). */
  readonly spec: Pick<ClusterSpec, "metadata" | "clusters" | "services">;
  /** The plan's layout: CPU workers the services are placed on, the cloud network's DNS domain. */
  readonly plan: PlanLayout;
  /** The storage class of the services' volumes, e.g. KubernetesAddons' `storageClass` (local-path). */
  readonly storageClass: string;
}

function validate(name: string, args: MlopsServicesArgs): void {
  refuseArgs("MlopsServices", name, [
    !args.spec.clusters.cloud && {
      problem: "the spec has no clusters.cloud",
      found: undefined,
      expected: "a Kubernetes cluster spec",
      fix: "add clusters.cloud to the spec, or leave the services out",
    },
    !args.storageClass.trim() && {
      problem: "storageClass is empty",
      found: args.storageClass,
      expected: "a storage class name",
      fix: "pass KubernetesAddons' storageClass (local-path) or the name of one the cluster has",
    },
  ]);
}

export interface ServiceEndpoint {
  readonly url: string;
  readonly credentials: string | null;
}

export class MlopsServices extends pulumi.ComponentResource {
  readonly endpoints: Record<string, ServiceEndpoint> = {};

  constructor(
    name: string,
    args: MlopsServicesArgs,
    opts: pulumi.ComponentResourceOptions & { provider: k8s.Provider },
  ) {
    validate(name, args);
    super("hyperscaler:index:MlopsServices", name, {}, opts);
    const { spec, plan } = args;
    const password = (id: string): pulumi.Output<string> =>
      new random.RandomPassword(`${name}-${id}`, { length: 32, special: false }, { parent: this }).result;
    const enabled = (service: Parameters<typeof serviceSettings>[1]): boolean => serviceSettings(spec, service).enabled;
    const none = pulumi.secret("");
    // Only the services switched on get credentials.
    const secrets: MlopsSecrets<pulumi.Output<string>> = {
      minioRootUser: enabled("minio")
        ? pulumi.secret(
            new random.RandomString(
              `${name}-minio-user`,
              { length: 16, special: false, upper: false },
              { parent: this },
            ).result,
          )
        : none,
      minioRootPassword: enabled("minio") ? password("minio-password") : none,
      minioMlflowSecretKey: enabled("minio") ? password("minio-mlflow-password") : none,
      postgresPassword: enabled("postgresql") ? password("postgresql-password") : none,
      mlflowAdminPassword: enabled("mlflow") ? password("mlflow-admin-password") : none,
      grafanaAdminPassword: enabled("monitoring") ? password("grafana-password") : none,
    };
    deployWorkloads(name, mlopsWorkloads(spec, plan, args.storageClass, secrets), {
      parent: this,
      provider: opts.provider,
    });
    const where = (namespace: string, secret: string, keys: string): string =>
      `kubectl -n ${namespace} get secret ${secret} (${keys})`;
    if (enabled("minio"))
      this.endpoints.minio = {
        url: ADDRESSES.minio,
        credentials: where(MLOPS_NAMESPACE, MINIO_SECRET, "rootUser, rootPassword"),
      };
    if (enabled("postgresql"))
      this.endpoints.postgresql = {
        url: `postgresql://${ADDRESSES.postgresHost}:5432/mlflow`,
        credentials: where(MLOPS_NAMESPACE, POSTGRES_SECRET, "mlflow-password"),
      };
    if (enabled("mlflow"))
      this.endpoints.mlflow = {
        url: ADDRESSES.mlflow,
        credentials: where(MLOPS_NAMESPACE, MLFLOW_ADMIN_SECRET, "username, password"),
      };
    if (enabled("monitoring")) {
      this.endpoints.prometheus = { url: ADDRESSES.prometheus, credentials: null };
      this.endpoints.grafana = {
        url: ADDRESSES.grafana,
        credentials: where(MONITORING_NAMESPACE, GRAFANA_SECRET, "admin-user, admin-password"),
      };
    }
    if (enabled("kserve"))
      this.endpoints.kserve = { url: "InferenceServices in any namespace (kubectl get isvc -A)", credentials: null };
    this.registerOutputs({ endpoints: this.endpoints });
  }
}
