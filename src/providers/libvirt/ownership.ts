// Which libvirt objects are this stack's: a domain or network of the same name only when it carries the
// stack-scoped UUID, a volume only in a pool the stack created. Anything else is refused untouched.
import type { Runner } from "./runner";
import { isNotFound, virsh, virshMaybe } from "./virsh";

/** The <uuid> of an object's XML (the stack-scoped UUID: this provider's ownership mark). */
export function uuidOf(xml: string): string | null {
  return /<uuid>\s*([0-9a-fA-F-]{36})\s*<\/uuid>/.exec(xml)?.[1]?.toLowerCase() ?? null;
}

/**
 * Before defining a domain or network: one of the same name that exists already is ours only when it has the
 * UUID this stack gives it (a leftover of an interrupted create, continued); anything else was not made by
 * this stack and is refused untouched. Returns whether it existed.
 */
export function claimName(
  run: Runner,
  uri: string,
  what: string,
  uuidCommand: "domuuid" | "net-uuid",
  name: string,
  xml: string,
  rename: string,
): boolean {
  const existing = virshMaybe(run, uri, [uuidCommand, name]);
  if (existing.code !== 0) {
    if (isNotFound(existing)) return false;
    throw new Error(`${what}: virsh ${uuidCommand} failed: ${existing.stderr.trim()}`);
  }
  const theirs = existing.stdout.trim().toLowerCase();
  const ours = uuidOf(xml);
  if (ours && theirs === ours) return true;
  throw new Error(
    `${what} already exists (UUID ${theirs}) and was not created by this stack (which gives it UUID ${ours}); ` +
      `nothing was changed. ${rename}`,
  );
}

/**
 * Before creating a volume: one of the same name that exists already is this stack's own leftover (an
 * interrupted create) only in a pool the stack created; `reuse` then decides (keep it, or remove and start
 * clean). In a pool the stack adopted it may be another stack's: refused, untouched.
 */
export function leftoverVolume(
  run: Runner,
  uri: string,
  what: string,
  pool: string,
  name: string,
  poolAdopted: boolean | undefined,
  reuse: () => "keep" | "recreate",
): "none" | "keep" {
  const info = virshMaybe(run, uri, ["vol-info", "--pool", pool, name]);
  if (info.code !== 0) {
    if (/storage vol|no storage vol with matching/i.test(info.stderr)) return "none";
    throw new Error(`${what}: virsh vol-info failed: ${info.stderr.trim()}`);
  }
  if (poolAdopted !== false) {
    throw new Error(
      `${what} already exists in pool ${pool}, which this stack did not create; nothing was changed. ` +
        `If it is a stale copy of yours remove it (virsh vol-delete --pool ${pool} ${name}); ` +
        "otherwise give this stack a pool of its own (host.storage_pool in cluster.yaml)",
    );
  }
  if (reuse() === "keep") return "keep";
  virsh(run, uri, what, ["vol-delete", "--pool", pool, name]);
  return "none";
}
