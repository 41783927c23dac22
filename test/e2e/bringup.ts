// `npm run test:e2e`: a real bring-up of the Slurm cluster a spec describes (default: the committed
// emulated controller + two CPU-only nodes). In a network namespace it creates and removes, with its own
// libvirtd: build or reuse the golden image, create pool, base volumes, network, overlays, seeds and
// domains through the project's providers (with the host firewall of network isolation applied inside the
// namespace), wait for cloud-init, check Slurm end to end and the isolation in effect, run `hyperscaler
// verify`, apply again (each VM's seed is ejected: the expected change once cloud-init is done), check
// Slurm once more, apply a third time (no changes), destroy, and check nothing is left. Writes a JSON report.
import { spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { main as cli } from "../../src/cli/main";
import { buildImage } from "../../src/images/build";
import { buildPlan } from "../../src/plan";
import type { Plan, PlannedVm } from "../../src/plan/types";
import { knownHostsLine, type SshHostKey } from "../../src/render/cloud-init/ssh-host-key";
import { goldenImagesDir, roleImage } from "../../src/render/images";
import { serialLogPath } from "../../src/render/libvirt/domain";
import { SEED_TARGET } from "../../src/render/libvirt/domain-facts";
import { computeNodes, controllerOf, nodeRealMemory } from "../../src/render/slurm";
import { formatHuman } from "../../src/spec/diagnostics";
import { loadSpecFile } from "../../src/spec/load";
import type { ClusterSpec } from "../../src/spec/types";
import type { Remote } from "../../src/verify/remote";
import { AppliedStack, newStackId, stackProviders, type Change, type Secrets, type StackContext } from "./cluster";
import { remoteFor, waitForCloudInit, type Booted } from "./guests";
import { isolationInEffect } from "./isolation";
import { LibvirtSandbox } from "./namespace";

const ROOT = path.resolve(__dirname, "..", "..");
const SPEC = process.env.HYPERSCALER_E2E_SPEC ?? path.join(ROOT, "config/examples/e2e-cpu-emulated.yaml");
const REPORT = path.resolve(process.env.HYPERSCALER_E2E_REPORT ?? "e2e-report.json");
const MINUTE = 60_000;
/** Per-phase limits: generous for 2 shared cores under emulation, each with its own message. */
const LIMITS = {
  image: 20 * MINUTE,
  create: 10 * MINUTE,
  cloudInit: 20 * MINUTE,
  slurmIdle: 5 * MINUTE,
  job: 3 * MINUTE,
  verify: 5 * MINUTE,
  eject: 5 * MINUTE,
  noop: 3 * MINUTE,
  isolation: 3 * MINUTE,
  destroy: 5 * MINUTE,
};

const log = (line: string): void =>
  void process.stderr.write(`[e2e ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const seconds = (since: number): number => Math.round((Date.now() - since) / 100) / 10;

class PhaseError extends Error {}

/** A count the report holds, or "-" when the run did not get that far. */
const counted = (value: unknown): string => (typeof value === "number" ? String(value) : "-");

// SIGINT/SIGTERM end the running phase; the destroy and the namespace removal still run.
let interrupt: (reason: Error) => void = () => undefined;
const interrupted = new Promise<never>((_, reject) => (interrupt = reject));
interrupted.catch(() => undefined);
for (const signal of ["SIGINT", "SIGTERM"] as const)
  process.once(signal, () => interrupt(new PhaseError(`interrupted by ${signal}`)));

async function phase<T>(name: string, limitMs: number, fn: () => Promise<T>): Promise<T> {
  log(`phase ${name} (limit ${limitMs / 1000} s)`);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>(
    (_, reject) =>
      (timer = setTimeout(
        () => reject(new PhaseError(`phase ${name} did not finish within ${limitMs / 1000} s`)),
        limitMs,
      )),
  );
  try {
    return await Promise.race([fn(), timeout, ...(name === "destroy" ? [] : [interrupted])]);
  } catch (error) {
    if (error instanceof PhaseError) throw error;
    throw new PhaseError(`phase ${name}: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    clearTimeout(timer);
  }
}

/** Where QEMU cannot run at all, the test cannot either: say why in one line. */
function skipReason(): string | null {
  if (process.platform !== "linux") return `not Linux (${process.platform})`;
  if (spawnSync("qemu-system-x86_64", ["--version"]).status !== 0) return "qemu-system-x86_64 is not installed";
  if (process.getuid?.() !== 0) return "needs root (network namespaces, mmdebstrap root mode, a private libvirtd)";
  return null;
}

function loadSpec(file: string): ClusterSpec {
  const loaded = loadSpecFile(file);
  if (loaded.ok) return loaded.spec;
  const lines = fs.existsSync(file) ? fs.readFileSync(file, "utf8").split(/\r?\n/) : [];
  throw new PhaseError(
    `${file} is not a valid cluster spec:\n${loaded.errors.map((e) => formatHuman(e, lines[e.line - 1])).join("\n")}`,
  );
}

function sshKeygen(file: string): SshHostKey {
  const result = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", file], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`ssh-keygen failed: ${result.stderr}`);
  return { privateKey: fs.readFileSync(file, "utf8"), publicKey: fs.readFileSync(`${file}.pub`, "utf8").trim() };
}

/** Fresh secrets for this run, in an owner-only directory: munge key, one host key per VM, the admin key. */
function generateSecrets(plan: Plan, dir: string): { secrets: Secrets; identityFile: string; knownHostsFile: string } {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const hostKeys = new Map(plan.vms.map((vm) => [vm.name, sshKeygen(path.join(dir, `host-${vm.name}`))]));
  const identityFile = path.join(dir, "admin");
  const admin = sshKeygen(identityFile);
  const knownHostsFile = path.join(dir, "known_hosts");
  fs.writeFileSync(
    knownHostsFile,
    plan.vms.map((vm) => knownHostsLine(plan, vm, hostKeys.get(vm.name)!.publicKey)).join("\n") + "\n",
    { mode: 0o600 },
  );
  return {
    secrets: { mungeKeyBase64: crypto.randomBytes(1024).toString("base64"), hostKeys, adminPublicKey: admin.publicKey },
    identityFile,
    knownHostsFile,
  };
}

interface SinfoRow {
  readonly node: string;
  readonly state: string;
  readonly cpus: number;
  readonly memoryMiB: number;
}

function parseSinfo(text: string): SinfoRow[] {
  return text
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [node, state, cpus, memory] = line.trim().split("|");
      return { node, state, cpus: Number(cpus), memoryMiB: Number(memory) };
    });
}

async function must(remote: Remote, vm: PlannedVm, command: string, timeoutMs = 120_000): Promise<string> {
  const result = await remote.run(vm.ip, command, timeoutMs);
  if (result.code !== 0)
    throw new Error(
      `${vm.name}: \`${command}\` exited ${result.code}: ${(result.stderr || result.stdout).trim().slice(0, 800)}`,
    );
  return result.stdout;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until sinfo lists every compute node idle with the plan's CPUs and memory. */
async function slurmIdle(remote: Remote, plan: Plan): Promise<SinfoRow[]> {
  const controller = controllerOf(plan);
  const nodes = computeNodes(plan);
  let rows: SinfoRow[];
  for (;;) {
    const result = await remote.run(controller.ip, "sinfo -N -h -o '%N|%T|%c|%m'", 30_000);
    rows = result.code === 0 ? parseSinfo(result.stdout) : [];
    const byNode = new Map(rows.map((row) => [row.node, row]));
    const problems = nodes
      .map((vm) => {
        const row = byNode.get(vm.name);
        if (!row) return `${vm.name} not listed`;
        if (row.state !== "idle") return `${vm.name} is ${row.state}`;
        if (row.cpus !== vm.vcpus || row.memoryMiB !== nodeRealMemory(vm))
          return `${vm.name} has ${row.cpus} CPUs/${row.memoryMiB} MiB, plan ${vm.vcpus}/${nodeRealMemory(vm)}`;
        return null;
      })
      .filter(Boolean);
    if (problems.length === 0) return rows;
    // Drained or invalid nodes do not recover by waiting: say why slurmctld set them so.
    if (rows.some((row) => /drain|inval|down/.test(row.state))) {
      const reasons = await remote.run(controller.ip, "sinfo -R -h -o '%N: %T %E'", 30_000);
      if (rows.every((row) => !/idle|unknown|not_responding|alloc/.test(row.state) || /drain|inval/.test(row.state)))
        throw new Error(
          `Slurm nodes not usable: ${problems.join("; ")}; reasons: ${reasons.stdout.trim() || reasons.stderr.trim()}`,
        );
    }
    log(`waiting for Slurm: ${problems.join("; ")}`);
    await sleep(5000);
  }
}

/** Resident memory of each VM's QEMU process (host side) and what the guest itself uses. */
async function memoryPerVm(
  sandbox: LibvirtSandbox,
  remote: Remote,
  plan: Plan,
): Promise<{ name: string; qemuRssMiB: number | null; guestUsedMiB: number | null }[]> {
  const pids = spawnSync("ip", ["netns", "pids", sandbox.name], { encoding: "utf8" })
    .stdout.split("\n")
    .filter(Boolean);
  const rss = new Map<string, number>();
  for (const pid of pids) {
    const cmdline = fs.existsSync(`/proc/${pid}/cmdline`)
      ? fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")
      : [];
    const name = cmdline[cmdline.indexOf("-name") + 1]?.replace(/^guest=/, "").split(",")[0];
    const status = fs.existsSync(`/proc/${pid}/status`) ? fs.readFileSync(`/proc/${pid}/status`, "utf8") : "";
    const kib = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    if (cmdline[0]?.includes("qemu-system") && name && kib) rss.set(name, Math.round(Number(kib) / 1024));
  }
  return Promise.all(
    plan.vms.map(async (vm) => {
      const free = await remote.run(vm.ip, "free -m | awk '/^Mem:/ {print $3}'", 20_000);
      return {
        name: vm.name,
        qemuRssMiB: rss.get(vm.name) ?? null,
        guestUsedMiB: free.code === 0 ? Number(free.stdout.trim()) : null,
      };
    }),
  );
}

const describe = (changes: readonly Change[]): string =>
  changes.map((c) => `${c.resource} (${c.what.join(", ")})`).join("; ");

/** The medium in a domain's seed drive (domblklist: the ISO's path, or "-" once ejected); null if not listed. */
function seedMediumOf(sandbox: LibvirtSandbox, domain: string): string | null {
  const list = spawnSync("virsh", ["-q", "-c", sandbox.uri, "domblklist", domain], { encoding: "utf8" });
  if (list.status !== 0) throw new Error(`virsh domblklist ${domain}: ${list.stderr.trim()}`);
  const row = list.stdout
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .find((cols) => cols[0] === SEED_TARGET);
  return row?.[1] ?? null;
}

async function run(): Promise<number> {
  const reason = skipReason();
  if (reason) {
    process.stdout.write(`e2e: skipped: ${reason}\n`);
    return 0;
  }
  const started = Date.now();
  const report: Record<string, unknown> = {
    spec: path.relative(ROOT, SPEC) || SPEC,
    ok: false,
    error: null,
    image: null,
    vms: [],
    sinfo: [],
    srun: [],
    sbatch: null,
    verify: null,
    isolation: null,
    seedEjects: null,
    ejectDetail: [],
    seedAfterEject: {},
    srunAfterEject: [],
    noopChanges: null,
    leftovers: [],
    memory: [],
    seconds: {},
  };
  const times: Record<string, number> = {};
  const suffix = crypto.randomBytes(3).toString("hex");
  const sandbox = new LibvirtSandbox(`hse2e-${suffix}`, path.join("/var/tmp", `hs-e2e-${suffix}`));
  const stack = new AppliedStack();
  let failure: Error | null = null;
  try {
    const spec = loadSpec(SPEC);
    if (!spec.clusters.hpc)
      throw new PhaseError(`${SPEC} has no clusters.hpc: the bring-up test checks a Slurm cluster`);
    const plan = buildPlan({ spec });
    if (!plan.feasible)
      throw new PhaseError(`the plan for ${SPEC} is not feasible: ${plan.errors.map((e) => e.message).join("; ")}`);

    // Golden image of the Slurm roles (built once, reused while its inputs are unchanged).
    const imageName = spec.images.roles["slurm-compute"].split("@")[0];
    let t = Date.now();
    if (imageName !== "catalog") {
      const built = await phase("image", LIMITS.image, () =>
        buildImage({ name: imageName, imagesDir: goldenImagesDir(spec), log }),
      );
      const m = built.image.manifest;
      report.image = {
        name: m.name,
        version: m.version,
        sha256: m.files[m.disk].sha256,
        reused: built.reused,
        bytes: m.files[m.disk].bytes,
        rootfsBytes: m.rootfsBytes,
        packages: Object.keys(m.packages).length,
      };
      roleImage(spec, "slurm-compute");
    }
    times.image = seconds(t);

    await sandbox.start(path.join(ROOT, "scripts/e2e-libvirtd.sh"));
    log(`namespace ${sandbox.name}, libvirt ${sandbox.uri}`);
    const { secrets, identityFile, knownHostsFile } = generateSecrets(plan, path.join(sandbox.state, "secrets"));
    const remote = remoteFor({ user: spec.security.admin_user, identityFile, knownHostsFile, wrapper: sandbox.exec });

    // Empty -> every VM configured -> a job across all nodes.
    const ctx: StackContext = {
      spec,
      plan,
      uri: sandbox.uri,
      stackId: newStackId(),
      secrets,
      providers: stackProviders(sandbox.exec),
    };
    const upStarted = Date.now();
    await phase("create", LIMITS.create, () => stack.create(ctx, log));
    const booted: Booted[] = await phase("cloud-init", LIMITS.cloudInit, () =>
      Promise.all(
        plan.vms.map((vm) =>
          waitForCloudInit(remote, vm, sandbox.hostPath(serialLogPath(vm)), upStarted, LIMITS.cloudInit).then(
            (b) => (log(`${b.name}: cloud-init done after ${b.bootSeconds} s`), b),
          ),
        ),
      ),
    );
    // Where cloud-init found its data: the seed cdrom (sr0 on virtio-scsi), as cloud-init's final message says.
    report.vms = booted.map((b) => {
      const serial = fs.readFileSync(
        sandbox.hostPath(serialLogPath(plan.vms.find((vm) => vm.name === b.name)!)),
        "utf8",
      );
      return { ...b, datasource: /Datasource (DataSource\w+ \[seed=[^\]]*\])/.exec(serial)?.[1] ?? null };
    });
    times.up = seconds(upStarted);
    const controller = controllerOf(plan);
    const nodes = computeNodes(plan);
    report.sinfo = await phase("slurm-idle", LIMITS.slurmIdle, () => slurmIdle(remote, plan));
    const srun = await phase("srun", LIMITS.job, () =>
      must(remote, controller, `srun -N${nodes.length} -t 2 hostname`),
    );
    report.srun = srun
      .trim()
      .split("\n")
      .map((l) => l.trim())
      .sort();
    times.srun = seconds(upStarted);
    const missing = nodes.map((vm) => vm.name).filter((name) => !(report.srun as string[]).includes(name));
    if (missing.length)
      throw new PhaseError(
        `srun -N${nodes.length} hostname returned ${JSON.stringify(report.srun)}, missing ${missing.join(", ")}`,
      );

    report.sbatch = await phase("sbatch", LIMITS.job, async () => {
      const jobId = (
        await must(
          remote,
          controller,
          "sbatch --parsable -N1 -t 2 -o /tmp/hs-e2e-%j.out --wrap 'hostname; echo e2e-job-ok'",
        )
      )
        .trim()
        .split(";")[0];
      for (;;) {
        const show = await must(remote, controller, `scontrol show job ${jobId}`);
        const state = /JobState=(\S+)/.exec(show)?.[1] ?? "UNKNOWN";
        if (/^(FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE)$/.test(state))
          throw new Error(`job ${jobId} ended ${state}: ${show.replace(/\s+/g, " ").slice(0, 600)}`);
        if (state === "COMPLETED") {
          const node = nodes.find((vm) => vm.name === /\bNodeList=(\S+)/.exec(show)?.[1]);
          if (!node)
            throw new Error(`job ${jobId} completed on an unknown node: ${show.replace(/\s+/g, " ").slice(0, 400)}`);
          const output = await must(remote, node, `cat /tmp/hs-e2e-${jobId}.out`);
          if (!output.includes("e2e-job-ok"))
            throw new Error(`job ${jobId}'s output on ${node.name} lacks its marker: ${output}`);
          return { jobId, state, node: node.name, output: output.trim().split("\n") };
        }
        await sleep(2000);
      }
    });

    report.isolation = await phase("isolation", LIMITS.isolation, () =>
      isolationInEffect(sandbox, spec, plan, (vm, command, ms) => must(remote, vm, command, ms)),
    );

    report.verify = await phase("verify", LIMITS.verify, async () => {
      const out: string[] = [];
      const errors: string[] = [];
      const code = await cli(
        [
          "verify",
          SPEC,
          "--json",
          "--identity",
          identityFile,
          "--known-hosts",
          knownHostsFile,
          "--ssh-wrapper",
          sandbox.exec.join(" "),
        ],
        { out: (s) => out.push(s), err: (s) => errors.push(s) },
      );
      const parsed = JSON.parse(out.join("")) as {
        passed: boolean;
        checks: { id: string; status: string; message: string }[];
      };
      const failed = parsed.checks.filter((c) => c.status === "FAIL");
      if (code !== 0 || failed.length)
        throw new Error(
          `hyperscaler verify failed: ${failed.map((c) => `${c.id}: ${c.message}`).join("; ")} ${errors.join(" ")}`,
        );
      return { ok: true, checks: parsed.checks.map((c) => ({ id: c.id, status: c.status, message: c.message })) };
    });

    report.memory = await memoryPerVm(sandbox, remote, plan);

    // The next apply after cloud-init: each VM's seed (keys, munge key) leaves its drive, nothing else changes.
    const seedMedium = (domain: string) => seedMediumOf(sandbox, domain);
    t = Date.now();
    const ejects = await phase("eject apply", LIMITS.eject, () => stack.apply(ctx, seedMedium, log));
    times.eject = seconds(t);
    report.ejectDetail = ejects;
    const seedEjects = ejects.filter((c) => c.what.join() === "eject seed").length;
    report.seedEjects = seedEjects;
    const unexpected = ejects.filter((c) => c.what.join() !== "eject seed");
    if (unexpected.length)
      throw new PhaseError(`the apply after cloud-init should only eject seeds, but changed ${describe(unexpected)}`);
    report.seedAfterEject = Object.fromEntries(plan.vms.map((vm) => [vm.name, seedMedium(vm.name)]));
    const kept = plan.vms
      .filter((vm) => seedMedium(vm.name) !== "-")
      .map((vm) => `${vm.name} (${seedMedium(vm.name)})`);
    if (kept.length || seedEjects !== plan.vms.length)
      throw new PhaseError(
        `after the apply that follows cloud-init, ${seedEjects} of ${plan.vms.length} seeds were ejected; ` +
          `still in the drive: ${kept.join(", ") || "none"}`,
      );
    const again = await phase("srun after eject", LIMITS.job, () =>
      must(remote, controller, `srun -N${nodes.length} -t 2 hostname`),
    );
    report.srunAfterEject = again
      .trim()
      .split("\n")
      .map((l) => l.trim())
      .sort();
    if (JSON.stringify(report.srunAfterEject) !== JSON.stringify(report.srun))
      throw new PhaseError(
        `after the seed eject, srun -N${nodes.length} hostname returned ` +
          `${JSON.stringify(report.srunAfterEject)}, before ${JSON.stringify(report.srun)}`,
      );

    t = Date.now();
    const changes = await phase("no-op apply", LIMITS.noop, () => stack.apply(ctx, seedMedium, log));
    times.noop = seconds(t);
    report.noopChanges = changes.length;
    if (changes.length) {
      report.noopDetail = changes;
      throw new PhaseError(`applying the same spec a third time would change ${describe(changes)}`);
    }
  } catch (error) {
    failure = error instanceof Error ? error : new Error(String(error));
  } finally {
    const t = Date.now();
    const failures = await phase("destroy", LIMITS.destroy, () => stack.destroy(log)).catch((error: Error) => [
      error.message,
    ]);
    const leftovers = [...failures, ...(fs.existsSync(sandbox.state) ? sandbox.leftovers() : [])];
    times.destroy = seconds(t);
    leftovers.push(...sandbox.stop());
    report.leftovers = leftovers;
    if (!failure && leftovers.length) failure = new PhaseError(`destroy left ${leftovers.join("; ")}`);
  }
  times.total = seconds(started);
  report.seconds = times;
  report.ok = failure === null;
  report.error = failure ? failure.message : null;
  fs.writeFileSync(REPORT, JSON.stringify(report, null, 2) + "\n");
  log(`report: ${REPORT}`);
  const s = times;
  process.stdout.write(
    `e2e: ${failure ? "FAILED" : "passed"} in ${s.total} s (image ${s.image ?? "-"} s, empty->cloud-init ` +
      `${s.up ?? "-"} s, empty->srun ${s.srun ?? "-"} s, seed eject ${s.eject ?? "-"} s ` +
      `(${counted(report.seedEjects)} ejected), no-op ${s.noop ?? "-"} s (${counted(report.noopChanges)} ` +
      `changes), destroy ${s.destroy ?? "-"} s)\n`,
  );
  if (failure) process.stderr.write(`e2e: ${failure.message}\n`);
  return failure ? 1 : 0;
}

run().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`e2e: internal error: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(70);
  },
);
