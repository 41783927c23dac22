// What libvirt's storage holds: a pool's path, a volume's state, and a volume's idempotent removal.
import { builtin, type Runner } from "./runner";
import { isNotFound, keyValues, virshMaybe } from "./virsh";

/** The target path of a pool, from its XML (pool-dumpxml has no --xpath in libvirt 9). */
export function poolPath(run: Runner, uri: string, name: string): string | null {
  const dump = virshMaybe(run, uri, ["pool-dumpxml", name]);
  if (dump.code !== 0) return null;
  return /<target>\s*<path>([^<]+)<\/path>/.exec(dump.stdout)?.[1] ?? null;
}

/** A volume's size, backing file and path as libvirt reports them. */
export function volumeState(
  run: Runner,
  uri: string,
  pool: string,
  name: string,
): { exists: boolean; capacityBytes: number | null; backingPath: string | null; path: string | null } {
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

/**
 * Idempotent volume delete that removes the file it owns: when the pool is gone (undefined behind the
 * stack's back) the file at the recorded path is removed directly.
 */
export function removeVolume(
  run: Runner,
  uri: string,
  what: string,
  pool: string,
  name: string,
  path: string | null | undefined,
): void {
  const result = virshMaybe(run, uri, ["vol-delete", "--pool", pool, name]);
  if (result.code === 0 || /storage vol|no storage vol with matching/i.test(result.stderr)) return;
  if (/storage pool|failed to get pool/i.test(result.stderr)) {
    const fs = builtin<typeof import("node:fs")>("node:fs");
    if (path && fs.existsSync(path) && fs.lstatSync(path).isFile()) fs.rmSync(path);
    return;
  }
  throw new Error(`${what}: virsh vol-delete failed: ${result.stderr.trim()}`);
}
