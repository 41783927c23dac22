// The stack's libvirt resources for a spec, created through the project's own providers (the code the
// Pulumi program runs) in the stack's dependency order: pool, base image volumes, network, then per VM
// its overlay, seed ISO and domain. Inputs come from the same render functions the components call.
import type * as dynamic from "@pulumi/pulumi/dynamic";
import type { Plan, PlannedVm } from "../../src/plan/types";
import { makeBaseImageProvider, makeDomainProvider, makeNetworkProvider, makePoolProvider, makeSeedIsoProvider, makeVolumeProvider } from "../../src/providers/libvirt";
import { gpuDriverLayer } from "../../src/render/cloud-init/gpu-driver";
import { seedFiles } from "../../src/render/cloud-init/nocloud";
import { slurmLayer } from "../../src/render/cloud-init/slurm";
import { sshHostKeyLayer, type SshHostKey } from "../../src/render/cloud-init/ssh-host-key";
import { roleImage, type ImageSource, type RoleImage } from "../../src/render/images";
import { renderDomain } from "../../src/render/libvirt/domain";
import { diskVolumeName, seedVolumeName, baseVolumeName } from "../../src/render/libvirt/names";
import { dhcpHostEntries, renderNetworkXml } from "../../src/render/libvirt/network";
import { renderOverlayVolumeXml, renderPoolXml } from "../../src/render/libvirt/storage";
import { networkName } from "../../src/render/libvirt/names";
import type { ClusterSpec } from "../../src/spec/types";

export interface Secrets {
  readonly mungeKeyBase64: string;
  readonly hostKeys: ReadonlyMap<string, SshHostKey>;
  readonly adminPublicKey: string;
}

/** One resource as the engine would hold it: its provider, name, inputs, and the outputs of create. */
export interface Applied {
  readonly kind: string;
  readonly name: string;
  readonly provider: dynamic.ResourceProvider;
  readonly inputs: Record<string, unknown>;
  id: string;
  outs: Record<string, unknown>;
}

const providers = {
  pool: makePoolProvider(),
  baseImage: makeBaseImageProvider(),
  network: makeNetworkProvider(),
  volume: makeVolumeProvider(),
  seedIso: makeSeedIsoProvider(),
  domain: makeDomainProvider(),
};

/** Inputs of every resource, in creation order; outputs of earlier ones are read through `out`. */
export function* resourceInputs(spec: ClusterSpec, plan: Plan, uri: string, secrets: Secrets, out: (kind: string, name: string) => Record<string, unknown>): Generator<Omit<Applied, "id" | "outs">> {
  const pool = spec.host.storage_pool;
  yield { kind: "pool", name: pool.name, provider: providers.pool, inputs: { uri, name: pool.name, xml: renderPoolXml(pool.name, pool.path), path: pool.path, adopted: undefined } };
  const images = new Map<string, RoleImage>(plan.vms.map((vm) => [vm.role, roleImage(spec, vm.role)]));
  const imported = new Set<string>();
  const importFile = (file: ImageSource, volume: string) => ({ kind: "baseImage", name: volume, provider: providers.baseImage, inputs: { uri, pool: pool.name, name: volume, source: file.source, checksum: file.checksum, checksumUrl: file.checksumUrl, format: file.format } });
  for (const image of images.values()) {
    if (imported.has(image.disk.name)) continue;
    imported.add(image.disk.name);
    yield importFile(image.disk, baseVolumeName(image.disk.name));
    if (image.boot) {
      yield importFile(image.boot.kernel, image.boot.kernel.name);
      yield importFile(image.boot.initrd, image.boot.initrd.name);
    }
  }
  for (const network of plan.networks) {
    yield { kind: "network", name: networkName(plan, network), provider: providers.network, inputs: { uri, name: networkName(plan, network), xml: renderNetworkXml(plan, network), bridge: network.bridge, ip: `${network.gateway}/${network.netmask}`, dhcpHosts: dhcpHostEntries(network), start: true } };
  }
  for (const vm of plan.vms) {
    const image = images.get(vm.role)!;
    const backingPath = out("baseImage", baseVolumeName(image.disk.name)).path as string;
    yield { kind: "volume", name: diskVolumeName(vm), provider: providers.volume, inputs: { uri, pool: pool.name, name: diskVolumeName(vm), xml: renderOverlayVolumeXml({ name: diskVolumeName(vm), capacityGiB: vm.diskGiB, backingPath }), capacityGiB: vm.diskGiB, backingPath, path: undefined } };
    yield { kind: "seedIso", name: seedVolumeName(vm), provider: providers.seedIso, inputs: { uri, pool: pool.name, name: seedVolumeName(vm), files: { ...seedFiles(spec, plan, vm, layersOf(spec, plan, vm, secrets), [secrets.adminPublicKey]) } } };
    const boot = image.boot ? { kernel: out("baseImage", image.boot.kernel.name).path as string, initrd: out("baseImage", image.boot.initrd.name).path as string, cmdline: image.boot.cmdline } : undefined;
    const rendered = renderDomain(plan, vm, { pool: pool.name, vfAddresses: {}, domainType: spec.host.virtualization === "emulated" ? "qemu" : "kvm", directBoot: boot });
    yield { kind: "domain", name: vm.name, provider: providers.domain, inputs: { uri, name: vm.name, xml: rendered.xml, facts: rendered.facts, start: true, seedSha256: out("seedIso", seedVolumeName(vm)).contentSha256 } };
  }
}

/** The role layers SlurmCluster and VirtualMachine give a VM (the host key layer last, as they do). */
function layersOf(spec: ClusterSpec, plan: Plan, vm: PlannedVm, secrets: Secrets) {
  const hostKey = secrets.hostKeys.get(vm.name);
  if (!hostKey) throw new Error(`no host key generated for ${vm.name}`);
  return [gpuDriverLayer(spec, plan, vm), ...(vm.cluster === "hpc" ? [slurmLayer(spec, plan, vm, secrets.mungeKeyBase64)] : []), sshHostKeyLayer(hostKey)];
}

export class AppliedStack {
  readonly resources: Applied[] = [];

  private out(kind: string, name: string): Record<string, unknown> {
    const found = this.resources.find((r) => r.kind === kind && r.name === name);
    if (!found) throw new Error(`${kind} ${name} is needed before it exists (dependency order)`);
    return found.outs;
  }

  /** Creates every resource in order; a failure names the resource. */
  async create(spec: ClusterSpec, plan: Plan, uri: string, secrets: Secrets, log: (line: string) => void): Promise<void> {
    for (const resource of resourceInputs(spec, plan, uri, secrets, (kind, name) => this.out(kind, name))) {
      const started = Date.now();
      try {
        const created = await resource.provider.create!(resource.inputs);
        this.resources.push({ ...resource, id: created.id, outs: created.outs as Record<string, unknown> });
      } catch (error) {
        throw new Error(`creating ${resource.kind} ${resource.name} failed: ${error instanceof Error ? error.message : String(error)}`);
      }
      log(`created ${resource.kind} ${resource.name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    }
  }

  /**
   * A second apply with the same spec and secrets: refresh each resource from libvirt (read), then diff
   * against freshly rendered inputs, as `pulumi up --refresh` would. Returns every resource with changes.
   */
  async noopChanges(spec: ClusterSpec, plan: Plan, uri: string, secrets: Secrets): Promise<{ resource: string; replaces: string[] }[]> {
    const changes: { resource: string; replaces: string[] }[] = [];
    const refreshed = new Map<string, Record<string, unknown>>();
    for (const resource of this.resources) {
      const read = await resource.provider.read!(resource.id, resource.outs);
      if (!read.id) {
        changes.push({ resource: `${resource.kind} ${resource.name}`, replaces: ["<gone from libvirt>"] });
        continue;
      }
      refreshed.set(`${resource.kind}/${resource.name}`, read.props as Record<string, unknown>);
    }
    const out = (kind: string, name: string) => refreshed.get(`${kind}/${name}`) ?? this.resources.find((r) => r.kind === kind && r.name === name)!.outs;
    for (const next of resourceInputs(spec, plan, uri, secrets, out)) {
      const current = this.resources.find((r) => r.kind === next.kind && r.name === next.name);
      if (!current) {
        changes.push({ resource: `${next.kind} ${next.name}`, replaces: ["<new>"] });
        continue;
      }
      const olds = refreshed.get(`${next.kind}/${next.name}`);
      if (!olds) continue;
      const diff = await current.provider.diff!(current.id, olds, next.inputs);
      if (diff.changes) changes.push({ resource: `${next.kind} ${next.name}`, replaces: [...(diff.replaces ?? [])] });
    }
    return changes;
  }

  /** Deletes in reverse creation order; returns the failures (the destroy goes on past them). */
  async destroy(log: (line: string) => void): Promise<string[]> {
    const failures: string[] = [];
    for (const resource of [...this.resources].reverse()) {
      try {
        await resource.provider.delete!(resource.id, resource.outs);
        log(`deleted ${resource.kind} ${resource.name}`);
      } catch (error) {
        failures.push(`${resource.kind} ${resource.name}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    this.resources.length = 0;
    return failures;
  }
}
