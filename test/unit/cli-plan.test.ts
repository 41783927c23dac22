// `hyperscaler plan`, `render`, `probe --replay` and `doctor --replay` in-process: outputs and exit codes.
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main";
import { sample, snapshotDir } from "../fixtures/host";
import { captureIO, fixture, ROOT, tempDir } from "../helpers";

async function run(args: string[]) {
  const io = captureIO();
  const code = await main(args, io);
  return { code, stdout: io.stdout.join("\n"), stderr: io.stderr.join("\n") };
}
const PROD = path.join(ROOT, "config/prod.yaml");

describe("hyperscaler plan", () => {
  it("prints the slot map and the VM table, exit 0", async () => {
    const result = await run(["plan", PROD]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("plan hs-prod: feasible");
    expect(result.stdout).toContain("  positions  0  1  2  3  4  5  6  7\n             A  B  C  D  E  F  G  .");
    expect(result.stdout).toMatch(/hs-prod-k8s-gpu-01 +cloud +k8s-gpu-worker .* GPU-1 \(passthrough\)/);
  });

  it("--json has the documented fields; --svg draws", async () => {
    const dir = tempDir();
    const result = await run(["plan", PROD, "--json", "--svg", path.join(dir, "plan.svg")]);
    expect(result.code).toBe(0);
    const plan = JSON.parse(result.stdout);
    expect(Object.keys(plan)).toEqual(expect.arrayContaining(["feasible", "errors", "warnings", "gpus", "vms"]));
    expect(Object.keys(plan.gpus[0])).toEqual(
      expect.arrayContaining([
        "id",
        "pciAddress",
        "model",
        "attach",
        "migEnabled",
        "resetRequired",
        "instances",
        "wholeAssignedTo",
      ]),
    );
    expect(Object.keys(plan.gpus[0].instances[0])).toEqual(
      expect.arrayContaining([
        "profile",
        "profileId",
        "start",
        "size",
        "cluster",
        "assignedTo",
        "vgpuType",
        "deviceUuid",
      ]),
    );
    expect(Object.keys(plan.vms[0])).toEqual(
      expect.arrayContaining(["name", "cluster", "role", "vcpus", "memoryMiB", "diskGiB", "ip", "mac", "gpus"]),
    );
    const svg = fs.readFileSync(path.join(dir, "plan.svg"), "utf8");
    expect(svg).toMatch(/^<svg /);
    expect(svg.match(/>1g\.10gb</g)).toHaveLength(7);
  });

  it("exit 1 with errors for an infeasible plan", async () => {
    const file = path.join(tempDir(), "user.yaml");
    fs.writeFileSync(file, fixture("user-example.yaml"));
    const result = await run(["plan", file]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain("error: cluster cloud: 1 whole GPU(s) have no node");
    expect(result.stdout).toContain("hint: raise clusters.cloud.worker_nodes.gpu_workers.count to 4");
  });

  it("exit 1 with validation errors for an invalid spec; 2 for a missing file or bad --previous", async () => {
    const file = path.join(tempDir(), "bad.yaml");
    fs.writeFileSync(file, fixture("user-example.yaml").replace('strategy: "hybrid"', 'strategy: "hybird"'));
    expect((await run(["plan", file])).code).toBe(1);
    expect((await run(["plan", "/nonexistent.yaml"])).code).toBe(2);
    const notPlan = path.join(tempDir(), "x.json");
    fs.writeFileSync(notPlan, "{}");
    const bad = await run(["plan", PROD, "--previous", notPlan]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(
      `${notPlan} is not a valid previous plan; give a plan written by \`hyperscaler plan --json\``,
    );
    expect(bad.stderr).toContain(`${notPlan}:1:1: error: missing required key "planVersion"`);
  });

  it("--previous keeps placements; --host plans against a replayed snapshot", async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "plan.json"), (await run(["plan", PROD, "--json"])).stdout);
    const again = await run(["plan", PROD, "--json", "--previous", path.join(dir, "plan.json")]);
    expect(JSON.parse(again.stdout).gpus).toEqual(
      JSON.parse(fs.readFileSync(path.join(dir, "plan.json"), "utf8")).gpus,
    );
    const snapshot = snapshotDir({ "lspci-Dnn.txt": sample("lspci-nn_h100-sxm5-80gb_x4.txt") });
    const hosted = await run(["plan", path.join(ROOT, "config/examples/h100-mig-vgpu.yaml"), "--host", snapshot]);
    expect(hosted.code).toBe(1); // the snapshot shows no vGPU framework
    expect(hosted.stdout).toMatch(/shows no vGPU framework/);
  });
});

describe("hyperscaler render", () => {
  it("writes plan.json, the mdev map and a mig-parted config", async () => {
    const out = tempDir();
    const result = await run(["render", PROD, "--out", out]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`render: wrote 106 file(s) to ${out}`);
    expect(fs.readFileSync(path.join(out, "firewall.nft"), "utf8")).toContain("table inet hyperscaler_hs_prod {");
    // 61 files of VMs, networks, Slurm and kubeadm, then every Helm release's values and every raw manifest.
    expect(fs.readdirSync(path.join(out, "kubernetes/helm")).sort()).toEqual([
      "calico.values.yaml",
      "cert-manager.values.yaml",
      "gpu-operator.values.yaml",
      "ingress-nginx.values.yaml",
      "kserve-crd.values.yaml",
      "kserve.values.yaml",
      "minio.values.yaml",
      "monitoring.values.yaml",
    ]);
    expect(fs.readdirSync(path.join(out, "kubernetes/manifests")).sort()).toEqual([
      "_cluster",
      "local-path-storage",
      "mlops",
      "monitoring",
    ]);
    expect(fs.readFileSync(path.join(out, "slurm/slurm.conf"), "utf8")).toContain(
      "NodeName=hs-prod-slurm-node-01 NodeAddr=192.168.100.11 CPUs=8 RealMemory=15564 Gres=gpu:a100_1g.10gb:1",
    );
    expect(fs.readdirSync(path.join(out, "slurm")).sort()).toEqual(["cgroup.conf", "gres.conf", "slurm.conf"]);
    expect(fs.readdirSync(path.join(out, "kubernetes/join")).sort()).toEqual([
      "hs-prod-k8s-cpu-01.yaml",
      "hs-prod-k8s-gpu-01.yaml",
      "hs-prod-k8s-gpu-02.yaml",
      "hs-prod-k8s-gpu-03.yaml",
      "hs-prod-k8s-gpu-04.yaml",
    ]);
    expect(fs.readFileSync(path.join(out, "kubernetes/kubeadm-init.yaml"), "utf8")).toContain(
      "podSubnet: 10.244.0.0/16",
    );
    // Secrets are placeholders in rendered files, never real ones.
    expect(fs.readFileSync(path.join(out, "cloud-init/hs-prod-k8s-cp/user-data"), "utf8")).toContain(
      "${KUBERNETES_CA_KEY_PEM}",
    );
    for (const vm of ["hs-prod-slurm-ctl", "hs-prod-k8s-gpu-04"]) {
      expect(fs.existsSync(path.join(out, "libvirt/domains", `${vm}.xml`))).toBe(true);
      for (const file of ["user-data", "meta-data", "network-config"])
        expect(fs.existsSync(path.join(out, "cloud-init", vm, file))).toBe(true);
    }
    expect(fs.readdirSync(path.join(out, "libvirt/networks")).sort()).toEqual([
      "hs-prod-cloud-network.xml",
      "hs-prod-hpc-network.xml",
    ]);
    expect(fs.readdirSync(path.join(out, "libvirt/pools"))).toEqual(["hs-prod.xml"]);
    const plan = JSON.parse(fs.readFileSync(path.join(out, "plan.json"), "utf8"));
    const map = JSON.parse(fs.readFileSync(path.join(out, "gpu/mdev_map.json"), "utf8"));
    expect(map).toHaveLength(7);
    expect(map[0]).toEqual({
      uuid: plan.gpus[0].instances[0].deviceUuid,
      parent: "0000:65:00.0",
      physicalFunction: "0000:65:00.0",
      type: "A100D-1-10C",
      path: "mdev",
      vm: plan.gpus[0].instances[0].assignedTo,
      gpu: "GPU-0",
      profile: "1g.10gb",
    });
    const parted = parse(fs.readFileSync(path.join(out, "gpu/mig-parted.yaml"), "utf8"));
    expect(parted).toEqual({
      version: "v1",
      "mig-configs": {
        "hs-prod": [
          { devices: [0], "mig-enabled": true, "mig-devices": { "1g.10gb": 7 } },
          { devices: [1], "mig-enabled": false },
        ],
      },
    });
  });

  it("writes nothing for an infeasible plan", async () => {
    const out = path.join(tempDir(), "out");
    const file = path.join(tempDir(), "user.yaml");
    fs.writeFileSync(file, fixture("user-example.yaml"));
    expect((await run(["render", file, "--out", out])).code).toBe(1);
    expect(fs.existsSync(out)).toBe(false);
  });
});

describe("probe and doctor on snapshots", () => {
  it("probe --replay prints the GPU table", async () => {
    const result = await run([
      "probe",
      "--replay",
      snapshotDir({ "nvidia-smi-q-x.xml": sample("nvidia-smi-q-x_a100-sxm4-80gb_mig-enabled_4x1g.20gb_drv535.xml") }),
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/0 +0000:01:00\.0 +NVIDIA A100-SXM4-80GB +80 +nvidia +\? +yes/);
  });

  it("doctor --json --replay exits 1 on FAIL with {checks}", async () => {
    const result = await run([
      "doctor",
      "--json",
      "--replay",
      snapshotDir({
        "proc-cpuinfo.txt": "processor\t: 0\nflags\t: fpu\n\n",
        "dev-kvm.txt": "present: no\naccessible: no\n",
      }),
    ]);
    expect(result.code).toBe(1);
    const { checks } = JSON.parse(result.stdout);
    expect(checks.find((c: { id: string }) => c.id === "kvm")).toMatchObject({
      status: "FAIL",
      remediation: expect.stringContaining("modprobe"),
    });
  });

  it("a missing snapshot directory is a usage error", async () => {
    const result = await run(["probe", "--replay", "/nonexistent-snapshot"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("snapshot directory /nonexistent-snapshot does not exist");
  });
});
