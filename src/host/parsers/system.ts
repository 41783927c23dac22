// Parsers for the host's own files and commands: lspci -Dnn, /proc (cpuinfo, meminfo, modules, cmdline),
// mdevctl types, virsh version, SR-IOV creatable_vgpu_types.
import { normalisePciAddress } from "./nvidia-smi";

export interface PciDevice {
  readonly address: string;
  readonly classCode: string;
  readonly vendorDevice: string;
  readonly description: string;
}

/**
 * `lspci -Dnn` (or `-nn`): "0000:65:00.0 3D controller [0302]: NVIDIA Corporation GA100 [A100 PCIe 80GB] [10de:20b5]
 * (rev a1)".
 */
const LSPCI_LINE = new RegExp(
  [
    /^((?:[0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7])\s+/, // address (domain optional)
    /.*?\[([0-9a-fA-F]{4})\]:\s+/, // class name [class code]:
    /(.*)\s+\[([0-9a-fA-F]{4}:[0-9a-fA-F]{4})\]/, // description [vendor:device]
  ]
    .map((part) => part.source)
    .join(""),
);

export function parseLspci(output: string): PciDevice[] {
  const devices: PciDevice[] = [];
  for (const line of output.split(/\r?\n/)) {
    const match = LSPCI_LINE.exec(line);
    if (!match) continue;
    devices.push({
      address: normalisePciAddress(match[1]),
      classCode: match[2].toLowerCase(),
      vendorDevice: match[4].toLowerCase(),
      description: match[3].trim(),
    });
  }
  return devices;
}

/** NVIDIA display controllers (VGA 0300, 3D 0302): the GPUs, not their audio or USB functions. */
export function isNvidiaGpu(classCode: string, vendorDevice: string): boolean {
  return vendorDevice.startsWith("10de:") && (classCode.startsWith("0300") || classCode.startsWith("0302"));
}

/** The marketing name inside lspci's description: "GH100 [H100 SXM5 80GB]" -> "H100 SXM5 80GB". */
export function lspciModelName(description: string): string {
  const bracket = /\[([^\]]+)\]\s*$/.exec(description.replace(/^NVIDIA Corporation\s+/, ""));
  return bracket ? bracket[1] : description.replace(/^NVIDIA Corporation\s+/, "");
}

export interface CpuInfo {
  readonly vendor: string | null;
  readonly model: string | null;
  readonly threads: number | null;
  readonly cores: number | null;
  readonly virtualization: "vmx" | "svm" | null;
}

export function parseCpuinfo(text: string): CpuInfo {
  const blocks = text.split(/\n\s*\n/).filter((block) => /^processor\s*:/m.test(block));
  const field = (block: string, name: string): string | null =>
    new RegExp(`^${name}\\s*:\\s*(.*)$`, "m").exec(block)?.[1]?.trim() ?? null;
  const first = blocks[0] ?? "";
  const flags = (field(first, "flags") ?? "").split(/\s+/);
  const cores = new Set(blocks.map((block) => `${field(block, "physical id")}/${field(block, "core id")}`));
  return {
    vendor: field(first, "vendor_id"),
    model: field(first, "model name"),
    threads: blocks.length || null,
    cores: blocks.length && field(first, "core id") !== null ? cores.size : blocks.length || null,
    virtualization: flags.includes("vmx") ? "vmx" : flags.includes("svm") ? "svm" : null,
  };
}

export function parseMeminfoTotalMiB(text: string): number | null {
  const match = /^MemTotal:\s+(\d+)\s+kB/m.exec(text);
  return match ? Math.floor(Number(match[1]) / 1024) : null;
}

export function parseModules(text: string): Set<string> {
  return new Set(
    text
      .split(/\r?\n/)
      .map((line) => line.split(/\s+/)[0])
      .filter(Boolean),
  );
}

export interface MdevType {
  readonly id: string;
  readonly name: string;
  readonly available: number | null;
  readonly description: string | null;
  readonly deviceApi: string | null;
}

/** `mdevctl types`: parent address lines, then indented type blocks. */
export function parseMdevctlTypes(output: string): Map<string, MdevType[]> {
  const parents = new Map<string, MdevType[]>();
  let current: MdevType[] | undefined;
  let type:
    | { id: string; name: string; available: number | null; description: string | null; deviceApi: string | null }
    | undefined;
  for (const line of output.split(/\r?\n/)) {
    if (/^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]\s*$/.test(line)) {
      current = [];
      parents.set(normalisePciAddress(line.trim()), current);
      continue;
    }
    const id = /^\s{2}(\S+)\s*$/.exec(line);
    if (id && current) {
      type = { id: id[1], name: id[1], available: null, description: null, deviceApi: null };
      current.push(type);
      continue;
    }
    const kv = /^\s{4}([^:]+):\s*(.*)$/.exec(line);
    if (kv && type) {
      const [key, value] = [kv[1].trim(), kv[2].trim()];
      if (key === "Available instances") type.available = Number(value);
      else if (key === "Name") type.name = value;
      else if (key === "Description") type.description = value;
      else if (key === "Device API") type.deviceApi = value;
    }
  }
  return parents;
}

/** /sys/bus/pci/devices/<VF>/nvidia/creatable_vgpu_types: "ID    : vGPU Name" then "1003  : NVIDIA H100-1-10C". */
export function parseCreatableVgpuTypes(text: string): { id: string; name: string }[] {
  return text.split(/\r?\n/).flatMap((line) => {
    const match = /^\s*(\d+)\s*:\s*(.+?)\s*$/.exec(line);
    return match ? [{ id: match[1], name: match[2].replace(/^NVIDIA\s+/, "") }] : [];
  });
}

/** `virsh version`: "Using library: libvirt 9.0.0". */
export function parseVirshVersion(text: string): string | null {
  return /Using library:\s*libvirt\s+(\S+)/.exec(text)?.[1] ?? /libvirt\s+(\d+\.\d+\.\d+)/.exec(text)?.[1] ?? null;
}

/** nouveau is blacklisted on the kernel command line or in modprobe.d. */
export function nouveauBlacklisted(cmdline: string | null, modprobe: string | null): boolean | null {
  if (cmdline === null && modprobe === null) return null;
  if (cmdline !== null && /(modprobe\.blacklist|rd\.driver\.blacklist)=\S*nouveau|nouveau\.modeset=0/.test(cmdline))
    return true;
  if (modprobe !== null && /^\s*blacklist\s+nouveau\b/m.test(modprobe)) return true;
  return cmdline !== null && modprobe !== null ? false : null;
}
