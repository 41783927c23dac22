// virsh through a Runner: the error a failed call raises, idempotent removal, "not found" detection, and
// the key/value lists virsh prints. Everything goes through `virsh -c URI`, so qemu+ssh:// URIs work unchanged.
import type { ExecResult } from "../../util/exec";
import type { Runner } from "./runner";

/** Runs virsh; throws an error naming the object and quoting virsh's message. */
export function virsh(run: Runner, uri: string, what: string, args: readonly string[]): string {
  const result = run("virsh", ["-q", "-c", uri, ...args]);
  if (result.code !== 0)
    throw new Error(
      `${what}: virsh ${args[0]} failed: ${(result.stderr || result.stdout).trim() || `exit code ${result.code}`}`,
    );
  return result.stdout;
}

/** virsh that tolerates "not found" (idempotent delete and read of missing objects). */
export function virshMaybe(run: Runner, uri: string, args: readonly string[]): ExecResult {
  return run("virsh", ["-q", "-c", uri, ...args]);
}

/** Runs a removal; an object that is already gone is not an error (idempotent delete). */
export function remove(run: Runner, uri: string, what: string, args: readonly string[]): void {
  const result = virshMaybe(run, uri, args);
  if (result.code !== 0 && !isNotFound(result))
    throw new Error(`${what}: virsh ${args[0]} failed: ${result.stderr.trim()}`);
}

export function isNotFound(result: ExecResult): boolean {
  const { stderr } = result;
  return (
    /not found/i.test(stderr) ||
    /no (storage pool|storage vol|network|domain) with matching/i.test(stderr) ||
    /failed to get (domain|network|pool|vol)/i.test(stderr)
  );
}

/** virsh's "Key:  value" listings (dominfo, net-info, pool-info, vol-info). */
export function keyValues(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const match = /^([^:]+):\s*(.*)$/.exec(line.trim());
    if (match) out[match[1].trim()] = match[2].trim();
  }
  return out;
}
