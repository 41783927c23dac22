// `npm run preview|up|destroy [-- --stack dev] [-- extra pulumi args]`: runs the Pulumi CLI against a
// local file state backend inside the project (no Pulumi Cloud login), creates the stack if missing,
// handles the passphrase (refusing a passphrase file others can read, tightening a loose state directory),
// and runs `hyperscaler doctor` first (stopping on FAIL) before preview/up.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { findImage } from "../src/images/store";
import { goldenImagesDir } from "../src/render/images";
import { loadSpecFile } from "../src/spec/load";

const ROOT = path.resolve(__dirname, "..");
const STATE_DIR = process.env.HYPERSCALER_STATE_DIR ?? path.join(ROOT, ".pulumi-state");

export interface Invocation {
  readonly action: "preview" | "up" | "destroy";
  readonly stack: string;
  /** Skip `hyperscaler doctor` (previews from a machine that is not the host, with hostSnapshot). */
  readonly skipDoctor: boolean;
  readonly extra: string[];
}

export function parseArgs(argv: readonly string[]): Invocation {
  const [action, ...rest] = argv;
  if (action !== "preview" && action !== "up" && action !== "destroy")
    throw new Error(`usage: npm run preview|up|destroy [-- --stack NAME] (got ${action ?? "nothing"})`);
  let stack = process.env.PULUMI_STACK ?? "dev";
  let skipDoctor = false;
  const extra: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === "--stack" || rest[i] === "-s") stack = rest[++i];
    else if (rest[i] === "--skip-doctor") skipDoctor = true;
    else extra.push(rest[i]);
  }
  if (!/^[A-Za-z0-9_.-]+$/.test(stack ?? "")) throw new Error(`stack name ${JSON.stringify(stack)} is not valid`);
  return { action, stack, skipDoctor, extra };
}

/**
 * A Pulumi CLI installed on PATH (a real one, or a stand-in in tests): the first `pulumi` there, unless it is
 * the npm launcher that `npm run` puts on PATH (node_modules/.bin), which would download on being asked.
 */
export function pulumiAvailable(): boolean {
  return pulumiOnPath() !== undefined;
}

function pulumiOnPath(): string | undefined {
  const launcher = launcherPath();
  for (const dir of (process.env.PATH ?? "").split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, "pulumi");
    if (!fs.existsSync(candidate)) continue;
    if (launcher && fs.realpathSync(candidate) === fs.realpathSync(launcher)) continue;
    return spawnSync(candidate, ["version"], { encoding: "utf8" }).status === 0 ? candidate : undefined;
  }
  return undefined;
}

/** The official npm launcher (dependency `pulumi`): it downloads the CLI of its own version on first use. */
function launcherPath(): string | undefined {
  try {
    return require.resolve("pulumi/run.js", { paths: [ROOT] });
  } catch {
    return undefined;
  }
}

/**
 * How to run the Pulumi CLI: the one on PATH, else through the npm launcher (which fetches the CLI once,
 * into $PULUMI_HOME/versions/<version>). Null, with the reason printed, when neither works.
 */
export function resolvePulumi(): { command: string; prefix: string[] } | null {
  const onPath = pulumiOnPath();
  if (onPath) return { command: onPath, prefix: [] };
  const launcher = launcherPath();
  if (launcher) {
    const probe = spawnSync(process.execPath, [launcher, "version"], { encoding: "utf8", timeout: 600_000 });
    if (probe.status === 0) return { command: process.execPath, prefix: [launcher] };
    const version = (
      JSON.parse(fs.readFileSync(path.join(path.dirname(launcher), "package.json"), "utf8")) as { version: string }
    ).version;
    console.error(
      [
        `pulumi: the Pulumi CLI v${version} could not be fetched by its npm launcher: ` +
          `${(probe.stderr || probe.error?.message || "").trim().split("\n").pop()}`,
        "The launcher downloads the CLI once (into $PULUMI_HOME/versions, default ~/.pulumi/versions); " +
          "this machine could not reach the download.",
        `Offline: copy a pulumi v${version} install from a connected machine into ` +
          `~/.pulumi/versions/${version}/bin, or put a pulumi binary on PATH.`,
        "Without the CLI, `npx hyperscaler plan config/<stack>.yaml` shows what would be built.",
      ].join("\n"),
    );
    return null;
  }
  console.error(
    [
      "pulumi: the Pulumi CLI is not installed and the npm launcher (dependency `pulumi`) is missing: " +
        "run `npm install`.",
      "Or install the CLI yourself:  curl -fsSL https://get.pulumi.com | sh   (or: brew install pulumi)",
      "Without the CLI, `npx hyperscaler plan config/<stack>.yaml` shows what would be built.",
    ].join("\n"),
  );
  return null;
}

/** The state or passphrase is unsafe to use as it is: the message says why and the exact fix. */
export class StateSecurityError extends Error {}

function modeText(mode: number): string {
  return (mode & 0o777).toString(8).padStart(3, "0");
}

function assertOwned(target: string, stat: fs.Stats, what: string): void {
  const uid = process.getuid?.();
  if (uid !== undefined && stat.uid !== uid) {
    throw new StateSecurityError(
      `pulumi: the ${what} ${target} belongs to uid ${stat.uid}, not to you (uid ${uid}); whoever owns it can ` +
        `read or swap the stack's secrets. Use a state directory of your own (HYPERSCALER_STATE_DIR) or fix the ` +
        `owner: chown -R ${uid} ${target}`,
    );
  }
}

/**
 * The state directory holds the encrypted stack state and the passphrase: it must be the user's own and
 * closed to group and others. Missing: created 0700. Looser: tightened to 0700 with a warning (it holds
 * ciphertext, and tightening loses nothing). Owned by someone else or not a directory: refused.
 */
export function secureStateDir(stateDir = STATE_DIR, warn: (text: string) => void = console.error): void {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(stateDir);
  } catch {
    fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    fs.chmodSync(stateDir, 0o700);
    return;
  }
  if (!stat.isDirectory())
    throw new StateSecurityError(
      `pulumi: the state directory ${stateDir} is not a directory; move it away or set HYPERSCALER_STATE_DIR`,
    );
  assertOwned(stateDir, stat, "state directory");
  if ((stat.mode & 0o077) !== 0) {
    fs.chmodSync(stateDir, 0o700);
    warn(
      `pulumi: warning: the state directory ${stateDir} was open to group/others (mode ` +
        `${modeText(stat.mode)}); tightened to 700`,
    );
  }
}

/**
 * A passphrase file must be a regular file of the user's own, mode 600 or stricter. A looser one is
 * refused, not fixed: whoever could read it may already hold every stack secret, so the user must know
 * (and may need to rotate the passphrase), not have it tightened behind their back.
 */
export function assertPassphraseFile(file: string): void {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    throw new StateSecurityError(
      `pulumi: the passphrase file ${file} does not exist; create it (mode 600) or unset PULUMI_CONFIG_PASSPHRASE_FILE`,
    );
  }
  if (!stat.isFile()) throw new StateSecurityError(`pulumi: the passphrase file ${file} is not a regular file`);
  assertOwned(file, stat, "passphrase file");
  if ((stat.mode & 0o077) !== 0) {
    throw new StateSecurityError(
      [
        `pulumi: the passphrase file ${file} is readable or writable by group/others (mode ` +
          `${modeText(stat.mode)}); anyone who read it can decrypt every secret of the stack.`,
        `Fix: chmod 600 ${file}`,
        "If others may have read it, also rotate the passphrase: pulumi stack change-secrets-provider passphrase",
      ].join("\n"),
    );
  }
}

/** The passphrase that encrypts the stack's secrets: from the environment, or a file only the user can read. */
export function passphraseEnv(stateDir = STATE_DIR): Record<string, string> {
  if (process.env.PULUMI_CONFIG_PASSPHRASE !== undefined) return {};
  if (process.env.PULUMI_CONFIG_PASSPHRASE_FILE) {
    assertPassphraseFile(process.env.PULUMI_CONFIG_PASSPHRASE_FILE);
    return {};
  }
  secureStateDir(stateDir);
  const file = path.join(stateDir, "passphrase");
  if (!fs.existsSync(file)) {
    fs.writeFileSync(file, randomBytes(32).toString("base64url") + "\n", { mode: 0o600 });
    console.error(
      `pulumi: generated a passphrase for stack secrets in ${path.relative(ROOT, file)} (mode 600); back it up`,
    );
  }
  assertPassphraseFile(file);
  return { PULUMI_CONFIG_PASSPHRASE_FILE: file };
}

function run(command: string, args: string[], env: Record<string, string>): number {
  const result = spawnSync(command, args, { cwd: ROOT, stdio: "inherit", env: { ...process.env, ...env } });
  return result.status ?? 1;
}

export function main(argv: readonly string[]): number {
  let invocation: Invocation;
  try {
    invocation = parseArgs(argv);
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }
  const pulumi = resolvePulumi();
  if (!pulumi) return 1;
  let env: Record<string, string>;
  try {
    secureStateDir(STATE_DIR);
    env = { PULUMI_BACKEND_URL: `file://${STATE_DIR}`, PULUMI_SKIP_UPDATE_CHECK: "true", ...passphraseEnv() };
  } catch (error) {
    if (!(error instanceof StateSecurityError)) throw error;
    console.error(error.message);
    return 1;
  }
  const config = path.join(ROOT, "stacks", `Pulumi.${invocation.stack}.yaml`);
  const clusterFile = fs.existsSync(config)
    ? /hyperscaler:clusterFile:\s*(\S+)/.exec(fs.readFileSync(config, "utf8"))?.[1]
    : undefined;
  if (invocation.action !== "destroy" && clusterFile && !buildMissingImages(path.join(ROOT, clusterFile))) return 1;
  if (invocation.action !== "destroy" && !invocation.skipDoctor) {
    const doctorArgs = [
      path.join(ROOT, "bin", "hyperscaler.js"),
      "doctor",
      ...(clusterFile ? ["--spec", path.join(ROOT, clusterFile)] : []),
    ];
    if (run(process.execPath, doctorArgs, {}) !== 0) {
      console.error("pulumi: doctor reported FAIL; fix the host first (or run pulumi yourself to override)");
      return 1;
    }
  }
  if (
    run(
      pulumi.command,
      [...pulumi.prefix, "stack", "select", "--create", invocation.stack, "--non-interactive"],
      env,
    ) !== 0
  )
    return 1;
  const args =
    invocation.action === "preview"
      ? ["preview", "--diff"]
      : invocation.action === "up"
        ? ["up", "--diff"]
        : ["destroy"];
  const status = run(
    pulumi.command,
    [...pulumi.prefix, ...args, "--stack", invocation.stack, ...invocation.extra],
    env,
  );
  if (status === 0 && invocation.action === "up") writeKnownHosts(pulumi, invocation.stack, env);
  return status;
}

/**
 * Golden images the spec's roles boot that are not in the store yet: built now (mmdebstrap, a minute or two
 * each), so `npm install && npm run up` works in one step. Existing images are never rebuilt here: a new
 * version would replace every VM that boots it, which is `hyperscaler image build`'s decision to make.
 */
function buildMissingImages(clusterFile: string): boolean {
  const loaded = loadSpecFile(clusterFile);
  if (!loaded.ok) return true; // doctor and the program report spec errors with their positions
  const spec = loaded.spec;
  const roles = [
    ...(spec.clusters.hpc ? (["slurm-controller", "slurm-compute"] as const) : []),
    ...(spec.clusters.cloud ? (["k8s-control-plane", "k8s-cpu-worker", "k8s-gpu-worker"] as const) : []),
  ];
  const dir = goldenImagesDir(spec);
  const missing = [...new Set(roles.map((role) => spec.images.roles[role]).filter((r) => r !== "catalog"))].filter(
    (r) => !findImage(dir, r),
  );
  // A pinned version cannot be rebuilt (its inputs are gone): say so before building anything.
  const pinned = missing.find((reference) => reference.includes("@"));
  if (pinned) {
    console.error(
      `pulumi: images.roles pins ${pinned}, which the image store ${dir} does not hold; pin a stored version ` +
        `(\`npx hyperscaler image list\`) or the plain name ${pinned.split("@")[0]}`,
    );
    return false;
  }
  for (const reference of missing) {
    console.error(
      `pulumi: golden image ${reference} is not built yet; building it (hyperscaler image build ${reference})`,
    );
    if (
      run(
        process.execPath,
        [path.join(ROOT, "bin", "hyperscaler.js"), "image", "build", reference, "--dir", dir],
        {},
      ) !== 0
    ) {
      console.error(
        `pulumi: building the golden image ${reference} failed (see above); fix it, or set images.roles to ` +
          `catalog for the published Debian image`,
      );
      return false;
    }
  }
  return true;
}

/**
 * After `up`: the VMs' pinned host keys into a known_hosts file, so ssh and `hyperscaler verify` check them strictly.
 */
function writeKnownHosts(
  pulumi: { command: string; prefix: string[] },
  stack: string,
  env: Record<string, string>,
): void {
  const output = spawnSync(pulumi.command, [...pulumi.prefix, "stack", "output", "knownHosts", "--stack", stack], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, ...env },
  });
  if (output.status !== 0 || !output.stdout.trim()) {
    console.error(
      `pulumi: could not read the stack output knownHosts (${(output.stderr || "empty").trim()}); ssh will ask ` +
        `about new host keys`,
    );
    return;
  }
  // Public keys: readable by all, as ~/.ssh/known_hosts is.
  const file = path.join(STATE_DIR, `${stack}.known_hosts`);
  fs.writeFileSync(file, output.stdout.trimEnd() + "\n", { mode: 0o644 });
  const relative = path.relative(process.cwd(), file);
  console.error(
    `pulumi: VM host keys pinned in ${relative}\n  ssh -o UserKnownHostsFile=${relative} USER@VM-IP\n` +
      `  npx hyperscaler verify CLUSTER.yaml --known-hosts ${relative}`,
  );
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
