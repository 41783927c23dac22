// How verify reaches the VMs: commands over SSH (batch mode; 15 s to connect, which a VM under emulation
// and load needs). Injectable for tests.
import { spawn } from "node:child_process";
import type { ExecResult } from "../util/exec";

export type RemoteResult = ExecResult;

export interface Remote {
  run(host: string, command: string, timeoutMs?: number): Promise<RemoteResult>;
}

export interface SshOptions {
  readonly user: string;
  readonly identityFile?: string;
  /**
   * The stack's `known_hosts` (`pulumi stack output knownHosts`): host keys are then checked strictly.
   * Without it, the user's own known_hosts is used and new hosts are accepted on first contact.
   */
  readonly knownHostsFile?: string;
  /** @default 22 */
  readonly port?: number;
  /**
   * A command ssh runs under, e.g. `ip netns exec NS` when the VMs' network lives in a network namespace
   * (the bring-up test). Host keys are still checked as above.
   */
  readonly wrapper?: readonly string[];
}

/** The ssh(1) arguments for one command on one host. */
export function sshArgs(options: SshOptions, host: string, command: string): string[] {
  const hostKeys = options.knownHostsFile
    ? [
        "-o",
        `UserKnownHostsFile=${options.knownHostsFile}`,
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "GlobalKnownHostsFile=/dev/null",
      ]
    : ["-o", "StrictHostKeyChecking=accept-new"];
  return [
    "-o",
    "BatchMode=yes",
    "-o",
    "ConnectTimeout=15",
    ...hostKeys,
    ...(options.port ? ["-p", String(options.port)] : []),
    ...(options.identityFile ? ["-o", "IdentitiesOnly=yes", "-i", options.identityFile] : []),
    `${options.user}@${host}`,
    "--",
    command,
  ];
}

export function sshRemote(options: SshOptions): Remote {
  return {
    run(host, command, timeoutMs = 120_000) {
      const [program, ...args] = [...(options.wrapper ?? []), "ssh", ...sshArgs(options, host, command)];
      return new Promise((resolve) => {
        const child = spawn(program, args, { stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("error", (error) => {
          clearTimeout(timer);
          resolve({ code: null, stdout, stderr: String(error.message) });
        });
        child.on("close", (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr: code === null ? `${stderr}timed out after ${timeoutMs} ms` : stderr });
        });
      });
    },
  };
}
