// Pulumi dynamic providers for libvirt objects: network, pool, volume (qcow2 overlay), base image,
// NoCloud seed ISO and domain. Everything goes through `virsh -c URI` (so qemu+ssh:// URIs work
// unchanged) plus xorriso for building seed ISOs locally.
//
// The engine serializes provider objects: methods reference only functions of this module and load
// Node built-ins with process.getBuiltinModule at call time; no module import is captured.
// (Only `import type` appears below, which compiles away.)
import type * as dynamic from "@pulumi/pulumi/dynamic";
import type { ExecResult } from "../util/exec";

/** Runs a command; injectable so tests can make any step fail. */
export type Runner = (command: string, args: readonly string[], input?: string) => ExecResult;

function builtin<T>(name: string): T {
  return (process as unknown as { getBuiltinModule(id: string): T }).getBuiltinModule(name);
}

export function localRunner(command: string, args: readonly string[], input?: string): ExecResult {
  const cp = builtin<typeof import("node:child_process")>("node:child_process");
  const result = cp.spawnSync(command, [...args], { encoding: "utf8", input, timeout: 300_000, maxBuffer: 256 * 1024 * 1024 });
  if (result.error) return { code: null, stdout: "", stderr: String(result.error.message) };
  return { code: result.status, stdout: result.stdout ?? "", stderr: result.stderr ?? "" };
}

/** Runs virsh; throws an error naming the object and quoting virsh's message. */
function virsh(run: Runner, uri: string, what: string, args: readonly string[]): string {
  const result = run("virsh", ["-q", "-c", uri, ...args]);
  if (result.code !== 0) throw new Error(`${what}: virsh ${args[0]} failed: ${(result.stderr || result.stdout).trim() || `exit code ${result.code}`}`);
  return result.stdout;
}

/** virsh that tolerates "not found" (idempotent delete and read of missing objects). */
function virshMaybe(run: Runner, uri: string, args: readonly string[]): ExecResult {
  return run("virsh", ["-q", "-c", uri, ...args]);
}

/** Runs a removal; an object that is already gone is not an error (idempotent delete). */
function remove(run: Runner, uri: string, what: string, args: readonly string[]): void {
  const result = virshMaybe(run, uri, args);
  if (result.code !== 0 && !isNotFound(result)) throw new Error(`${what}: virsh ${args[0]} failed: ${result.stderr.trim()}`);
}

function isNotFound(result: ExecResult): boolean {
  return /not found|no (storage pool|storage vol|network|domain) with matching|failed to get (domain|network|pool|vol)/i.test(result.stderr);
}

/** The <uuid> of an object's XML (the stack-scoped UUID: this provider's ownership mark). */
function uuidOf(xml: string): string | null {
  return /<uuid>\s*([0-9a-fA-F-]{36})\s*<\/uuid>/.exec(xml)?.[1]?.toLowerCase() ?? null;
}

/**
 * Before defining a domain or network: one of the same name that exists already is ours only when it has the
 * UUID this stack gives it (a leftover of an interrupted create, continued); anything else was not made by
 * this stack and is refused untouched. Returns whether it existed.
 */
function claimName(run: Runner, uri: string, what: string, uuidCommand: "domuuid" | "net-uuid", name: string, xml: string, rename: string): boolean {
  const existing = virshMaybe(run, uri, [uuidCommand, name]);
  if (existing.code !== 0) {
    if (isNotFound(existing)) return false;
    throw new Error(`${what}: virsh ${uuidCommand} failed: ${existing.stderr.trim()}`);
  }
  const theirs = existing.stdout.trim().toLowerCase();
  const ours = uuidOf(xml);
  if (ours && theirs === ours) return true;
  throw new Error(`${what} already exists (UUID ${theirs}) and was not created by this stack (which gives it UUID ${ours}); nothing was changed. ${rename}`);
}

/** The target path of a pool, from its XML (pool-dumpxml has no --xpath in libvirt 9). */
function poolPath(run: Runner, uri: string, name: string): string | null {
  const dump = virshMaybe(run, uri, ["pool-dumpxml", name]);
  if (dump.code !== 0) return null;
  return /<target>\s*<path>([^<]+)<\/path>/.exec(dump.stdout)?.[1] ?? null;
}

/**
 * Before creating a volume: one of the same name that exists already is this stack's own leftover (an
 * interrupted create) only in a pool the stack created; `reuse` then decides (keep it, or remove and start
 * clean). In a pool the stack adopted it may be another stack's: refused, untouched.
 */
function leftoverVolume(run: Runner, uri: string, what: string, pool: string, name: string, poolAdopted: boolean | undefined, reuse: () => "keep" | "recreate"): "none" | "keep" {
  const info = virshMaybe(run, uri, ["vol-info", "--pool", pool, name]);
  if (info.code !== 0) {
    if (/storage vol|no storage vol with matching/i.test(info.stderr)) return "none";
    throw new Error(`${what}: virsh vol-info failed: ${info.stderr.trim()}`);
  }
  if (poolAdopted !== false) {
    throw new Error(`${what} already exists in pool ${pool}, which this stack did not create; nothing was changed. If it is a stale copy of yours remove it (virsh vol-delete --pool ${pool} ${name}); otherwise give this stack a pool of its own (host.storage_pool in cluster.yaml)`);
  }
  if (reuse() === "keep") return "keep";
  virsh(run, uri, what, ["vol-delete", "--pool", pool, name]);
  return "none";
}

/**
 * Idempotent volume delete that removes the file it owns: when the pool is gone (undefined behind the
 * stack's back) the file at the recorded path is removed directly.
 */
function removeVolume(run: Runner, uri: string, what: string, pool: string, name: string, path: string | null | undefined): void {
  const result = virshMaybe(run, uri, ["vol-delete", "--pool", pool, name]);
  if (result.code === 0 || /storage vol|no storage vol with matching/i.test(result.stderr)) return;
  if (/storage pool|failed to get pool/i.test(result.stderr)) {
    const fs = builtin<typeof import("node:fs")>("node:fs");
    if (path && fs.existsSync(path) && fs.lstatSync(path).isFile()) fs.rmSync(path);
    return;
  }
  throw new Error(`${what}: virsh vol-delete failed: ${result.stderr.trim()}`);
}

function withTempFile<T>(content: string, suffix: string, fn: (file: string) => T): T {
  const fs = builtin<typeof import("node:fs")>("node:fs");
  const os = builtin<typeof import("node:os")>("node:os");
  const path = builtin<typeof import("node:path")>("node:path");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hs-virsh-"));
  const file = path.join(dir, `object${suffix}`);
  fs.writeFileSync(file, content, { mode: 0o600 });
  try {
    return fn(file);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function sha256(text: string | Uint8Array): string {
  return builtin<typeof import("node:crypto")>("node:crypto").createHash("sha256").update(text).digest("hex");
}

/** Attributes of every element libvirt returns for an XPath query (one element per line). */
function xpathAttributes(run: Runner, uri: string, args: readonly string[], xpath: string): Record<string, string>[] {
  const result = run("virsh", ["-q", "-c", uri, ...args, "--xpath", xpath]);
  if (result.code !== 0) return [];
  return result.stdout.split(/\n(?=\s*<)/).filter((line) => line.trim().startsWith("<")).map((element) => {
    const attributes: Record<string, string> = {};
    for (const match of element.matchAll(/([A-Za-z_:][\w:.-]*)=(['"])(.*?)\2/g)) attributes[match[1]] = match[3];
    return attributes;
  });
}

/** Text content of every node an XPath query returns. */
function xpathText(run: Runner, uri: string, args: readonly string[], xpath: string): string[] {
  const result = run("virsh", ["-q", "-c", uri, ...args, "--xpath", xpath]);
  if (result.code !== 0) return [];
  return result.stdout.split("\n").map((line) => line.trim()).filter(Boolean);
}

function keyValues(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const match = /^([^:]+):\s*(.*)$/.exec(line.trim());
    if (match) out[match[1].trim()] = match[2].trim();
  }
  return out;
}

function diffKeys(olds: Record<string, unknown>, news: Record<string, unknown>, keys: readonly string[]): string[] {
  return keys.filter((key) => JSON.stringify(olds[key]) !== JSON.stringify(news[key]));
}

// ---------------------------------------------------------------------------------------------- pool

export interface PoolInputs {
  readonly uri: string;
  readonly name: string;
  readonly xml: string;
  readonly path: string;
}

export function makePoolProvider(run: Runner = localRunner): dynamic.ResourceProvider {
  const what = (name: string): string => `libvirt pool ${name}`;
  return {
    async create(inputs: PoolInputs) {
      const existing = virshMaybe(run, inputs.uri, ["pool-info", inputs.name]);
      // A pool of the same name and path is adopted (pools are shared by stacks on one host) and never removed.
      if (existing.code === 0) {
        const path = poolPath(run, inputs.uri, inputs.name);
        if (path !== inputs.path) throw new Error(`${what(inputs.name)} exists with path ${path ?? "(unreadable)"}, not ${inputs.path}; nothing was changed. Set host.storage_pool.path to ${path} to adopt it, or choose another host.storage_pool.name`);
        return { id: inputs.name, outs: { ...inputs, adopted: true } };
      }
      if (!isNotFound(existing)) throw new Error(`${what(inputs.name)}: virsh pool-info failed: ${existing.stderr.trim()}`);
      withTempFile(inputs.xml, ".xml", (file) => virsh(run, inputs.uri, what(inputs.name), ["pool-define", file]));
      try {
        virsh(run, inputs.uri, what(inputs.name), ["pool-build", inputs.name]);
        virsh(run, inputs.uri, what(inputs.name), ["pool-start", inputs.name]);
        virsh(run, inputs.uri, what(inputs.name), ["pool-autostart", inputs.name]);
      } catch (error) {
        // Only what this create made: the definition (the directory only if pool-build made it and it is empty).
        virshMaybe(run, inputs.uri, ["pool-destroy", inputs.name]);
        virshMaybe(run, inputs.uri, ["pool-delete", inputs.name]);
        virshMaybe(run, inputs.uri, ["pool-undefine", inputs.name]);
        throw error;
      }
      return { id: inputs.name, outs: { ...inputs, adopted: false } };
    },
    async read(id: string, props: PoolInputs & { adopted?: boolean }) {
      const info = virshMaybe(run, props.uri, ["pool-info", id]);
      if (info.code !== 0) {
        if (isNotFound(info)) return { id: "", props: {} };
        throw new Error(`${what(id)}: virsh pool-info failed: ${info.stderr.trim()}`);
      }
      // The path libvirt holds (drift shows), not the one recorded.
      return { id, props: structSafe({ ...props, name: id, path: poolPath(run, props.uri, id), state: keyValues(info.stdout)["State"] ?? null }) };
    },
    async diff(_id: string, olds: PoolInputs, news: PoolInputs) {
      const replaces = diffKeys(olds as never, news as never, ["uri", "name", "path"]);
      return { changes: replaces.length > 0, replaces, deleteBeforeReplace: true };
    },
    async delete(id: string, props: PoolInputs & { adopted?: boolean }) {
      if (props.adopted) return;
      virshMaybe(run, props.uri, ["pool-destroy", id]);
      // The pool's directory goes with it when empty (its volumes were deleted first); foreign files stay.
      virshMaybe(run, props.uri, ["pool-delete", id]);
      remove(run, props.uri, what(id), ["pool-undefine", id]);
    },
  };
}

// ------------------------------------------------------------------------------------------- network

export interface NetworkInputs {
  readonly uri: string;
  readonly name: string;
  readonly xml: string;
  readonly bridge: string;
  /** "address/netmask" of the gateway: fixed once defined. */
  readonly ip: string;
  /** DHCP host entries as libvirt writes them (<host mac=.. name=.. ip=../>), updated in place. */
  readonly dhcpHosts: readonly string[];
  /** Start the network (and autostart it). Tests define without starting. */
  readonly start: boolean;
}

/** A network's outputs: its inputs and the digest of the XML it was defined with. */
export function networkOutputs(inputs: NetworkInputs): Record<string, unknown> {
  return { ...inputs, xmlSha256: sha256(inputs.xml) };
}

export function makeNetworkProvider(run: Runner = localRunner): dynamic.ResourceProvider {
  const what = (name: string): string => `libvirt network ${name}`;
  return {
    async create(inputs: NetworkInputs) {
      const existed = claimName(run, inputs.uri, what(inputs.name), "net-uuid", inputs.name, inputs.xml, "Rename the stack (metadata.name in cluster.yaml) or remove the old network (virsh net-destroy/net-undefine) if it is stale.");
      withTempFile(inputs.xml, ".xml", (file) => virsh(run, inputs.uri, what(inputs.name), ["net-define", file]));
      try {
        const active = keyValues(virsh(run, inputs.uri, what(inputs.name), ["net-info", inputs.name]))["Active"] === "yes";
        if (inputs.start && !active) virsh(run, inputs.uri, what(inputs.name), ["net-start", inputs.name]);
        if (inputs.start) virsh(run, inputs.uri, what(inputs.name), ["net-autostart", inputs.name]);
      } catch (error) {
        // Only this create's work: a network that existed (our own leftover) stays for the retry.
        if (!existed) {
          virshMaybe(run, inputs.uri, ["net-destroy", inputs.name]);
          virshMaybe(run, inputs.uri, ["net-undefine", inputs.name]);
        }
        throw error;
      }
      return { id: inputs.name, outs: networkOutputs(inputs) };
    },
    async read(id: string, props: NetworkInputs) {
      const info = virshMaybe(run, props.uri, ["net-info", id]);
      if (info.code !== 0) {
        if (isNotFound(info)) return { id: "", props: {} };
        throw new Error(`${what(id)}: virsh net-info failed: ${info.stderr.trim()}`);
      }
      const fields = keyValues(info.stdout);
      const args = ["net-dumpxml", id, "--inactive"];
      const hosts = xpathAttributes(run, props.uri, args, "//ip/dhcp/host").map((h) => `<host mac="${h.mac}" name="${h.name}" ip="${h.ip}"/>`);
      const ip = xpathAttributes(run, props.uri, args, "//ip")[0];
      return { id, props: { ...props, name: id, bridge: fields["Bridge"] ?? props.bridge, ip: ip ? `${ip.address}/${ip.netmask}` : props.ip, active: fields["Active"] === "yes", dhcpHosts: hosts } };
    },
    async diff(_id: string, olds: NetworkInputs & { xmlSha256?: string }, news: NetworkInputs) {
      // The bridge and the addresses are fixed at definition; DHCP hosts and DNS names update in place.
      const replaces = diffKeys(olds as never, news as never, ["uri", "name", "bridge", "ip"]);
      const changes = replaces.length > 0 || olds.xmlSha256 !== sha256(news.xml) || olds.start !== news.start || JSON.stringify(olds.dhcpHosts) !== JSON.stringify(news.dhcpHosts);
      return { changes, replaces, deleteBeforeReplace: true };
    },
    async update(_id: string, olds: NetworkInputs, news: NetworkInputs) {
      withTempFile(news.xml, ".xml", (file) => virsh(run, news.uri, what(news.name), ["net-define", file]));
      const active = keyValues(virsh(run, news.uri, what(news.name), ["net-info", news.name]))["Active"] === "yes";
      if (active) {
        // Apply DHCP host changes to the running network without restarting it (VMs stay connected).
        const before = olds.dhcpHosts ?? [];
        const after = news.dhcpHosts;
        for (const host of before.filter((h) => !after.includes(h))) virsh(run, news.uri, what(news.name), ["net-update", news.name, "delete", "ip-dhcp-host", host, "--live"]);
        for (const host of after.filter((h) => !before.includes(h))) virsh(run, news.uri, what(news.name), ["net-update", news.name, "add-last", "ip-dhcp-host", host, "--live"]);
      } else if (news.start) {
        virsh(run, news.uri, what(news.name), ["net-start", news.name]);
        virsh(run, news.uri, what(news.name), ["net-autostart", news.name]);
      }
      return { outs: networkOutputs(news) };
    },
    async delete(id: string, props: NetworkInputs) {
      virshMaybe(run, props.uri, ["net-destroy", id]);
      remove(run, props.uri, what(id), ["net-undefine", id]);
    },
  };
}

// ------------------------------------------------------------------------------------------- volumes

export interface VolumeInputs {
  readonly uri: string;
  readonly pool: string;
  /** Whether the pool was adopted (not created by this stack): existing volumes there are never touched. */
  readonly poolAdopted?: boolean;
  readonly name: string;
  /** Volume XML (a qcow2 overlay with its backing store). */
  readonly xml: string;
  readonly capacityGiB: number;
  readonly backingPath: string;
}

function volumeState(run: Runner, uri: string, pool: string, name: string): { exists: boolean; capacityBytes: number | null; backingPath: string | null; path: string | null } {
  const info = virshMaybe(run, uri, ["vol-info", "--pool", pool, name, "--bytes"]);
  if (info.code !== 0) {
    if (isNotFound(info)) return { exists: false, capacityBytes: null, backingPath: null, path: null };
    throw new Error(`libvirt volume ${pool}/${name}: virsh vol-info failed: ${info.stderr.trim()}`);
  }
  const capacity = /([0-9]+) bytes/.exec(keyValues(info.stdout)["Capacity"] ?? "")?.[1];
  const dump = virshMaybe(run, uri, ["vol-dumpxml", "--pool", pool, name]);
  const backing = /<backingStore>\s*<path>([^<]+)<\/path>/.exec(dump.stdout)?.[1] ?? null;
  const path = /<target>\s*<path>([^<]+)<\/path>/.exec(dump.stdout)?.[1] ?? null;
  return { exists: true, capacityBytes: capacity ? Number(capacity) : null, backingPath: backing, path };
}

export function makeVolumeProvider(run: Runner = localRunner): dynamic.ResourceProvider {
  const what = (pool: string, name: string): string => `libvirt volume ${pool}/${name}`;
  return {
    async create(inputs: VolumeInputs) {
      const w = what(inputs.pool, inputs.name);
      // A leftover overlay of ours with the same backing file is kept (it may hold the VM's data); another is redone.
      const leftover = leftoverVolume(run, inputs.uri, w, inputs.pool, inputs.name, inputs.poolAdopted, () => (volumeState(run, inputs.uri, inputs.pool, inputs.name).backingPath === inputs.backingPath ? "keep" : "recreate"));
      if (leftover === "none") withTempFile(inputs.xml, ".xml", (file) => virsh(run, inputs.uri, w, ["vol-create", "--pool", inputs.pool, file]));
      try {
        const path = virsh(run, inputs.uri, w, ["vol-path", "--pool", inputs.pool, inputs.name]).trim();
        return { id: `${inputs.pool}/${inputs.name}`, outs: { ...inputs, path } };
      } catch (error) {
        if (leftover === "none") virshMaybe(run, inputs.uri, ["vol-delete", "--pool", inputs.pool, inputs.name]);
        throw error;
      }
    },
    async read(id: string, props: VolumeInputs) {
      const state = volumeState(run, props.uri, props.pool, props.name);
      if (!state.exists) return { id: "", props: {} };
      return { id, props: { ...props, path: state.path, backingPath: state.backingPath ?? props.backingPath, capacityGiB: state.capacityBytes === null ? props.capacityGiB : Math.round(state.capacityBytes / 1024 ** 3) } };
    },
    async diff(_id: string, olds: VolumeInputs, news: VolumeInputs) {
      // A new base image or a smaller disk means a new disk; growing it is done in place.
      const replaces = diffKeys(olds as never, news as never, ["uri", "pool", "name", "backingPath"]);
      if (news.capacityGiB < olds.capacityGiB) replaces.push("capacityGiB");
      return { changes: replaces.length > 0 || olds.capacityGiB !== news.capacityGiB, replaces, deleteBeforeReplace: true };
    },
    async update(_id: string, _olds: VolumeInputs, news: VolumeInputs) {
      virsh(run, news.uri, what(news.pool, news.name), ["vol-resize", "--pool", news.pool, news.name, `${news.capacityGiB}G`]);
      return { outs: { ...news, path: volumeState(run, news.uri, news.pool, news.name).path } };
    },
    async delete(_id: string, props: VolumeInputs & { path?: string | null }) {
      removeVolume(run, props.uri, what(props.pool, props.name), props.pool, props.name, props.path);
    },
  };
}

// ---------------------------------------------------------------------------------------- base image

export interface BaseImageInputs {
  readonly uri: string;
  readonly pool: string;
  /** Whether the pool was adopted (see VolumeInputs). */
  readonly poolAdopted?: boolean;
  readonly name: string;
  /** Local file (air-gapped hosts) or http(s) URL. */
  readonly source: string;
  /** "sha256:<hex>" or "sha512:<hex>"; or empty with checksumUrl. */
  readonly checksum: string;
  /** A SHA*SUMS file listing the image, used when no checksum is pinned. */
  readonly checksumUrl: string;
  readonly format: "qcow2" | "raw";
}

async function fetchToFile(url: string, file: string): Promise<void> {
  const fs = builtin<typeof import("node:fs")>("node:fs");
  const response = await fetch(url);
  if (!response.ok || !response.body) throw new Error(`download of ${url} failed: HTTP ${response.status}`);
  const out = fs.createWriteStream(file, { mode: 0o600 });
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (!out.write(value)) await new Promise<void>((resolve) => out.once("drain", () => resolve()));
  }
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
}

async function fileDigest(file: string, algorithm: string): Promise<string> {
  const fs = builtin<typeof import("node:fs")>("node:fs");
  const crypto = builtin<typeof import("node:crypto")>("node:crypto");
  const hash = crypto.createHash(algorithm);
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

async function expectedChecksum(inputs: BaseImageInputs): Promise<{ algorithm: string; hex: string }> {
  if (inputs.checksum) {
    const [algorithm, hex] = inputs.checksum.split(":");
    return { algorithm, hex: hex.toLowerCase() };
  }
  if (!inputs.checksumUrl) throw new Error(`base image ${inputs.name}: no checksum and no checksumUrl; refusing an unverified image`);
  const response = await fetch(inputs.checksumUrl);
  if (!response.ok) throw new Error(`base image ${inputs.name}: cannot fetch ${inputs.checksumUrl}: HTTP ${response.status}`);
  const fileName = inputs.source.split("/").pop() ?? "";
  const line = (await response.text()).split("\n").find((l) => l.trim().endsWith(` ${fileName}`) || l.trim().endsWith(`*${fileName}`));
  if (!line) throw new Error(`base image ${inputs.name}: ${inputs.checksumUrl} does not list ${fileName}`);
  const hex = line.trim().split(/\s+/)[0].toLowerCase();
  return { algorithm: hex.length === 128 ? "sha512" : "sha256", hex };
}

export function makeBaseImageProvider(run: Runner = localRunner): dynamic.ResourceProvider {
  const what = (pool: string, name: string): string => `base image ${pool}/${name}`;
  return {
    async create(inputs: BaseImageInputs) {
      const fs = builtin<typeof import("node:fs")>("node:fs");
      const os = builtin<typeof import("node:os")>("node:os");
      const path = builtin<typeof import("node:path")>("node:path");
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hs-image-"));
      let created = false;
      try {
        let file = inputs.source;
        if (/^https?:\/\//.test(inputs.source)) {
          file = path.join(dir, "image");
          await fetchToFile(inputs.source, file);
        } else if (!fs.existsSync(file)) {
          throw new Error(`${what(inputs.pool, inputs.name)}: source file ${file} does not exist`);
        }
        const expected = await expectedChecksum(inputs);
        const actual = await fileDigest(file, expected.algorithm);
        if (actual !== expected.hex) throw new Error(`${what(inputs.pool, inputs.name)}: ${expected.algorithm} mismatch for ${inputs.source}: got ${actual}, expected ${expected.hex}`);
        const size = fs.statSync(file).size;
        leftoverVolume(run, inputs.uri, what(inputs.pool, inputs.name), inputs.pool, inputs.name, inputs.poolAdopted, () => "recreate");
        virsh(run, inputs.uri, what(inputs.pool, inputs.name), ["vol-create-as", inputs.pool, inputs.name, String(size), "--format", inputs.format]);
        created = true;
        virsh(run, inputs.uri, what(inputs.pool, inputs.name), ["vol-upload", "--pool", inputs.pool, inputs.name, file]);
        const state = volumeState(run, inputs.uri, inputs.pool, inputs.name);
        return { id: `${inputs.pool}/${inputs.name}`, outs: { ...inputs, path: state.path, verified: `${expected.algorithm}:${actual}` } };
      } catch (error) {
        if (created) virshMaybe(run, inputs.uri, ["vol-delete", "--pool", inputs.pool, inputs.name]);
        throw error;
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
    async read(id: string, props: BaseImageInputs) {
      const state = volumeState(run, props.uri, props.pool, props.name);
      return state.exists ? { id, props: { ...props, path: state.path } } : { id: "", props: {} };
    },
    async diff(_id: string, olds: BaseImageInputs, news: BaseImageInputs) {
      const replaces = diffKeys(olds as never, news as never, ["uri", "pool", "name", "source", "checksum", "format"]);
      return { changes: replaces.length > 0, replaces, deleteBeforeReplace: true };
    },
    async delete(_id: string, props: BaseImageInputs & { path?: string | null }) {
      removeVolume(run, props.uri, what(props.pool, props.name), props.pool, props.name, props.path);
    },
  };
}

// ------------------------------------------------------------------------------------------ seed ISO

export interface SeedIsoInputs {
  readonly uri: string;
  readonly pool: string;
  /** Whether the pool was adopted (see VolumeInputs). */
  readonly poolAdopted?: boolean;
  readonly name: string;
  /** user-data, meta-data, network-config. May hold secrets: never copied into outputs. */
  readonly files: Readonly<Record<string, string>>;
}

export function seedDigest(files: Readonly<Record<string, string>>): string {
  return sha256(Object.keys(files).sort().map((name) => `${name}\u0000${files[name]}`).join("\u0001"));
}

export function makeSeedIsoProvider(run: Runner = localRunner): dynamic.ResourceProvider {
  const what = (pool: string, name: string): string => `seed ISO ${pool}/${name}`;
  const outputsOf = (inputs: SeedIsoInputs, path: string | null) => ({ uri: inputs.uri, pool: inputs.pool, name: inputs.name, contentSha256: seedDigest(inputs.files), path });
  return {
    async create(inputs: SeedIsoInputs) {
      const fs = builtin<typeof import("node:fs")>("node:fs");
      const os = builtin<typeof import("node:os")>("node:os");
      const path = builtin<typeof import("node:path")>("node:path");
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hs-seed-"));
      let created = false;
      try {
        const content = path.join(dir, "cidata");
        fs.mkdirSync(content, { mode: 0o700 });
        for (const [name, text] of Object.entries(inputs.files)) fs.writeFileSync(path.join(content, name), text, { mode: 0o600 });
        const iso = path.join(dir, "seed.iso");
        // NoCloud finds its seed by the volume label "cidata".
        const built = run("xorriso", ["-as", "mkisofs", "-quiet", "-output", iso, "-volid", "cidata", "-joliet", "-rock", content]);
        if (built.code !== 0) throw new Error(`${what(inputs.pool, inputs.name)}: xorriso failed: ${(built.stderr || built.stdout).trim() || `exit code ${built.code}`}`);
        leftoverVolume(run, inputs.uri, what(inputs.pool, inputs.name), inputs.pool, inputs.name, inputs.poolAdopted, () => "recreate");
        virsh(run, inputs.uri, what(inputs.pool, inputs.name), ["vol-create-as", inputs.pool, inputs.name, String(fs.statSync(iso).size), "--format", "raw"]);
        created = true;
        virsh(run, inputs.uri, what(inputs.pool, inputs.name), ["vol-upload", "--pool", inputs.pool, inputs.name, iso]);
        return { id: `${inputs.pool}/${inputs.name}`, outs: outputsOf(inputs, volumeState(run, inputs.uri, inputs.pool, inputs.name).path) };
      } catch (error) {
        if (created) virshMaybe(run, inputs.uri, ["vol-delete", "--pool", inputs.pool, inputs.name]);
        throw error;
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
    async read(id: string, props: { uri: string; pool: string; name: string; contentSha256: string; path: string | null }) {
      const state = volumeState(run, props.uri, props.pool, props.name);
      return state.exists ? { id, props: { ...props, path: state.path } } : { id: "", props: {} };
    },
    async diff(_id: string, olds: { uri: string; pool: string; name: string; contentSha256: string }, news: SeedIsoInputs) {
      const replaces = diffKeys(olds as never, news as never, ["uri", "pool", "name"]);
      if (olds.contentSha256 !== seedDigest(news.files)) replaces.push("files");
      return { changes: replaces.length > 0, replaces, deleteBeforeReplace: true };
    },
    async delete(_id: string, props: { uri: string; pool: string; name: string; path?: string | null }) {
      removeVolume(run, props.uri, what(props.pool, props.name), props.pool, props.name, props.path);
    },
  };
}

// -------------------------------------------------------------------------------------------- domain

/** Facts of a domain the provider compares with what libvirt holds (the builder derives them with the XML). */
export interface DomainFacts {
  readonly memoryMiB: number;
  readonly vcpus: number;
  readonly disks: readonly string[];
  readonly hostdevs: readonly string[];
  readonly interfaces: readonly string[];
}

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

export interface DomainState {
  /** Memory and vCPUs of the persistent definition: what the VM gets at its next boot. */
  readonly memoryMiB: number | null;
  readonly vcpus: number | null;
  /** What the running VM has now (null when shut off). */
  readonly liveMemoryMiB: number | null;
  readonly liveVcpus: number | null;
  readonly running: boolean;
  /** libvirt's id of the running domain: a new one after every start (a restart made outside the stack too). */
  readonly bootId: number | null;
  /** Whether the running VM has its seed (cloud-init data, with secrets) in its drive now. */
  readonly seedInserted: boolean;
  readonly disks: string[];
  readonly hostdevs: string[];
  readonly interfaces: string[];
}

/** The seed's cdrom target in the domain XML (render/libvirt/domain.ts SEED_TARGET; a test keeps them equal). */
export const SEED_CDROM_TARGET = "sda";

/** Whether the running domain has media in its seed cdrom now (domblklist shows "-" once ejected). */
function seedInsertedLive(run: Runner, uri: string, name: string): boolean {
  const list = virshMaybe(run, uri, ["domblklist", name]);
  if (list.code !== 0) return false;
  const line = list.stdout.split("\n").map((l) => l.trim().split(/\s+/)).find((cols) => cols[0] === SEED_CDROM_TARGET);
  return Boolean(line && line[1] && line[1] !== "-");
}

/**
 * Whether cloud-init inside the guest has finished (`cloud-init status` says done or error), asked through
 * the QEMU guest agent; null when the agent does not answer (not installed yet, still booting).
 */
export function cloudInitFinished(run: Runner, uri: string, name: string): boolean | null {
  const agent = (command: object): Record<string, unknown> | null => {
    const result = run("virsh", ["-q", "-c", uri, "qemu-agent-command", name, "--timeout", "2", JSON.stringify(command)]);
    if (result.code !== 0) return null;
    try {
      return (JSON.parse(result.stdout) as { return?: Record<string, unknown> }).return ?? null;
    } catch {
      return null;
    }
  };
  const started = agent({ execute: "guest-exec", arguments: { path: "/usr/bin/cloud-init", arg: ["status"], "capture-output": true } });
  if (!started || typeof started.pid !== "number") return null;
  for (let attempt = 0; attempt < 50; attempt++) {
    const status = agent({ execute: "guest-exec-status", arguments: { pid: started.pid } });
    if (!status) return null;
    if (status.exited) {
      const out = Buffer.from(String(status["out-data"] ?? ""), "base64").toString("utf8");
      return /status:\s*(done|error)/.test(out);
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
  }
  return null;
}

/** What libvirt really holds, for refresh: sizes, disks, GPU hostdevs and NICs. */
export function readDomain(run: Runner, uri: string, name: string): DomainState | null {
  const info = virshMaybe(run, uri, ["dominfo", name]);
  if (info.code !== 0) {
    if (isNotFound(info)) return null;
    throw new Error(`libvirt domain ${name}: virsh dominfo failed: ${info.stderr.trim()}`);
  }
  const fields = keyValues(info.stdout);
  const running = fields["State"] === "running";
  const liveKiB = /([0-9]+) KiB/.exec(fields["Max memory"] ?? "")?.[1];
  const args = ["dumpxml", name, "--inactive"];
  // The persistent definition (libvirt stores memory in KiB), not the running VM's values.
  const memoryKiB = Number(xpathText(run, uri, args, "/domain/memory/text()")[0] ?? NaN);
  const vcpus = Number(xpathText(run, uri, args, "/domain/vcpu/text()")[0] ?? NaN);
  const disks = xpathAttributes(run, uri, args, "//devices/disk/source").map((s) => (s.pool ? `${s.pool}/${s.volume}` : s.file ?? s.dev ?? "")).filter(Boolean);
  const hostdevs = xpathAttributes(run, uri, args, "//devices/hostdev/source/address").map((a) => (a.uuid ? `mdev:${a.uuid}` : `pci:${(a.domain ?? "").replace(/^0x/, "")}:${(a.bus ?? "").replace(/^0x/, "")}:${(a.slot ?? "").replace(/^0x/, "")}.${(a.function ?? "").replace(/^0x/, "")}`));
  const macs = xpathAttributes(run, uri, args, "//devices/interface/mac");
  const networks = xpathAttributes(run, uri, args, "//devices/interface/source");
  return {
    memoryMiB: Number.isFinite(memoryKiB) ? Math.round(memoryKiB / 1024) : null,
    vcpus: Number.isFinite(vcpus) ? vcpus : null,
    liveMemoryMiB: running && liveKiB ? Math.round(Number(liveKiB) / 1024) : null,
    liveVcpus: running && fields["CPU(s)"] ? Number(fields["CPU(s)"]) : null,
    running,
    bootId: running && /^[0-9]+$/.test(fields["Id"] ?? "") ? Number(fields["Id"]) : null,
    seedInserted: running && seedInsertedLive(run, uri, name),
    disks,
    hostdevs,
    interfaces: macs.map((m, i) => `${m.address}@${networks[i]?.network ?? networks[i]?.bridge ?? "?"}`),
  };
}

/** The engine's marker for a value that is not known during preview (pulumi runtime/rpc unknownValue). */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

function isUnknown(value: unknown): boolean {
  return value === UNKNOWN;
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

/** Struct-encodable outputs: the engine's Struct has no undefined (Create fails with "Unexpected struct type"). */
export function structSafe<T>(value: T): T {
  if (value === undefined) return null as T;
  if (Array.isArray(value)) return value.map(structSafe) as T;
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, structSafe(v)])) as T;
  return value;
}

/**
 * A domain's outputs: its inputs, what libvirt holds, whether it needs a restart, and the seed digest it last
 * booted with (bootedSeedSha256): the VM compares it with its seed's digest to tell that a new cloud-init
 * configuration waits for its next boot. The seed is not a reason to touch the domain itself, so a change
 * that rewrites many seeds (a Slurm node added) leaves the other VMs' domains alone.
 */
export function domainOutputs(inputs: DomainInputs, state: DomainState | null, bootedSeedSha256: string | null): Record<string, unknown> {
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
  const seedToEject = (inputs: DomainInputs): boolean => !isUnknown(inputs.name) && seedInsertedLive(run, inputs.uri, inputs.name) && cloudInitFinished(run, inputs.uri, inputs.name) === true;
  return {
    async create(inputs: DomainInputs) {
      const existed = claimName(run, inputs.uri, what(inputs.name), "domuuid", inputs.name, inputs.xml, "Rename the VM (metadata.name in cluster.yaml names every VM) or remove the old domain (virsh destroy/undefine) if it is stale.");
      withTempFile(inputs.xml, ".xml", (file) => virsh(run, inputs.uri, what(inputs.name), ["define", file]));
      try {
        const running = readDomain(run, inputs.uri, inputs.name)?.running ?? false;
        if (inputs.start && !running) virsh(run, inputs.uri, what(inputs.name), ["start", inputs.name]);
        return { id: inputs.name, outs: outputs(inputs, readDomain(run, inputs.uri, inputs.name), inputs.start ? inputs.seedSha256 ?? null : null) };
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
      const booted = state.bootId !== (props.bootId ?? null) ? props.seedSha256 ?? null : props.bootedSeedSha256 ?? null;
      return { id, props: domainOutputs(props, state, booted) };
    },
    async diff(_id: string, olds: DomainInputs & Partial<DomainState>, news: DomainInputs) {
      const replaces = diffKeys(olds as never, news as never, ["uri", "name"]);
      // libvirt cannot swap a VM's disk, GPU devices or network in place the way we manage them. Facts that
      // are unknown in a preview (computed from other resources' outputs) prove no replacement.
      if (news.disk !== undefined && (isUnknown(news.disk) || (olds.disk !== undefined && olds.disk !== news.disk))) replaces.push("disk");
      const devices = news.devices ?? [];
      if (isUnknown(devices) || devices.some(isUnknown) || JSON.stringify(devices) !== JSON.stringify(olds.devices ?? devices)) replaces.push("devices");
      const networks = news.networks ?? [];
      if (isUnknown(networks) || networks.some(isUnknown) || JSON.stringify(networks) !== JSON.stringify(olds.networks ?? networks)) replaces.push("networks");
      if (!isUnknown(news.facts)) {
        for (const key of ["disks", "hostdevs", "interfaces"] as const) if (!isUnknown(news.facts[key]) && JSON.stringify(olds[key] ?? []) !== JSON.stringify(news.facts[key])) replaces.push(key);
      }
      // seedSha256 alone is no change: it only records which seed the VM boots with. A running VM whose
      // cloud-init has finished but still has its seed (keys, tokens) in the drive gets it ejected.
      const eject = replaces.length === 0 && Boolean(olds.running) && seedToEject(news);
      return { changes: replaces.length > 0 || changesAtNextBoot(olds, news) || olds.xml !== news.xml || olds.start !== news.start || eject, replaces, deleteBeforeReplace: true };
    },
    async update(_id: string, olds: DomainInputs & { bootedSeedSha256?: string | null; bootId?: number | null }, news: DomainInputs) {
      // vCPUs and memory: redefine; a running VM picks them up at its next restart, which we report.
      withTempFile(news.xml, ".xml", (file) => virsh(run, news.uri, what(news.name), ["define", file]));
      // Eject from the running VM only (--live): the definition keeps the seed, so the next boot reads the
      // newest one (re-configuration), and the next up after its cloud-init ejects it again.
      if (seedToEject(news)) virsh(run, news.uri, what(news.name), ["change-media", news.name, SEED_CDROM_TARGET, "--eject", "--live"]);
      let state = readDomain(run, news.uri, news.name);
      let booted = state?.bootId !== (olds.bootId ?? null) ? olds.seedSha256 ?? null : olds.bootedSeedSha256 ?? null;
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
      if (result.code !== 0 && !isNotFound(result)) throw new Error(`${what(id)}: virsh undefine failed: ${result.stderr.trim()}`);
    },
  };
}
