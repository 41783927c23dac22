// `hyperscaler verify FILE [--json] [--host ...] [--user NAME] [--identity FILE] [--known-hosts FILE]`:
// acceptance checks after `pulumi up`, one row per check with its time; exit 1 when any check fails.
import * as fs from "node:fs";
import { runVerify, type VerifyResult } from "../verify/checks";
import { sshRemote, type Remote } from "../verify/remote";
import { specAndPlan } from "./plan";
import { EXIT, type CliIO } from "./output";
import { table } from "../util/table";

export interface VerifyOptions {
  readonly json?: boolean;
  readonly host?: string;
  readonly user?: string;
  readonly identity?: string;
  readonly knownHosts?: string;
  /** Command ssh runs under (`ip netns exec NS`), split on spaces. */
  readonly sshWrapper?: string;
}

export function verifyReport(results: readonly VerifyResult[], json: boolean): string {
  if (json) return JSON.stringify({ passed: results.every((r) => r.status !== "FAIL"), checks: results }, null, 2);
  const rows = results.map((r) => [r.layer, r.id, r.status, r.seconds.toFixed(1), r.message]);
  const failed = results.filter((r) => r.status === "FAIL").length;
  const summary = `verify: ${results.length - failed} passed or skipped, ${failed} failed`;
  return `${table(["layer", "check", "status", "seconds", "detail"], rows)}\n\n${summary}`;
}

export async function runVerifyCommand(
  file: string,
  options: VerifyOptions,
  io: CliIO,
  remote?: Remote,
): Promise<number> {
  const loaded = specAndPlan(file, { host: options.host }, io);
  if (!loaded) return EXIT.failed;
  const { spec, plan } = loaded;
  for (const [flag, path] of [
    ["--identity", options.identity],
    ["--known-hosts", options.knownHosts],
  ] as const) {
    if (path && !isReadableFile(path)) {
      const how = flag === "--known-hosts" ? " (write it with: pulumi stack output knownHosts > FILE)" : "";
      io.err(`hyperscaler verify: ${flag} ${path}: no such readable file${how}`);
      return EXIT.usage;
    }
  }
  const ssh = {
    user: options.user ?? spec.security.admin_user,
    identityFile: options.identity,
    knownHostsFile: options.knownHosts,
    wrapper: options.sshWrapper?.trim().split(/\s+/).filter(Boolean),
  };
  const results = await runVerify({ spec, plan, remote: remote ?? sshRemote(ssh) });
  io.out(verifyReport(results, Boolean(options.json)));
  return results.some((r) => r.status === "FAIL") ? EXIT.failed : EXIT.ok;
}

function isReadableFile(path: string): boolean {
  try {
    fs.accessSync(path, fs.constants.R_OK);
    return fs.statSync(path).isFile();
  } catch {
    return false;
  }
}
