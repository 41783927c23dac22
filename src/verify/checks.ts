// Acceptance checks users run after `pulumi up`: every layer, timed. VMs answer over SSH; Slurm runs a
// GPU job that sees its GPU; Kubernetes schedules a pod on the planned GPU resource that sees its GPU;
// MLflow logs a run whose artifact lands in MinIO; Prometheus has DCGM metrics.
import { computeLabel } from "../facts/node-labels";
import type { Plan, PlannedVm } from "../plan/types";
import { controlPlaneOf, deviceResources } from "../render/kubernetes";
import { MLFLOW_BUCKET, MLOPS_NAMESPACE, MONITORING_NAMESPACE, serviceSettings } from "../render/mlops";
import { computeNodes, controllerOf, nodeGres } from "../render/slurm";
import type { ClusterSpec } from "../spec/types";
import type { Remote } from "./remote";

export type VerifyStatus = "PASS" | "FAIL" | "SKIP";

export interface VerifyResult {
  readonly layer: string;
  readonly id: string;
  readonly status: VerifyStatus;
  readonly message: string;
  readonly seconds: number;
}

export interface VerifyContext {
  readonly spec: ClusterSpec;
  readonly plan: Plan;
  readonly remote: Remote;
  /** Image of the Kubernetes GPU check pod. */
  readonly cudaImage?: string;
}

const KUBECTL = "sudo kubectl --kubeconfig /etc/kubernetes/admin.conf";

/** Counts the GPUs `nvidia-smi -L` lists (MIG devices are listed under their GPU and count too). */
export function listedGpus(output: string): number {
  return output.split("\n").filter((line) => /^\s*(GPU \d+:|MIG \S+\s+Device\s+\d+:)/.test(line)).length;
}

async function timed(
  layer: string,
  id: string,
  check: () => Promise<{ status: VerifyStatus; message: string }>,
): Promise<VerifyResult> {
  const start = process.hrtime.bigint();
  let outcome: { status: VerifyStatus; message: string };
  try {
    outcome = await check();
  } catch (error) {
    outcome = { status: "FAIL", message: error instanceof Error ? error.message : String(error) };
  }
  return { layer, id, ...outcome, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
}

function firstLine(text: string): string {
  return text.trim().split("\n").filter(Boolean).pop()?.slice(0, 200) ?? "";
}

export async function verifyVms(ctx: VerifyContext): Promise<{ results: VerifyResult[]; reachable: Set<string> }> {
  const reachable = new Set<string>();
  const results = await Promise.all(
    ctx.plan.vms.map((vm) =>
      timed("vm", `ssh-${vm.name}`, async () => {
        const result = await ctx.remote.run(vm.ip, "true", 20_000);
        if (result.code === 0) {
          reachable.add(vm.name);
          return { status: "PASS" as const, message: `${vm.name} (${vm.ip}) answers over SSH` };
        }
        return {
          status: "FAIL" as const,
          message:
            `${vm.name} (${vm.ip}) does not answer over SSH: ` + `${firstLine(result.stderr) || `exit ${result.code}`}`,
        };
      }),
    ),
  );
  return { results, reachable };
}

export async function verifySlurm(ctx: VerifyContext, reachable: Set<string>): Promise<VerifyResult[]> {
  if (!ctx.spec.clusters.hpc)
    return [{ layer: "slurm", id: "slurm-job", status: "SKIP", message: "no Slurm cluster in the spec", seconds: 0 }];
  const controller = controllerOf(ctx.plan);
  const gpuNode = computeNodes(ctx.plan).find((vm) => vm.gpus.length > 0);
  return [
    await timed("slurm", gpuNode ? "slurm-gpu-job" : "slurm-job", async () => {
      if (!reachable.has(controller.name))
        return { status: "FAIL", message: `the controller ${controller.name} is not reachable` };
      if (!gpuNode) {
        const result = await ctx.remote.run(controller.ip, "srun -N1 -t 2 hostname");
        return result.code === 0
          ? { status: "PASS", message: `srun ran on ${result.stdout.trim()}` }
          : { status: "FAIL", message: `srun failed: ${firstLine(result.stderr)}` };
      }
      const gres = nodeGres(ctx.plan, gpuNode)[0];
      const result = await ctx.remote.run(
        controller.ip,
        `srun -N1 -w ${gpuNode.name} -t 2 --gres=gpu:${gres.type}:1 nvidia-smi -L`,
      );
      if (result.code !== 0)
        return {
          status: "FAIL",
          message: `srun on ${gpuNode.name} with gpu:${gres.type} failed: ${firstLine(result.stderr)}`,
        };
      const count = listedGpus(result.stdout);
      return count > 0
        ? { status: "PASS", message: `${gpuNode.name} job sees ${count} GPU device(s): ${firstLine(result.stdout)}` }
        : { status: "FAIL", message: `the job on ${gpuNode.name} sees no GPU (nvidia-smi -L printed nothing)` };
    }),
  ];
}

function gpuPodOverrides(vm: PlannedVm, resource: string, image: string): string {
  return JSON.stringify({
    spec: {
      nodeSelector: { ...computeLabel("gpu"), "kubernetes.io/hostname": vm.name },
      restartPolicy: "Never",
      containers: [{ name: "verify", image, command: ["nvidia-smi", "-L"], resources: { limits: { [resource]: 1 } } }],
    },
  });
}

export async function verifyKubernetes(ctx: VerifyContext, reachable: Set<string>): Promise<VerifyResult[]> {
  if (!ctx.spec.clusters.cloud)
    return [
      {
        layer: "kubernetes",
        id: "k8s-gpu-pod",
        status: "SKIP",
        message: "no Kubernetes cluster in the spec",
        seconds: 0,
      },
    ];
  const cp = controlPlaneOf(ctx.plan);
  const results: VerifyResult[] = [
    await timed("kubernetes", "k8s-nodes-ready", async () => {
      if (!reachable.has(cp.name)) return { status: "FAIL", message: `the control plane ${cp.name} is not reachable` };
      const result = await ctx.remote.run(cp.ip, `${KUBECTL} get nodes --no-headers`);
      if (result.code !== 0)
        return { status: "FAIL", message: `kubectl get nodes failed: ${firstLine(result.stderr)}` };
      const lines = result.stdout.trim().split("\n").filter(Boolean);
      const expected = ctx.plan.vms.filter((vm) => vm.cluster === "cloud").length;
      const ready = lines.filter((l) => /\sReady\s/.test(` ${l} `)).length;
      return ready === expected
        ? { status: "PASS", message: `${ready}/${expected} nodes Ready` }
        : { status: "FAIL", message: `${ready}/${expected} nodes Ready` };
    }),
  ];
  const gpuVm = ctx.plan.vms.find((vm) => vm.cluster === "cloud" && vm.gpus.length > 0);
  if (!gpuVm)
    return [
      ...results,
      {
        layer: "kubernetes",
        id: "k8s-gpu-pod",
        status: "SKIP",
        message: "no Kubernetes GPU worker in the plan",
        seconds: 0,
      },
    ];
  const resource = Object.keys(deviceResources(ctx.plan, gpuVm))[0];
  results.push(
    await timed("kubernetes", "k8s-gpu-pod", async () => {
      if (!reachable.has(cp.name)) return { status: "FAIL", message: `the control plane ${cp.name} is not reachable` };
      const pod = `hs-verify-gpu-${Date.now().toString(36)}`;
      const image = ctx.cudaImage ?? "nvcr.io/nvidia/cuda:12.4.1-base-ubuntu22.04";
      const result = await ctx.remote.run(
        cp.ip,
        `${KUBECTL} run ${pod} --rm -i --restart=Never --pod-running-timeout=5m --image=${image} ` +
          `--overrides='${gpuPodOverrides(gpuVm, resource, image)}'`,
        600_000,
      );
      if (result.code !== 0)
        return {
          status: "FAIL",
          message: `a pod asking for ${resource} on ${gpuVm.name} failed: ${firstLine(result.stderr || result.stdout)}`,
        };
      const count = listedGpus(result.stdout);
      return count > 0
        ? { status: "PASS", message: `a pod on ${gpuVm.name} with ${resource}: 1 sees ${firstLine(result.stdout)}` }
        : { status: "FAIL", message: `the pod on ${gpuVm.name} with ${resource} sees no GPU` };
    }),
  );
  return results;
}

/** Logs a run with an artifact through MLflow, then lists the artifact in MinIO with the same credentials. */
export const MLFLOW_PROBE = [
  "import os, tempfile, mlflow, boto3",
  // MLflow runs its basic-auth app: log in as the admin whose credentials the pod has from its Secret.
  "os.environ['MLFLOW_TRACKING_USERNAME'] = os.environ['MLFLOW_ADMIN_USERNAME']; " +
    "os.environ['MLFLOW_TRACKING_PASSWORD'] = os.environ['MLFLOW_ADMIN_PASSWORD']",
  "mlflow.set_tracking_uri('http://localhost:5000')",
  "mlflow.set_experiment('hyperscaler-verify')",
  "with mlflow.start_run() as run:",
  "    path = os.path.join(tempfile.mkdtemp(), 'verify.txt')",
  "    open(path, 'w').write('hyperscaler verify')",
  "    mlflow.log_param('probe', 'verify')",
  "    mlflow.log_artifact(path)",
  "s3 = boto3.client('s3', endpoint_url=os.environ['MLFLOW_S3_ENDPOINT_URL'])",
  `keys = [o['Key'] for o in s3.list_objects_v2(Bucket='${MLFLOW_BUCKET}').get('Contents', []) if ` +
    `run.info.run_id in o['Key'] and o['Key'].endswith('verify.txt')]`,
  "print('ARTIFACT ' + keys[0] if keys else 'MISSING ' + run.info.run_id)",
].join("\n");

export async function verifyMlops(ctx: VerifyContext, reachable: Set<string>): Promise<VerifyResult[]> {
  const results: VerifyResult[] = [];
  const cp = ctx.spec.clusters.cloud ? controlPlaneOf(ctx.plan) : undefined;
  if (!cp || !serviceSettings(ctx.spec, "mlflow").enabled) {
    results.push({ layer: "mlops", id: "mlflow-run", status: "SKIP", message: "MLflow is not enabled", seconds: 0 });
  } else {
    results.push(
      await timed("mlops", "mlflow-run", async () => {
        if (!reachable.has(cp.name))
          return { status: "FAIL", message: `the control plane ${cp.name} is not reachable` };
        const script = Buffer.from(MLFLOW_PROBE).toString("base64");
        const result = await ctx.remote.run(
          cp.ip,
          `${KUBECTL} -n ${MLOPS_NAMESPACE} exec deploy/mlflow -- sh -c "echo ${script} | base64 -d | python -"`,
        );
        const line = result.stdout.trim().split("\n").pop() ?? "";
        if (result.code === 0 && line.startsWith("ARTIFACT "))
          return { status: "PASS", message: `run logged; artifact in MinIO at s3://${MLFLOW_BUCKET}/${line.slice(9)}` };
        return {
          status: "FAIL",
          message: line.startsWith("MISSING ")
            ? `run ${line.slice(8)} logged but its artifact is not in MinIO bucket ${MLFLOW_BUCKET}`
            : `MLflow probe failed: ${firstLine(result.stderr || result.stdout)}`,
        };
      }),
    );
  }
  const gpus = ctx.plan.vms.some((vm) => vm.cluster === "cloud" && vm.gpus.length > 0);
  if (!cp || !serviceSettings(ctx.spec, "monitoring").enabled || !gpus) {
    results.push({
      layer: "mlops",
      id: "prometheus-dcgm",
      status: "SKIP",
      message: !gpus ? "no GPU workers: no DCGM metrics expected" : "monitoring is not enabled",
      seconds: 0,
    });
  } else {
    results.push(
      await timed("mlops", "prometheus-dcgm", async () => {
        if (!reachable.has(cp.name))
          return { status: "FAIL", message: `the control plane ${cp.name} is not reachable` };
        const result = await ctx.remote.run(
          cp.ip,
          `${KUBECTL} -n ${MONITORING_NAMESPACE} exec prometheus-monitoring-prometheus-0 -c prometheus -- wget -qO- 'http://localhost:9090/api/v1/query?query=DCGM_FI_DEV_FB_USED'`,
        );
        if (result.code !== 0)
          return { status: "FAIL", message: `querying Prometheus failed: ${firstLine(result.stderr)}` };
        let series: number;
        try {
          series = (JSON.parse(result.stdout) as { data?: { result?: unknown[] } }).data?.result?.length ?? 0;
        } catch {
          return {
            status: "FAIL",
            message: `Prometheus answered with something that is not JSON: ${firstLine(result.stdout)}`,
          };
        }
        return series > 0
          ? { status: "PASS", message: `Prometheus has ${series} DCGM_FI_DEV_FB_USED series` }
          : {
              status: "FAIL",
              message: "Prometheus has no DCGM metrics (is the GPU Operator's dcgm-exporter running and scraped?)",
            };
      }),
    );
  }
  return results;
}

export async function runVerify(ctx: VerifyContext): Promise<VerifyResult[]> {
  const vms = await verifyVms(ctx);
  const [slurm, kubernetes, mlops] = await Promise.all([
    verifySlurm(ctx, vms.reachable),
    verifyKubernetes(ctx, vms.reachable),
    verifyMlops(ctx, vms.reachable),
  ]);
  return [...vms.results, ...slurm, ...kubernetes, ...mlops];
}
