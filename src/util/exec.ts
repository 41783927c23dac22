// Running a command and its result, as every runner in the code base reports it: the probe's executor, the
// libvirt, GPU and firewall providers' runners, and verify's remote shell. The providers are serialized by
// the engine with what they call: execCommand loads child_process at call time and imports nothing else.
import { builtin } from "./builtin";

/** A finished command: its exit code (null when it could not run or was killed) and its output. */
export interface ExecResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ExecOptions {
  /** Text written to the command's standard input. */
  readonly input?: string;
  /** Killed after this long (then code null). */
  readonly timeoutMs: number;
  /** Output beyond this kills the command. @default Node's spawnSync default (1 MiB) */
  readonly maxBufferBytes?: number;
}

/** Runs a command to completion; a missing command or a timeout is code null, never an exception. */
export function execCommand(command: string, args: readonly string[], options: ExecOptions): ExecResult {
  const cp = builtin<typeof import("node:child_process")>("node:child_process");
  const result = cp.spawnSync(command, [...args], {
    encoding: "utf8",
    input: options.input,
    timeout: options.timeoutMs,
    maxBuffer: options.maxBufferBytes,
  });
  if (result.error) return { code: null, stdout: "", stderr: String(result.error.message) };
  return { code: result.status, stdout: result.stdout ?? "", stderr: result.stderr ?? "" };
}
