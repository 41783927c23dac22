// Runs commands for the libvirt providers on this machine. The engine serializes the providers with what
// they call: Node built-ins are loaded at call time (builtin) and only functions of local modules are
// referenced, so the serialized text requires no module.
import type { ExecResult } from "../../util/exec";

/** Runs a command; injectable so tests can make any step fail. */
export type Runner = (command: string, args: readonly string[], input?: string) => ExecResult;

/** A Node built-in, loaded when called: a module import would be captured when the engine serializes a provider. */
export function builtin<T>(name: string): T {
  return (process as unknown as { getBuiltinModule(id: string): T }).getBuiltinModule(name);
}

export function localRunner(command: string, args: readonly string[], input?: string): ExecResult {
  const cp = builtin<typeof import("node:child_process")>("node:child_process");
  const result = cp.spawnSync(command, [...args], {
    encoding: "utf8",
    input,
    timeout: 300_000,
    maxBuffer: 256 * 1024 * 1024,
  });
  if (result.error) return { code: null, stdout: "", stderr: String(result.error.message) };
  return { code: result.status, stdout: result.stdout ?? "", stderr: result.stderr ?? "" };
}

/** Runs `fn` on a private temporary file holding `content` (virsh reads definitions from files). */
export function withTempFile<T>(content: string, suffix: string, fn: (file: string) => T): T {
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

export function sha256(text: string | Uint8Array): string {
  return builtin<typeof import("node:crypto")>("node:crypto").createHash("sha256").update(text).digest("hex");
}
