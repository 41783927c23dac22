// Runs commands for the libvirt providers on this machine. The engine serializes the providers with what
// they call: Node built-ins are loaded at call time (builtin) and only functions of local modules are
// referenced, so the serialized text requires no module.
import { builtin } from "../../util/builtin";
import { execCommand, type ExecResult } from "../../util/exec";

/** Runs a command; injectable so tests can make any step fail. */
export type Runner = (command: string, args: readonly string[], input?: string) => ExecResult;

export function localRunner(command: string, args: readonly string[], input?: string): ExecResult {
  return execCommand(command, args, { input, timeoutMs: 300_000, maxBufferBytes: 256 * 1024 * 1024 });
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
