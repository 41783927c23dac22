// VirtualMachine: an SSH host key, a qcow2 overlay on the base image, a NoCloud seed ISO, and the
// domain. GPU VMs wait for their GPU devices; the domain XML takes SR-IOV VF addresses once those exist.
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import type { Plan, PlannedVm } from "../src/plan/types";
import { LibvirtDomain, LibvirtVolume, SeedIso } from "../src/providers/resources";
import { seedFiles, type CloudConfig } from "../src/render/cloud-init/nocloud";
import { knownHostsLine, sshHostKeyLayer } from "../src/render/cloud-init/ssh-host-key";
import { renderDomain } from "../src/render/libvirt/domain";
import { diskVolumeName, seedVolumeName } from "../src/render/libvirt/names";
import { renderOverlayVolumeXml } from "../src/render/libvirt/storage";
import type { ClusterSpec } from "../src/spec/types";

export interface VirtualMachineArgs {
  readonly spec: ClusterSpec;
  readonly plan: Plan;
  readonly vm: PlannedVm;
  readonly uri: string;
  readonly pool: string;
  readonly basePath: pulumi.Input<string>;
  /** Direct kernel boot of a golden image (kernel and initrd in the pool); null boots the disk's bootloader. */
  readonly directBoot?: { readonly kernel: pulumi.Input<string>; readonly initrd: pulumi.Input<string>; readonly cmdline: string } | null;
  /** libvirt domain type: kvm, or qemu under host.virtualization: emulated. */
  readonly domainType?: "kvm" | "qemu";
  /** The role's cloud-init layers (Slurm, Kubernetes, GPU driver); an Output when they embed secrets. */
  readonly layers: pulumi.Input<CloudConfig[]>;
  /** SSH keys added to the admin user besides the spec's. */
  readonly extraKeys: readonly string[];
  readonly network: pulumi.Resource;
  readonly gpuDevices: readonly pulumi.Resource[];
  readonly vfAddresses: pulumi.Input<Record<string, string>>;
  /** Start the domain. @default true */
  readonly start?: boolean;
}

export class VirtualMachine extends pulumi.ComponentResource {
  readonly domain: LibvirtDomain;
  /** True when a change (vCPUs, memory, cloud-init configuration) waits for the VM's next boot. */
  readonly restartRequired: pulumi.Output<boolean>;
  readonly ip: string;
  readonly vmName: string;
  /** This VM's line for `known_hosts` (its pinned host key under its name, FQDN and address). */
  readonly knownHosts: pulumi.Output<string>;

  constructor(name: string, args: VirtualMachineArgs, opts?: pulumi.ComponentResourceOptions) {
    super("hyperscaler:index:VirtualMachine", name, {}, opts);
    const { vm, plan } = args;
    const hostKey = new tls.PrivateKey(`${name}-host-key`, { algorithm: "ED25519" }, { parent: this });
    const hostKeyLayer = pulumi.all([pulumi.secret(hostKey.privateKeyOpenssh), hostKey.publicKeyOpenssh])
      .apply(([privateKey, publicKey]) => sshHostKeyLayer({ privateKey, publicKey }));
    this.knownHosts = hostKey.publicKeyOpenssh.apply((publicKey) => knownHostsLine(plan, vm, publicKey));
    const disk = new LibvirtVolume(`${name}-disk`, {
      uri: args.uri,
      pool: args.pool,
      name: diskVolumeName(vm),
      xml: pulumi.output(args.basePath).apply((backingPath) => renderOverlayVolumeXml({ name: diskVolumeName(vm), capacityGiB: vm.diskGiB, backingPath })),
      capacityGiB: vm.diskGiB,
      backingPath: args.basePath,
    }, { parent: this });
    const seed = new SeedIso(`${name}-seed`, {
      uri: args.uri,
      pool: args.pool,
      name: seedVolumeName(vm),
      files: pulumi.all([args.layers, hostKeyLayer]).apply(([layers, keyLayer]) => ({ ...seedFiles(args.spec, plan, vm, [...layers, keyLayer], args.extraKeys) })),
    }, { parent: this });
    const boot = args.directBoot;
    const rendered = pulumi.all([args.vfAddresses, boot?.kernel ?? "", boot?.initrd ?? ""]).apply(([vfAddresses, kernel, initrd]) =>
      renderDomain(plan, vm, { pool: args.pool, vfAddresses, domainType: args.domainType, directBoot: boot ? { kernel, initrd, cmdline: boot.cmdline } : undefined }));
    this.domain = new LibvirtDomain(`${name}-domain`, {
      uri: args.uri,
      name: vm.name,
      xml: rendered.apply((r) => r.xml),
      facts: rendered.apply((r) => r.facts),
      start: args.start ?? true,
      seedSha256: seed.contentSha256,
    }, { parent: this, dependsOn: [disk, seed, args.network, ...args.gpuDevices] });
    this.ip = vm.ip;
    this.vmName = vm.name;
    this.restartRequired = this.domain.restartRequired;
    this.registerOutputs({ ip: vm.ip, name: vm.name, knownHosts: this.knownHosts });
  }
}
