// Cluster add-ons through the cluster's own Kubernetes provider: the CNI (Calico, via the Tigera
// operator chart), ingress-nginx, the local-path storage class, and the NVIDIA GPU Operator with values
// that match the plan. Charts are pinned; local-path has no maintained chart, so its objects are here.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { Plan } from "../src/plan/types";
import { gpuOperatorValues } from "../src/render/kubernetes";
import type { ClusterSpec } from "../src/spec/types";

export const CHARTS = {
  calico: { chart: "tigera-operator", version: "v3.28.2", repo: "https://docs.tigera.io/calico/charts" },
  ingressNginx: { chart: "ingress-nginx", version: "4.11.3", repo: "https://kubernetes.github.io/ingress-nginx" },
  gpuOperator: { chart: "gpu-operator", version: "v24.9.0", repo: "https://helm.ngc.nvidia.com/nvidia" },
} as const;

export const LOCAL_PATH_IMAGE = "rancher/local-path-provisioner:v0.0.30";

export interface KubernetesAddonsArgs {
  readonly spec: ClusterSpec;
  readonly plan: Plan;
}

export class KubernetesAddons extends pulumi.ComponentResource {
  readonly storageClass: string;

  constructor(name: string, args: KubernetesAddonsArgs, opts: pulumi.ComponentResourceOptions & { provider: k8s.Provider }) {
    super("hyperscaler:index:KubernetesAddons", name, {}, opts);
    const config = args.spec.clusters.cloud!.kubernetes_config;
    const child = { parent: this, provider: opts.provider };
    const calico = new k8s.helm.v3.Release(`${name}-calico`, {
      chart: CHARTS.calico.chart, version: CHARTS.calico.version, repositoryOpts: { repo: CHARTS.calico.repo },
      namespace: "tigera-operator", createNamespace: true,
      // VXLAN always: pod traffic leaves a VM with the node's address, which its NIC's clean-traffic allows.
      values: { installation: { calicoNetwork: { ipPools: [{ cidr: config.pod_cidr, encapsulation: "VXLAN", natOutgoing: "Enabled", nodeSelector: "all()" }] } } },
    }, child);
    const afterCni = { ...child, dependsOn: [calico] };
    if (config.ingress === "nginx") {
      new k8s.helm.v3.Release(`${name}-ingress-nginx`, {
        chart: CHARTS.ingressNginx.chart, version: CHARTS.ingressNginx.version, repositoryOpts: { repo: CHARTS.ingressNginx.repo },
        namespace: "ingress-nginx", createNamespace: true,
        // No cloud load balancer in front of VMs: expose the controller on every node's ports.
        values: { controller: { service: { type: "NodePort" }, nodeSelector: { compute: "cpu" }, resources: { requests: { cpu: "100m", memory: "128Mi" } } } },
      }, afterCni);
    }
    this.storageClass = this.localPath(name, afterCni);
    if (args.plan.vms.some((vm) => vm.cluster === "cloud" && vm.gpus.length > 0)) {
      new k8s.helm.v3.Release(`${name}-gpu-operator`, {
        chart: CHARTS.gpuOperator.chart, version: CHARTS.gpuOperator.version, repositoryOpts: { repo: CHARTS.gpuOperator.repo },
        namespace: "gpu-operator", createNamespace: true,
        values: gpuOperatorValues(args.spec, args.plan),
      }, afterCni);
    }
    this.registerOutputs({ storageClass: this.storageClass });
  }

  /** Rancher's local-path provisioner: volumes in a directory of the node that runs the pod. */
  private localPath(name: string, opts: pulumi.CustomResourceOptions): string {
    const ns = new k8s.core.v1.Namespace(`${name}-local-path-ns`, { metadata: { name: "local-path-storage" } }, opts);
    const namespace = ns.metadata.name;
    const sa = new k8s.core.v1.ServiceAccount(`${name}-local-path-sa`, { metadata: { name: "local-path-provisioner-service-account", namespace } }, opts);
    const role = new k8s.rbac.v1.ClusterRole(`${name}-local-path-role`, {
      metadata: { name: "local-path-provisioner-role" },
      rules: [
        { apiGroups: [""], resources: ["nodes", "persistentvolumeclaims", "configmaps", "pods", "pods/log"], verbs: ["get", "list", "watch"] },
        { apiGroups: [""], resources: ["persistentvolumes"], verbs: ["get", "list", "watch", "create", "patch", "update", "delete"] },
        { apiGroups: [""], resources: ["events"], verbs: ["create", "patch"] },
        { apiGroups: ["storage.k8s.io"], resources: ["storageclasses"], verbs: ["get", "list", "watch"] },
      ],
    }, opts);
    new k8s.rbac.v1.ClusterRoleBinding(`${name}-local-path-binding`, {
      metadata: { name: "local-path-provisioner-bind" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role.metadata.name },
      subjects: [{ kind: "ServiceAccount", name: sa.metadata.name, namespace }],
    }, opts);
    const config = new k8s.core.v1.ConfigMap(`${name}-local-path-config`, {
      metadata: { name: "local-path-config", namespace },
      data: {
        "config.json": JSON.stringify({ nodePathMap: [{ node: "DEFAULT_PATH_FOR_NON_LISTED_NODES", paths: ["/opt/local-path-provisioner"] }] }),
        setup: "#!/bin/sh\nset -eu\nmkdir -m 0777 -p \"$VOL_DIR\"\n",
        teardown: "#!/bin/sh\nset -eu\nrm -rf \"$VOL_DIR\"\n",
        "helperPod.yaml": "apiVersion: v1\nkind: Pod\nmetadata:\n  name: helper-pod\nspec:\n  containers:\n  - name: helper-pod\n    image: busybox:1.36\n",
      },
    }, opts);
    new k8s.apps.v1.Deployment(`${name}-local-path-provisioner`, {
      metadata: { name: "local-path-provisioner", namespace },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: "local-path-provisioner" } },
        template: {
          metadata: { labels: { app: "local-path-provisioner" } },
          spec: {
            serviceAccountName: sa.metadata.name,
            nodeSelector: { compute: "cpu" },
            containers: [{
              name: "local-path-provisioner",
              image: LOCAL_PATH_IMAGE,
              command: ["local-path-provisioner", "--debug", "start", "--config", "/etc/config/config.json"],
              env: [{ name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } }],
              resources: { requests: { cpu: "50m", memory: "64Mi" } },
              volumeMounts: [{ name: "config-volume", mountPath: "/etc/config/" }],
            }],
            volumes: [{ name: "config-volume", configMap: { name: config.metadata.name } }],
          },
        },
      },
    }, opts);
    new k8s.storage.v1.StorageClass(`${name}-local-path-class`, {
      metadata: { name: "local-path", annotations: { "storageclass.kubernetes.io/is-default-class": "true" } },
      provisioner: "rancher.io/local-path",
      volumeBindingMode: "WaitForFirstConsumer",
      reclaimPolicy: "Delete",
    }, opts);
    return "local-path";
  }
}
