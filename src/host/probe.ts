// Builds the HostInventory from a HostSource. GPUs are enumerated from PCI (sysfs, else lspci), so a GPU
// bound to vfio-pci or to no driver is still found; nvidia-smi enriches what it can see.
import { lookupModel } from "../facts/gpu-catalog";
import {
  normalisePciAddress,
  parseMigLgi,
  parseMigLgip,
  parseMigLgipp,
  parseMigLci,
  parseNvidiaSmiL,
  parseNvidiaSmiXml,
  type XmlReport,
} from "./parsers/nvidia-smi";
import {
  isNvidiaGpu,
  lspciModelName,
  nouveauBlacklisted,
  parseCpuinfo,
  parseCreatableVgpuTypes,
  parseLspci,
  parseMdevctlTypes,
  parseMeminfoTotalMiB,
  parseModules,
  parseVirshVersion,
  type MdevType,
} from "./parsers/system";
import type { HostSource } from "./source";
import type { HostGpu, HostInventory, HostMigProfile, HostVgpuType } from "./types";

const PCI = "bus/pci/devices";

interface PciGpu {
  readonly address: string;
  readonly vendorDevice: string | null;
  readonly lspciName: string | null;
}

function basename(link: string | null): string | null {
  return link === null ? null : (link.split("/").filter(Boolean).pop() ?? null);
}

function enumeratePci(source: HostSource): PciGpu[] {
  const fromSysfs = source.sys.list(PCI);
  if (fromSysfs.length > 0) {
    return fromSysfs.flatMap((address) => {
      const vendor = source.sys.read(`${PCI}/${address}/vendor`);
      const device = source.sys.read(`${PCI}/${address}/device`);
      const cls = source.sys.read(`${PCI}/${address}/class`);
      if (!vendor || !device || !cls) return [];
      const vendorDevice = `${vendor.replace(/^0x/, "")}:${device.replace(/^0x/, "")}`.toLowerCase();
      return isNvidiaGpu(cls.replace(/^0x/, ""), vendorDevice)
        ? [{ address: normalisePciAddress(address), vendorDevice, lspciName: null }]
        : [];
    });
  }
  const lspci = source.input("lspci-Dnn.txt");
  if (lspci !== null) {
    return parseLspci(lspci)
      .filter((d) => isNvidiaGpu(d.classCode, d.vendorDevice))
      .map((d) => ({ address: d.address, vendorDevice: d.vendorDevice, lspciName: lspciModelName(d.description) }));
  }
  return [];
}

function safeXml(text: string | null): XmlReport | null {
  if (text === null) return null;
  try {
    return parseNvidiaSmiXml(text);
  } catch {
    return null;
  }
}

function iommuGroups(source: HostSource): { id: number; devices: string[] }[] {
  return source.sys
    .list("kernel/iommu_groups")
    .filter((g) => /^\d+$/.test(g))
    .map((g) => ({
      id: Number(g),
      devices: source.sys.list(`kernel/iommu_groups/${g}/devices`).map(normalisePciAddress).sort(),
    }))
    .sort((a, b) => a.id - b.id);
}

/** PCI-to-PCI bridges (class 0x0604xx) stay with the host: vfio does not need them and cannot take them. */
function isBridge(source: HostSource, address: string): boolean {
  return (source.sys.read(`${PCI}/${address}/class`) ?? "").replace(/^0x/, "").toLowerCase().startsWith("0604");
}

/** Same bus:device as the GPU: its own functions (HDMI audio, USB-C), which pass through with it. */
function sameCard(a: string, b: string): boolean {
  return a.slice(0, a.lastIndexOf(".")) === b.slice(0, b.lastIndexOf("."));
}

function vgpuOf(
  source: HostSource,
  address: string,
  mdevctl: Map<string, { id: string; name: string; available: number | null }[]>,
): HostGpu["vgpu"] {
  const parents = [
    address,
    ...source.sys
      .list(`${PCI}/${address}`)
      .filter((entry) => /^virtfn\d+$/.test(entry))
      .map((vf) => basename(source.sys.link(`${PCI}/${address}/${vf}`)))
      .filter((vf): vf is string => vf !== null)
      .map(normalisePciAddress),
  ];
  const mdevTypes: HostVgpuType[] = [];
  const seen = new Set<string>();
  for (const parent of parents) {
    for (const id of source.sys.list(`${PCI}/${parent}/mdev_supported_types`)) {
      if (seen.has(id)) continue;
      seen.add(id);
      const base = `${PCI}/${parent}/mdev_supported_types/${id}`;
      const available = source.sys.read(`${base}/available_instances`);
      mdevTypes.push({
        id,
        name: source.sys.read(`${base}/name`) ?? id,
        available: available === null ? null : Number(available),
      });
    }
    for (const type of mdevctl.get(parent) ?? []) {
      if (seen.has(type.id)) continue;
      seen.add(type.id);
      mdevTypes.push({ id: type.id, name: type.name, available: type.available });
    }
  }
  if (mdevTypes.length > 0) return { framework: "mdev", types: mdevTypes };
  const sriovTypes: HostVgpuType[] = [];
  for (const vf of parents.slice(1)) {
    const text = source.sys.read(`${PCI}/${vf}/nvidia/creatable_vgpu_types`);
    for (const type of text ? parseCreatableVgpuTypes(text) : []) {
      const existing = sriovTypes.find((t) => t.id === type.id);
      if (existing) (existing as { available: number | null }).available = (existing.available ?? 0) + 1;
      else sriovTypes.push({ id: type.id, name: type.name, available: 1 });
    }
  }
  return sriovTypes.length > 0 ? { framework: "sriov", types: sriovTypes } : { framework: null, types: [] };
}

export function inventoryFrom(source: HostSource, libvirtUri = "qemu:///system"): HostInventory {
  const xml = safeXml(source.input("nvidia-smi-q-x.xml"));
  const listed = parseNvidiaSmiL(source.input("nvidia-smi-L.txt") ?? "");
  const lgip = parseMigLgip(source.input("nvidia-smi-mig-lgip.txt") ?? "");
  const lgipp = parseMigLgipp(source.input("nvidia-smi-mig-lgipp.txt") ?? "");
  const lgi = parseMigLgi(source.input("nvidia-smi-mig-lgi.txt") ?? "");
  const lci = parseMigLci(source.input("nvidia-smi-mig-lci.txt") ?? "");
  const mdevctlText = source.input("mdevctl-types.txt");
  const mdevctl = mdevctlText ? parseMdevctlTypes(mdevctlText) : new Map<string, MdevType[]>();
  const groups = iommuGroups(source);
  const pci = enumeratePci(source);
  // nvidia-smi may know GPUs the PCI inputs did not cover (no sysfs or lspci captured).
  for (const gpu of xml?.gpus ?? [])
    if (!pci.some((p) => p.address === gpu.pciAddress))
      pci.push({ address: gpu.pciAddress, vendorDevice: gpu.pciDeviceId, lspciName: null });
  pci.sort((a, b) => a.address.localeCompare(b.address));

  // nvidia-smi numbers GPUs in PCI bus order; when only its MIG tables were captured, that order gives the index.
  const smiSaw = xml !== null || listed.length > 0 || lgip.length + lgipp.length + lgi.length > 0;
  const gpus: HostGpu[] = pci.map((device, pciOrder): HostGpu => {
    const xmlIndex = xml?.gpus.findIndex((g) => g.pciAddress === device.address) ?? -1;
    const fromXml = xmlIndex >= 0 ? xml!.gpus[xmlIndex] : undefined;
    const fromList =
      listed.find((g) => fromXml?.uuid && g.uuid === fromXml.uuid) ??
      (xml === null
        ? listed.find((g) => g.index === pciOrder)
        : xmlIndex >= 0
          ? listed.find((g) => g.index === xmlIndex)
          : undefined);
    const index = fromList?.index ?? (xmlIndex >= 0 ? xmlIndex : xml === null && smiSaw ? pciOrder : null);
    const pciDeviceId = device.vendorDevice ?? fromXml?.pciDeviceId ?? null;
    const name =
      fromXml?.name ?? fromList?.name ?? device.lspciName ?? (pciDeviceId ? `NVIDIA GPU ${pciDeviceId}` : "NVIDIA GPU");
    const catalog = lookupModel(name, pciDeviceId);
    const entry = catalog.kind === "found" ? catalog.entry : undefined;
    const driver = basename(source.sys.link(`${PCI}/${device.address}/driver`)) ?? (fromXml ? "nvidia" : null);
    const groupText = basename(source.sys.link(`${PCI}/${device.address}/iommu_group`));
    const group =
      groupText !== null ? Number(groupText) : (groups.find((g) => g.devices.includes(device.address))?.id ?? null);
    const members = groups.find((g) => g.id === group)?.devices;
    const profiles: HostMigProfile[] =
      index === null
        ? []
        : lgip
            .filter((row) => row.gpu === index)
            .map((row) => {
              const placement = lgipp.find((p) => p.gpu === index && p.id === row.id);
              return {
                id: row.id,
                name: row.name,
                instancesFree: row.instancesFree,
                instancesTotal: row.instancesTotal,
                memoryMiB: row.memoryMiB,
                placements: placement ? placement.starts.map((start) => ({ start, size: placement.size })) : [],
              };
            });
    // Placements without the profile table (only -lgipp captured): name them from the catalog by id.
    if (index !== null && profiles.length === 0) {
      for (const p of lgipp.filter((row) => row.gpu === index)) {
        const known = entry?.profiles.find((c) => c.id === p.id && c.memorySlices === p.size);
        profiles.push({
          id: p.id,
          name: known?.name ?? `profile-${p.id}`,
          instancesFree: null,
          instancesTotal: null,
          memoryMiB: known ? known.memoryGiB * 1024 : null,
          placements: p.starts.map((start) => ({ start, size: p.size })),
        });
      }
    }
    const migMode =
      fromXml?.migMode ??
      (index !== null && (lgip.some((r) => r.gpu === index) || lgi.some((r) => r.gpu === index))
        ? { current: lgi.some((r) => r.gpu === index) ? true : null, pending: null }
        : null);
    return {
      index,
      name,
      pciAddress: device.address,
      pciDeviceId,
      uuid: fromXml?.uuid ?? fromList?.uuid ?? null,
      memoryMiB: fromXml?.memoryMiB ?? (entry ? entry.memoryGiB * 1024 : null),
      driverVersion: fromXml ? xml!.driverVersion : null,
      boundDriver: driver,
      iommuGroup: group,
      iommuIsolated: members
        ? members.filter((member) => !isBridge(source, member)).every((member) => sameCard(member, device.address))
        : null,
      ...(members
        ? { iommuGroupEndpoints: members.filter((member) => member !== device.address && !isBridge(source, member)) }
        : {}),
      migCapable: fromXml ? fromXml.migMode !== null : profiles.length > 0 || entry !== undefined ? true : null,
      migMode,
      migProfiles: profiles,
      migInstances:
        index === null
          ? []
          : lgi
              .filter((row) => row.gpu === index)
              .map((row) => ({
                gi: row.gi,
                profileId: row.profileId,
                profile: row.name,
                start: row.start,
                size: row.size,
              })),
      vgpu: vgpuOf(source, device.address, mdevctl),
      processes: fromXml?.processes ?? null,
      ...(lci.some((row) => row.gpu === index)
        ? {
            computeInstances: lci
              .filter((row) => row.gpu === index)
              .map(({ gi, ci, name: ciName, profileId, start, size }) => ({
                gi,
                ci,
                profile: ciName,
                profileId,
                start,
                size,
              })),
          }
        : {}),
    };
  });

  const cpuText = source.input("proc-cpuinfo.txt");
  const cpu = cpuText
    ? parseCpuinfo(cpuText)
    : { vendor: null, model: null, cores: null, threads: null, virtualization: null };
  const meminfo = source.input("proc-meminfo.txt");
  const modulesText = source.input("proc-modules.txt");
  const modules = modulesText !== null ? parseModules(modulesText) : null;
  const cmdline = source.input("proc-cmdline.txt");
  const processesText = source.input("processes.txt");
  const processes = processesText !== null ? new Set(processesText.split(/\r?\n/).map((p) => p.trim())) : null;
  const kvmText = source.input("dev-kvm.txt") ?? "";
  const virsh = source.input("virsh-version.txt");
  const iommuClass = source.sys.list("class/iommu");
  const sysfsSeen = source.sys.list(PCI).length > 0 || source.sys.list("kernel").length > 0;

  const resetBlockers: string[] = [];
  if (modules?.has("nvidia_drm")) resetBlockers.push("nvidia_drm module loaded");
  if (processes?.has("nvidia-persistenced")) resetBlockers.push("nvidia-persistenced running");
  if (processes?.has("nv-fabricmanager")) resetBlockers.push("nvidia-fabricmanager running");
  if (processes?.has("nv-hostengine")) resetBlockers.push("DCGM (nv-hostengine) running");

  return {
    schemaVersion: 1,
    source: { kind: source.kind, path: source.path, capturedAt: source.capturedAt },
    hostname: source.input("hostname.txt")?.trim() || null,
    cpu: {
      vendor: cpu.vendor,
      model: cpu.model,
      cores: cpu.cores,
      threads: cpu.threads,
      virtualization: cpu.virtualization,
    },
    memory: { totalMiB: meminfo ? parseMeminfoTotalMiB(meminfo) : null },
    disk: null,
    kvm: { device: /present:\s*yes/.test(kvmText), accessible: /accessible:\s*yes/.test(kvmText) },
    iommu: { enabled: iommuClass.length > 0 || groups.length > 0 ? true : sysfsSeen ? false : null, groups },
    nouveau: {
      loaded: modules ? modules.has("nouveau") : null,
      blacklisted: nouveauBlacklisted(cmdline, source.input("modprobe-d.txt")),
    },
    libvirt: { reachable: virsh !== null, version: virsh ? parseVirshVersion(virsh) : null, uri: libvirtUri },
    resetBlockers,
    gpus,
  };
}
