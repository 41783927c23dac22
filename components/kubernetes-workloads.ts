// Creates the workload items of src/render/workloads.ts (the same data `hyperscaler render` writes) as
// Pulumi resources: Helm releases and typed Kubernetes objects, each depending on the items it names.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { CHARTS } from "../src/facts/versions";
import type { WorkloadItem } from "../src/render/workloads";

type ObjectConstructor = new (name: string, args: never, opts?: pulumi.CustomResourceOptions) => pulumi.CustomResource;

/** The typed resource per apiVersion/kind (typed rather than generic, so previews show the kind). */
const KINDS: Record<string, ObjectConstructor> = {
  "v1/Namespace": k8s.core.v1.Namespace,
  "v1/ServiceAccount": k8s.core.v1.ServiceAccount,
  "v1/ConfigMap": k8s.core.v1.ConfigMap,
  "v1/Secret": k8s.core.v1.Secret,
  "v1/Service": k8s.core.v1.Service,
  "apps/v1/Deployment": k8s.apps.v1.Deployment,
  "apps/v1/StatefulSet": k8s.apps.v1.StatefulSet,
  "rbac.authorization.k8s.io/v1/Role": k8s.rbac.v1.Role,
  "rbac.authorization.k8s.io/v1/RoleBinding": k8s.rbac.v1.RoleBinding,
  "rbac.authorization.k8s.io/v1/ClusterRole": k8s.rbac.v1.ClusterRole,
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": k8s.rbac.v1.ClusterRoleBinding,
  "storage.k8s.io/v1/StorageClass": k8s.storage.v1.StorageClass,
  "networking.k8s.io/v1/NetworkPolicy": k8s.networking.v1.NetworkPolicy,
  "networking.k8s.io/v1/Ingress": k8s.networking.v1.Ingress,
};

/** Creates every item in order; `<prefix>-<id>` names each resource. Returns the resources by item id. */
export function deployWorkloads(
  prefix: string,
  items: readonly WorkloadItem[],
  opts: pulumi.CustomResourceOptions,
): Map<string, pulumi.CustomResource> {
  const created = new Map<string, pulumi.CustomResource>();
  for (const item of items) {
    const dependsOn = item.dependsOn.map((id) => {
      const resource = created.get(id);
      if (!resource) throw new Error(`workload ${item.id} depends on ${id}, which is not deployed before it`);
      return resource;
    });
    const itemOpts = {
      ...opts,
      dependsOn: [...((opts.dependsOn as pulumi.Resource[] | undefined) ?? []), ...dependsOn],
    };
    if (item.type === "helm") {
      const chart = CHARTS[item.chart];
      created.set(
        item.id,
        new k8s.helm.v3.Release(
          `${prefix}-${item.id}`,
          {
            name: item.release,
            chart: chart.chart,
            version: chart.version,
            ...("repo" in chart ? { repositoryOpts: { repo: chart.repo } } : {}),
            namespace: item.namespace,
            createNamespace: item.createNamespace,
            values: item.values,
          },
          itemOpts,
        ),
      );
      continue;
    }
    const { apiVersion, kind } = item.object;
    const Kind = KINDS[`${apiVersion}/${kind}`];
    if (!Kind) throw new Error(`no resource type for ${apiVersion} ${kind} (workload ${item.id}): add it to KINDS`);
    const { apiVersion: _a, kind: _k, ...args } = item.object;
    created.set(item.id, new Kind(`${prefix}-${item.id}`, args as never, itemOpts));
  }
  return created;
}
