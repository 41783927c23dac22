// kubeadm and containerd against the pinned Kubernetes: the kubeadm config API that version documents
// (issue 15 bug 11), containerd's sandbox image equal to kubeadm's pause image (bug 10, with the real
// `containerd config default`), and a bootstrap token that expires (issue 17).
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { buildPlan } from "../../src/plan";
import {
  containerdConfigPipeline,
  kubernetesLayer,
  KUBERNETES_PLACEHOLDERS,
} from "../../src/render/cloud-init/kubernetes";
import {
  BOOTSTRAP_TOKEN_TTL,
  joinCommandHint,
  renderKubeadmInit,
  renderKubeadmJoin,
} from "../../src/render/kubernetes";
import { KUBERNETES, kubernetesFacts } from "../../src/facts/versions";
import { loadSpecText } from "../../src/spec/load";
import { computeLabelText } from "../../src/facts/node-labels";
import { ROOT, tempDir } from "../helpers";

function load(version = "1.31") {
  const text = fs
    .readFileSync(path.join(ROOT, "config/prod.yaml"), "utf8")
    .replace("kubernetes_config: { cni: calico", `kubernetes_config: { version: "${version}", cni: calico`);
  const loaded = loadSpecText("config/prod.yaml", text);
  if (!loaded.ok) throw new Error(loaded.errors.map((e) => e.message).join("\n"));
  return { spec: loaded.spec, plan: buildPlan({ spec: loaded.spec }) };
}

/** Go's time.ParseDuration for the h/m/s forms kubeadm prints. */
function seconds(duration: string): number {
  const match = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(duration);
  if (!match || duration === "") throw new Error(`not a duration: ${duration}`);
  return Number(match[1] ?? 0) * 3600 + Number(match[2] ?? 0) * 60 + Number(match[3] ?? 0);
}

describe("kubeadm config for the pinned Kubernetes", () => {
  it("bug 11: Kubernetes 1.31 gets kubeadm.k8s.io/v1beta4, with kubelet flags as name/value pairs", () => {
    const { spec, plan } = load();
    expect(spec.clusters.cloud!.kubernetes_config.version).toBe("1.31");
    const [init, cluster, kubelet] = parseAllDocuments(
      renderKubeadmInit(spec, plan, KUBERNETES_PLACEHOLDERS.token),
    ).map((d) => d.toJS());
    expect([init.apiVersion, cluster.apiVersion]).toEqual(["kubeadm.k8s.io/v1beta4", "kubeadm.k8s.io/v1beta4"]);
    expect(kubelet.apiVersion).toBe("kubelet.config.k8s.io/v1beta1");
    expect(init.nodeRegistration.kubeletExtraArgs).toEqual([
      { name: "node-ip", value: "192.168.200.10" },
      { name: "node-labels", value: `${computeLabelText("cpu")},nvidia.com/gpu.deploy.operands=false` },
    ]);
    const worker = plan.vms.find((v) => v.role === "k8s-gpu-worker")!;
    const join = parse(
      renderKubeadmJoin(spec, plan, worker, KUBERNETES_PLACEHOLDERS.token, KUBERNETES_PLACEHOLDERS.caCertHash),
    );
    expect(join.apiVersion).toBe("kubeadm.k8s.io/v1beta4");
    expect(join.nodeRegistration.kubeletExtraArgs).toContainEqual({ name: "node-ip", value: worker.ip });
  });

  it(
    "Kubernetes 1.30 keeps v1beta3 (v1beta4 arrived in 1.31) with a map of kubelet flags; an unknown minor is " +
      "refused",
    () => {
      const { spec, plan } = load("1.30");
      const [init] = parseAllDocuments(renderKubeadmInit(spec, plan, KUBERNETES_PLACEHOLDERS.token)).map((d) =>
        d.toJS(),
      );
      expect(init.apiVersion).toBe("kubeadm.k8s.io/v1beta3");
      expect(init.nodeRegistration.kubeletExtraArgs).toEqual({
        "node-ip": "192.168.200.10",
        "node-labels": `${computeLabelText("cpu")},nvidia.com/gpu.deploy.operands=false`,
      });
      expect(() => kubernetesFacts("1.99")).toThrow(
        "Kubernetes 1.99 is not supported: expected one of 1.28, 1.29, 1.30, 1.31",
      );
    },
  );

  it("the spec refuses a Kubernetes minor without kubeadm facts, at its position, before anything renders", () => {
    const text = fs
      .readFileSync(path.join(ROOT, "config/prod.yaml"), "utf8")
      .replace("kubernetes_config: { cni: calico", 'kubernetes_config: { version: "1.27", cni: calico');
    const loaded = loadSpecText("config/prod.yaml", text);
    expect(loaded.ok).toBe(false);
    if (loaded.ok) return;
    const error = loaded.errors.find((e) => e.path === "/clusters/cloud/kubernetes_config/version")!;
    expect(error).toMatchObject({ found: "1.27", expected: "one of 1.28, 1.29, 1.30, 1.31" });
    expect(error.line).toBe(text.split("\n").findIndex((l) => l.includes('version: "1.27"')) + 1);
    // One owner of the supported range: the schema only checks the shape, KUBERNETES decides.
    const schema = JSON.parse(fs.readFileSync(path.join(ROOT, "schemas/cluster.schema.json"), "utf8"));
    expect(JSON.stringify(schema)).not.toContain('"enum":["1.28"');
  });

  it("issue 17: the bootstrap token expires after first boot (24 h), and the README's command mints a new join", () => {
    const { spec, plan } = load();
    const [init] = parseAllDocuments(renderKubeadmInit(spec, plan, KUBERNETES_PLACEHOLDERS.token)).map((d) => d.toJS());
    const ttl = seconds(init.bootstrapTokens[0].ttl);
    expect(init.bootstrapTokens[0].ttl).toBe(BOOTSTRAP_TOKEN_TTL);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(24 * 3600);
    const hint = joinCommandHint(plan, spec.security.admin_user);
    expect(hint).toBe(
      `ssh ${spec.security.admin_user}@192.168.200.10 sudo kubeadm token create --ttl 1h --print-join-command`,
    );
    expect(fs.readFileSync(path.join(ROOT, "README.md"), "utf8")).toContain(
      "kubeadm token create --ttl 1h --print-join-command",
    );
  });
});

describe("containerd's sandbox image (bug 10)", () => {
  it("every supported minor names kubeadm's pause image; 1.31 expects pause:3.10", () => {
    expect(KUBERNETES["1.31"].pause).toBe("registry.k8s.io/pause:3.10");
    for (const facts of Object.values(KUBERNETES)) expect(facts.pause).toMatch(/^registry\.k8s\.io\/pause:3\.\d+$/);
  });

  it(
    "the rendered step turns the real `containerd config default` (pause:3.6) into pause:3.10 with systemd " +
      "cgroups",
    () => {
      const which = spawnSync("sh", ["-c", "command -v containerd"], { encoding: "utf8" });
      expect(which.status, "containerd is not installed: `apt-get install containerd` (in .ci/run's PACKAGES)").toBe(0);
      const defaults = spawnSync("containerd", ["config", "default"], { encoding: "utf8" }).stdout;
      expect(defaults).toMatch(/sandbox_image = "registry\.k8s\.io\/pause:3\.6"/);
      const dir = tempDir("hs-containerd-");
      const config = path.join(dir, "config.toml");
      const run = spawnSync("sh", ["-c", containerdConfigPipeline(kubernetesFacts("1.31").pause, config)], {
        encoding: "utf8",
      });
      expect(run.status, run.stderr).toBe(0);
      const text = fs.readFileSync(config, "utf8");
      expect(text.match(/sandbox_image = ".*"/g)).toEqual(['sandbox_image = "registry.k8s.io/pause:3.10"']);
      expect(text).toMatch(/SystemdCgroup = true/);
      expect(text).not.toMatch(/SystemdCgroup = false/);
      // containerd itself accepts the file.
      const dump = spawnSync("containerd", ["--config", config, "config", "dump"], { encoding: "utf8" });
      expect(dump.status, dump.stderr).toBe(0);
      expect(dump.stdout).toContain('sandbox_image = "registry.k8s.io/pause:3.10"');
      // And the Kubernetes layer runs exactly this step.
      const { spec, plan } = load();
      const runcmd = kubernetesLayer(
        spec,
        plan,
        plan.vms.find((v) => v.role === "k8s-control-plane")!,
        KUBERNETES_PLACEHOLDERS,
      ).runcmd as string[][];
      expect(runcmd.some((c) => c.join(" ").includes(containerdConfigPipeline("registry.k8s.io/pause:3.10")))).toBe(
        true,
      );
    },
  );
});
