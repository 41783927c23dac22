// `hyperscaler verify` against fakes of its probes (SSH to each VM): the pass path and each way it fails.
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { runVerifyCommand } from "../../src/cli/verify";
import { buildPlan } from "../../src/plan";
import { listedGpus, runVerify, type VerifyResult } from "../../src/verify/checks";
import { sshArgs, type Remote, type RemoteResult } from "../../src/verify/remote";
import { loadSpecFile } from "../../src/spec/load";
import { captureIO, ROOT } from "../helpers";

type Rule = [host: string | RegExp, command: RegExp, result: Partial<RemoteResult>];

/** A fake fleet of VMs: the first matching rule answers; anything else fails like an unknown command. */
class FakeRemote implements Remote {
  readonly calls: string[] = [];
  constructor(private readonly rules: Rule[]) {}
  run(host: string, command: string): Promise<RemoteResult> {
    this.calls.push(`${host} ${command}`);
    const rule = this.rules.find(([h, c]) => (typeof h === "string" ? h === host : h.test(host)) && c.test(command));
    return Promise.resolve({
      code: 0,
      stdout: "",
      stderr: "",
      ...(rule ? rule[2] : { code: 127, stderr: `fake: no rule for ${command}` }),
    });
  }
}

const GPU_LINE = "GPU 0: GRID A100D-1-10C (UUID: GPU-0b5f5b1c-1111-2222-3333-444444444444)";
const healthy = (overrides: Rule[] = []): FakeRemote =>
  new FakeRemote([
    ...overrides,
    [/.*/, /^true$/, {}],
    [
      "192.168.100.10",
      /^srun -N1 -w hs-prod-slurm-node-01 -t 2 --gres=gpu:a100_1g\.10gb:1 nvidia-smi -L$/,
      { stdout: `${GPU_LINE}\n` },
    ],
    [
      "192.168.200.10",
      /get nodes --no-headers/,
      { stdout: Array.from({ length: 6 }, (_, i) => `node-${i}   Ready    <none>   5m   v1.31.2`).join("\n") },
    ],
    [
      "192.168.200.10",
      /kubectl --kubeconfig \/etc\/kubernetes\/admin\.conf run hs-verify-gpu-/,
      { stdout: `${GPU_LINE}\npod "x" deleted\n` },
    ],
    ["192.168.200.10", /-n mlops exec deploy\/mlflow/, { stdout: "ARTIFACT 1/0a1b2c/artifacts/verify.txt\n" }],
    [
      "192.168.200.10",
      /-n monitoring exec prometheus-monitoring-prometheus-0/,
      { stdout: JSON.stringify({ status: "success", data: { result: [{}, {}] } }) },
    ],
  ]);

function context(file = "config/prod.yaml") {
  const loaded = loadSpecFile(path.join(ROOT, file));
  if (!loaded.ok) throw new Error(file);
  return { spec: loaded.spec, plan: buildPlan({ spec: loaded.spec }) };
}

const status = (results: VerifyResult[], id: string) => results.find((r) => r.id === id)?.status;

describe("verify", () => {
  it("counts GPUs and MIG devices in nvidia-smi -L output", () => {
    expect(listedGpus(`${GPU_LINE}\n  MIG 1g.10gb Device 0: (UUID: MIG-1)\n`)).toBe(2);
    expect(listedGpus("No devices were found\n")).toBe(0);
  });

  it("a healthy prod deployment passes every layer, each check timed", async () => {
    const remote = healthy();
    const results = await runVerify({ ...context(), remote });
    expect(results.filter((r) => r.status !== "PASS")).toEqual([]);
    expect(results.map((r) => r.id)).toEqual([
      ...context().plan.vms.map((vm) => `ssh-${vm.name}`),
      "slurm-gpu-job",
      "k8s-nodes-ready",
      "k8s-gpu-pod",
      "mlflow-run",
      "prometheus-dcgm",
    ]);
    for (const result of results) expect(result.seconds).toBeGreaterThanOrEqual(0);
    const pod = remote.calls.find((c) => c.includes("kubectl --kubeconfig /etc/kubernetes/admin.conf run"))!;
    expect(pod).toContain('"limits":{"nvidia.com/gpu":1}');
    expect(pod).toContain('"kubernetes.io/hostname":"hs-prod-k8s-gpu-01"');
  });

  it("the CLI prints a table and exits 0, or --json with passed and checks", async () => {
    const io = captureIO();
    expect(await runVerifyCommand(path.join(ROOT, "config/prod.yaml"), {}, io, healthy())).toBe(0);
    expect(io.stdout.join("\n")).toMatch(/layer +check +status +seconds +detail\n/);
    expect(io.stdout.join("\n")).toContain("verify: 16 passed or skipped, 0 failed");
    const json = captureIO();
    await runVerifyCommand(path.join(ROOT, "config/prod.yaml"), { json: true }, json, healthy());
    const report = JSON.parse(json.stdout.join("\n"));
    expect(report.passed).toBe(true);
    expect(report.checks[0]).toEqual({
      layer: "vm",
      id: "ssh-hs-prod-slurm-ctl",
      status: "PASS",
      message: "hs-prod-slurm-ctl (192.168.100.10) answers over SSH",
      seconds: expect.any(Number),
    });
  });

  const failures: [string, Rule[], string, RegExp][] = [
    [
      "an unreachable VM",
      [
        [
          "192.168.100.13",
          /^true$/,
          { code: 255, stderr: "ssh: connect to host 192.168.100.13 port 22: No route to host" },
        ],
      ],
      "ssh-hs-prod-slurm-node-03",
      /does not answer over SSH: ssh: connect to host .* No route to host/,
    ],
    [
      "a Slurm job that sees no GPU",
      [["192.168.100.10", /srun/, { stdout: "No devices were found\n" }]],
      "slurm-gpu-job",
      /sees no GPU/,
    ],
    [
      "a Slurm job that cannot get its Gres",
      [
        [
          "192.168.100.10",
          /srun/,
          {
            code: 1,
            stderr: "srun: error: Unable to allocate resources: Requested node configuration is not available",
          },
        ],
      ],
      "slurm-gpu-job",
      /with gpu:a100_1g\.10gb failed: srun: error: Unable to allocate resources/,
    ],
    [
      "nodes not ready",
      [["192.168.200.10", /get nodes/, { stdout: "a Ready x\nb NotReady x\n" }]],
      "k8s-nodes-ready",
      /1\/6 nodes Ready/,
    ],
    [
      "a GPU pod that cannot be scheduled",
      [
        [
          "192.168.200.10",
          /kubectl --kubeconfig \/etc\/kubernetes\/admin\.conf run/,
          { code: 1, stderr: "error: timed out waiting for the condition" },
        ],
      ],
      "k8s-gpu-pod",
      /asking for nvidia\.com\/gpu on hs-prod-k8s-gpu-01 failed: error: timed out/,
    ],
    [
      "an artifact missing from MinIO",
      [["192.168.200.10", /deploy\/mlflow/, { stdout: "MISSING 0a1b2c\n" }]],
      "mlflow-run",
      /run 0a1b2c logged but its artifact is not in MinIO bucket mlflow-artifacts/,
    ],
    [
      "MLflow unreachable",
      [
        [
          "192.168.200.10",
          /deploy\/mlflow/,
          { code: 1, stderr: "Traceback...\nrequests.exceptions.ConnectionError: localhost:5000" },
        ],
      ],
      "mlflow-run",
      /MLflow probe failed: requests\.exceptions\.ConnectionError/,
    ],
    [
      "no DCGM metrics",
      [["192.168.200.10", /prometheus/, { stdout: JSON.stringify({ status: "success", data: { result: [] } }) }]],
      "prometheus-dcgm",
      /no DCGM metrics/,
    ],
    [
      "Prometheus answering garbage",
      [["192.168.200.10", /prometheus/, { stdout: "<html>502</html>" }]],
      "prometheus-dcgm",
      /not JSON/,
    ],
  ];
  it.each(failures)("fails on %s, and the CLI exits 1", async (_name, rules, id, message) => {
    const results = await runVerify({ ...context(), remote: healthy(rules) });
    const failed = results.find((r) => r.id === id)!;
    expect(failed.status).toBe("FAIL");
    expect(failed.message).toMatch(message);
    expect(results.filter((r) => r.status === "FAIL")).toHaveLength(1);
    expect(await runVerifyCommand(path.join(ROOT, "config/prod.yaml"), {}, captureIO(), healthy(rules))).toBe(1);
  });

  it("a missing --known-hosts or --identity file is a usage error (exit 2) that says how to make it", async () => {
    const io = captureIO();
    expect(
      await runVerifyCommand(
        path.join(ROOT, "config/prod.yaml"),
        { knownHosts: "/nonexistent/prod.known_hosts" },
        io,
        healthy(),
      ),
    ).toBe(2);
    expect(io.stderr.join("\n")).toBe(
      "hyperscaler verify: --known-hosts /nonexistent/prod.known_hosts: no such readable file (write it with: " +
        "pulumi stack output knownHosts > FILE)",
    );
    expect(
      await runVerifyCommand(path.join(ROOT, "config/prod.yaml"), { identity: ROOT }, captureIO(), healthy()),
    ).toBe(2);
  });

  it("ssh arguments: strict checking against the stack's known_hosts when given, trust-on-first-use otherwise", () => {
    const strict = sshArgs(
      { user: "ops", knownHostsFile: "/s/prod.known_hosts", identityFile: "/k/id" },
      "192.168.100.10",
      "sinfo -h",
    );
    expect(strict).toEqual([
      "-o",
      "BatchMode=yes",
      "-o",
      "ConnectTimeout=15",
      "-o",
      "UserKnownHostsFile=/s/prod.known_hosts",
      "-o",
      "StrictHostKeyChecking=yes",
      "-o",
      "GlobalKnownHostsFile=/dev/null",
      "-o",
      "IdentitiesOnly=yes",
      "-i",
      "/k/id",
      "ops@192.168.100.10",
      "--",
      "sinfo -h",
    ]);
    expect(sshArgs({ user: "ops" }, "10.0.0.1", "true")).toEqual([
      "-o",
      "BatchMode=yes",
      "-o",
      "ConnectTimeout=15",
      "-o",
      "StrictHostKeyChecking=accept-new",
      "ops@10.0.0.1",
      "--",
      "true",
    ]);
  });

  it("an unreachable control plane fails every Kubernetes and MLOps check, naming it", async () => {
    const results = await runVerify({
      ...context(),
      remote: healthy([["192.168.200.10", /^true$/, { code: 255, stderr: "timeout" }]]),
    });
    for (const id of ["k8s-nodes-ready", "k8s-gpu-pod", "mlflow-run", "prometheus-dcgm"]) {
      expect(status(results, id), id).toBe("FAIL");
      expect(results.find((r) => r.id === id)!.message).toBe("the control plane hs-prod-k8s-cp is not reachable");
    }
  });

  it("a CPU-only deployment runs a plain Slurm job and skips the GPU checks", async () => {
    const remote = new FakeRemote([
      [/.*/, /^true$/, {}],
      ["192.168.130.10", /^srun -N1 -t 2 hostname$/, { stdout: "hs-cpu-slurm-node-01\n" }],
      ["192.168.230.10", /get nodes/, { stdout: "a Ready\nb Ready\nc Ready\n" }],
      ["192.168.230.10", /deploy\/mlflow/, { stdout: "ARTIFACT x/verify.txt\n" }],
    ]);
    const results = await runVerify({ ...context("config/examples/cpu-only.yaml"), remote });
    expect(status(results, "slurm-job")).toBe("PASS");
    expect(status(results, "k8s-gpu-pod")).toBe("SKIP");
    expect(status(results, "prometheus-dcgm")).toBe("SKIP");
    expect(results.filter((r) => r.status === "FAIL")).toEqual([]);
  });
});
