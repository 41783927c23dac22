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
import { firewallTableName } from "../../src/render/firewall";
import { SEED_TARGET, serialLogPath } from "../../src/render/libvirt/domain";
import { networkName } from "../../src/render/libvirt/names";
import { hostFirewallOn } from "../../src/render/stack-inputs";
import { computeNodes, controllerOf, nodeRealMemory } from "../../src/render/slurm";
import { formatHuman } from "../../src/spec/diagnostics";
import { loadSpecFile } from "../../src/spec/load";
import type { ClusterSpec } from "../../src/spec/types";
import type { Remote } from "../../src/verify/remote";
import { AppliedStack, newStackId, stackProviders, type Change, type Secrets, type StackContext } from "./cluster";
import { remoteFor, waitForCloudInit, type Booted } from "./guests";
import { LibvirtSandbox } from "./namespace";

const ROOT = path.resolve(__dirname, "..", "..");
const SPEC = process.env.HYPERSCALER_E2E_SPEC ?? path.join(ROOT, "config/examples/e2e-cpu-emulated.yaml");
const REPORT = path.resolve(process.env.HYPERSCALER_E2E_REPORT ?? "e2e-report.json");
const MINUTE = 60_000;
/** Per-phase limits: generous for 2 shared cores under emulation, each with its own message. */
const LIMITS = { image: 20 * MINUTE, create: 10 * MINUTE, cloudInit: 20 * MINUTE, slurmIdle: 5 * MINUTE, job: 3 * MINUTE, verify: 5 * MINUTE, eject: 5 * MINUTE, noop: 3 * MINUTE, isolation: 3 * MINUTE, destroy: 5 * MINUTE };

const log = (line: string): void => void process.stderr.write(`[e2e ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const seconds = (since: number): number => Math.round((Date.now() - since) / 100) / 10;

class PhaseError extends Error {}

// SIGINT/SIGTERM end the running phase; the destroy and the namespace removal still run.
let interrupt: (reason: Error) => void = () => undefined;
const interrupted = new Promise<never>((_, reject) => (interrupt = reject));
interrupted.catch(() => undefined);
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => interrupt(new PhaseError(`interrupted by ${signal}`)));

async function phase<T>(name: string, limitMs: number, fn: () => Promise<T>): Promise<T> {
  log(`phase ${name} (limit ${limitMs / 1000} s)`);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new PhaseError(`phase ${name} did not finish within ${limitMs / 1000} s`)), limitMs)));
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
  throw new PhaseError(`${file} is not a valid cluster spec:\n${loaded.errors.map((e) => formatHuman(e, lines[e.line - 1])).join("\n")}`);
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
  fs.writeFileSync(knownHostsFile, plan.vms.map((vm) => knownHostsLine(plan, vm, hostKeys.get(vm.name)!.publicKey)).join("\n") + "\n", { mode: 0o600 });
  return { secrets: { mungeKeyBase64: crypto.randomBytes(1024).toString("base64"), hostKeys, adminPublicKey: admin.publicKey }, identityFile, knownHostsFile };
}

interface SinfoRow {
  readonly node: string;
  readonly state: string;
  readonly cpus: number;
  readonly memoryMiB: number;
}

function parseSinfo(text: string): SinfoRow[] {
  return text.trim().split("\n").filter(Boolean).map((line) => {
    const [node, state, cpus, memory] = line.trim().split("|");
    return { node, state, cpus: Number(cpus), memoryMiB: Number(memory) };
  });
}

async function must(remote: Remote, vm: PlannedVm, command: string, timeoutMs = 120_000): Promise<string> {
  const result = await remote.run(vm.ip, command, timeoutMs);
  if (result.code !== 0) throw new Error(`${vm.name}: \`${command}\` exited ${result.code}: ${(result.stderr || result.stdout).trim().slice(0, 800)}`);
  return result.stdout;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until sinfo lists every compute node idle with the plan's CPUs and memory. */
async function slurmIdle(remote: Remote, plan: Plan): Promise<SinfoRow[]> {
  const controller = controllerOf(plan);
  const nodes = computeNodes(plan);
  let rows: SinfoRow[] = [];
  for (;;) {
    const result = await remote.run(controller.ip, "sinfo -N -h -o '%N|%T|%c|%m'", 30_000);
    rows = result.code === 0 ? parseSinfo(result.stdout) : [];
    const byNode = new Map(rows.map((row) => [row.node, row]));
    const problems = nodes.map((vm) => {
      const row = byNode.get(vm.name);
      if (!row) return `${vm.name} not listed`;
      if (row.state !== "idle") return `${vm.name} is ${row.state}`;
      if (row.cpus !== vm.vcpus || row.memoryMiB !== nodeRealMemory(vm)) return `${vm.name} has ${row.cpus} CPUs/${row.memoryMiB} MiB, plan ${vm.vcpus}/${nodeRealMemory(vm)}`;
      return null;
    }).filter(Boolean);
    if (problems.length === 0) return rows;
    // Drained or invalid nodes do not recover by waiting: say why slurmctld set them so.
    if (rows.some((row) => /drain|inval|down/.test(row.state))) {
      const reasons = await remote.run(controller.ip, "sinfo -R -h -o '%N: %T %E'", 30_000);
      if (rows.every((row) => !/idle|unknown|not_responding|alloc/.test(row.state) || /drain|inval/.test(row.state))) throw new Error(`Slurm nodes not usable: ${problems.join("; ")}; reasons: ${reasons.stdout.trim() || reasons.stderr.trim()}`);
    }
    log(`waiting for Slurm: ${problems.join("; ")}`);
    await sleep(5000);
  }
}

/** Resident memory of each VM's QEMU process (host side) and what the guest itself uses. */
async function memoryPerVm(sandbox: LibvirtSandbox, remote: Remote, plan: Plan): Promise<{ name: string; qemuRssMiB: number | null; guestUsedMiB: number | null }[]> {
  const pids = spawnSync("ip", ["netns", "pids", sandbox.name], { encoding: "utf8" }).stdout.split("\n").filter(Boolean);
  const rss = new Map<string, number>();
  for (const pid of pids) {
    const cmdline = fs.existsSync(`/proc/${pid}/cmdline`) ? fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0") : [];
    const name = cmdline[cmdline.indexOf("-name") + 1]?.replace(/^guest=/, "").split(",")[0];
    const status = fs.existsSync(`/proc/${pid}/status`) ? fs.readFileSync(`/proc/${pid}/status`, "utf8") : "";
    const kib = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    if (cmdline[0]?.includes("qemu-system") && name && kib) rss.set(name, Math.round(Number(kib) / 1024));
  }
  return Promise.all(plan.vms.map(async (vm) => {
    const free = await remote.run(vm.ip, "free -m | awk '/^Mem:/ {print $3}'", 20_000);
    return { name: vm.name, qemuRssMiB: rss.get(vm.name) ?? null, guestUsedMiB: free.code === 0 ? Number(free.stdout.trim()) : null };
  }));
}

const describe = (changes: readonly Change[]): string => changes.map((c) => `${c.resource} (${c.what.join(", ")})`).join("; ");

/** The medium in a domain's seed drive (domblklist: the ISO's path, or "-" once ejected); null if not listed. */
function seedMediumOf(sandbox: LibvirtSandbox, domain: string): string | null {
  const list = spawnSync("virsh", ["-q", "-c", sandbox.uri, "domblklist", domain], { encoding: "utf8" });
  if (list.status !== 0) throw new Error(`virsh domblklist ${domain}: ${list.stderr.trim()}`);
  const row = list.stdout.split("\n").map((l) => l.trim().split(/\s+/)).find((cols) => cols[0] === SEED_TARGET);
  return row?.[1] ?? null;
}

/** An address of the VM's subnet that no VM and no gateway has (the top of the subnet, below broadcast). */
function spoofAddress(plan: Plan, vm: PlannedVm): string {
  const network = plan.networks.find((n) => n.name === vm.network)!;
  const [base, bits] = network.subnet.split("/");
  const toInt = (ip: string) => ip.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0);
  const used = new Set([network.gateway, ...plan.vms.map((v) => v.ip)]);
  for (let n = toInt(base) + 2 ** (32 - Number(bits)) - 2; n > toInt(base); n--) {
    const ip = [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");
    if (!used.has(ip)) return ip;
  }
  throw new Error(`no free address in ${network.subnet} for the spoofing check`);
}

/**
 * Network isolation as deployed: the stack's nft table in the namespace, libvirt routing (not NATing) the
 * networks, clean-traffic bound to every VM NIC with its planned IP, and with all that VMs still reach
 * each other and the host (the gateway's DNS port), but not from a source address that is not their own;
 * the host reaches them over SSH (every other phase).
 */
async function isolationInEffect(sandbox: LibvirtSandbox, remote: Remote, spec: ClusterSpec, plan: Plan): Promise<Record<string, unknown>> {
  const run = (args: string[]): string => {
    const result = spawnSync(args[0], args.slice(1), { encoding: "utf8" });
    if (result.status !== 0) throw new Error(`${args.join(" ")}: ${(result.stderr || result.stdout).trim()}`);
    return result.stdout;
  };
  const on = hostFirewallOn(spec, plan);
  const table = firewallTableName(plan);
  const tables = run([...sandbox.exec, "nft", "list", "tables"]);
  if (on !== tables.includes(`table inet ${table}`)) throw new Error(`network_isolation is ${on}, but the namespace's nft tables are: ${tables.trim().replace(/\n/g, "; ")}`);
  const forwardModes = Object.fromEntries(plan.networks.map((network) => {
    const xml = run(["virsh", "-q", "-c", sandbox.uri, "net-dumpxml", networkName(plan, network)]);
    return [network.name, /<forward mode=['"](\w+)['"]/.exec(xml)?.[1] ?? "none"];
  }));
  for (const network of plan.networks) if (network.mode === "nat" && forwardModes[network.name] !== (on ? "route" : "nat")) throw new Error(`network ${network.name} forwards in mode ${forwardModes[network.name]}, expected ${on ? "route" : "nat"}`);
  const bindings = run(["virsh", "-q", "-c", sandbox.uri, "nwfilter-binding-list"]).trim().split("\n").filter(Boolean).map((l) => l.trim().split(/\s+/));
  const filters: Record<string, string> = {};
  for (const vm of plan.vms) {
    const nic = /<target dev=['"]([^'"]+)['"]/.exec(run(["virsh", "-q", "-c", sandbox.uri, "dumpxml", vm.name]).split("<interface")[1] ?? "")?.[1];
    const filter = bindings.find((cols) => cols[0] === nic)?.[1];
    if (filter !== "clean-traffic") throw new Error(`${vm.name}'s NIC ${nic ?? "?"} has nwfilter ${filter ?? "none"}, expected clean-traffic`);
    const ip = /<parameter name=['"]IP['"] value=['"]([^'"]+)['"]/.exec(run(["virsh", "-q", "-c", sandbox.uri, "nwfilter-binding-dumpxml", nic!]))?.[1];
    if (ip !== vm.ip) throw new Error(`${vm.name}'s clean-traffic binding has IP ${ip ?? "none"}, planned ${vm.ip}`);
    filters[vm.name] = `${nic}: clean-traffic IP=${ip}`;
  }
  // Each VM reaches every other VM's SSH port and the host (dnsmasq on its network's gateway).
  const reach: Record<string, string[]> = {};
  for (const vm of plan.vms) {
    const gateway = plan.networks.find((n) => n.name === vm.network)!.gateway;
    const targets = [...plan.vms.filter((other) => other !== vm).map((other) => `${other.ip}/22`), `${gateway}/53`];
    const probe = targets.map((t) => `timeout 10 bash -c '</dev/tcp/${t}' && echo ok ${t} || echo FAIL ${t}`).join("; ");
    const out = (await must(remote, vm, probe)).trim().split("\n");
    const failed = out.filter((line) => line.startsWith("FAIL"));
    if (failed.length) throw new Error(`${vm.name} cannot reach ${failed.map((l) => l.slice(5)).join(", ")} (TCP)`);
    reach[vm.name] = targets;
  }
  // clean-traffic at work: a connection from a VM with a source address not its own never gets through.
  const [from, to] = plan.vms;
  const spoofed = spoofAddress(plan, from);
  const spoof = [
    `dev=$(ip -o route get ${to.ip} | sed -n 's/.* dev \\([^ ]*\\).*/\\1/p')`,
    `sudo ip addr add ${spoofed}/32 dev "$dev"`,
    `sudo ip route replace ${to.ip}/32 dev "$dev" src ${spoofed}`,
    `if timeout 10 bash -c '</dev/tcp/${to.ip}/22' 2>/dev/null; then r=LEAKED; else r=BLOCKED; fi`,
    `sudo ip route del ${to.ip}/32 dev "$dev" src ${spoofed}`,
    `sudo ip addr del ${spoofed}/32 dev "$dev"`,
    `echo "$r"`,
  ].join("; ");
  const attempt = async () => (await must(remote, from, spoof, 60_000)).trim().split("\n").pop();
  const verdict = await attempt();
  if (verdict !== "BLOCKED") throw new Error(`${from.name} reached ${to.name}:22 from the spoofed source ${spoofed} (${verdict}): clean-traffic does not filter its NIC`);
  // The control: with the NIC's filter binding removed the same attempt gets through, so the block above
  // was clean-traffic's (not a routing or firewall accident). The binding is restored and checked again.
  const nic = filters[from.name].split(":")[0];
  const bindingFile = path.join(sandbox.state, `binding-${nic}.xml`);
  fs.writeFileSync(bindingFile, run(["virsh", "-q", "-c", sandbox.uri, "nwfilter-binding-dumpxml", nic]), { mode: 0o600 });
  run(["virsh", "-q", "-c", sandbox.uri, "nwfilter-binding-delete", nic]);
  let unfiltered: string | undefined;
  try {
    unfiltered = await attempt();
  } finally {
    run(["virsh", "-q", "-c", sandbox.uri, "nwfilter-binding-create", bindingFile]);
    fs.rmSync(bindingFile, { force: true });
  }
  if (unfiltered !== "LEAKED") throw new Error(`without its clean-traffic binding, ${from.name} still could not reach ${to.name}:22 from ${spoofed} (${unfiltered}): the spoofing check proves nothing`);
  const again = await attempt();
  if (again !== "BLOCKED") throw new Error(`after restoring ${from.name}'s clean-traffic binding, the spoofed source ${spoofed} got through (${again})`);
  const restored = await must(remote, from, `timeout 10 bash -c '</dev/tcp/${to.ip}/22' && echo ok`, 60_000);
  if (!restored.includes("ok")) throw new Error(`${from.name} no longer reaches ${to.name}:22 after the spoofing check`);
  return { networkIsolation: on, table: on ? table : null, forwardModes, filters, reach, spoofedSource: { from: from.name, to: to.name, source: spoofed, filtered: verdict, withoutBinding: unfiltered, restored: again } };
}

async function run(): Promise<number> {
  const reason = skipReason();
  if (reason) {
    process.stdout.write(`e2e: skipped: ${reason}\n`);
    return 0;
  }
  const started = Date.now();
  const report: Record<string, unknown> = { spec: path.relative(ROOT, SPEC) || SPEC, ok: false, error: null, image: null, vms: [], sinfo: [], srun: [], sbatch: null, verify: null, isolation: null, seedEjects: null, ejectDetail: [], seedAfterEject: {}, srunAfterEject: [], noopChanges: null, leftovers: [], memory: [], seconds: {} };
  const times: Record<string, number> = {};
  const suffix = crypto.randomBytes(3).toString("hex");
  const sandbox = new LibvirtSandbox(`hse2e-${suffix}`, path.join("/var/tmp", `hs-e2e-${suffix}`));
  const stack = new AppliedStack();
  let failure: unknown = null;
  try {
    const spec = loadSpec(SPEC);
    if (!spec.clusters.hpc) throw new PhaseError(`${SPEC} has no clusters.hpc: the bring-up test checks a Slurm cluster`);
    const plan = buildPlan({ spec });
    if (!plan.feasible) throw new PhaseError(`the plan for ${SPEC} is not feasible: ${plan.errors.map((e) => e.message).join("; ")}`);

    // Golden image of the Slurm roles (built once, reused while its inputs are unchanged).
    const imageName = spec.images.roles["slurm-compute"].split("@")[0];
    let t = Date.now();
    if (imageName !== "catalog") {
      const built = await phase("image", LIMITS.image, () => buildImage({ name: imageName, imagesDir: goldenImagesDir(spec), log }));
      const m = built.image.manifest;
      report.image = { name: m.name, version: m.version, sha256: m.files[m.disk].sha256, reused: built.reused, bytes: m.files[m.disk].bytes, rootfsBytes: m.rootfsBytes, packages: Object.keys(m.packages).length };
      roleImage(spec, "slurm-compute");
    }
    times.image = seconds(t);

    await sandbox.start(path.join(ROOT, "scripts/e2e-libvirtd.sh"));
    log(`namespace ${sandbox.name}, libvirt ${sandbox.uri}`);
    const { secrets, identityFile, knownHostsFile } = generateSecrets(plan, path.join(sandbox.state, "secrets"));
    const remote = remoteFor({ user: spec.security.admin_user, identityFile, knownHostsFile, wrapper: sandbox.exec });

    // Empty -> every VM configured -> a job across all nodes.
    const ctx: StackContext = { spec, plan, uri: sandbox.uri, stackId: newStackId(), secrets, providers: stackProviders(sandbox.exec) };
    const upStarted = Date.now();
    await phase("create", LIMITS.create, () => stack.create(ctx, log));
    const booted: Booted[] = await phase("cloud-init", LIMITS.cloudInit, () => Promise.all(plan.vms.map((vm) =>
      waitForCloudInit(remote, vm, sandbox.hostPath(serialLogPath(vm)), upStarted, LIMITS.cloudInit).then((b) => (log(`${b.name}: cloud-init done after ${b.bootSeconds} s`), b)))));
    // Where cloud-init found its data: the seed cdrom (sr0 on virtio-scsi), as cloud-init's final message says.
    report.vms = booted.map((b) => {
      const serial = fs.readFileSync(sandbox.hostPath(serialLogPath(plan.vms.find((vm) => vm.name === b.name)!)), "utf8");
      return { ...b, datasource: /Datasource (DataSource\w+ \[seed=[^\]]*\])/.exec(serial)?.[1] ?? null };
    });
    times.up = seconds(upStarted);
    const controller = controllerOf(plan);
    const nodes = computeNodes(plan);
    report.sinfo = await phase("slurm-idle", LIMITS.slurmIdle, () => slurmIdle(remote, plan));
    const srun = await phase("srun", LIMITS.job, () => must(remote, controller, `srun -N${nodes.length} -t 2 hostname`));
    report.srun = srun.trim().split("\n").map((l) => l.trim()).sort();
    times.srun = seconds(upStarted);
    const missing = nodes.map((vm) => vm.name).filter((name) => !(report.srun as string[]).includes(name));
    if (missing.length) throw new PhaseError(`srun -N${nodes.length} hostname returned ${JSON.stringify(report.srun)}, missing ${missing.join(", ")}`);

    report.sbatch = await phase("sbatch", LIMITS.job, async () => {
      const jobId = (await must(remote, controller, "sbatch --parsable -N1 -t 2 -o /tmp/hs-e2e-%j.out --wrap 'hostname; echo e2e-job-ok'")).trim().split(";")[0];
      for (;;) {
        const show = await must(remote, controller, `scontrol show job ${jobId}`);
        const state = /JobState=(\S+)/.exec(show)?.[1] ?? "UNKNOWN";
        if (/^(FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE)$/.test(state)) throw new Error(`job ${jobId} ended ${state}: ${show.replace(/\s+/g, " ").slice(0, 600)}`);
        if (state === "COMPLETED") {
          const node = nodes.find((vm) => vm.name === /\bNodeList=(\S+)/.exec(show)?.[1]);
          if (!node) throw new Error(`job ${jobId} completed on an unknown node: ${show.replace(/\s+/g, " ").slice(0, 400)}`);
          const output = await must(remote, node, `cat /tmp/hs-e2e-${jobId}.out`);
          if (!output.includes("e2e-job-ok")) throw new Error(`job ${jobId}'s output on ${node.name} lacks its marker: ${output}`);
          return { jobId, state, node: node.name, output: output.trim().split("\n") };
        }
        await sleep(2000);
      }
    });

    report.isolation = await phase("isolation", LIMITS.isolation, () => isolationInEffect(sandbox, remote, spec, plan));

    report.verify = await phase("verify", LIMITS.verify, async () => {
      const out: string[] = [];
      const errors: string[] = [];
      const code = await cli(["verify", SPEC, "--json", "--identity", identityFile, "--known-hosts", knownHostsFile, "--ssh-wrapper", sandbox.exec.join(" ")], { out: (s) => out.push(s), err: (s) => errors.push(s) });
      const parsed = JSON.parse(out.join("")) as { passed: boolean; checks: { id: string; status: string; message: string }[] };
      const failed = parsed.checks.filter((c) => c.status === "FAIL");
      if (code !== 0 || failed.length) throw new Error(`hyperscaler verify failed: ${failed.map((c) => `${c.id}: ${c.message}`).join("; ")} ${errors.join(" ")}`);
      return { ok: true, checks: parsed.checks.map((c) => ({ id: c.id, status: c.status, message: c.message })) };
    });

    report.memory = await memoryPerVm(sandbox, remote, plan);

    // The next apply after cloud-init: each VM's seed (keys, munge key) leaves its drive, nothing else changes.
    const seedMedium = (domain: string) => seedMediumOf(sandbox, domain);
    t = Date.now();
    const ejects = await phase("eject apply", LIMITS.eject, () => stack.apply(ctx, seedMedium, log));
    times.eject = seconds(t);
    report.ejectDetail = ejects;
    report.seedEjects = ejects.filter((c) => c.what.join() === "eject seed").length;
    const unexpected = ejects.filter((c) => c.what.join() !== "eject seed");
    if (unexpected.length) throw new PhaseError(`the apply after cloud-init should only eject seeds, but changed ${describe(unexpected)}`);
    report.seedAfterEject = Object.fromEntries(plan.vms.map((vm) => [vm.name, seedMedium(vm.name)]));
    const kept = plan.vms.filter((vm) => seedMedium(vm.name) !== "-").map((vm) => `${vm.name} (${seedMedium(vm.name)})`);
    if (kept.length || report.seedEjects !== plan.vms.length) throw new PhaseError(`after the apply that follows cloud-init, ${report.seedEjects} of ${plan.vms.length} seeds were ejected; still in the drive: ${kept.join(", ") || "none"}`);
    const again = await phase("srun after eject", LIMITS.job, () => must(remote, controller, `srun -N${nodes.length} -t 2 hostname`));
    report.srunAfterEject = again.trim().split("\n").map((l) => l.trim()).sort();
    if (JSON.stringify(report.srunAfterEject) !== JSON.stringify(report.srun)) throw new PhaseError(`after the seed eject, srun -N${nodes.length} hostname returned ${JSON.stringify(report.srunAfterEject)}, before ${JSON.stringify(report.srun)}`);

    t = Date.now();
    const changes = await phase("no-op apply", LIMITS.noop, () => stack.apply(ctx, seedMedium, log));
    times.noop = seconds(t);
    report.noopChanges = changes.length;
    if (changes.length) {
      report.noopDetail = changes;
      throw new PhaseError(`applying the same spec a third time would change ${describe(changes)}`);
    }
  } catch (error) {
    failure = error;
  } finally {
    const t = Date.now();
    const failures = await phase("destroy", LIMITS.destroy, () => stack.destroy(log)).catch((error: Error) => [error.message]);
    const leftovers = [...failures, ...(fs.existsSync(sandbox.state) ? sandbox.leftovers() : [])];
    times.destroy = seconds(t);
    leftovers.push(...sandbox.stop());
    report.leftovers = leftovers;
    if (!failure && leftovers.length) failure = new PhaseError(`destroy left ${leftovers.join("; ")}`);
  }
  times.total = seconds(started);
  report.seconds = times;
  report.ok = failure === null;
  report.error = failure ? (failure instanceof Error ? failure.message : String(failure)) : null;
  fs.writeFileSync(REPORT, JSON.stringify(report, null, 2) + "\n");
  log(`report: ${REPORT}`);
  const s = times;
  process.stdout.write(`e2e: ${failure ? "FAILED" : "passed"} in ${s.total} s (image ${s.image ?? "-"} s, empty->cloud-init ${s.up ?? "-"} s, empty->srun ${s.srun ?? "-"} s, seed eject ${s.eject ?? "-"} s (${report.seedEjects ?? "-"} ejected), no-op ${s.noop ?? "-"} s (${report.noopChanges ?? "-"} changes), destroy ${s.destroy ?? "-"} s)\n`);
  if (failure) process.stderr.write(`e2e: ${report.error}\n`);
  return failure ? 1 : 0;
}

run().then((code) => process.exit(code), (error) => {
  process.stderr.write(`e2e: internal error: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(70);
});
