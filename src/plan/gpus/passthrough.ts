// Whole GPUs: which devices go whole to a cluster (passthrough, and MIG inside the guest), and the IOMMU
// group functions that must go with a whole GPU.
import { CLUSTER_NAMES, type ClusterSpec } from "../../spec/types";
import type { Plan, PlanIssue } from "../types";
import { isMigCarrier, type Device } from "./devices";

/** Explicit passthrough first, then non-MIG auto devices, then MIG devices left without slices. */
export function chooseWholeGpus(
  devices: Device[],
  wholeGpus: ClusterSpec["global"]["gpu_allocation"]["whole_gpus"],
  previous: Plan | undefined,
  errors: PlanIssue[],
): void {
  const usedForMig = new Set(
    devices
      .filter(
        (d) => d.fixed.length + d.free.length > 0 || d.spec.attach === "mig-vgpu" || d.spec.attach === "mig-in-guest",
      )
      .map((d) => d.spec.id),
  );
  const wholePool = [
    ...devices.filter((d) => d.spec.attach === "passthrough"),
    ...devices.filter((d) => d.spec.attach === "auto" && !isMigCarrier(d)),
    ...devices.filter((d) => d.spec.attach === "auto" && isMigCarrier(d) && !usedForMig.has(d.spec.id)),
  ];
  for (const cluster of CLUSTER_NAMES) {
    const wanted = wholeGpus[cluster];
    const preferred = wholePool.filter(
      (d) => d.wholeCluster === null && previous?.gpus.find((g) => g.id === d.spec.id)?.cluster === cluster,
    );
    const rest = wholePool.filter((d) => d.wholeCluster === null && !preferred.includes(d));
    const chosen = [...preferred, ...rest].slice(0, wanted);
    chosen.forEach((d) => (d.wholeCluster = cluster));
    if (chosen.length < wanted) {
      errors.push({
        message:
          `cluster ${cluster} asks for ${wanted} whole GPU(s) ` +
          `but only ${chosen.length} GPU(s) are free for passthrough`,
        hint: "lower whole_gpus, or free a GPU from MIG slices",
        path: `/global/gpu_allocation/whole_gpus/${cluster}`,
      });
    }
  }
}

/** A mig-in-guest device goes whole to the cluster of its slices. */
export function settleInGuestClusters(devices: Device[]): void {
  for (const device of devices) {
    if (device.spec.attach === "mig-in-guest") {
      const clusters = [...new Set([...device.fixed, ...device.free].map((f) => f.demand.cluster))];
      device.inGuestCluster = clusters[0] ?? null;
    }
  }
}

/** A group is viable for vfio only as a whole: every endpoint function goes with the GPU. */
export function groupFunctions(device: Device): readonly string[] {
  return device.host?.iommuGroupEndpoints ?? [];
}
