// MIG carved inside a Slurm guest (issue 15 bug 4): gres.conf names each instance's device files instead
// of `AutoDetect=nvml` (Debian's NVML plugin does not match the slurm-wlm apt installs). Proven with the
// real daemons: slurmctld loads the config, and slurmd (-G) reads this gres.conf for the node and finds
// every file in a device tree this test makes (character devices with NVIDIA's majors; no GPU here).
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildPlan } from "../../src/plan";
import {
  computeNodes,
  migCapMinor,
  migGpuInstanceId,
  renderCgroupConf,
  renderGresConf,
  renderSlurmConf,
} from "../../src/render/slurm";
import { loadSpecText } from "../../src/spec/load";
import { ROOT, tempDir } from "../helpers";

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

function migInGuestPlan() {
  const text = fs
    .readFileSync(path.join(ROOT, "config/dev.yaml"), "utf8")
    .replace("attach: mig-vgpu", "attach: mig-in-guest")
    .replace(
      "mig_slices: { hpc: 1, cloud: 1 }",
      "mig_slices: { hpc: [{ profile: 3g.40gb }, { profile: 2g.20gb }, { profile: 1g.10gb }] }",
    )
    .replace(
      "gpu_workers: { count: 1, cpu_cores: 4, memory_gb: 8, disk_gb: 40, gpu_enabled: true,",
      "gpu_workers: { count: 1, cpu_cores: 4, memory_gb: 8, disk_gb: 40, gpu_enabled: false,",
    );
  const loaded = loadSpecText("spec.yaml", text);
  if (!loaded.ok) throw new Error(loaded.errors.map((e) => e.message).join("\n"));
  return { spec: loaded.spec, plan: buildPlan({ spec: loaded.spec }) };
}

/** slurm.conf/gres.conf in a temp dir with the devices under `<dir>/root`; returns the paths. */
function writeConfig(makeDevices: boolean) {
  const { spec, plan } = migInGuestPlan();
  const dir = tempDir("hs-gres-");
  dirs.push(dir);
  const root = path.join(dir, "root");
  const gres = renderGresConf(plan, { devRoot: root });
  fs.writeFileSync(
    path.join(dir, "slurm.conf"),
    renderSlurmConf(spec, plan, {
      addressOf: () => "127.0.0.1",
      overrides: {
        SlurmctldHost: "localhost(127.0.0.1)",
        SlurmUser: "root",
        StateSaveLocation: path.join(dir, "state"),
        SlurmdSpoolDir: path.join(dir, "spool"),
        SlurmdLogFile: path.join(dir, "slurmd.log"),
        SlurmctldLogFile: path.join(dir, "slurmctld.log"),
      },
    }),
  );
  fs.writeFileSync(path.join(dir, "gres.conf"), gres);
  fs.writeFileSync(path.join(dir, "cgroup.conf"), renderCgroupConf());
  if (makeDevices) {
    // NVIDIA's character majors: 195 for /dev/nvidiaN; nvidia-caps is dynamic (here 511, as unused).
    for (const line of gres.split("\n").filter((l) => l.includes("MultipleFiles="))) {
      for (const file of line.split("MultipleFiles=")[1].split(",")) {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        if (fs.existsSync(file)) continue;
        const minor = /nvidia-cap(\d+)$/.exec(file)?.[1] ?? /nvidia(\d+)$/.exec(file)![1];
        const made = spawnSync("mknod", [file, "c", file.includes("nvidia-caps") ? "511" : "195", minor], {
          encoding: "utf8",
        });
        expect(made.status, made.stderr).toBe(0);
      }
    }
  }
  return { plan, dir, gres };
}

describe("gres.conf for MIG carved in the guest (bug 4)", () => {
  it("has no AutoDetect=nvml; each planned instance is its GPU plus its GI and CI access devices", () => {
    const { plan, gres, dir } = writeConfig(false);
    expect(gres).not.toContain("AutoDetect");
    const node = computeNodes(plan)[0].name;
    const instances = [...plan.gpus[0].instances].sort((a, b) => a.start - b.start);
    expect(instances.map((i) => `${i.profile}@${i.start}`)).toEqual(["1g.10gb@1", "2g.20gb@2", "3g.40gb@4"]);
    // Swizzle ids: 1g at 1 is an eighth (GI 8), 2g at 2 a quarter (GI 4), 3g at 4 the second half (GI 2).
    expect(instances.map(migGpuInstanceId)).toEqual([8, 4, 2]);
    // mig-minors: gpu0/gi1/access 12, gpu0/gi1/ci0/access 13; gpu1/gi0/access 138.
    expect([migCapMinor(0, 1), migCapMinor(0, 1, 0), migCapMinor(1, 0)]).toEqual([12, 13, 138]);
    const lines = gres
      .trim()
      .split("\n")
      .slice(1)
      .map((l) => l.split(path.join(dir, "root")).join(""));
    expect(lines).toEqual([
      `NodeName=${node} Name=gpu Type=a100_1g.10gb ` +
        `MultipleFiles=/dev/nvidia0,/dev/nvidia-caps/nvidia-cap75,/dev/nvidia-caps/nvidia-cap76`,
      `NodeName=${node} Name=gpu Type=a100_2g.20gb ` +
        `MultipleFiles=/dev/nvidia0,/dev/nvidia-caps/nvidia-cap39,/dev/nvidia-caps/nvidia-cap40`,
      // The instance of Slurm's own MIG example (gres.html): GI 2 is nvidia-cap21/22.
      `NodeName=${node} Name=gpu Type=a100_3g.40gb ` +
        `MultipleFiles=/dev/nvidia0,/dev/nvidia-caps/nvidia-cap21,/dev/nvidia-caps/nvidia-cap22`,
    ]);
  });

  it("slurmd reads it for the node and finds every device: one GRES per MIG instance with its three files", () => {
    const { plan, dir } = writeConfig(true);
    const node = computeNodes(plan)[0].name;
    const run = spawnSync("slurmd", ["-G", "-N", node, "-f", path.join(dir, "slurm.conf")], {
      encoding: "utf8",
      env: { ...process.env, SLURM_CONF: path.join(dir, "slurm.conf") },
      timeout: 30_000,
    });
    const output = run.stdout + run.stderr;
    if (process.env.SHOW_SLURMD) console.log(output);
    expect(run.status, output).toBe(0);
    expect(output).not.toMatch(/error|fatal|No such file/i);
    // slurmd indexes each MIG GRES by its compute-instance capability, as Slurm's MIG support does.
    const root = path.join(dir, "root");
    for (const [type, gi, ci] of [
      ["a100_1g.10gb", 75, 76],
      ["a100_2g.20gb", 39, 40],
      ["a100_3g.40gb", 21, 22],
    ]) {
      expect(output).toContain(`Gres Name=gpu Type=${type} Count=1 Index=${ci} `);
      expect(output).toContain(
        `File=${root}/dev/nvidia0,${root}/dev/nvidia-caps/nvidia-cap${gi},${root}/dev/nvidia-caps/nvidia-cap${ci}`,
      );
    }
  });

  it("without the device files slurmd refuses the node's GRES (the test can fail)", () => {
    const { plan, dir } = writeConfig(false);
    const node = computeNodes(plan)[0].name;
    const run = spawnSync("slurmd", ["-G", "-N", node, "-f", path.join(dir, "slurm.conf")], {
      encoding: "utf8",
      env: { ...process.env, SLURM_CONF: path.join(dir, "slurm.conf") },
      timeout: 30_000,
    });
    expect(run.stdout + run.stderr).toMatch(/No such file|error|fatal/i);
  });
});
