// Cluster add-ons through the cluster's own Kubernetes provider: the CNI (Calico, via the Tigera
// operator chart), ingress-nginx, the local-path storage class, and the NVIDIA GPU Operator with values
// that match the plan. What is deployed is src/render/workloads.ts#addonWorkloads, which render writes too.
import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { PlanLayout } from "../src/render/layers";
import { addonWorkloads, LOCAL_PATH_STORAGE_CLASS } from "../src/render/workloads";
import type { ClusterSpec } from "../src/spec/types";
import { refuseArgs } from "./args-error";
import { deployWorkloads } from "./kubernetes-workloads";

export interface KubernetesAddonsArgs {
  /** The spec's cluster name, `clusters.cloud` (pod CIDR, ingress) and services (GPU metrics scraping). */
  readonly spec: Pick<ClusterSpec, "metadata" | "clusters" | "services">;
  /** The plan's layout: its GPU workers and GPUs decide the GPU Operator's values and MIG config. */
  readonly plan: PlanLayout;
}

export class KubernetesAddons extends pulumi.ComponentResource {
  readonly storageClass: string;

  constructor(
    name: string,
    args: KubernetesAddonsArgs,
    opts: pulumi.ComponentResourceOptions & { provider: k8s.Provider },
  ) {
    refuseArgs("KubernetesAddons", name, [
      !args.spec.clusters.cloud && {
        problem: "the spec has no clusters.cloud",
        found: undefined,
        expected: "a Kubernetes cluster spec",
        fix: "add clusters.cloud to the spec, or leave the add-ons out",
      },
    ]);
    super("hyperscaler:index:KubernetesAddons", name, {}, opts);
    deployWorkloads(name, addonWorkloads(args.spec, args.plan), { parent: this, provider: opts.provider });
    this.storageClass = LOCAL_PATH_STORAGE_CLASS;
    this.registerOutputs({ storageClass: this.storageClass });
  }
}
