// Demand collection: every MIG slice cluster.yaml asks for, one demand per instance, in request order.
import { CLUSTER_NAMES, type ClusterName, type ClusterSpec } from "../../spec/types";

/** One MIG instance a cluster asks for. */
export interface Demand {
  readonly cluster: ClusterName;
  /** null: the smallest one-slice profile of whichever GPU takes it (`mig_slices: N`). */
  readonly profile: string | null;
  readonly device: string | undefined;
  readonly order: number;
  /** JSON pointer of the request in cluster.yaml. */
  readonly path: string;
}

export function expandDemands(spec: ClusterSpec): Demand[] {
  const demands: Demand[] = [];
  for (const cluster of CLUSTER_NAMES) {
    const request = spec.global.gpu_allocation.mig_slices[cluster];
    if (request === undefined) continue;
    if (typeof request === "number") {
      for (let i = 0; i < request; i++)
        demands.push({
          cluster,
          profile: null,
          device: undefined,
          order: demands.length,
          path: `/global/gpu_allocation/mig_slices/${cluster}`,
        });
    } else {
      request.forEach((item, index) => {
        for (let i = 0; i < item.count; i++)
          demands.push({
            cluster,
            profile: item.profile,
            device: item.device,
            order: demands.length,
            path: `/global/gpu_allocation/mig_slices/${cluster}/${index}/count`,
          });
      });
    }
  }
  return demands;
}
