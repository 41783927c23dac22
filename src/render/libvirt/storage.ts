// libvirt storage XML: a directory pool, and qcow2 overlay volumes backed by the base image.
import { toXml } from "./xml";

export function renderPoolXml(name: string, path: string): string {
  return toXml({ pool: { "@type": "dir", name, target: { path, permissions: { mode: "0711" } } } });
}

export interface OverlayVolume {
  readonly name: string;
  readonly capacityGiB: number;
  readonly backingPath: string;
  readonly backingFormat?: "qcow2" | "raw";
}

/** A copy-on-write overlay: created in milliseconds, only written blocks use space. */
export function renderOverlayVolumeXml(volume: OverlayVolume): string {
  return toXml({
    volume: {
      name: volume.name,
      capacity: { "@unit": "G", "#text": volume.capacityGiB },
      target: { format: { "@type": "qcow2" }, permissions: { mode: "0600" } },
      backingStore: { path: volume.backingPath, format: { "@type": volume.backingFormat ?? "qcow2" } },
    },
  });
}
