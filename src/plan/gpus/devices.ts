// The GPU devices of the plan: each spec device with its catalog entry, the host's view of it and its
// effective MIG profiles, and the decisions that follow from its attach mode (does it carry MIG slices,
// which profile a demand means on it). Device state (kept and placed instances, whole-GPU cluster) is
// filled in by the later steps.
import {
  lookupModel,
  nonMigArchitecture,
  profileByName,
  smallestProfile,
  type CatalogEntry,
} from "../../facts/gpu-catalog";
import { effectiveProfiles, type EffectiveProfile } from "../../gpu/profiles";
import type { Placed } from "../../gpu/solver";
import type { HostGpu, HostInventory } from "../../host/types";
import type { ClusterName, ClusterSpec, GpuDeviceSpec } from "../../spec/types";
import type { Demand } from "./demands";

export interface Device {
  readonly spec: GpuDeviceSpec;
  readonly entry: CatalogEntry | undefined;
  readonly host: HostGpu | undefined;
  readonly profiles: EffectiveProfile[];
  readonly architecture: string | null;
  /** Instances kept where they are (from the previous plan or the host), with their demand. */
  fixed: { demand: Demand; placed: Placed; previousOwner: string | null }[];
  /** Instances placed in this run (placements recomputed as more arrive). */
  free: { demand: Demand; placed: Placed | null; previousOwner: string | null }[];
  wholeCluster: ClusterName | null;
  inGuestCluster: ClusterName | null;
}

/** The plan's devices, in spec order, matched with the host's GPUs by PCI address. */
export function buildDevices(specs: readonly GpuDeviceSpec[], host: HostInventory | undefined): Device[] {
  return specs.map((deviceSpec) => {
    const hostGpu = host?.gpus.find((gpu) => gpu.pciAddress.toLowerCase() === deviceSpec.pci_address.toLowerCase());
    const lookup = lookupModel(deviceSpec.model, deviceSpec.pci_device_id ?? hostGpu?.pciDeviceId);
    const entry = deviceSpec.mig_capable && lookup.kind === "found" ? lookup.entry : undefined;
    return {
      spec: deviceSpec,
      entry,
      host: hostGpu,
      profiles: entry ? effectiveProfiles(entry, hostGpu) : [],
      architecture: architectureOf(deviceSpec, entry),
      fixed: [],
      free: [],
      wholeCluster: null,
      inGuestCluster: null,
    };
  });
}

/** A device that carries MIG slices as the plan hands them out (MIG-capable, in a MIG or auto attach mode). */
export function isMigCarrier(device: Device): boolean {
  return (
    device.entry !== undefined &&
    device.spec.mig_capable &&
    ["auto", "mig-vgpu", "mig-in-guest"].includes(device.spec.attach)
  );
}

export function allowed(device: Device, profile: EffectiveProfile): boolean {
  return (
    device.spec.allowed_mig_profiles === undefined ||
    device.spec.allowed_mig_profiles.includes(profile.name) ||
    device.spec.allowed_mig_profiles.some(
      (name) => device.entry && profileByName(device.entry, name)?.id === profile.id && profile.id !== null,
    )
  );
}

/** The profile a demand means on a device, or undefined when the device does not offer it. */
export function profileFor(device: Device, demand: Demand): EffectiveProfile | undefined {
  if (!device.entry) return undefined;
  if (demand.profile === null) {
    const smallest = smallestProfile(device.entry);
    const candidates = device.profiles.filter((p) => p.computeSlices === 1 && !p.mediaExtensions && allowed(device, p));
    return (
      candidates.find((p) => p.memorySlices === smallest.memorySlices) ??
      candidates.sort((a, b) => a.memorySlices - b.memorySlices)[0]
    );
  }
  const catalogProfile = profileByName(device.entry, demand.profile);
  // Live drivers rename profiles (3g.39gb for 3g.40gb): match by id and size as well as by name.
  const profile =
    device.profiles.find((p) => p.name === demand.profile) ??
    (catalogProfile &&
      device.profiles.find(
        (p) => p.id !== null && p.id === catalogProfile.id && p.memorySlices === catalogProfile.memorySlices,
      ));
  return profile && allowed(device, profile) ? profile : undefined;
}

export function architectureOf(spec: GpuDeviceSpec, entry: CatalogEntry | undefined): string | null {
  return entry?.architecture ?? nonMigArchitecture(spec.model);
}

/** JSON pointer of a device's setting in cluster.yaml. */
export function devicePath(spec: ClusterSpec, device: Device, key: keyof GpuDeviceSpec): string {
  return `/global/gpu_allocation/devices/${spec.global.gpu_allocation.devices.indexOf(device.spec)}/${key}`;
}
