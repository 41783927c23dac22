// Reaching the booted VMs: SSH from inside the namespace with the generated host keys pinned, and
// waiting for cloud-init with the failing module named (from `cloud-init status --long`, else the
// serial console log) instead of a bare timeout.
import * as fs from "node:fs";
import type { PlannedVm } from "../../src/plan/types";
import { sshRemote, type Remote, type RemoteResult } from "../../src/verify/remote";

export interface GuestAccess {
  readonly user: string;
  readonly identityFile: string;
  readonly knownHostsFile: string;
  /** Runs ssh inside the namespace. */
  readonly wrapper: readonly string[];
}

export function remoteFor(access: GuestAccess): Remote {
  return sshRemote({
    user: access.user,
    identityFile: access.identityFile,
    knownHostsFile: access.knownHostsFile,
    wrapper: access.wrapper,
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const FAILURE_LINE = new RegExp(
  [
    /Kernel panic/,
    /Failed to start/,
    /cc_[a-z_]+\.py\[WARNING\]/,
    /Running module \S+ .* failed/,
    /\[ERROR\]/,
    /\[CRITICAL\]/,
    /failed run of stage/,
    /Traceback/,
  ]
    .map((part) => part.source)
    .join("|"),
);

/** Lines of the serial log that say why a boot or cloud-init failed. */
export function serialFailures(log: string): string[] {
  return log
    .split("\n")
    .filter((line) => FAILURE_LINE.test(line))
    .map((l) => l.trim())
    .slice(0, 10);
}

/** Modules `cloud-init status --long` lists as failed (its "errors:" and "recoverable_errors" parts). */
export function failedModules(statusLong: string): string[] {
  const modules = new Set<string>();
  for (const match of statusLong.matchAll(/(?:Running module|module) ([a-z_]+)\b/g)) modules.add(match[1]);
  for (const match of statusLong.matchAll(/\bcc_([a-z_]+)\b/g)) modules.add(match[1]);
  return [...modules];
}

export class CloudInitFailure extends Error {}

export interface Booted {
  readonly name: string;
  readonly bootSeconds: number;
}

/**
 * Waits until `cloud-init status` says done on the VM. Fails at once with the VM's name and the failing
 * module when cloud-init reports an error; on timeout, says whether SSH ever answered and what the serial
 * log shows.
 */
export async function waitForCloudInit(
  remote: Remote,
  vm: PlannedVm,
  serialLog: string,
  startedAt: number,
  timeoutMs: number,
): Promise<Booted> {
  const deadline = startedAt + timeoutMs;
  let last: RemoteResult | null = null;
  let sshAnswered = false;
  while (Date.now() < deadline) {
    // cloud-init is Python: under emulation and load one status call can take half a minute.
    last = await remote.run(vm.ip, "cloud-init status --long", 90_000);
    if (last.code !== 255 && last.code !== null) sshAnswered = true;
    const status = /^status:\s*(\S+)/m.exec(last.stdout)?.[1];
    if (status === "done") return { name: vm.name, bootSeconds: (Date.now() - startedAt) / 1000 };
    if (status === "error" || (sshAnswered && last.code === 1 && /status:\s*error/.test(last.stdout))) {
      const log = await remote.run(
        vm.ip,
        "sudo grep -E 'WARNING|ERROR|Traceback' /var/log/cloud-init.log | tail -n 20",
        20_000,
      );
      const modules = failedModules(`${last.stdout}\n${log.stdout}`);
      throw new CloudInitFailure(
        `${vm.name}: cloud-init failed${modules.length ? ` in module ${modules.join(", ")}` : ""}:\n` +
          `${last.stdout.trim()}\n${log.stdout.trim()}`,
      );
    }
    const serial = fs.existsSync(serialLog) ? fs.readFileSync(serialLog, "utf8") : "";
    if (/Kernel panic/.test(serial))
      throw new CloudInitFailure(`${vm.name}: the kernel panicked:\n${serialFailures(serial).join("\n")}`);
    // A failed stage (e.g. a network-config cloud-init cannot parse) never reaches "done": stop now.
    const stage = /failed run of stage (\S+)/.exec(serial)?.[1];
    if (stage)
      throw new CloudInitFailure(
        `${vm.name}: cloud-init stage ${stage} failed (serial log):\n${serial
          .split("\n")
          .filter((l) => /\[ERROR\]|\[WARNING\]|Error:/.test(l))
          .slice(0, 8)
          .join("\n")}`,
      );
    await sleep(5000);
  }
  const serial = fs.existsSync(serialLog) ? fs.readFileSync(serialLog, "utf8") : "";
  const failures = serialFailures(serial);
  const ssh = sshAnswered
    ? `last status: ${last?.stdout.trim()}`
    : `SSH never answered (${last?.stderr.trim().split("\n").pop() ?? "no attempt"})`;
  const evidence = failures.length ? failures.join("\n") : serial.trim().split("\n").slice(-8).join("\n");
  throw new CloudInitFailure(
    `${vm.name}: cloud-init not done after ${timeoutMs / 1000} s; ${ssh}; serial log ${serialLog}: ${evidence}`,
  );
}
