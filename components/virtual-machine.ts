// VirtualMachine: an SSH host key, a qcow2 overlay on the base image, a NoCloud seed ISO, and the
// domain. GPU VMs wait for their GPU devices; the domain XML takes SR-IOV VF addresses once those exist.
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import type { Plan, PlannedVm } from "../src/plan/types";
import { LibvirtDomain, LibvirtVolume, SeedIso, type LibvirtNetwork, type VgpuDevice } from "../src/providers/resources";
import type { CloudConfig } from "../src/render/cloud-init/nocloud";
import { knownHostsLine, sshHostKeyLayer } from "../src/render/cloud-init/ssh-host-key";
import { renderDomain } from "../src/render/libvirt/domain";
import { diskVolumeName, seedVolumeName } from "../src/render/libvirt/names";
import { renderOverlayVolumeXml } from "../src/render/libvirt/storage";
import { vmSeedFiles } from "../src/render/stack-inputs";
import type { ClusterSpec } from "../src/spec/types";

export interface VirtualMachineArgs {
  readonly spec: ClusterSpec;
  readonly plan: Plan;
  readonly vm: PlannedVm;
  readonly uri: string;
  /** The storage pool's name, as an output of the pool resource (so volumes depend on it). */
  readonly pool: pulumi.Input<string>;
  /** Whether the pool was adopted (then existing volumes there are never touched). */
  readonly poolAdopted: pulumi.Input<boolean>;
  readonly basePath: pulumi.Input<string>;
  /** Direct kernel boot of a golden image (kernel and initrd in the pool); null boots the disk's bootloader. */
  readonly directBoot?: { readonly kernel: pulumi.Input<string>; readonly initrd: pulumi.Input<string>; readonly cmdline: string } | null;
  /** libvirt domain type: kvm, or qemu under host.virtualization: emulated. */
  readonly domainType?: "kvm" | "qemu";
  /** The role's cloud-init layers (Slurm, Kubernetes, GPU driver); an Output when they embed secrets. */
  readonly layers: pulumi.Input<CloudConfig[]>;
  /** SSH keys added to the admin user besides the spec's. */
  readonly extraKeys: readonly string[];
  readonly network: LibvirtNetwork;
  readonly gpuDevices: readonly VgpuDevice[];
  readonly vfAddresses: pulumi.Input<Record<string, string>>;
  /** The stack's identity: the domain's UUID is unique to the stack (the provider's ownership mark). */
  readonly stackId: pulumi.Input<string>;
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
      poolAdopted: args.poolAdopted,
      name: diskVolumeName(vm),
      xml: pulumi.output(args.basePath).apply((backingPath) => renderOverlayVolumeXml({ name: diskVolumeName(vm), capacityGiB: vm.diskGiB, backingPath })),
      capacityGiB: vm.diskGiB,
      backingPath: args.basePath,
    }, { parent: this });
    const seed = new SeedIso(`${name}-seed`, {
      uri: args.uri,
      pool: args.pool,
      poolAdopted: args.poolAdopted,
      name: seedVolumeName(vm),
      files: pulumi.all([args.layers, hostKeyLayer]).apply(([layers, keyLayer]) => vmSeedFiles(args.spec, plan, vm, layers, keyLayer, args.extraKeys)),
    }, { parent: this });
    const boot = args.directBoot;
    const rendered = pulumi.all([args.pool, args.vfAddresses, args.stackId, boot?.kernel ?? "", boot?.initrd ?? ""]).apply(([pool, vfAddresses, stackId, kernel, initrd]) =>
      renderDomain(plan, vm, { pool, vfAddresses, stackId, domainType: args.domainType, directBoot: boot ? { kernel, initrd, cmdline: boot.cmdline } : undefined }));
    this.domain = new LibvirtDomain(`${name}-domain`, {
      uri: args.uri,
      name: vm.name,
      xml: rendered.apply((r) => r.xml),
      facts: rendered.apply((r) => r.facts),
      // The network resource's name output: when the network is replaced (delete before replace), the engine
      // sees this input become unknown, the domain's diff asks for a replacement, and the VM is removed
      // before its network instead of being left running on a deleted one.
      networks: pulumi.all([args.network.name]),
      // Likewise the disk: a replaced disk (new base image) replaces the domain rather than vanishing under it.
      disk: disk.path,
      // And its vGPU devices: a replaced device replaces the domain rather than vanishing under the VM.
      devices: pulumi.all(args.gpuDevices.map((device) => device.uuid)),
      start: args.start ?? true,
      seedSha256: seed.contentSha256,
    }, { parent: this, dependsOn: [disk, seed, args.network, ...args.gpuDevices] });
    this.ip = vm.ip;
    this.vmName = vm.name;
    // Memory/vCPU changes waiting for a restart, or a seed (cloud-init configuration) newer than the one the VM booted with.
    this.restartRequired = pulumi.all([this.domain.restartRequired, this.domain.bootedSeedSha256, seed.contentSha256])
      .apply(([pending, booted, current]) => Boolean(pending) || (booted !== null && booted !== undefined && booted !== current));
    this.registerOutputs({ ip: vm.ip, name: vm.name, knownHosts: this.knownHosts });
  }
}
