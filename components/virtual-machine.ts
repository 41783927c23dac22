// VirtualMachine: an SSH host key, a qcow2 overlay on the base image, a NoCloud seed ISO, and the
// domain. GPU VMs wait for their GPU devices; the domain XML takes SR-IOV VF addresses once those exist.
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import type { PlannedVm } from "../src/plan/types";
import { LibvirtDomain, LibvirtVolume, SeedIso, type VgpuDevice } from "../src/providers/resources";
import { knownHostsLine } from "../src/render/cloud-init/ssh-host-key";
import type { PlanLayout, RoleSecrets } from "../src/render/layers";
import { renderDomain } from "../src/render/libvirt/domain";
import { diskVolumeName, networkName, seedVolumeName } from "../src/render/libvirt/names";
import { renderOverlayVolumeXml } from "../src/render/libvirt/storage";
import { vmSeedFiles } from "../src/render/stack-inputs";
import type { ClusterSpec } from "../src/spec/types";
import { refuseArgs } from "./args-error";
import type { VmNetwork } from "./cluster-network";

export interface VirtualMachineArgs {
  /** The cluster spec: the VM's cloud-init renders its cluster's configuration (slurm.conf, kubeadm) from it. */
  readonly spec: ClusterSpec;
  /** The plan's layout: the VM's network, its GPUs and the other VMs its cloud-init names. */
  readonly plan: PlanLayout;
  /** The planned VM: name, role, vCPUs, memory, disk, address, MAC and GPUs. */
  readonly vm: PlannedVm;
  /** libvirt connection URI of the host, e.g. `qemu:///system`. */
  readonly uri: string;
  /** The storage pool's name, as an output of the pool resource (so volumes depend on it). */
  readonly pool: pulumi.Input<string>;
  /** Whether the pool was adopted (then existing volumes there are never touched). @default false */
  readonly poolAdopted?: pulumi.Input<boolean>;
  /** Path of the base image the VM's disk overlays (BaseImage's `images.get(disk).path`). */
  readonly basePath: pulumi.Input<string>;
  /**
   * Direct kernel boot of a golden image (kernel and initrd in the pool); null boots the disk's bootloader.
   * @default null
   */
  readonly directBoot?: {
    readonly kernel: pulumi.Input<string>;
    readonly initrd: pulumi.Input<string>;
    readonly cmdline: string;
  } | null;
  /** libvirt domain type: kvm, or qemu under host.virtualization: emulated. @default "kvm" */
  readonly domainType?: "kvm" | "qemu";
  /**
   * The secrets of the VM's role layers: the munge key for Slurm VMs, the cluster PKI and token for
   * Kubernetes VMs (an Output: they are secrets). SlurmCluster and KubernetesCluster make them; which
   * layers the VM gets is render/layers.ts#vmLayers.
   */
  readonly roleSecrets: pulumi.Input<RoleSecrets>;
  /** SSH keys added to the admin user besides the spec's. @default [] */
  readonly extraKeys?: readonly string[];
  /** The libvirt network the VM's NIC joins (ClusterNetwork's `vmNetwork`, or an existing network). */
  readonly network: VmNetwork;
  /** The vGPU devices assigned to the VM (GpuHost's `devicesByVm`): the domain waits for them. @default [] */
  readonly gpuDevices?: readonly VgpuDevice[];
  /** SR-IOV VF address per vGPU device UUID (GpuHost's `vfAddressesFor`). @default {} */
  readonly vfAddresses?: pulumi.Input<Record<string, string>>;
  /** The stack's identity: the domain's UUID is unique to the stack (the provider's ownership mark). */
  readonly stackId: pulumi.Input<string>;
  /** Start the domain. @default true */
  readonly start?: boolean;
}

/** Everything a VM needs except its role's secrets, which the cluster components make. */
export type VmSettings = Omit<VirtualMachineArgs, "roleSecrets">;

function validate(name: string, args: VirtualMachineArgs): void {
  const { vm, plan } = args;
  const planned = plan.networks.find((n) => n.name === vm.network);
  const expectedName = planned ? networkName(plan, planned) : undefined;
  const given = args.network.libvirtName;
  // Each vGPU share (mdev or SR-IOV VF) is one device GpuHost makes; whole GPUs are passed through by address.
  const plannedDevices = vm.gpus.filter((gpu) => gpu.deviceUuid).length;
  const devices = args.gpuDevices?.length ?? 0;
  refuseArgs("VirtualMachine", name, [
    !args.uri && {
      problem: "uri is empty",
      found: args.uri,
      expected: "a libvirt URI",
      fix: "pass host.libvirt_uri, e.g. qemu:///system",
    },
    !plan.vms.some((v) => v.name === vm.name) && {
      problem: `VM ${vm.name} is not in the plan given`,
      found: vm.name,
      expected: `one of ${plan.vms.map((v) => v.name).join(", ") || "(no VMs)"}`,
      fix: "pass a VM of plan.vms with that plan",
    },
    !planned && {
      problem: `VM ${vm.name} is on a network the plan does not define`,
      found: vm.network,
      expected: `one of ${plan.networks.map((n) => n.name).join(", ") || "(no networks)"}`,
      fix: "pass the plan the VM was planned in",
    },
    args.network.planName !== vm.network && {
      problem: `VM ${vm.name} is on network ${vm.network}, not on the network given`,
      found: args.network.planName,
      expected: vm.network,
      fix: `pass the ClusterNetwork of ${vm.network} (its vmNetwork)`,
    },
    typeof given === "string" &&
      expectedName !== undefined &&
      given !== expectedName && {
        problem: `the domain's NIC names libvirt network ${expectedName}, not the network given`,
        found: given,
        expected: expectedName,
        fix: `name the existing libvirt network ${expectedName} (render/libvirt/names.ts#networkName)`,
      },
    devices !== plannedDevices && {
      problem: `VM ${vm.name} is planned with ${plannedDevices} vGPU device(s), a different number was given`,
      found: devices,
      expected: String(plannedDevices),
      fix: "pass GpuHost's devicesByVm.get(vm.name) ?? [] for this VM",
    },
  ]);
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
    validate(name, args);
    super("hyperscaler:index:VirtualMachine", name, {}, opts);
    const { vm, plan } = args;
    const hostKey = new tls.PrivateKey(`${name}-host-key`, { algorithm: "ED25519" }, { parent: this });
    const sshHostKey = pulumi
      .all([pulumi.secret(hostKey.privateKeyOpenssh), hostKey.publicKeyOpenssh])
      .apply(([privateKey, publicKey]) => ({ privateKey, publicKey }));
    this.knownHosts = hostKey.publicKeyOpenssh.apply((publicKey) => knownHostsLine(plan, vm, publicKey));
    const disk = new LibvirtVolume(
      `${name}-disk`,
      {
        uri: args.uri,
        pool: args.pool,
        poolAdopted: args.poolAdopted ?? false,
        name: diskVolumeName(vm),
        xml: pulumi
          .output(args.basePath)
          .apply((backingPath) =>
            renderOverlayVolumeXml({ name: diskVolumeName(vm), capacityGiB: vm.diskGiB, backingPath }),
          ),
        capacityGiB: vm.diskGiB,
        backingPath: args.basePath,
      },
      { parent: this },
    );
    const seed = new SeedIso(
      `${name}-seed`,
      {
        uri: args.uri,
        pool: args.pool,
        poolAdopted: args.poolAdopted ?? false,
        name: seedVolumeName(vm),
        files: pulumi
          .all([args.roleSecrets, sshHostKey])
          .apply(([roleSecrets, key]) =>
            vmSeedFiles(args.spec, plan, vm, { ...roleSecrets, sshHostKey: key }, args.extraKeys ?? []),
          ),
      },
      { parent: this },
    );
    const boot = args.directBoot;
    const gpuDevices = args.gpuDevices ?? [];
    const rendered = pulumi
      .all([args.pool, args.vfAddresses ?? {}, args.stackId, boot?.kernel ?? "", boot?.initrd ?? ""])
      .apply(([pool, vfAddresses, stackId, kernel, initrd]) =>
        renderDomain(plan, vm, {
          pool,
          vfAddresses,
          stackId,
          domainType: args.domainType,
          directBoot: boot ? { kernel, initrd, cmdline: boot.cmdline } : undefined,
        }),
      );
    this.domain = new LibvirtDomain(
      `${name}-domain`,
      {
        uri: args.uri,
        name: vm.name,
        xml: rendered.apply((r) => r.xml),
        facts: rendered.apply((r) => r.facts),
        // The network resource's name output: when the network is replaced (delete before replace), the engine
        // sees this input become unknown, the domain's diff asks for a replacement, and the VM is removed
        // before its network instead of being left running on a deleted one.
        networks: pulumi.all([args.network.libvirtName]),
        // Likewise the disk: a replaced disk (new base image) replaces the domain rather than vanishing under it.
        disk: disk.path,
        // And its vGPU devices: a replaced device replaces the domain rather than vanishing under the VM.
        devices: pulumi.all(gpuDevices.map((device) => device.uuid)),
        start: args.start ?? true,
        seedSha256: seed.contentSha256,
      },
      {
        parent: this,
        dependsOn: [disk, seed, ...(args.network.resource ? [args.network.resource] : []), ...gpuDevices],
      },
    );
    this.ip = vm.ip;
    this.vmName = vm.name;
    // Memory/vCPU changes waiting for a restart, or a seed (cloud-init configuration) newer than the one the
    // VM booted with.
    this.restartRequired = pulumi
      .all([this.domain.restartRequired, this.domain.bootedSeedSha256, seed.contentSha256])
      .apply(
        ([pending, booted, current]) =>
          Boolean(pending) || (booted !== null && booted !== undefined && booted !== current),
      );
    this.registerOutputs({ ip: vm.ip, name: vm.name, knownHosts: this.knownHosts });
  }
}
