// The rendered Slurm configuration, proven by the real daemons: slurmctld loads prod's slurm.conf and
// gres.conf (addresses on loopback, ports and state directories moved, for the test only) and reports
// every node's CPUs, memory and Gres as planned; a real slurmd runs a CPU-only spec's `srun`.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { buildPlan } from "../../src/plan";
import type { Plan } from "../../src/plan/types";
import {
  computeNodes,
  nodeGres,
  nodeRealMemory,
  renderCgroupConf,
  renderGresConf,
  renderSlurmConf,
} from "../../src/render/slurm";
import { loadSpecText } from "../../src/spec/load";
import type { ClusterSpec } from "../../src/spec/types";
import { ROOT, tempDir, freePort } from "../helpers";

const daemons: ChildProcess[] = [];
afterEach(async () => {
  // Wait for the exit: a daemon still saving state on SIGTERM would race the removal of its directory.
  await Promise.all(
    daemons.splice(0).map(
      (daemon) =>
        new Promise<void>((resolve) => {
          if (daemon.exitCode !== null || daemon.signalCode !== null) return resolve();
          daemon.once("exit", () => resolve());
          daemon.kill("SIGTERM");
        }),
    ),
  );
});

function load(text: string): { spec: ClusterSpec; plan: Plan } {
  const loaded = loadSpecText("spec.yaml", text);
  if (!loaded.ok) throw new Error(loaded.errors.map((e) => e.message).join("\n"));
  return { spec: loaded.spec, plan: buildPlan({ spec: loaded.spec }) };
}

/** Writes the rendered configuration with loopback addresses and test-only ports and paths. */
async function writeConfig(spec: ClusterSpec, plan: Plan): Promise<{ dir: string; env: NodeJS.ProcessEnv }> {
  const dir = tempDir("hs-slurm-");
  fs.mkdirSync(path.join(dir, "state"));
  const [ctld, d] = [await freePort(), await freePort()];
  const conf = renderSlurmConf(spec, plan, {
    addressOf: () => "127.0.0.1",
    slurmctldPort: ctld,
    slurmdPort: d,
    overrides: {
      SlurmctldHost: "localhost(127.0.0.1)",
      SlurmUser: "root",
      StateSaveLocation: path.join(dir, "state"),
      SlurmdSpoolDir: path.join(dir, "spool"),
      SlurmctldPidFile: path.join(dir, "slurmctld.pid"),
      SlurmdPidFile: path.join(dir, "slurmd.pid"),
      SlurmctldLogFile: path.join(dir, "slurmctld.log"),
      SlurmdLogFile: path.join(dir, "slurmd.log"),
    },
  });
  fs.writeFileSync(path.join(dir, "slurm.conf"), conf);
  fs.writeFileSync(path.join(dir, "gres.conf"), renderGresConf(plan));
  fs.writeFileSync(path.join(dir, "cgroup.conf"), renderCgroupConf());
  return { dir, env: { ...process.env, SLURM_CONF: path.join(dir, "slurm.conf") } };
}

/** Starts a daemon in the foreground; its stdout and stderr go to `<dir>/<command>.out` for failure reports. */
function start(command: string, args: string[], env: NodeJS.ProcessEnv, dir: string): void {
  const out = fs.openSync(path.join(dir, `${command}.out`), "w");
  daemons.push(spawn(command, args, { env, stdio: ["ignore", out, out] }));
  fs.closeSync(out);
}

function tail(file: string, lines = 20): string {
  if (!fs.existsSync(file)) return `(no ${path.basename(file)})`;
  return fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
}

/** Polls `check`; on timeout the error carries the daemons' own logs and munge's state, which say why. */
async function waitFor(check: () => boolean, what: string, dir: string, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  const munge = spawnSync("sh", ["-c", "munge -n | unmunge"], { encoding: "utf8" });
  const logs = ["slurmctld.out", "slurmctld.log", "slurmd.out", "slurmd.log"].map(
    (f) => `--- ${f}\n${tail(path.join(dir, f))}`,
  );
  throw new Error(
    [
      `timed out waiting for ${what}`,
      `--- munge -n | unmunge: exit ${munge.status} ${munge.stderr.trim()}`,
      ...logs,
    ].join("\n"),
  );
}

function scontrolNodes(env: NodeJS.ProcessEnv): Map<string, Record<string, string>> {
  const out = spawnSync("scontrol", ["-o", "show", "node"], { env, encoding: "utf8" }).stdout;
  return new Map(
    out
      .split("\n")
      .filter(Boolean)
      .map((line) => {
        const fields = Object.fromEntries(
          line
            .split(/\s+/)
            .filter((f) => f.includes("="))
            .map((f) => [f.slice(0, f.indexOf("=")), f.slice(f.indexOf("=") + 1)]),
        );
        return [fields.NodeName, fields];
      }),
  );
}

describe("Slurm configuration with real daemons", () => {
  beforeAll(() => {
    // Every Slurm RPC is munge-signed: without munged, slurmctld runs but answers nothing.
    const munge = spawnSync("sh", ["-c", "munge -n | unmunge"], { encoding: "utf8" });
    expect(munge.status, `munged must be running (scripts/start-services.sh starts it): ${munge.stderr.trim()}`).toBe(
      0,
    );
  });

  it("slurmctld loads prod's slurm.conf and gres.conf: every node has its planned CPUs, memory and Gres", async () => {
    const { spec, plan } = load(fs.readFileSync(path.join(ROOT, "config/prod.yaml"), "utf8"));
    const { dir, env } = await writeConfig(spec, plan);
    start("slurmctld", ["-D", "-c", "-f", path.join(dir, "slurm.conf")], env, dir);
    await waitFor(
      () => spawnSync("scontrol", ["ping"], { env, encoding: "utf8" }).stdout.includes("UP"),
      "slurmctld",
      dir,
    );
    const nodes = scontrolNodes(env);
    const planned = computeNodes(plan);
    expect(planned).toHaveLength(4);
    for (const vm of planned) {
      const node = nodes.get(vm.name);
      expect(node, vm.name).toBeDefined();
      expect(Number(node!.CPUTot)).toBe(vm.vcpus);
      expect(Number(node!.RealMemory)).toBe(nodeRealMemory(vm));
      expect(node!.Gres).toBe(
        nodeGres(plan, vm)
          .map((g) => `gpu:${g.type}:${g.count}`)
          .join(","),
      );
      expect(node!.Gres).toBe("gpu:a100_1g.10gb:1");
    }
    const sinfo = spawnSync("sinfo", ["-h", "-o", "%P %l %D"], { env, encoding: "utf8" }).stdout.trim().split("\n");
    expect(sinfo).toEqual(["gpu* 1-00:00:00 4", "debug 1-00:00:00 4"]);
  });

  it("mixed Gres (whole GPUs, MIG in the guest) are accepted too", async () => {
    const text = fs
      .readFileSync(path.join(ROOT, "config/dev.yaml"), "utf8")
      .replace("attach: mig-vgpu", "attach: mig-in-guest")
      .replace("mig_slices: { hpc: 1, cloud: 1 }", "mig_slices: { hpc: [{ profile: 3g.40gb }, { profile: 2g.20gb }] }")
      .replace(
        "gpu_workers: { count: 1, cpu_cores: 4, memory_gb: 8, disk_gb: 40, gpu_enabled: true,",
        "gpu_workers: { count: 1, cpu_cores: 4, memory_gb: 8, disk_gb: 40, gpu_enabled: false,",
      );
    const { spec, plan } = load(text);
    const { dir, env } = await writeConfig(spec, plan);
    expect(fs.readFileSync(path.join(dir, "gres.conf"), "utf8")).toContain(
      "NodeName=hs-dev-slurm-node-01 Name=gpu Type=a100_3g.40gb " +
        "MultipleFiles=/dev/nvidia0,/dev/nvidia-caps/nvidia-cap21,/dev/nvidia-caps/nvidia-cap22",
    );
    start("slurmctld", ["-D", "-c", "-f", path.join(dir, "slurm.conf")], env, dir);
    await waitFor(
      () => spawnSync("scontrol", ["ping"], { env, encoding: "utf8" }).stdout.includes("UP"),
      "slurmctld",
      dir,
    );
    expect(scontrolNodes(env).get("hs-dev-slurm-node-01")!.Gres).toBe("gpu:a100_2g.20gb:1,gpu:a100_3g.40gb:1");
  });

  it("a CPU-only spec runs `srun -N1 hostname` through a real slurmd on loopback", async () => {
    const text = fs
      .readFileSync(path.join(ROOT, "config/examples/cpu-only.yaml"), "utf8")
      .replace(
        'compute_nodes: { count: 2, cpu_cores: 2, memory_gb: 4, disk_gb: 20, ip_range: "192.168.130.11-12" }',
        'compute_nodes: { count: 1, cpu_cores: 1, memory_gb: 1, disk_gb: 20, ip_range: "192.168.130.11" }',
      );
    const { spec, plan } = load(text);
    const { dir, env } = await writeConfig(spec, plan);
    const node = computeNodes(plan)[0].name;
    start("slurmctld", ["-D", "-c", "-f", path.join(dir, "slurm.conf")], env, dir);
    await waitFor(
      () => spawnSync("scontrol", ["ping"], { env, encoding: "utf8" }).stdout.includes("UP"),
      "slurmctld",
      dir,
    );
    start("slurmd", ["-D", "-N", node, "-f", path.join(dir, "slurm.conf")], env, dir);
    await waitFor(
      () => /idle/.test(spawnSync("sinfo", ["-h", "-n", node, "-o", "%t"], { env, encoding: "utf8" }).stdout),
      `${node} idle`,
      dir,
    );
    const srun = spawnSync("srun", ["-N1", "-t", "1", "hostname"], { env, encoding: "utf8", timeout: 60_000 });
    expect(srun.status, srun.stderr).toBe(0);
    expect(srun.stdout.trim()).toBe(spawnSync("hostname", { encoding: "utf8" }).stdout.trim());
  });
});
