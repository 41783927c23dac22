// Pulumi dynamic provider for the host firewall: one nftables table the stack owns (render/firewall.ts).
//
// create/update replace the table in ONE nft transaction (`add table; delete table; table {...}` through
// `nft -f -`), so the host never runs with half a ruleset; read lists the table (`nft -j`) and reports
// drift; delete is idempotent. A table of that name without the stack's marker comment is never
// touched: the error names it and says how to proceed.
//
// Where nft runs follows the libvirt URI: qemu:///system (or qemu+unix) runs it here; qemu+ssh://
// runs it over ssh on the same target (the ssh user needs root, as for qemu:///system); any other URI
// is refused with a message, since its host cannot be reached for a shell.
//
// Like the libvirt providers, methods load Node built-ins at call time (util/builtin.ts) and run commands
// through util/exec.ts: the engine serializes a local module's functions by value, so nothing is required.
import type * as dynamic from "@pulumi/pulumi/dynamic";
import { builtin } from "../util/builtin";
import { execCommand, type ExecResult } from "../util/exec";

/** Runs a command with optional stdin; injectable so tests can run nft inside a network namespace. */
export type NftRunner = (command: string, args: readonly string[], input?: string) => ExecResult;

export interface FirewallInputs {
  /** libvirt URI of the host (decides where nft runs). */
  readonly uri: string;
  /** Table name; the family is always inet. */
  readonly table: string;
  /** The table's comment that marks it as this stack's. */
  readonly marker: string;
  /** The full `table inet <table> { ... }` text. */
  readonly ruleset: string;
}

export interface FirewallOutputs extends FirewallInputs {
  /** Digest of the table as nft listed it right after the stack applied it. */
  readonly appliedDigest: string;
  /** Digest of the table as last read from the host (differs from appliedDigest after drift). */
  readonly liveDigest: string;
}

export function localNftRunner(command: string, args: readonly string[], input?: string): ExecResult {
  return execCommand(command, args, { input, timeoutMs: 60_000, maxBufferBytes: 64 * 1024 * 1024 });
}

/** The command line that runs nft on the libvirt URI's host, or a reason it cannot. */
export function nftInvocation(uri: string): { command: string; prefix: string[] } | { refused: string } {
  if (/^qemu(\+unix)?:\/\/\/(system|session)\b/.test(uri)) return { command: "nft", prefix: [] };
  const ssh = /^qemu\+ssh:\/\/(?:([^@/]+)@)?([^/:?]+)(?::(\d+))?\//.exec(uri);
  if (ssh) {
    const target = ssh[1] ? `${ssh[1]}@${ssh[2]}` : ssh[2];
    return { command: "ssh", prefix: ["-o", "BatchMode=yes", ...(ssh[3] ? ["-p", ssh[3]] : []), target, "--", "nft"] };
  }
  return {
    refused:
      `libvirt URI ${uri} gives no shell on its host to run nft; ` +
      "use qemu:///system on the host or qemu+ssh://root@host/system, " +
      "or set security.network_isolation: false and manage the host firewall yourself",
  };
}

function nft(run: NftRunner, uri: string, args: readonly string[], input?: string): ExecResult {
  const how = nftInvocation(uri);
  if ("refused" in how) throw new Error(`host firewall: ${how.refused}`);
  const result = run(how.command, [...how.prefix, ...args], input);
  if (result.code === null && /ENOENT/.test(result.stderr)) {
    const [where, debianPackage] =
      how.command === "ssh" ? ["this machine", "openssh-client"] : ["the host", "nftables"];
    throw new Error(`host firewall: ${how.command} is not installed on ${where} (Debian package ${debianPackage})`);
  }
  return result;
}

function failure(what: string, args: readonly string[], result: ExecResult): Error {
  const message = (result.stderr || result.stdout).trim() || `exit code ${result.code}`;
  const hint = /Operation not permitted|Permission denied/i.test(message)
    ? " (nft needs root: run pulumi as root on the host, or use a root ssh user in the libvirt URI)"
    : "";
  return new Error(`${what}: nft ${args.join(" ")} failed: ${message}${hint}`);
}

/** absent, ours (marker matches), or foreign with whatever comment it has. */
function ownership(
  run: NftRunner,
  inputs: Pick<FirewallInputs, "uri" | "table" | "marker">,
): { state: "absent" | "ours" } | { state: "foreign"; comment: string | null } {
  const args = ["list", "table", "inet", inputs.table];
  const listed = nft(run, inputs.uri, args);
  if (listed.code !== 0) {
    if (/No such file or directory|does not exist/i.test(listed.stderr)) return { state: "absent" };
    throw failure(`host firewall table inet ${inputs.table}`, args, listed);
  }
  // The table's own comment is printed before its first chain or set.
  const head = listed.stdout.split(/\n\s*(?:chain|set|map|flowtable)\s/)[0];
  const comment = /^\s*comment "(.*)"\s*$/m.exec(head)?.[1] ?? null;
  return comment === inputs.marker ? { state: "ours" } : { state: "foreign", comment };
}

function refuseForeign(table: string, comment: string | null, marker: string): Error {
  const found = comment === null ? "missing" : JSON.stringify(comment);
  return new Error(
    `host firewall: table inet ${table} exists and was not created by this stack ` +
      `(its comment is ${found}, expected ${JSON.stringify(marker)}); it is left untouched. ` +
      `Rename or remove it yourself (nft delete table inet ${table}) if it is stale, ` +
      "or change metadata.name so this stack uses another table",
  );
}

/** The table as nft lists it, without handles and counter values: equal digests mean equal rules. */
function liveDigest(run: NftRunner, uri: string, table: string): string | null {
  const args = ["-j", "list", "table", "inet", table];
  const listed = nft(run, uri, args);
  if (listed.code !== 0) {
    if (/No such file or directory|does not exist/i.test(listed.stderr)) return null;
    throw failure(`host firewall table inet ${table}`, args, listed);
  }
  const strip = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(strip);
    if (value === null || typeof value !== "object") return value;
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
      if (key === "handle" || key === "metainfo") continue;
      out[key] = key === "counter" ? null : strip(child);
    }
    return out;
  };
  const parsed = JSON.parse(listed.stdout) as { nftables: Record<string, unknown>[] };
  const canonical = JSON.stringify(strip(parsed.nftables.filter((item) => !("metainfo" in item))));
  return builtin<typeof import("node:crypto")>("node:crypto").createHash("sha256").update(canonical).digest("hex");
}

/** Replaces the table in one transaction: nft applies all of it or none. */
function apply(run: NftRunner, inputs: FirewallInputs): FirewallOutputs {
  const owner = ownership(run, inputs);
  if (owner.state === "foreign") throw refuseForeign(inputs.table, owner.comment, inputs.marker);
  const transaction = `add table inet ${inputs.table}\ndelete table inet ${inputs.table}\n${inputs.ruleset}`;
  const args = ["-f", "-"];
  const result = nft(run, inputs.uri, args, transaction);
  if (result.code !== 0) throw failure(`host firewall table inet ${inputs.table}`, args, result);
  const digest = liveDigest(run, inputs.uri, inputs.table);
  if (digest === null)
    throw new Error(`host firewall: table inet ${inputs.table} is missing right after nft -f applied it`);
  return { ...inputs, appliedDigest: digest, liveDigest: digest };
}

export function makeFirewallProvider(run: NftRunner = localNftRunner): dynamic.ResourceProvider {
  return {
    async create(inputs: FirewallInputs) {
      return { id: `inet/${inputs.table}`, outs: apply(run, inputs) };
    },
    async read(id: string, props: FirewallOutputs) {
      // A table that is gone or no longer carries our marker is not ours: the next `up` creates it (or
      // refuses, naming the foreign table).
      if (ownership(run, props).state !== "ours") return { id: "", props: {} };
      return { id, props: { ...props, liveDigest: liveDigest(run, props.uri, props.table) ?? "" } };
    },
    async diff(_id: string, olds: FirewallOutputs, news: FirewallInputs) {
      const replaces = (["uri", "table"] as const).filter((key) => olds[key] !== news[key]);
      const changed = (["marker", "ruleset"] as const).filter((key) => olds[key] !== news[key]);
      // A refreshed state whose live table no longer matches what was applied: re-apply.
      if (olds.liveDigest !== olds.appliedDigest && !changed.includes("ruleset")) changed.push("ruleset");
      return { changes: replaces.length + changed.length > 0, replaces, deleteBeforeReplace: true };
    },
    async update(_id: string, _olds: FirewallOutputs, news: FirewallInputs) {
      return { outs: apply(run, news) };
    },
    async delete(_id: string, props: FirewallOutputs) {
      const owner = ownership(run, props);
      if (owner.state === "absent") return;
      if (owner.state === "foreign") throw refuseForeign(props.table, owner.comment, props.marker);
      const args = ["delete", "table", "inet", props.table];
      const result = nft(run, props.uri, args);
      if (result.code !== 0 && !/No such file or directory/i.test(result.stderr))
        throw failure(`host firewall table inet ${props.table}`, args, result);
    },
  };
}
