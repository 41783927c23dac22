// The typed host inventory: what the probe (live or replayed snapshot) found. Unknown is null, never a guess.
// schemas/host-inventory.schema.json describes the same shape.

export interface MigPlacement {
  readonly start: number;
  readonly size: number;
}

export interface HostMigProfile {
  readonly id: number;
  readonly name: string;
  readonly instancesFree: number | null;
  readonly instancesTotal: number | null;
  readonly memoryMiB: number | null;
  readonly placements: readonly MigPlacement[];
}

export interface HostMigInstance {
  /** GPU instance id. */
  readonly gi: number;
  readonly profileId: number | null;
  readonly profile: string;
  readonly start: number | null;
  readonly size: number | null;
}

export interface HostVgpuType {
  /** mdev type id (nvidia-63) or SR-IOV vGPU type id (numeric string). */
  readonly id: string;
  readonly name: string;
  readonly available: number | null;
}

export type BoundDriver = "nvidia" | "vfio-pci" | "nouveau" | null;

export interface HostGpu {
  readonly index: number | null;
  readonly name: string;
  /** 0000:65:00.0 form. */
  readonly pciAddress: string;
  /** 10de:20b2 form. */
  readonly pciDeviceId: string | null;
  readonly uuid: string | null;
  readonly memoryMiB: number | null;
  readonly driverVersion: string | null;
  // The known drivers are listed for readers; any other driver name is valid too.
  // eslint-disable-next-line @typescript-eslint/no-redundant-type-constituents
  readonly boundDriver: BoundDriver | string;
  readonly iommuGroup: number | null;
  /** Alone in its IOMMU group, or only with its own functions (audio, USB-C of the same card). */
  readonly iommuIsolated: boolean | null;
  /** The other endpoint functions of its IOMMU group (PCI bridges excluded), which passthrough takes too. */
  readonly iommuGroupEndpoints?: readonly string[];
  readonly migCapable: boolean | null;
  readonly migMode: { readonly current: boolean | null; readonly pending: boolean | null } | null;
  readonly migProfiles: readonly HostMigProfile[];
  readonly migInstances: readonly HostMigInstance[];
  readonly vgpu: { readonly framework: "mdev" | "sriov" | null; readonly types: readonly HostVgpuType[] };
  /** Processes using the GPU (nvidia-smi), when known. */
  readonly processes: number | null;
}

export interface HostInventory {
  readonly schemaVersion: 1;
  readonly source: {
    readonly kind: "live" | "replay";
    readonly path: string | null;
    readonly capturedAt: string | null;
  };
  readonly hostname: string | null;
  readonly cpu: {
    readonly vendor: string | null;
    readonly model: string | null;
    readonly cores: number | null;
    readonly threads: number | null;
    readonly virtualization: "vmx" | "svm" | null;
  };
  readonly memory: { readonly totalMiB: number | null };
  readonly disk: { readonly path: string; readonly freeGiB: number | null } | null;
  readonly kvm: { readonly device: boolean; readonly accessible: boolean };
  readonly iommu: {
    readonly enabled: boolean | null;
    readonly groups: readonly { readonly id: number; readonly devices: readonly string[] }[];
  };
  readonly nouveau: { readonly loaded: boolean | null; readonly blacklisted: boolean | null };
  readonly libvirt: { readonly reachable: boolean; readonly version: string | null; readonly uri: string };
  readonly resetBlockers: readonly string[];
  readonly gpus: readonly HostGpu[];
}
