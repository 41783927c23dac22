// A preview of the real stack program the way the engine runs one, on the SDK's mock runtime: first an
// `up` of the old spec (outputs from the providers' own code where it can run without a host), then the
// new spec with dry run on. Each resource's step comes from its real provider's diff against the old
// state; a changed resource shows its computed outputs as unknown, so its dependents see unknowns exactly
// where the engine would give them; a replacement that deletes first replaces every dependent whose diff,
// with the properties taken from it unknown, asks for replacement (the engine's dependent replacements).
import * as pulumi from "@pulumi/pulumi";
import * as providers from "../../src/providers/libvirt";
import * as gpuProviders from "../../src/providers/gpu";
import { summarise, type BlastRadius, type ResourceStep } from "../../src/preview/blast-radius";
import { buildStack, type StackSettings } from "../../src/program/stack";
import { computed, installMocks, lastRequest, resetRecorded, settled } from "../mocks";

/* eslint-disable @typescript-eslint/no-require-imports */
const output = require("@pulumi/pulumi/output") as { unknown: unknown; isUnknown(v: unknown): boolean };
const rpc = require("@pulumi/pulumi/runtime/rpc") as {
  unknownValue: string;
  specialSigKey: string;
  specialSecretSig: string;
};
/* eslint-enable @typescript-eslint/no-require-imports */

interface State {
  readonly type: string;
  readonly inputs: Record<string, unknown>;
  readonly outputs: Record<string, unknown>;
}

/** The simulation has no host: a diff that asks libvirt (the domain's seed check) hears that nothing is there. */
const noHost: providers.Runner = () => ({ code: 1, stdout: "", stderr: "error: no host in a preview simulation" });

const DYNAMIC: Record<string, () => pulumi.dynamic.ResourceProvider> = {
  LibvirtPool: () => providers.makePoolProvider(noHost),
  LibvirtNetwork: () => providers.makeNetworkProvider(noHost),
  LibvirtVolume: () => providers.makeVolumeProvider(noHost),
  BaseImageVolume: () => providers.makeBaseImageProvider(noHost),
  SeedIso: () => providers.makeSeedIsoProvider(noHost),
  LibvirtDomain: () => providers.makeDomainProvider(noHost),
  MigLayout: () => gpuProviders.makeMigLayoutProvider(),
  VgpuDevice: () => gpuProviders.makeVgpuDeviceProvider(),
};

/** Values as the engine hands them to a provider: secrets unwrapped, unknowns as the sentinel string. */
function wire(value: unknown): unknown {
  if (output.isUnknown(value)) return rpc.unknownValue;
  if (
    value &&
    typeof value === "object" &&
    (value as Record<string, unknown>)[rpc.specialSigKey] === rpc.specialSecretSig
  )
    return wire((value as { value: unknown }).value);
  if (Array.isArray(value)) return value.map(wire);
  if (value && typeof value === "object")
    return Object.fromEntries(
      Object.entries(value)
        .filter(([k]) => k !== "__provider")
        .map(([k, v]) => [k, wire(v)]),
    );
  return value;
}

const kindOf = (type: string) => type.split(":").pop()!;

async function step(type: string, old: State, news: Record<string, unknown>): Promise<"same" | "update" | "replace"> {
  const make = type.startsWith("pulumi-nodejs:dynamic/") ? DYNAMIC[kindOf(type)] : undefined;
  if (make) {
    const diff = await make().diff!("id", old.outputs, news);
    return diff.replaces?.length ? "replace" : diff.changes === false ? "same" : "update";
  }
  if (JSON.stringify(wire(old.inputs)) === JSON.stringify(news)) return "same";
  // tls and random resources replace on any input change; others (Kubernetes) update.
  return /^(tls|random):/.test(type) ? "replace" : "update";
}

/** Whether a domain update needs a restart to apply (memory, vCPUs; unknown facts may hold either). */
function atNextBoot(old: State, news: Record<string, unknown>): boolean {
  const facts = news.facts as { memoryMiB?: number; vcpus?: number } | string;
  if (typeof facts !== "object") return true;
  return old.outputs.memoryMiB !== facts.memoryMiB || old.outputs.vcpus !== facts.vcpus;
}

async function runProgram(
  settings: StackSettings,
  dryRun: boolean,
  register: (args: pulumi.runtime.MockResourceArgs) => Record<string, unknown> | Promise<Record<string, unknown>>,
): Promise<void> {
  resetRecorded();
  await pulumi.runtime.setMocks(
    {
      async newResource(args) {
        return { id: `${args.name}-id`, state: await register(args) };
      },
      call(args) {
        throw new Error(`unexpected invoke ${args.token}`);
      },
    },
    "hyperscaler",
    "test",
    dryRun,
  );
  await buildStack(settings);
  await settled();
}

export interface Preview {
  readonly steps: ResourceStep[];
  readonly radius: BlastRadius;
}

export type StackState = ReadonlyMap<string, State>;

/** The state after an `up` of these settings (outputs from the providers' code, as the mocks compute them). */
export async function upState(settings: StackSettings): Promise<StackState> {
  const state = new Map<string, State>();
  try {
    await runProgram(settings, false, (args) => {
      const outputs = { ...args.inputs, ...computed(args.type, args.name, args.inputs) };
      if (args.custom)
        state.set(args.name, {
          type: args.type,
          inputs: args.inputs,
          outputs: wire(outputs) as Record<string, unknown>,
        });
      return outputs;
    });
    return state;
  } finally {
    await installMocks();
    resetRecorded();
  }
}

/** Previews `after` against a stack in `state`. */
export async function previewChange(state: StackState, after: StackSettings): Promise<Preview> {
  try {
    const steps: ResourceStep[] = [];
    const seen = new Set<string>();
    const replacedFirst = new Set<string>();
    await runProgram(after, true, async (args) => {
      seen.add(args.name);
      const extra = computed(args.type, args.name, args.inputs);
      const unknownExtras = Object.fromEntries(
        Object.keys(extra)
          .filter((k) => !(k in args.inputs))
          .map((k) => [k, output.unknown]),
      );
      if (!args.custom) return args.inputs;
      const old = state.get(args.name);
      const role =
        kindOf(args.type) === "LibvirtDomain"
          ? { vm: String((args.inputs as { name: unknown }).name) }
          : kindOf(args.type) === "SeedIso"
            ? { seedOf: args.name.replace(/-seed$/, "") }
            : {};
      if (!old) {
        steps.push({ name: args.name, kind: "create", ...role });
        return { ...args.inputs, ...unknownExtras };
      }
      let news = wire(args.inputs) as Record<string, unknown>;
      // Dependent replacement: properties taken from a resource replaced delete-first are unknown to the diff.
      const request = lastRequest(args.name);
      for (const [property, urns] of Object.entries(request?.propertyDependencies ?? {})) {
        if (urns.some((urn) => replacedFirst.has(urn))) news = { ...news, [property]: rpc.unknownValue };
      }
      const kind = await step(args.type, old, news);
      const isDomain = kindOf(args.type) === "LibvirtDomain";
      steps.push({
        name: args.name,
        kind,
        ...role,
        ...(isDomain ? { atNextBoot: kind === "update" && atNextBoot(old, news) } : {}),
      });
      if (kind === "same") return old.outputs;
      if (kind === "replace" && DYNAMIC[kindOf(args.type)]) {
        const diff = await DYNAMIC[kindOf(args.type)]().diff!("id", old.outputs, news);
        if (diff.deleteBeforeReplace) replacedFirst.add(args.name);
      }
      return { ...args.inputs, ...unknownExtras };
    });
    for (const name of state.keys()) if (!seen.has(name)) steps.push({ name, kind: "delete" });
    return { steps, radius: summarise(steps) };
  } finally {
    await installMocks();
    resetRecorded();
  }
}
