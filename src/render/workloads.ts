// What the stack deploys into Kubernetes, as data: every Helm release (chart, version, values) and every
// raw manifest, in dependency order. `hyperscaler render` writes exactly this and the components create
// exactly this (components/kubernetes-workloads.ts), so the two cannot differ. Pure: secrets come in as
// values of type S (placeholders for render, Pulumi outputs in the stack) and only appear in Secrets.
import { stringify } from "yaml";
import type { IDeployment, IStatefulSet } from "kubernetes-models/apps/v1";
import type {
  IClusterRole,
  IClusterRoleBinding,
  IRole,
  IRoleBinding,
} from "kubernetes-models/rbac.authorization.k8s.io/v1";
import type { IIngress, INetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import type { IStorageClass } from "kubernetes-models/storage.k8s.io/v1";
import type { IConfigMap, INamespace, IService, IServiceAccount } from "kubernetes-models/v1";
import type { Plan } from "../plan/types";
import type { ClusterSpec } from "../spec/types";
import { GPU_OPERATOR_NAMESPACE, gpuOperatorValues, MIG_PARTED_CONFIGMAP, migManagerConfig } from "./kubernetes";
import { mlopsWorkloads, type MlopsSecrets } from "./mlops";
import { CHARTS, IMAGES, type ChartKey } from "../facts/versions";
import { computeLabel } from "../facts/node-labels";

/** A Kubernetes object as plain data (secret values of type S only inside Secret `stringData`). */
export type KubeObject = {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string } & Record<string, unknown>;
} & Record<string, unknown>;

/**
 * The kinds the stack creates, typed by kubernetes-models (generated from the Kubernetes OpenAPI), so a
 * misspelt or misplaced field is a compile error; the tests also validate every object at run time.
 */
type TypedObject =
  | INamespace
  | IServiceAccount
  | IConfigMap
  | IService
  | IDeployment
  | IStatefulSet
  | IRole
  | IRoleBinding
  | IClusterRole
  | IClusterRoleBinding
  | IStorageClass
  | INetworkPolicy
  | IIngress;
/** Secrets stay untyped in their values: they carry S (a placeholder or a Pulumi output). */
type SecretObject = {
  apiVersion: "v1";
  kind: "Secret";
  metadata: { name: string; namespace: string };
  type: "Opaque";
  stringData: Record<string, unknown>;
};
export type ManifestObject = (TypedObject | SecretObject) & { metadata: { name: string; namespace?: string } };

export interface HelmReleaseItem {
  readonly type: "helm";
  /** Stable id: the Pulumi resource is `<component>-<id>`. */
  readonly id: string;
  /** The Helm release name (`helm list`). */
  readonly release: string;
  readonly chart: ChartKey;
  readonly namespace: string;
  readonly createNamespace: boolean;
  readonly values: Record<string, unknown>;
  readonly dependsOn: readonly string[];
}

export interface ManifestItem {
  readonly type: "manifest";
  readonly id: string;
  readonly object: KubeObject;
  readonly dependsOn: readonly string[];
}

export type WorkloadItem = HelmReleaseItem | ManifestItem;

export const LOCAL_PATH_NAMESPACE = "local-path-storage";
export const LOCAL_PATH_STORAGE_CLASS = "local-path";

export function helm(
  id: string,
  release: string,
  chart: ChartKey,
  namespace: string,
  values: Record<string, unknown>,
  dependsOn: readonly string[] = [],
  createNamespace = false,
): HelmReleaseItem {
  return { type: "helm", id, release, chart, namespace, createNamespace, values, dependsOn };
}

export function manifest(id: string, object: ManifestObject, dependsOn: readonly string[] = []): ManifestItem {
  return { type: "manifest", id, object: object as unknown as KubeObject, dependsOn };
}

/**
 * Rancher's local-path provisioner v0.0.30, as upstream's deploy/local-path-storage.yaml: the provisioner
 * creates helper pods in its own namespace to make and remove volume directories, which needs the
 * namespaced Role on pods (without it every PVC stays Pending).
 */
export function localPathObjects(after: readonly string[]): ManifestItem[] {
  const namespace = LOCAL_PATH_NAMESPACE;
  const serviceAccount = "local-path-provisioner-service-account";
  const ns = "local-path-ns";
  return [
    manifest(ns, { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } }, after),
    manifest(
      "local-path-sa",
      { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: serviceAccount, namespace } },
      [ns],
    ),
    manifest(
      "local-path-helper-role",
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "Role",
        metadata: { name: "local-path-provisioner-role", namespace },
        rules: [
          {
            apiGroups: [""],
            resources: ["pods"],
            verbs: ["get", "list", "watch", "create", "patch", "update", "delete"],
          },
        ],
      },
      [ns],
    ),
    manifest(
      "local-path-helper-binding",
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: { name: "local-path-provisioner-bind", namespace },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "local-path-provisioner-role" },
        subjects: [{ kind: "ServiceAccount", name: serviceAccount, namespace }],
      },
      ["local-path-helper-role", "local-path-sa"],
    ),
    manifest(
      "local-path-role",
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRole",
        metadata: { name: "local-path-provisioner-role" },
        rules: [
          {
            apiGroups: [""],
            resources: ["nodes", "persistentvolumeclaims", "configmaps", "pods", "pods/log"],
            verbs: ["get", "list", "watch"],
          },
          {
            apiGroups: [""],
            resources: ["persistentvolumes"],
            verbs: ["get", "list", "watch", "create", "patch", "update", "delete"],
          },
          { apiGroups: [""], resources: ["events"], verbs: ["create", "patch"] },
          { apiGroups: ["storage.k8s.io"], resources: ["storageclasses"], verbs: ["get", "list", "watch"] },
        ],
      },
      after,
    ),
    manifest(
      "local-path-binding",
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRoleBinding",
        metadata: { name: "local-path-provisioner-bind" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "local-path-provisioner-role" },
        subjects: [{ kind: "ServiceAccount", name: serviceAccount, namespace }],
      },
      ["local-path-role", "local-path-sa"],
    ),
    manifest(
      "local-path-config",
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "local-path-config", namespace },
        data: {
          "config.json": JSON.stringify({
            nodePathMap: [{ node: "DEFAULT_PATH_FOR_NON_LISTED_NODES", paths: ["/opt/local-path-provisioner"] }],
          }),
          setup: '#!/bin/sh\nset -eu\nmkdir -m 0777 -p "$VOL_DIR"\n',
          teardown: '#!/bin/sh\nset -eu\nrm -rf "$VOL_DIR"\n',
          "helperPod.yaml": [
            "apiVersion: v1",
            "kind: Pod",
            "metadata:",
            "  name: helper-pod",
            "spec:",
            "  priorityClassName: system-node-critical",
            "  tolerations:",
            "    - key: node.kubernetes.io/disk-pressure",
            "      operator: Exists",
            "      effect: NoSchedule",
            "  containers:",
            "  - name: helper-pod",
            `    image: ${IMAGES.localPathHelper.image}`,
            "    imagePullPolicy: IfNotPresent",
            "",
          ].join("\n"),
        },
      },
      [ns],
    ),
    manifest(
      "local-path-provisioner",
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "local-path-provisioner", namespace },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: "local-path-provisioner" } },
          template: {
            metadata: { labels: { app: "local-path-provisioner" } },
            spec: {
              serviceAccountName: serviceAccount,
              nodeSelector: computeLabel("cpu"),
              containers: [
                {
                  name: "local-path-provisioner",
                  image: IMAGES.localPathProvisioner.image,
                  imagePullPolicy: "IfNotPresent",
                  command: ["local-path-provisioner", "--debug", "start", "--config", "/etc/config/config.json"],
                  env: [
                    { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
                    { name: "CONFIG_MOUNT_PATH", value: "/etc/config/" },
                  ],
                  resources: { requests: { cpu: "50m", memory: "64Mi" } },
                  volumeMounts: [{ name: "config-volume", mountPath: "/etc/config/" }],
                },
              ],
              volumes: [{ name: "config-volume", configMap: { name: "local-path-config" } }],
            },
          },
        },
      },
      ["local-path-config", "local-path-binding", "local-path-helper-binding"],
    ),
    manifest(
      "local-path-class",
      {
        apiVersion: "storage.k8s.io/v1",
        kind: "StorageClass",
        metadata: {
          name: LOCAL_PATH_STORAGE_CLASS,
          annotations: { "storageclass.kubernetes.io/is-default-class": "true" },
        },
        provisioner: "rancher.io/local-path",
        volumeBindingMode: "WaitForFirstConsumer",
        reclaimPolicy: "Delete",
      },
      after,
    ),
  ];
}

/** The cluster add-ons: Calico (Tigera operator), ingress-nginx, local-path storage, the GPU Operator. */
export function addonWorkloads(
  spec: Pick<ClusterSpec, "metadata" | "clusters" | "services">,
  plan: Pick<Plan, "stack" | "networks" | "gpus" | "vms">,
): WorkloadItem[] {
  const config = spec.clusters.cloud!.kubernetes_config;
  const items: WorkloadItem[] = [
    // VXLAN always: pod traffic leaves a VM with the node's address, which its NIC's clean-traffic allows.
    helm(
      "calico",
      "calico",
      "calico",
      "tigera-operator",
      {
        installation: {
          calicoNetwork: {
            ipPools: [{ cidr: config.pod_cidr, encapsulation: "VXLAN", natOutgoing: "Enabled", nodeSelector: "all()" }],
          },
        },
      },
      [],
      true,
    ),
  ];
  const afterCni = ["calico"];
  if (config.ingress === "nginx") {
    // No cloud load balancer in front of VMs: expose the controller on every node's ports.
    items.push(
      helm(
        "ingress-nginx",
        "ingress-nginx",
        "ingressNginx",
        "ingress-nginx",
        {
          controller: {
            service: { type: "NodePort" },
            nodeSelector: computeLabel("cpu"),
            resources: { requests: { cpu: "100m", memory: "128Mi" } },
          },
        },
        afterCni,
        true,
      ),
    );
  }
  items.push(...localPathObjects(afterCni));
  if (plan.vms.some((vm) => vm.cluster === "cloud" && vm.gpus.length > 0)) {
    items.push(
      manifest(
        "gpu-operator-ns",
        { apiVersion: "v1", kind: "Namespace", metadata: { name: GPU_OPERATOR_NAMESPACE } },
        afterCni,
      ),
    );
    const migConfig = migManagerConfig(plan);
    if (migConfig) {
      items.push(
        manifest(
          "gpu-operator-mig-config",
          {
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: { name: MIG_PARTED_CONFIGMAP, namespace: GPU_OPERATOR_NAMESPACE },
            data: { "config.yaml": migConfig },
          },
          ["gpu-operator-ns"],
        ),
      );
    }
    items.push(
      helm("gpu-operator", "gpu-operator", "gpuOperator", GPU_OPERATOR_NAMESPACE, gpuOperatorValues(spec, plan), [
        "gpu-operator-ns",
        ...(migConfig ? ["gpu-operator-mig-config"] : []),
      ]),
    );
  }
  return items;
}

/** Everything the stack deploys into the cluster: add-ons, then the MLOps services (when enabled). */
export function kubernetesWorkloads<S>(
  spec: Pick<ClusterSpec, "metadata" | "clusters" | "services">,
  plan: Pick<Plan, "stack" | "networks" | "gpus" | "vms">,
  secrets: MlopsSecrets<S>,
): WorkloadItem[] {
  if (!spec.clusters.cloud) return [];
  return [...addonWorkloads(spec, plan), ...mlopsWorkloads(spec, plan, LOCAL_PATH_STORAGE_CLASS, secrets)];
}

/**
 * Render paths: kubernetes/helm/<release>.values.yaml and kubernetes/manifests/<namespace|cluster>/<kind>-<name>.yaml.
 */
export function workloadPath(item: WorkloadItem): string {
  if (item.type === "helm") return `kubernetes/helm/${item.release}.values.yaml`;
  const { kind, metadata } = item.object;
  return `kubernetes/manifests/${metadata.namespace ?? "_cluster"}/${kind.toLowerCase()}-${metadata.name}.yaml`;
}

/** The file render writes for an item: the values (with a header naming the chart) or the manifest. */
export function renderWorkload(item: WorkloadItem): string {
  if (item.type === "manifest") return stringify(item.object, { lineWidth: 0 });
  const chart = CHARTS[item.chart];
  const header =
    `# helm upgrade --install ${item.release} ${chart.chart} --version ` +
    `${chart.version}${"repo" in chart ? ` --repo ${chart.repo}` : ""} -n ` +
    `${item.namespace}${item.createNamespace ? " --create-namespace" : ""} -f THIS_FILE\n`;
  return header + stringify(item.values, { lineWidth: 0 });
}
