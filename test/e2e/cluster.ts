// The stack's resources for a spec, created through the project's own providers (the code the Pulumi
// program runs) in the stack's dependency order: pool, base image volumes, the stack identity, the host
// firewall (network isolation), networks, then per VM its overlay, seed ISO and domain. Inputs come from the
// same functions the components call (render/*, render/stack-inputs.ts), with the components' wiring of one
// resource's outputs into the next (pool adoption, disk path, network name, seed digest).
import * as crypto from "node:crypto";
import type * as dynamic from "@pulumi/pulumi/dynamic";
import type { Plan } from "../../src/plan/types";
import { makeFirewallProvider, localNftRunner, type NftRunner } from "../../src/providers/firewall";
import {
  makeBaseImageProvider,
  makeDomainProvider,
  makeNetworkProvider,
  makePoolProvider,
  makeSeedIsoProvider,
  makeVolumeProvider,
} from "../../src/providers/libvirt";
import type { SshHostKey } from "../../src/render/cloud-init/ssh-host-key";
import { firewallMarker, firewallTableName, renderFirewall } from "../../src/render/firewall";
import { roleImage, type ImageSource, type RoleImage } from "../../src/render/images";
import { renderDomain } from "../../src/render/libvirt/domain";
import { baseVolumeName, diskVolumeName, networkName, seedVolumeName } from "../../src/render/libvirt/names";
import { dhcpHostEntries, renderNetworkXml } from "../../src/render/libvirt/network";
import { renderOverlayVolumeXml, renderPoolXml } from "../../src/render/libvirt/storage";
import { domainTypeOf, hostFirewallOn, vmSeedFiles } from "../../src/render/stack-inputs";
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

type Providers = Record<
  "pool" | "baseImage" | "firewall" | "network" | "volume" | "seedIso" | "domain",
  dynamic.ResourceProvider
>;

/**
 * The providers the stack uses. nft runs through `nftPrefix` (the test's network namespace): the provider
 * would run it on the libvirt URI's host, which for the sandbox's qemu+unix socket is this machine's root
 * namespace, where no rule of the test belongs.
 */
export function stackProviders(nftPrefix: readonly string[]): Providers {
  const nft: NftRunner = (command, args, input) =>
    localNftRunner(
      nftPrefix[0] ?? command,
      [...nftPrefix.slice(1), ...(nftPrefix.length ? [command] : []), ...args],
      input,
    );
  return {
    pool: makePoolProvider(),
    baseImage: makeBaseImageProvider(),
    firewall: makeFirewallProvider(nft),
    network: makeNetworkProvider(),
    volume: makeVolumeProvider(),
    seedIso: makeSeedIsoProvider(),
    domain: makeDomainProvider(),
  };
}

/** The run's stack: its identity (the stack keeps it in state; libvirt UUIDs derive from it) and secrets. */
export interface StackContext {
  readonly spec: ClusterSpec;
  readonly plan: Plan;
  readonly uri: string;
  readonly stackId: string;
  readonly secrets: Secrets;
  readonly providers: Providers;
}

/** Inputs of every resource, in creation order; outputs of earlier ones are read through `out`. */
export function* resourceInputs(
  ctx: StackContext,
  out: (kind: string, name: string) => Record<string, unknown>,
): Generator<Omit<Applied, "id" | "outs">> {
  const { spec, plan, uri, stackId, secrets, providers } = ctx;
  const pool = spec.host.storage_pool;
  yield {
    kind: "pool",
    name: pool.name,
    provider: providers.pool,
    inputs: { uri, name: pool.name, xml: renderPoolXml(pool.name, pool.path), path: pool.path, adopted: undefined },
  };
  // BaseImage: volumes take the pool's name and whether it was adopted from the pool's outputs.
  const poolAdopted = () => Boolean(out("pool", pool.name).adopted);
  const images = new Map<string, RoleImage>(plan.vms.map((vm) => [vm.role, roleImage(spec, vm.role)]));
  const imported = new Set<string>();
  const importFile = (file: ImageSource, volume: string) => ({
    kind: "baseImage",
    name: volume,
    provider: providers.baseImage,
    inputs: {
      uri,
      pool: pool.name,
      poolAdopted: poolAdopted(),
      name: volume,
      source: file.source,
      checksum: file.checksum,
      checksumUrl: file.checksumUrl,
      format: file.format,
    },
  });
  for (const image of images.values()) {
    if (imported.has(image.disk.name)) continue;
    imported.add(image.disk.name);
    yield importFile(image.disk, baseVolumeName(image.disk.name));
    if (image.boot) {
      yield importFile(image.boot.kernel, image.boot.kernel.name);
      yield importFile(image.boot.initrd, image.boot.initrd.name);
    }
  }
  // HostFirewall, before any network libvirt routes.
  const isolation = hostFirewallOn(spec, plan);
  if (isolation) {
    const table = firewallTableName(plan);
    yield {
      kind: "firewall",
      name: table,
      provider: providers.firewall,
      inputs: { uri, table, marker: firewallMarker(plan), ruleset: renderFirewall(spec, plan) },
    };
  }
  for (const network of plan.networks) {
    const name = networkName(plan, network);
    yield {
      kind: "network",
      name,
      provider: providers.network,
      inputs: {
        uri,
        name,
        xml: renderNetworkXml(plan, network, { hostFirewall: isolation, stackId }),
        bridge: network.bridge,
        ip: `${network.gateway}/${network.netmask}`,
        dhcpHosts: dhcpHostEntries(network),
        start: true,
      },
    };
  }
  for (const vm of plan.vms) {
    const image = images.get(vm.role)!;
    const hostKey = secrets.hostKeys.get(vm.name);
    if (!hostKey) throw new Error(`no host key generated for ${vm.name}`);
    if (vm.cluster !== "hpc")
      throw new Error(`${vm.name} is a ${vm.cluster} VM: the bring-up test builds Slurm clusters only`);
    const backingPath = out("baseImage", baseVolumeName(image.disk.name)).path as string;
    yield {
      kind: "volume",
      name: diskVolumeName(vm),
      provider: providers.volume,
      inputs: {
        uri,
        pool: pool.name,
        poolAdopted: poolAdopted(),
        name: diskVolumeName(vm),
        xml: renderOverlayVolumeXml({ name: diskVolumeName(vm), capacityGiB: vm.diskGiB, backingPath }),
        capacityGiB: vm.diskGiB,
        backingPath,
        path: undefined,
      },
    };
    const files = vmSeedFiles(spec, plan, vm, { mungeKeyBase64: secrets.mungeKeyBase64, sshHostKey: hostKey }, [
      secrets.adminPublicKey,
    ]);
    yield {
      kind: "seedIso",
      name: seedVolumeName(vm),
      provider: providers.seedIso,
      inputs: { uri, pool: pool.name, poolAdopted: poolAdopted(), name: seedVolumeName(vm), files },
    };
    const boot = image.boot
      ? {
          kernel: out("baseImage", image.boot.kernel.name).path as string,
          initrd: out("baseImage", image.boot.initrd.name).path as string,
          cmdline: image.boot.cmdline,
        }
      : undefined;
    const rendered = renderDomain(plan, vm, {
      pool: pool.name,
      vfAddresses: {},
      stackId,
      domainType: domainTypeOf(spec),
      directBoot: boot,
    });
    const network = plan.networks.find((n) => n.name === vm.network)!;
    yield {
      kind: "domain",
      name: vm.name,
      provider: providers.domain,
      inputs: {
        uri,
        name: vm.name,
        xml: rendered.xml,
        facts: rendered.facts,
        networks: [out("network", networkName(plan, network)).name as string],
        disk: out("volume", diskVolumeName(vm)).path,
        devices: [],
        start: true,
        seedSha256: out("seedIso", seedVolumeName(vm)).contentSha256,
      },
    };
  }
}

/** A fresh stack identity, as random.RandomUuid makes it for the stack. */
export function newStackId(): string {
  return crypto.randomUUID();
}

/** One resource a re-apply changed or would change. */
export interface Change {
  readonly resource: string;
  /**
   * What changed: the properties to replace, "eject seed" (the expected change after first boot), "update", "<new>",
   * "<gone>".
   */
  readonly what: string[];
}

/** The seed cdrom of a running domain (`virsh domblklist`): the medium's source, or "-" once ejected. */
export type SeedMedium = (domain: string) => string | null;

export class AppliedStack {
  readonly resources: Applied[] = [];

  private out(kind: string, name: string): Record<string, unknown> {
    const found = this.resources.find((r) => r.kind === kind && r.name === name);
    if (!found) throw new Error(`${kind} ${name} is needed before it exists (dependency order)`);
    return found.outs;
  }

  /** Creates every resource in order; a failure names the resource. */
  async create(ctx: StackContext, log: (line: string) => void): Promise<void> {
    for (const resource of resourceInputs(ctx, (kind, name) => this.out(kind, name))) {
      const started = Date.now();
      try {
        const created = await resource.provider.create(resource.inputs);
        this.resources.push({ ...resource, id: created.id, outs: created.outs as Record<string, unknown> });
      } catch (error) {
        throw new Error(
          `creating ${resource.kind} ${resource.name} failed: ` +
            `${error instanceof Error ? error.message : String(error)}`,
          { cause: error },
        );
      }
      log(`created ${resource.kind} ${resource.name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    }
  }

  /**
   * Applies the same spec and secrets again, as `pulumi up --refresh` would: refresh each resource from
   * libvirt (read), diff against freshly built inputs, and update what changed in place. A replacement is
   * never carried out: it is returned as a change (the bring-up expects none). A domain whose only change
   * is its seed leaving the drive (cloud-init done) is named "eject seed", and the eject is checked with
   * `seedMedium` (the drive is empty after the update, the VM was not restarted).
   */
  async apply(ctx: StackContext, seedMedium: SeedMedium, log: (line: string) => void): Promise<Change[]> {
    const changes: Change[] = [];
    const refreshed = new Map<string, Record<string, unknown>>();
    for (const resource of this.resources) {
      const read = await resource.provider.read!(resource.id, resource.outs);
      if (!read.id) {
        changes.push({ resource: `${resource.kind} ${resource.name}`, what: ["<gone>"] });
        continue;
      }
      resource.outs = read.props as Record<string, unknown>;
      refreshed.set(`${resource.kind}/${resource.name}`, resource.outs);
    }
    for (const next of resourceInputs(ctx, (kind, name) => this.out(kind, name))) {
      const current = this.resources.find((r) => r.kind === next.kind && r.name === next.name);
      if (!current) {
        changes.push({ resource: `${next.kind} ${next.name}`, what: ["<new>"] });
        continue;
      }
      const olds = refreshed.get(`${next.kind}/${next.name}`);
      if (!olds) continue;
      const diff = await current.provider.diff!(current.id, olds, next.inputs);
      if (!diff.changes) continue;
      const label = `${next.kind} ${next.name}`;
      if (diff.replaces?.length) {
        changes.push({ resource: label, what: [...diff.replaces] });
        continue;
      }
      // A domain whose definition, sizes and start flag are what it runs with changes only by the eject.
      const ejectOnly =
        next.kind === "domain" &&
        olds.running === true &&
        olds.seedInserted === true &&
        olds.xml === next.inputs.xml &&
        olds.start === next.inputs.start &&
        olds.memoryMiB === (next.inputs.facts as { memoryMiB: number }).memoryMiB &&
        olds.vcpus === (next.inputs.facts as { vcpus: number }).vcpus;
      const before = ejectOnly ? seedMedium(next.name) : null;
      const updated = await current.provider.update!(current.id, olds, next.inputs);
      current.outs = updated.outs as Record<string, unknown>;
      if (!ejectOnly) {
        changes.push({ resource: label, what: ["update"] });
        continue;
      }
      const after = seedMedium(next.name);
      if (after !== "-")
        throw new Error(
          `${label}: the update after cloud-init should eject the seed, but domblklist still shows ${after} in ` +
            `sda (before: ${before})`,
        );
      if (current.outs.bootId !== olds.bootId || current.outs.running !== true)
        throw new Error(
          `${label}: ejecting the seed restarted or stopped the VM (boot id ${String(olds.bootId)} -> ` +
            `${String(current.outs.bootId)}, running ${String(current.outs.running)})`,
        );
      log(`${label}: seed ejected (${before} -> ${after}), still running with boot id ${String(current.outs.bootId)}`);
      changes.push({ resource: label, what: ["eject seed"] });
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
