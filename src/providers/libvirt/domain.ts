// The domain provider: defines (and starts) a VM, reports when it needs a restart, ejects its seed once
// cloud-init is done, and replaces it when its disk, GPU devices or networks change.
import type * as dynamic from "@pulumi/pulumi/dynamic";
import { LIST_FACTS, sameFact, type DomainFacts } from "../../render/libvirt/domain-facts";
import { cloudInitFinished, readDomain, seedInsertedLive, type DomainState } from "./domain-state";
import { SEED_TARGET } from "../../render/libvirt/domain-facts";
import { diffKeys, isUnknown, structSafe } from "./engine-values";
import { claimName } from "./ownership";
import { localRunner, withTempFile, type Runner } from "./runner";
import { isNotFound, virsh, virshMaybe } from "./virsh";

export interface DomainInputs {
  readonly uri: string;
  readonly name: string;
  readonly xml: string;
  readonly facts: DomainFacts;
  /**
   * Names of the libvirt networks the NICs attach to, taken from the network resources' outputs: unknown
   * while a network is replaced, which replaces the domain with it (a NIC cannot outlive its network).
   */
  readonly networks?: readonly string[];
  /**
   * Path of the VM's system disk, from the volume resource: unknown while the disk is replaced (a new base
   * image, a smaller disk), which replaces the domain too instead of deleting a disk under a running VM.
   */
  readonly disk?: string;
  /**
   * UUIDs of the VM's vGPU devices, from the device resources: unknown while a device is replaced (a new
   * vGPU type), which replaces this domain with it instead of removing a device from a running VM.
   */
  readonly devices?: readonly string[];
  /** Start the domain after defining it (needs KVM for type='kvm'). */
  readonly start: boolean;
  /** Digest of the VM's seed ISO: a change reaches a running VM at its next boot, so it asks for a restart. */
  readonly seedSha256?: string;
}

/** Changes a running VM only sees after its next boot: vCPUs and memory (unknown facts may hold either). */
function changesAtNextBoot(olds: Partial<DomainState>, news: DomainInputs): boolean {
  if (isUnknown(news.facts)) return true;
  return olds.memoryMiB !== news.facts.memoryMiB || olds.vcpus !== news.facts.vcpus;
}

/**
 * A restart is needed while the running VM differs from its definition (memory or vCPUs changed since it
 * booted). Derived from libvirt's state each time, so a later unrelated update cannot forget it; it clears
 * once the VM has been restarted.
 */
function restartRequired(state: DomainState | null): boolean {
  if (!state?.running) return false;
  return state.liveMemoryMiB !== state.memoryMiB || state.liveVcpus !== state.vcpus;
}

/**
 * A domain's outputs: its inputs, what libvirt holds, whether it needs a restart, and the seed digest it last
 * booted with (bootedSeedSha256): the VM compares it with its seed's digest to tell that a new cloud-init
 * configuration waits for its next boot. The seed is not a reason to touch the domain itself, so a change
 * that rewrites many seeds (a Slurm node added) leaves the other VMs' domains alone.
 */
export function domainOutputs(
  inputs: DomainInputs,
  state: DomainState | null,
  bootedSeedSha256: string | null,
): Record<string, unknown> {
  return structSafe({
    ...inputs,
    ...inputs.facts,
    ...(state ?? {}),
    running: Boolean(state?.running),
    bootedSeedSha256: state?.running ? bootedSeedSha256 : null,
    restartRequired: restartRequired(state),
  });
}

export function makeDomainProvider(run: Runner = localRunner): dynamic.ResourceProvider {
  const what = (name: string): string => `libvirt domain ${name}`;
  const outputs = domainOutputs;
  /** The seed is still in the running VM's drive and its cloud-init is done with it. */
  const seedToEject = (inputs: DomainInputs): boolean =>
    !isUnknown(inputs.name) &&
    seedInsertedLive(run, inputs.uri, inputs.name) &&
    cloudInitFinished(run, inputs.uri, inputs.name) === true;
  return {
    async create(inputs: DomainInputs) {
      const existed = claimName(
        run,
        inputs.uri,
        what(inputs.name),
        "domuuid",
        inputs.name,
        inputs.xml,
        "Rename the VM (metadata.name in cluster.yaml names every VM) " +
          "or remove the old domain (virsh destroy/undefine) if it is stale.",
      );
      withTempFile(inputs.xml, ".xml", (file) => virsh(run, inputs.uri, what(inputs.name), ["define", file]));
      try {
        const running = readDomain(run, inputs.uri, inputs.name)?.running ?? false;
        if (inputs.start && !running) virsh(run, inputs.uri, what(inputs.name), ["start", inputs.name]);
        return {
          id: inputs.name,
          outs: outputs(
            inputs,
            readDomain(run, inputs.uri, inputs.name),
            inputs.start ? (inputs.seedSha256 ?? null) : null,
          ),
        };
      } catch (error) {
        // Leave nothing half-made by this create; a domain that existed (our own leftover) stays for the retry.
        if (!existed) {
          virshMaybe(run, inputs.uri, ["destroy", inputs.name]);
          virshMaybe(run, inputs.uri, ["undefine", inputs.name, "--nvram"]);
          virshMaybe(run, inputs.uri, ["undefine", inputs.name]);
        }
        throw error;
      }
    },
    async read(id: string, props: DomainInputs & { bootedSeedSha256?: string | null; bootId?: number | null }) {
      const state = readDomain(run, props.uri, id);
      if (!state) return { id: "", props: {} };
      // Started again outside the stack: it booted with the seed attached then, at the latest the one these
      // outputs last recorded (conservative: a newer seed may still be reported as waiting).
      const booted =
        state.bootId !== (props.bootId ?? null) ? (props.seedSha256 ?? null) : (props.bootedSeedSha256 ?? null);
      return { id, props: domainOutputs(props, state, booted) };
    },
    async diff(_id: string, olds: DomainInputs & Partial<DomainState>, news: DomainInputs) {
      const replaces = diffKeys(olds as never, news as never, ["uri", "name"]);
      // libvirt cannot swap a VM's disk, GPU devices or network in place the way we manage them. Facts that
      // are unknown in a preview (computed from other resources' outputs) prove no replacement.
      if (news.disk !== undefined && (isUnknown(news.disk) || (olds.disk !== undefined && olds.disk !== news.disk)))
        replaces.push("disk");
      const devices = news.devices ?? [];
      if (
        isUnknown(devices) ||
        devices.some(isUnknown) ||
        JSON.stringify(devices) !== JSON.stringify(olds.devices ?? devices)
      )
        replaces.push("devices");
      const networks = news.networks ?? [];
      if (
        isUnknown(networks) ||
        networks.some(isUnknown) ||
        JSON.stringify(networks) !== JSON.stringify(olds.networks ?? networks)
      )
        replaces.push("networks");
      if (!isUnknown(news.facts)) {
        for (const key of LIST_FACTS) {
          if (!isUnknown(news.facts[key]) && !sameFact(olds[key] ?? [], news.facts[key])) replaces.push(key);
        }
      }
      // seedSha256 alone is no change: it only records which seed the VM boots with. A running VM whose
      // cloud-init has finished but still has its seed (keys, tokens) in the drive gets it ejected.
      const eject = replaces.length === 0 && Boolean(olds.running) && seedToEject(news);
      return {
        changes:
          replaces.length > 0 ||
          changesAtNextBoot(olds, news) ||
          olds.xml !== news.xml ||
          olds.start !== news.start ||
          eject,
        replaces,
        deleteBeforeReplace: true,
      };
    },
    async update(
      _id: string,
      olds: DomainInputs & { bootedSeedSha256?: string | null; bootId?: number | null },
      news: DomainInputs,
    ) {
      // vCPUs and memory: redefine; a running VM picks them up at its next restart, which we report.
      withTempFile(news.xml, ".xml", (file) => virsh(run, news.uri, what(news.name), ["define", file]));
      // Eject from the running VM only (--live): the definition keeps the seed, so the next boot reads the
      // newest one (re-configuration), and the next up after its cloud-init ejects it again.
      if (seedToEject(news))
        virsh(run, news.uri, what(news.name), ["change-media", news.name, SEED_TARGET, "--eject", "--live"]);
      let state = readDomain(run, news.uri, news.name);
      let booted =
        state?.bootId !== (olds.bootId ?? null) ? (olds.seedSha256 ?? null) : (olds.bootedSeedSha256 ?? null);
      if (news.start && state && !state.running) {
        virsh(run, news.uri, what(news.name), ["start", news.name]);
        state = readDomain(run, news.uri, news.name);
        booted = news.seedSha256 ?? null;
      }
      return { outs: outputs(news, state, booted) };
    },
    async delete(id: string, props: DomainInputs) {
      // Destroy before undefine; a domain already gone is not an error.
      virshMaybe(run, props.uri, ["destroy", id]);
      let result = virshMaybe(run, props.uri, ["undefine", id, "--nvram"]);
      if (result.code !== 0 && /nvram/i.test(result.stderr)) result = virshMaybe(run, props.uri, ["undefine", id]);
      if (result.code !== 0 && !isNotFound(result))
        throw new Error(`${what(id)}: virsh undefine failed: ${result.stderr.trim()}`);
    },
  };
}
