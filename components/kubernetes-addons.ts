// Cluster add-ons through the cluster's own Kubernetes provider: the CNI (Calico, via the Tigera
// operator chart), ingress-nginx, the local-path storage class, and the NVIDIA GPU Operator with values
// that match the plan. What is deployed is src/render/workloads.ts#addonWorkloads, which render writes too.
import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { Plan } from "../src/plan/types";
import { addonWorkloads, LOCAL_PATH_STORAGE_CLASS } from "../src/render/workloads";
import type { ClusterSpec } from "../src/spec/types";
import { deployWorkloads } from "./kubernetes-workloads";

export interface KubernetesAddonsArgs {
  readonly spec: ClusterSpec;
  readonly plan: Plan;
}

export class KubernetesAddons extends pulumi.ComponentResource {
  readonly storageClass: string;

  constructor(name: string, args: KubernetesAddonsArgs, opts: pulumi.ComponentResourceOptions & { provider: k8s.Provider }) {
    super("hyperscaler:index:KubernetesAddons", name, {}, opts);
    deployWorkloads(name, addonWorkloads(args.spec, args.plan), { parent: this, provider: opts.provider });
    this.storageClass = LOCAL_PATH_STORAGE_CLASS;
    this.registerOutputs({ storageClass: this.storageClass });
  }
}
