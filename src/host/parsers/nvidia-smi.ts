// Parsers for nvidia-smi outputs across driver generations: `-q -x` XML (with and without MIG devices),
// `-L`, and the `mig -lgip` / `-lgipp` / `-lgi` / `-lci` tables. Lines we do not recognise are skipped:
// drivers add columns and footers, and a probe must not fail on a newer layout.
import { XMLParser } from "fast-xml-parser";

/** "00000000:65:00.0" (nvidia-smi) or "65:00.0" (lspci) -> "0000:65:00.0". */
export function normalisePciAddress(text: string): string {
  const match = /^(?:([0-9a-fA-F]{4,8}):)?([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])$/.exec(text.trim());
  if (!match) return text.trim().toLowerCase();
  const domain = (match[1] ?? "0000").slice(-4);
  return `${domain}:${match[2]}:${match[3]}.${match[4]}`.toLowerCase();
}

export interface XmlGpu {
  readonly pciAddress: string;
  readonly name: string | null;
  readonly uuid: string | null;
  readonly memoryMiB: number | null;
  readonly pciDeviceId: string | null;
  readonly migMode: { current: boolean | null; pending: boolean | null } | null;
  readonly migDevices: number;
  readonly processes: number | null;
  readonly architecture: string | null;
}

export interface XmlReport {
  readonly driverVersion: string | null;
  readonly gpus: XmlGpu[];
}

function text(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") return null;
  const s = String(value).trim();
  return s === "" || s === "N/A" ? null : s;
}

function mib(value: unknown): number | null {
  const match = /^([0-9]+)\s*MiB$/.exec(text(value) ?? "");
  return match ? Number(match[1]) : null;
}

function migFlag(value: unknown): boolean | null {
  const s = text(value);
  return s === "Enabled" ? true : s === "Disabled" ? false : null;
}

/** `nvidia-smi -q -x`. */
export function parseNvidiaSmiXml(xml: string): XmlReport {
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: "@",
    processEntities: false,
    isArray: (name) => name === "gpu" || name === "mig_device" || name === "process_info",
  });
  const doc = parser.parse(xml) as { nvidia_smi_log?: Record<string, unknown> };
  const log = doc.nvidia_smi_log;
  if (!log) throw new Error("not an nvidia-smi -q -x document (no <nvidia_smi_log>)");
  const gpus = ((log.gpu as Record<string, unknown>[] | undefined) ?? []).map((gpu): XmlGpu => {
    const pci = (gpu.pci ?? {}) as Record<string, unknown>;
    const deviceId = text(pci.pci_device_id); // "20B210DE": device then vendor
    const mig = gpu.mig_mode as Record<string, unknown> | undefined;
    const current = migFlag(mig?.current_mig);
    const pending = migFlag(mig?.pending_mig);
    const migDevices =
      ((gpu.mig_devices as Record<string, unknown> | undefined)?.mig_device as unknown[] | undefined)?.length ?? 0;
    const processes = gpu.processes;
    const id = gpu["@id"];
    return {
      pciAddress: normalisePciAddress(typeof id === "string" ? id : (text(pci.pci_bus_id) ?? "")),
      name: text(gpu.product_name),
      uuid: text(gpu.uuid),
      memoryMiB: mib((gpu.fb_memory_usage as Record<string, unknown> | undefined)?.total),
      pciDeviceId:
        deviceId && /^[0-9A-Fa-f]{8}$/.test(deviceId)
          ? `${deviceId.slice(4).toLowerCase()}:${deviceId.slice(0, 4).toLowerCase()}`
          : null,
      migMode: current === null && pending === null ? null : { current, pending },
      migDevices,
      processes:
        processes === undefined
          ? null
          : typeof processes === "object" && processes !== null
            ? (((processes as Record<string, unknown>).process_info as unknown[] | undefined)?.length ?? 0)
            : 0,
      architecture: text(gpu.product_architecture),
    };
  });
  return { driverVersion: text(log.driver_version), gpus };
}

export interface ListedGpu {
  readonly index: number;
  readonly name: string;
  readonly uuid: string | null;
  readonly migDevices: { readonly profile: string; readonly uuid: string }[];
}

/** `nvidia-smi -L`: GPUs and, indented under them, MIG devices. */
export function parseNvidiaSmiL(output: string): ListedGpu[] {
  const gpus: { index: number; name: string; uuid: string | null; migDevices: { profile: string; uuid: string }[] }[] =
    [];
  for (const line of output.split(/\r?\n/)) {
    const gpu = /^GPU (\d+): (.+?)(?: \(UUID: (GPU-[0-9a-fA-F-]+)\))?\s*$/.exec(line);
    if (gpu) {
      gpus.push({ index: Number(gpu[1]), name: gpu[2].trim(), uuid: gpu[3] ?? null, migDevices: [] });
      continue;
    }
    const mig = /^\s+MIG (\S+)\s+Device\s+\d+: \(UUID: (MIG-[^)]+)\)/.exec(line);
    if (mig && gpus.length > 0) gpus[gpus.length - 1].migDevices.push({ profile: mig[1], uuid: mig[2] });
  }
  return gpus;
}

export interface LgipRow {
  readonly gpu: number;
  readonly name: string;
  readonly id: number;
  readonly instancesFree: number;
  readonly instancesTotal: number;
  readonly memoryMiB: number;
}

/** `nvidia-smi mig -lgip` (R450-R470 and R5xx tables alike: GPU, Name, ID, Free/Total, Memory GiB, ...). */
export function parseMigLgip(output: string): LgipRow[] {
  const rows: LgipRow[] = [];
  for (const line of output.split(/\r?\n/)) {
    const match = /^\|\s+(\d+)\s+MIG\s+(\S+)\s+(\d+)\s+(\d+)\/(\d+)\s+([0-9.]+)\s/.exec(line);
    if (!match) continue;
    rows.push({
      gpu: Number(match[1]),
      name: match[2],
      id: Number(match[3]),
      instancesFree: Number(match[4]),
      instancesTotal: Number(match[5]),
      memoryMiB: Math.round(Number(match[6]) * 1024),
    });
  }
  return rows;
}

export interface LgippRow {
  readonly gpu: number;
  readonly id: number;
  readonly starts: number[];
  readonly size: number;
}

/** `nvidia-smi mig -lgipp`: "GPU  0 Profile ID 19 Placements: {0,1,2,3,4,5,6}:1". */
export function parseMigLgipp(output: string): LgippRow[] {
  const rows: LgippRow[] = [];
  for (const line of output.split(/\r?\n/)) {
    const match = /^GPU\s+(\d+)\s+Profile ID\s+(\d+)\s+Placements?\s*:\s*\{([0-9,\s]*)\}:(\d+)/.exec(line.trim());
    if (!match) continue;
    rows.push({
      gpu: Number(match[1]),
      id: Number(match[2]),
      starts: match[3]
        .split(",")
        .filter((s) => s.trim() !== "")
        .map((s) => Number(s.trim())),
      size: Number(match[4]),
    });
  }
  return rows;
}

export interface LgiRow {
  readonly gpu: number;
  readonly name: string;
  readonly profileId: number;
  readonly gi: number;
  readonly start: number;
  readonly size: number;
}

/** `nvidia-smi mig -lgi`: "|   0  MIG 3g.20gb          9        1          0:4     |". */
export function parseMigLgi(output: string): LgiRow[] {
  const rows: LgiRow[] = [];
  for (const line of output.split(/\r?\n/)) {
    const match = /^\|\s+(\d+)\s+MIG\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+):(\d+)\s/.exec(line);
    if (!match) continue;
    rows.push({
      gpu: Number(match[1]),
      name: match[2],
      profileId: Number(match[3]),
      gi: Number(match[4]),
      start: Number(match[5]),
      size: Number(match[6]),
    });
  }
  return rows;
}

export interface LciRow {
  readonly gpu: number;
  readonly gi: number;
  readonly name: string;
  readonly profileId: number;
  readonly ci: number;
  readonly start: number;
  readonly size: number;
}

/** `nvidia-smi mig -lci`: "|   0      2       MIG 1c.3g.20gb       0         1          1:1     |". */
export function parseMigLci(output: string): LciRow[] {
  const rows: LciRow[] = [];
  for (const line of output.split(/\r?\n/)) {
    const match = /^\|\s+(\d+)\s+(\d+)\s+MIG\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+):(\d+)\s/.exec(line);
    if (!match) continue;
    rows.push({
      gpu: Number(match[1]),
      gi: Number(match[2]),
      name: match[3],
      profileId: Number(match[4]),
      ci: Number(match[5]),
      start: Number(match[6]),
      size: Number(match[7]),
    });
  }
  return rows;
}
