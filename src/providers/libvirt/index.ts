// Pulumi dynamic providers for libvirt objects, one file each: pool, network, volume (qcow2 overlay), base
// image, NoCloud seed ISO and domain, over shared helpers (runner, virsh, xpath, ownership, storage, engine
// values). Everything goes through `virsh -c URI`, plus xorriso for seed ISOs. The providers are built from
// their own files, never through this index: the engine serializes what they reference.
export type { Runner } from "./runner";
export { localRunner } from "./runner";
export { makePoolProvider, type PoolInputs } from "./pool";
export { makeNetworkProvider, networkOutputs, type NetworkInputs } from "./network";
export { makeVolumeProvider, type VolumeInputs } from "./volume";
export { makeBaseImageProvider, type BaseImageInputs } from "./base-image";
export { makeSeedIsoProvider, seedDigest, type SeedIsoInputs } from "./seed-iso";
export { cloudInitFinished, readDomain, type DomainState } from "./domain-state";
export { domainOutputs, makeDomainProvider, type DomainInputs } from "./domain";
export { structSafe } from "./engine-values";
