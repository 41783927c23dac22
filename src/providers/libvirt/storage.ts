// What libvirt's storage holds: a pool's path, a volume's state, a volume made from a local file, and a
// volume's idempotent removal.
import { leftoverVolume } from "./ownership";
import { builtin } from "../../util/builtin";
import type { Runner } from "./runner";
import { isNotFound, keyValues, virsh, virshMaybe } from "./virsh";

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

/**
 * A new volume holding a local file's bytes (vol-create-as, vol-upload), after clearing a leftover of an
 * interrupted create of ours; an upload that fails removes the volume again. Returns the volume's path.
 */
export function uploadVolume(
  run: Runner,
  target: { readonly uri: string; readonly pool: string; readonly name: string; readonly poolAdopted?: boolean },
  what: string,
  file: string,
  format: "qcow2" | "raw",
): string | null {
  const fs = builtin<typeof import("node:fs")>("node:fs");
  const { uri, pool, name } = target;
  leftoverVolume(run, uri, what, pool, name, target.poolAdopted, () => "recreate");
  virsh(run, uri, what, ["vol-create-as", pool, name, String(fs.statSync(file).size), "--format", format]);
  try {
    virsh(run, uri, what, ["vol-upload", "--pool", pool, name, file]);
    return volumeState(run, uri, pool, name).path;
  } catch (error) {
    virshMaybe(run, uri, ["vol-delete", "--pool", pool, name]);
    throw error;
  }
}
