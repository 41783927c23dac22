// libvirt domain XML for a planned VM: q35, host-passthrough CPU, virtio disk on a qcow2 overlay, virtio NIC
// with the planned MAC, serial console, guest agent channel, the seed ISO as a cdrom, and GPU hostdevs.
import { domainUuid } from "../../plan/ids";
import { networkOf } from "../../plan/vms";
import type { Plan, PlannedVm, VmGpu } from "../../plan/types";
import { diskFact, hostdevFact, interfaceFact, SEED_TARGET, type DomainFacts } from "./domain-facts";
import { diskVolumeName, networkName, seedVolumeName } from "./names";
import { toXml, type XmlNode } from "./xml";

export const METADATA_NS = "https://hyperscaler.local/xmlns/vm/1";

export interface DomainOptions {
  readonly pool: string;
  /** Hugepage-backed memory (needs hugepages reserved on the host). */
  readonly hugepages?: boolean;
  /** Host CPUs to pin vCPUs to, one per vCPU, in order. */
  readonly cpuPinning?: readonly number[];
  /** SR-IOV vGPU VFs are only known once the GPU host is set up: device UUID -> VF PCI address. */
  readonly vfAddresses?: Readonly<Record<string, string>>;
  /** The stack's identity (a UUID kept in its state): domain UUIDs are unique per stack, not only per spec. */
  readonly stackId?: string;
  /** Domain type: kvm on real hosts; qemu (emulation) where KVM is missing. */
  readonly domainType?: "kvm" | "qemu";
  /** Direct kernel boot (golden images): kernel and initrd paths in the pool and the command line. */
  readonly directBoot?: DirectBoot;
}

export interface DirectBoot {
  readonly kernel: string;
  readonly initrd: string;
  readonly cmdline: string;
}

/** Where libvirt logs a VM's serial console (inside libvirt's own log directory). */
export function serialLogPath(vm: Pick<PlannedVm, "name">): string {
  return `/var/log/libvirt/qemu/${vm.name}-serial.log`;
}

/** TCG's translation cache per VM: QEMU's 1 GiB default roughly doubles each emulated VM's host memory. */
export const TCG_TB_CACHE_MIB = 256;

/** Boot: the image's bootloader from the disk, or the golden image's kernel given to QEMU directly. */
function osElement(boot: DirectBoot | undefined): XmlNode {
  const type = { "@arch": "x86_64", "@machine": "q35", "#text": "hvm" };
  if (!boot) return { type, boot: { "@dev": "hd" } };
  return { type, kernel: boot.kernel, initrd: boot.initrd, cmdline: boot.cmdline };
}

function pciAddress(address: string): XmlNode {
  const match = /^([0-9a-f]{4}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/.exec(address.toLowerCase());
  if (!match) throw new Error(`not a PCI address: ${address}`);
  return {
    "@domain": `0x${match[1]}`,
    "@bus": `0x${match[2]}`,
    "@slot": `0x${match[3]}`,
    "@function": `0x${match[4]}`,
  };
}

/** The hostdev element for one GPU share. */
export function hostdevFor(
  gpu: VmGpu,
  vfAddresses: Readonly<Record<string, string>> = {},
  vgpuPath: "mdev" | "sriov" | null = null,
): XmlNode {
  if (gpu.kind === "passthrough" || gpu.kind === "mig-in-guest") {
    return { "@mode": "subsystem", "@type": "pci", "@managed": "yes", source: { address: pciAddress(gpu.pciAddress) } };
  }
  if (vgpuPath === "sriov") {
    const vf = gpu.deviceUuid ? vfAddresses[gpu.deviceUuid] : undefined;
    if (!vf) throw new Error(`vGPU ${gpu.deviceUuid} on ${gpu.gpu} is an SR-IOV VF whose address is not known yet`);
    return { "@mode": "subsystem", "@type": "pci", "@managed": "yes", source: { address: pciAddress(vf) } };
  }
  if (!gpu.deviceUuid) throw new Error(`vGPU on ${gpu.gpu} has no device UUID`);
  return {
    "@mode": "subsystem",
    "@type": "mdev",
    "@model": "vfio-pci",
    "@display": "off",
    source: { address: { "@uuid": gpu.deviceUuid } },
  };
}

/**
 * Every hostdev a GPU share needs: a whole GPU takes its IOMMU group's other endpoint functions too
 * (libvirt binds each to vfio-pci, managed='yes'), or the group is not viable and the VM cannot start.
 */
export function hostdevsFor(
  gpu: VmGpu,
  vfAddresses: Readonly<Record<string, string>> = {},
  vgpuPath: "mdev" | "sriov" | null = null,
): XmlNode[] {
  const companions = (gpu.groupFunctions ?? []).map((address): XmlNode => ({
    "@mode": "subsystem",
    "@type": "pci",
    "@managed": "yes",
    source: { address: pciAddress(address) },
  }));
  return [hostdevFor(gpu, vfAddresses, vgpuPath), ...companions];
}

/** A hostdev element's fact, encoded as the provider encodes what libvirt reports (domain-facts.ts). */
function hostdevKey(node: XmlNode): string {
  const address = (node.source as XmlNode).address as XmlNode;
  // Attributes are scalars (string or number); an element under that name is no attribute.
  const attribute = (key: string): string | undefined => {
    const value = address[key];
    return typeof value === "string" || typeof value === "number" ? String(value) : undefined;
  };
  return hostdevFact({
    uuid: attribute("@uuid"),
    domain: attribute("@domain"),
    bus: attribute("@bus"),
    slot: attribute("@slot"),
    function: attribute("@function"),
  });
}

export function renderDomain(
  plan: Pick<Plan, "stack" | "networks" | "gpus" | "vms">,
  vm: PlannedVm,
  options: DomainOptions,
): { xml: string; facts: DomainFacts } {
  const xml = renderDomainXml(plan, vm, options);
  const network = networkOf(plan, vm);
  const paths = new Map(plan.gpus.map((g) => [g.id, g.vgpuPath]));
  return {
    xml,
    facts: {
      memoryMiB: vm.memoryMiB,
      vcpus: vm.vcpus,
      disks: [diskVolumeName(vm), seedVolumeName(vm)].map((volume) => diskFact({ pool: options.pool, volume })),
      hostdevs: vm.gpus.flatMap((gpu) =>
        hostdevsFor(gpu, options.vfAddresses, paths.get(gpu.gpu) ?? null).map(hostdevKey),
      ),
      interfaces: [interfaceFact(vm.mac, networkName(plan, network))],
    },
  };
}

export function renderDomainXml(
  plan: Pick<Plan, "stack" | "networks" | "gpus" | "vms">,
  vm: PlannedVm,
  options: DomainOptions,
): string {
  const network = networkOf(plan, vm);
  const paths = new Map(plan.gpus.map((g) => [g.id, g.vgpuPath]));
  const hasGpu = vm.gpus.length > 0;
  const devices: XmlNode = {
    disk: [
      {
        "@type": "volume",
        "@device": "disk",
        driver: { "@name": "qemu", "@type": "qcow2", "@discard": "unmap" },
        source: { "@pool": options.pool, "@volume": diskVolumeName(vm) },
        target: { "@dev": "vda", "@bus": "virtio" },
      },
      // The seed is a cdrom (so the provider can eject it once cloud-init is done) on virtio-scsi, not SATA:
      // Debian's cloud kernel (golden images) has no AHCI driver, but has virtio_scsi and sr_mod.
      {
        "@type": "volume",
        "@device": "cdrom",
        driver: { "@name": "qemu", "@type": "raw" },
        source: { "@pool": options.pool, "@volume": seedVolumeName(vm) },
        target: { "@dev": SEED_TARGET, "@bus": "scsi" },
        readonly: "",
      },
    ],
    controller: { "@type": "scsi", "@index": "0", "@model": "virtio-scsi" },
    // Anti-spoofing: libvirt's built-in clean-traffic nwfilter lets the NIC send only its own MAC and the
    // planned IP (DHCP and ARP included), whatever the guest configures.
    interface: {
      "@type": "network",
      mac: { "@address": vm.mac },
      source: { "@network": networkName(plan, network) },
      model: { "@type": "virtio" },
      filterref: { "@filter": "clean-traffic", parameter: { "@name": "IP", "@value": vm.ip } },
    },
    // The console is also logged (by virtlogd): boot and cloud-init failures can be read after the fact.
    serial: { "@type": "pty", log: { "@file": serialLogPath(vm), "@append": "off" }, target: { "@port": "0" } },
    console: { "@type": "pty", target: { "@type": "serial", "@port": "0" } },
    channel: { "@type": "unix", target: { "@type": "virtio", "@name": "org.qemu.guest_agent.0" } },
    hostdev: vm.gpus.length
      ? vm.gpus.flatMap((gpu) => hostdevsFor(gpu, options.vfAddresses, paths.get(gpu.gpu) ?? null))
      : undefined,
    // Ballooning cannot reclaim memory pinned for device DMA; GPU VMs go without it.
    memballoon: { "@model": hasGpu ? "none" : "virtio" },
    rng: { "@model": "virtio", backend: { "@model": "random", "#text": "/dev/urandom" } },
  };
  const emulated = options.domainType === "qemu";
  // Under emulation there is no host CPU to pass through: QEMU's "max" model offers every feature TCG can.
  const cpu: XmlNode = emulated
    ? { "@mode": "maximum", "@check": "none" }
    : { "@mode": "host-passthrough", "@check": "none", "@migratable": "off" };
  const domain: XmlNode = {
    "@type": options.domainType ?? "kvm",
    name: vm.name,
    uuid: domainUuid(plan, vm, options.stackId),
    metadata: {
      "hs:vm": { "@xmlns:hs": METADATA_NS, "hs:stack": plan.stack, "hs:cluster": vm.cluster, "hs:role": vm.role },
    },
    memory: { "@unit": "MiB", "#text": vm.memoryMiB },
    currentMemory: { "@unit": "MiB", "#text": vm.memoryMiB },
    memoryBacking: options.hugepages ? { hugepages: "" } : undefined,
    vcpu: { "@placement": "static", "#text": vm.vcpus },
    cputune: options.cpuPinning?.length
      ? {
          vcpupin: Array.from({ length: vm.vcpus }, (_, i) => ({
            "@vcpu": i,
            "@cpuset": options.cpuPinning![i % options.cpuPinning!.length],
          })),
        }
      : undefined,
    os: osElement(options.directBoot),
    // Large-BAR GPUs need the 64-bit MMIO window sized by firmware; ioapic split is what q35 + vfio expect.
    features: {
      acpi: "",
      apic: "",
      ioapic: hasGpu ? { "@driver": "kvm" } : undefined,
      tcg: emulated ? { "tb-cache": { "@unit": "MiB", "#text": TCG_TB_CACHE_MIB } } : undefined,
    },
    cpu,
    clock: { "@offset": "utc" },
    on_poweroff: "destroy",
    on_reboot: "restart",
    on_crash: "destroy",
    devices,
  };
  return toXml({ domain });
}
