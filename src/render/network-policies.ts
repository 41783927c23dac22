// NetworkPolicies of the MLOps namespaces (enforced by Calico): everything denied, then exactly the flows
// the services need. Pure; `mlopsWorkloads` deploys them and the tests evaluate them flow by flow.
import type { Plan } from "../plan/types";
import type { ClusterSpec } from "../spec/types";
import { controlPlaneOf, API_SERVER_PORT } from "./kubernetes";

const MLOPS = "mlops";
const MONITORING = "monitoring";

type Selector = Record<string, string>;
type Port = { protocol: "TCP" | "UDP"; port: number };
type Peer = {
  podSelector?: { matchLabels?: Selector };
  namespaceSelector?: { matchLabels?: Selector };
  ipBlock?: { cidr: string };
};

export type NetworkPolicy = {
  readonly apiVersion: "networking.k8s.io/v1";
  readonly kind: "NetworkPolicy";
  readonly metadata: { readonly name: string; readonly namespace: string };
  readonly spec: {
    readonly podSelector: { matchLabels?: Selector };
    readonly policyTypes: ("Ingress" | "Egress")[];
    readonly ingress?: { from?: Peer[]; ports?: Port[] }[];
    readonly egress?: { to?: Peer[]; ports?: Port[] }[];
  };
};

const tcp = (...ports: number[]): Port[] => ports.map((port) => ({ protocol: "TCP", port }));
const namespaced = (name: string): { namespaceSelector: { matchLabels: Selector } } => ({
  namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": name } },
});
const pods = (labels: Selector): { podSelector: { matchLabels: Selector } } => ({
  podSelector: { matchLabels: labels },
});

function policy(
  namespace: string,
  name: string,
  podSelector: Selector | null,
  rules: { ingress?: NetworkPolicy["spec"]["ingress"]; egress?: NetworkPolicy["spec"]["egress"] },
): NetworkPolicy {
  const policyTypes: ("Ingress" | "Egress")[] = [];
  if (rules.ingress) policyTypes.push("Ingress");
  if (rules.egress) policyTypes.push("Egress");
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name, namespace },
    spec: {
      podSelector: podSelector ? { matchLabels: podSelector } : {},
      policyTypes,
      ...(rules.ingress ? { ingress: rules.ingress } : {}),
      ...(rules.egress ? { egress: rules.egress } : {}),
    },
  };
}

/** Pod labels of the workloads the policies name (charts label their pods this way at the pinned versions). */
export const POD_LABELS = {
  mlflow: { app: "mlflow" },
  postgresql: { app: "postgresql" },
  minio: { app: "minio", release: "minio" },
  minioJobs: { app: "minio-job", release: "minio" },
  prometheus: { "app.kubernetes.io/name": "prometheus" },
  grafana: { "app.kubernetes.io/name": "grafana" },
  prometheusOperator: { app: "kube-prometheus-stack-operator" },
  kubeDns: { "k8s-app": "kube-dns" },
} as const;

/**
 * Ports Prometheus scrapes outside its namespace: node-exporter, kubelet, API server, control-plane components,
 * kube-proxy; DCGM exporter and CoreDNS pods.
 */
export const SCRAPE_NODE_PORTS = [9100, 10250, API_SERVER_PORT, 10257, 10259, 2381, 10249];
export const SCRAPE_POD_PORTS = [9400, 9153];

/** Policies for the namespaces in use; a service's own policy only when the service is switched on. */
export function mlopsNetworkPolicies(
  spec: Pick<ClusterSpec, "metadata" | "clusters" | "services">,
  plan: Pick<Plan, "stack" | "networks" | "gpus" | "vms">,
  enabled: {
    readonly mlflow: boolean;
    readonly postgresql: boolean;
    readonly minio: boolean;
    readonly monitoring: boolean;
  },
): NetworkPolicy[] {
  const namespaces = [
    ...(enabled.mlflow || enabled.postgresql || enabled.minio ? [MLOPS] : []),
    ...(enabled.monitoring ? [MONITORING] : []),
  ];
  const nodes = plan.networks.find((n) => n.clusters.includes("cloud"));
  const nodeCidr = nodes ? `${nodes.subnet}/${nodes.prefix}` : null;
  const apiServer = { to: [{ ipBlock: { cidr: `${controlPlaneOf(plan).ip}/32` } }], ports: tcp(API_SERVER_PORT) };
  const dns = {
    to: [{ ...namespaced("kube-system"), ...pods(POD_LABELS.kubeDns) }],
    ports: [{ protocol: "UDP" as const, port: 53 }, ...tcp(53)],
  };
  const fromIngressController =
    spec.clusters.cloud?.kubernetes_config.ingress === "nginx" ? [namespaced("ingress-nginx")] : [];
  const out: NetworkPolicy[] = [];
  for (const namespace of namespaces) {
    out.push(policy(namespace, "default-deny", null, { ingress: [], egress: [] }));
    out.push(policy(namespace, "allow-dns", null, { egress: [dns] }));
  }
  if (enabled.mlflow) {
    // MLflow: its tracking API for clients anywhere in the cluster (it authenticates them), its stores.
    out.push(
      policy(MLOPS, "mlflow", POD_LABELS.mlflow, {
        ingress: [{ from: [{ namespaceSelector: {} }], ports: tcp(5000) }],
        egress: [
          { to: [pods(POD_LABELS.postgresql)], ports: tcp(5432) },
          { to: [pods(POD_LABELS.minio)], ports: tcp(9000) },
        ],
      }),
    );
  }
  if (enabled.postgresql)
    out.push(
      policy(MLOPS, "postgresql", POD_LABELS.postgresql, {
        ingress: [{ from: [pods(POD_LABELS.mlflow)], ports: tcp(5432) }],
      }),
    );
  if (enabled.minio) {
    out.push(
      // MinIO: MLflow's artifact traffic and the chart's bucket/user jobs.
      policy(MLOPS, "minio", POD_LABELS.minio, {
        ingress: [{ from: [pods(POD_LABELS.mlflow), pods(POD_LABELS.minioJobs)], ports: tcp(9000) }],
      }),
      policy(MLOPS, "minio-jobs", POD_LABELS.minioJobs, {
        egress: [{ to: [pods(POD_LABELS.minio)], ports: tcp(9000) }],
      }),
    );
  }
  if (enabled.monitoring) {
    out.push(
      // The stack's own parts talk to each other (Grafana -> Prometheus, Prometheus -> Alertmanager, scrapes).
      policy(MONITORING, "within-namespace", null, {
        ingress: [{ from: [{ podSelector: {} }] }],
        egress: [{ to: [{ podSelector: {} }] }],
      }),
      // The operator, kube-state-metrics, Prometheus' discovery and Grafana's dashboard sidecar read the API.
      policy(MONITORING, "api-server", null, { egress: [apiServer] }),
      policy(MONITORING, "prometheus-scrape", POD_LABELS.prometheus, {
        egress: [
          ...(nodeCidr ? [{ to: [{ ipBlock: { cidr: nodeCidr } }], ports: tcp(...SCRAPE_NODE_PORTS) }] : []),
          { to: [{ namespaceSelector: {} }], ports: tcp(...SCRAPE_POD_PORTS) },
        ],
      }),
      // The API server calls the operator's admission webhook from the control plane's node or tunnel address.
      policy(MONITORING, "operator-webhook", POD_LABELS.prometheusOperator, { ingress: [{ ports: tcp(10250) }] }),
      ...(fromIngressController.length
        ? [
            policy(MONITORING, "grafana-ingress", POD_LABELS.grafana, {
              ingress: [{ from: fromIngressController, ports: tcp(3000) }],
            }),
          ]
        : []),
    );
  }
  return out;
}
