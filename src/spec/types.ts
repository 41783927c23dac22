// The typed, defaults-filled cluster spec, as the loader returns it. Field names follow cluster.yaml.
// schemas/cluster.schema.json is the source of truth for shapes, descriptions and defaults.

/** VM roles, as the plan names them (the keys of images.roles). */
export type VmRoleName =
  "slurm-controller" | "slurm-compute" | "k8s-control-plane" | "k8s-cpu-worker" | "k8s-gpu-worker";

export type ClusterName = "hpc" | "cloud";
export const CLUSTER_NAMES: readonly ClusterName[] = ["hpc", "cloud"];

export type AttachMode = "auto" | "passthrough" | "mig-vgpu" | "vgpu" | "mig-in-guest";
export type GpuStrategy = "mig" | "whole" | "hybrid";

export interface NetworkSpec {
  readonly subnet: string;
  readonly bridge: string;
  readonly mode: "nat" | "isolated";
}

export interface GpuDeviceSpec {
  readonly id: string;
  readonly pci_address: string;
  readonly model: string;
  readonly pci_device_id?: string;
  readonly mig_capable: boolean;
  readonly allowed_mig_profiles?: readonly string[];
  readonly attach: AttachMode;
  readonly vgpu_type?: string;
}

export interface MigProfileRequest {
  readonly profile: string;
  readonly count: number;
  readonly device?: string;
}

/** `N` (one-slice instances) or an explicit list of profiles. */
export type MigRequest = number | readonly MigProfileRequest[];

export interface PerCluster<T> {
  readonly hpc: T;
  readonly cloud: T;
}

export interface GpuAllocationSpec {
  readonly devices: readonly GpuDeviceSpec[];
  readonly strategy: GpuStrategy;
  readonly mig_slices: Partial<PerCluster<MigRequest>>;
  readonly whole_gpus: PerCluster<number>;
  readonly vgpu_shares: PerCluster<number>;
  readonly force_recarve: boolean;
  readonly vgpu_guest_driver_url?: string;
  readonly vgpu_guest_driver_sha256?: string;
  readonly vgpu_license_server?: string;
}

export interface NodeSize {
  readonly cpu_cores: number;
  readonly memory_gb: number;
  readonly disk_gb: number;
}

export interface SingleNodeSpec extends NodeSize {
  readonly ip_address: string;
}

export interface NodePoolSpec extends NodeSize {
  readonly count: number;
  readonly gpu_enabled: boolean;
  readonly ip_range?: string;
}

export interface HpcClusterSpec {
  readonly network: string;
  readonly controller: SingleNodeSpec;
  readonly compute_nodes: NodePoolSpec;
  readonly slurm_config: {
    readonly cluster_name: string;
    readonly partitions: readonly string[];
    readonly default_partition?: string;
    readonly max_job_time: string;
  };
}

export interface CloudClusterSpec {
  readonly network: string;
  readonly control_plane: SingleNodeSpec;
  readonly worker_nodes: {
    readonly cpu_workers?: NodePoolSpec;
    readonly gpu_workers?: NodePoolSpec;
  };
  readonly kubernetes_config: {
    readonly version: string;
    readonly cni: "calico";
    readonly ingress: "nginx" | "none";
    readonly storage_class: "local-path";
    readonly pod_cidr: string;
    readonly service_cidr: string;
  };
}

export interface ServiceSpec {
  readonly enabled: boolean;
  readonly storage_gb?: number;
  readonly cpu?: string;
  readonly memory?: string;
}

/** New connections allowed from one cluster's network to the other's, e.g. `6443/tcp`. */
export interface CrossClusterFlowSpec {
  readonly from: ClusterName;
  readonly to: ClusterName;
  readonly ports: readonly string[];
}

export type ServiceName = "minio" | "postgresql" | "mlflow" | "monitoring" | "kserve";

export interface ClusterSpec {
  readonly version: "1.0";
  readonly metadata: { readonly name: string; readonly description: string };
  readonly global: {
    readonly networks: Readonly<Record<string, NetworkSpec>>;
    readonly gpu_allocation: GpuAllocationSpec;
  };
  readonly clusters: {
    readonly hpc?: HpcClusterSpec;
    readonly cloud?: CloudClusterSpec;
  };
  readonly images: {
    readonly base: "debian-12";
    readonly path?: string;
    readonly checksum?: string;
    /** Image per VM role: a golden image name (or name@version), or "catalog" for `base`. */
    readonly roles: Readonly<Record<VmRoleName, string>>;
    readonly golden_dir?: string;
  };
  readonly services: Readonly<Record<ServiceName, ServiceSpec>>;
  readonly security: {
    readonly admin_user: string;
    readonly ssh_authorized_keys: readonly string[];
    readonly allowed_cidrs: readonly string[];
    readonly network_isolation: boolean;
    readonly cross_cluster_flows: readonly CrossClusterFlowSpec[];
  };
  readonly host: {
    readonly libvirt_uri: string;
    /** Domain type: kvm, or qemu (TCG emulation) where KVM is missing or unusable. */
    readonly virtualization: "kvm" | "emulated";
    readonly storage_pool: { readonly name: string; readonly path: string };
    readonly reserved: { readonly cpu_cores: number; readonly memory_gb: number };
  };
}
