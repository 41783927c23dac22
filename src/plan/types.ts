// The Plan: plain JSON, the single input of every renderer and component. Deterministic for a given
// spec, host and previous plan (no timestamps, no randomness).
import type { ClusterName } from "../spec/types";

export type ResolvedAttach = "passthrough" | "mig-vgpu" | "vgpu" | "mig-in-guest" | "unused";
export type ShareKind = "mig-vgpu" | "vgpu" | "passthrough" | "mig-in-guest";
export type VmRole = "slurm-controller" | "slurm-compute" | "k8s-control-plane" | "k8s-cpu-worker" | "k8s-gpu-worker";

export interface PlanIssue {
  readonly message: string;
  readonly gpu?: string;
  readonly vm?: string;
  readonly hint?: string;
  /** JSON pointer into cluster.yaml of the setting to change (printed as file:line:column). */
  readonly path?: string;
}

export interface PlannedInstance {
  readonly profile: string;
  readonly profileId: number | null;
  readonly start: number;
  readonly size: number;
  readonly cluster: ClusterName;
  readonly assignedTo: string | null;
  /** MIG-backed vGPU type (A100D-1-10C); null for MIG inside the guest or where the host must name it. */
  readonly vgpuType: string | null;
  readonly deviceUuid: string | null;
}

export interface PlannedVgpu {
  readonly vgpuType: string;
  readonly cluster: ClusterName;
  readonly assignedTo: string | null;
  readonly deviceUuid: string | null;
}

export interface PlannedGpu {
  readonly id: string;
  readonly pciAddress: string;
  readonly model: string;
  readonly catalogKey: string | null;
  readonly architecture: string | null;
  readonly attach: ResolvedAttach;
  /** MIG mode on the host (false for passthrough and MIG inside the guest). */
  readonly migEnabled: boolean;
  readonly resetRequired: boolean;
  readonly resetReason: string | null;
  /** How vGPUs are created: mdev (Ampere) or SR-IOV VF + current_vgpu_type (Ada, Hopper and newer). */
  readonly vgpuPath: "mdev" | "sriov" | null;
  readonly instances: readonly PlannedInstance[];
  readonly vgpus: readonly PlannedVgpu[];
  readonly wholeAssignedTo: string | null;
  readonly cluster: ClusterName | null;
}

export interface VmGpu {
  readonly kind: ShareKind;
  readonly gpu: string;
  readonly pciAddress: string;
  readonly profile: string | null;
  readonly vgpuType: string | null;
  readonly deviceUuid: string | null;
  /** Whole-GPU shares: the other endpoint functions of the GPU's IOMMU group (its HDMI audio at .1, ...). */
  readonly groupFunctions?: readonly string[];
}

export interface PlannedVm {
  readonly name: string;
  readonly cluster: ClusterName;
  readonly role: VmRole;
  readonly vcpus: number;
  readonly memoryMiB: number;
  readonly diskGiB: number;
  readonly ip: string;
  readonly mac: string;
  readonly network: string;
  readonly gpus: readonly VmGpu[];
}

export interface PlannedNetwork {
  readonly name: string;
  readonly bridge: string;
  readonly subnet: string;
  readonly prefix: number;
  readonly netmask: string;
  readonly gateway: string;
  readonly mode: "nat" | "isolated";
  readonly domain: string;
  readonly clusters: readonly ClusterName[];
  readonly hosts: readonly { readonly name: string; readonly mac: string; readonly ip: string }[];
}

export interface PlacementMove {
  readonly gpu: string;
  readonly profile: string;
  readonly from: number | null;
  readonly to: number | null;
  readonly reason: string;
}

export interface Plan {
  readonly planVersion: 1;
  readonly stack: string;
  readonly feasible: boolean;
  readonly errors: readonly PlanIssue[];
  readonly warnings: readonly PlanIssue[];
  readonly hostSource: "spec" | "live" | "replay";
  readonly networks: readonly PlannedNetwork[];
  readonly gpus: readonly PlannedGpu[];
  readonly vms: readonly PlannedVm[];
  readonly moved: readonly PlacementMove[];
}
