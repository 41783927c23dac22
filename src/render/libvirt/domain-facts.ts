// The facts of a domain that the domain provider compares with what libvirt holds, and their one encoding:
// render derives them from the VM it writes into the XML, the provider from what libvirt reports, both with
// these functions, so the two sides cannot drift apart. No imports: the provider is serialized by the engine.

/** What the domain provider compares with libvirt's state. */
export interface DomainFacts {
  readonly memoryMiB: number;
  readonly vcpus: number;
  /** One per disk source: "pool/volume", or the file or device path. */
  readonly disks: readonly string[];
  /** One per hostdev: "pci:dddd:bb:ss.f" or "mdev:<uuid>". */
  readonly hostdevs: readonly string[];
  /** One per NIC: "mac@network". */
  readonly interfaces: readonly string[];
}

/** The seed's cdrom target: render places the NoCloud seed there, the provider ejects it from there. */
export const SEED_TARGET = "sda";

/** The facts that are lists; a change of any of them replaces the domain. */
export const LIST_FACTS = ["disks", "hostdevs", "interfaces"] as const;

/** A disk's source element (attributes without the "@"). */
export interface DiskSource {
  readonly pool?: string;
  readonly volume?: string;
  readonly file?: string;
  readonly dev?: string;
}

export function diskFact(source: DiskSource): string {
  return source.pool ? `${source.pool}/${source.volume}` : (source.file ?? source.dev ?? "");
}

/** A hostdev's source address: an mdev's UUID, or a PCI address as libvirt writes it ("0x0000", "0x65"...). */
export interface HostdevAddress {
  readonly uuid?: string;
  readonly domain?: string;
  readonly bus?: string;
  readonly slot?: string;
  readonly function?: string;
}

export function hostdevFact(address: HostdevAddress): string {
  if (address.uuid) return `mdev:${address.uuid}`;
  const hex = (value: string | undefined): string => (value ?? "").replace(/^0x/, "");
  return `pci:${hex(address.domain)}:${hex(address.bus)}:${hex(address.slot)}.${hex(address.function)}`;
}

export function interfaceFact(mac: string, network: string): string {
  return `${mac}@${network}`;
}

/** Whether a recorded fact and a wanted one are the same. */
export function sameFact(recorded: unknown, wanted: unknown): boolean {
  return JSON.stringify(recorded) === JSON.stringify(wanted);
}
