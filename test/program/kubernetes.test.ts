// The Kubernetes half under mocks with real PEMs (keys from node's crypto, certificates from openssl):
// discovery hash, kubeadm configs, GPU Operator values per attach mode, provider on every resource.
import * as pulumi from "@pulumi/pulumi";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { beforeEach, describe, expect, it } from "vitest";
import { buildPlan } from "../../src/plan";
import { buildStack, type StackOutputs } from "../../src/program/stack";
import {
  BOOTSTRAP_TOKEN,
  deviceResources,
  discoveryHash,
  gpuOperatorValues,
  migStrategy,
} from "../../src/render/kubernetes";
import { loadSpecText } from "../../src/spec/load";
import { computeLabelText } from "../../src/facts/node-labels";
import { ROOT, tempDir } from "../helpers";
import { recorded, resetRecorded, settled, type Recorded } from "../mocks";

const HOST = path.join(ROOT, "test/fixtures/hosts/workstation.json");

function value<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply((v) => (resolve(v), v)));
}

async function run(file: string): Promise<{ outputs: StackOutputs; resources: Recorded[] }> {
  resetRecorded();
  const outputs = await buildStack({
    stack: "test",
    clusterFile: path.join(ROOT, file),
    hostSnapshot: HOST,
    start: true,
  });
  await value(outputs.kubernetes!.kubeconfig);
  await settled();
  return { outputs, resources: [...recorded] };
}

/** A file cloud-init would write on a VM, read from that VM's (secret) seed. */
function writtenFile(resources: Recorded[], vm: string, file: string): string {
  const seed = resources.find((r) => r.name === `${vm}-seed`)!;
  const userData = (seed.inputs.files as { value: Record<string, string> }).value["user-data"];
  const entry = (parse(userData).write_files as { path: string; content: string }[]).find((f) => f.path === file);
  if (!entry) throw new Error(`${vm} writes no ${file}`);
  return entry.content;
}

function opensslHash(caPem: string): string {
  const dir = tempDir("hs-hash-");
  fs.writeFileSync(path.join(dir, "ca.crt"), caPem);
  const result = spawnSync(
    "sh",
    ["-c", "openssl x509 -pubkey -noout -in ca.crt | openssl pkey -pubin -outform der | sha256sum"],
    { cwd: dir, encoding: "utf8" },
  );
  return `sha256:${result.stdout.split(/\s+/)[0]}`;
}

describe("Kubernetes cluster under mocks", () => {
  beforeEach(() => resetRecorded());

  it("the discovery hash equals openssl's hash of the CA public key, and workers pin it", async () => {
    const { outputs, resources } = await run("config/prod.yaml");
    const caPem = writtenFile(resources, "hs-prod-k8s-cp", "/etc/kubernetes/pki/ca.crt");
    const hash = await value(outputs.kubernetes!.caCertHash);
    expect(hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(hash).toBe(opensslHash(caPem));
    expect(discoveryHash(caPem)).toBe(hash);
    const join = parse(writtenFile(resources, "hs-prod-k8s-gpu-01", "/etc/kubernetes/kubeadm-join.yaml"));
    expect(join.discovery.bootstrapToken.caCertHashes).toEqual([hash]);
  });

  it("kubeadm configs carry the token, the endpoint and the spec's CIDRs; labels say compute=cpu|gpu", async () => {
    const { resources } = await run("config/prod.yaml");
    const [init, cluster] = parseAllDocuments(
      writtenFile(resources, "hs-prod-k8s-cp", "/etc/kubernetes/kubeadm.yaml"),
    ).map((d) => d.toJS());
    const token = init.bootstrapTokens[0].token as string;
    expect(token).toMatch(BOOTSTRAP_TOKEN);
    expect(cluster.networking).toMatchObject({ podSubnet: "10.244.0.0/16", serviceSubnet: "10.96.0.0/12" });
    expect(cluster.controlPlaneEndpoint).toBe("192.168.200.10:6443");
    // A CPU node also switches every GPU Operator operand off.
    for (const [vm, label] of [
      ["hs-prod-k8s-cpu-01", `${computeLabelText("cpu")},nvidia.com/gpu.deploy.operands=false`],
      ["hs-prod-k8s-gpu-03", computeLabelText("gpu")],
    ]) {
      const join = parse(writtenFile(resources, vm, "/etc/kubernetes/kubeadm-join.yaml"));
      expect(join.discovery.bootstrapToken).toMatchObject({ token, apiServerEndpoint: "192.168.200.10:6443" });
      // kubeadm v1beta4: kubelet flags are a list of name/value pairs.
      expect(join.nodeRegistration.kubeletExtraArgs).toContainEqual({ name: "node-labels", value: label });
    }
    expect(writtenFile(resources, "hs-prod-k8s-cp", "/etc/kubernetes/pki/ca.key")).toMatch(/BEGIN RSA PRIVATE KEY/);
  });

  it("the admin certificate in the kubeconfig chains to the cluster CA; the kubeconfig is a secret", async () => {
    const { outputs, resources } = await run("config/prod.yaml");
    expect(await pulumi.isSecret(outputs.kubernetes!.kubeconfig)).toBe(true);
    const kubeconfig = parse(await value(outputs.kubernetes!.kubeconfig));
    const b64 = (s: string) => Buffer.from(s, "base64").toString();
    const dir = tempDir("hs-kcfg-");
    fs.writeFileSync(path.join(dir, "ca.pem"), b64(kubeconfig.clusters[0].cluster["certificate-authority-data"]));
    fs.writeFileSync(path.join(dir, "admin.pem"), b64(kubeconfig.users[0].user["client-certificate-data"]));
    const verify = spawnSync("openssl", ["verify", "-CAfile", "ca.pem", "admin.pem"], { cwd: dir, encoding: "utf8" });
    expect(verify.stdout.trim()).toBe("admin.pem: OK");
    expect(
      spawnSync("openssl", ["x509", "-noout", "-subject", "-in", "admin.pem"], { cwd: dir, encoding: "utf8" }).stdout,
    ).toMatch(/CN ?= ?kubernetes-admin, O ?= ?system:masters/);
    expect(kubeconfig.clusters[0].cluster.server).toBe("https://192.168.200.10:6443");
    // The CA key appears only inside secret seeds, never in another input.
    const caKey = writtenFile(resources, "hs-prod-k8s-cp", "/etc/kubernetes/pki/ca.key");
    const plainInputs = JSON.stringify(
      resources
        .filter((r) => !r.type.endsWith(":SeedIso"))
        .map((r) => ({ ...r.inputs, privateKeyPem: undefined, caPrivateKeyPem: undefined })),
    );
    expect(plainInputs).not.toContain(caKey.split("\n")[1]);
  });

  it("every Kubernetes resource uses the cluster's provider, which waits for the API server", async () => {
    const { resources } = await run("config/prod.yaml");
    const provider = resources.find((r) => r.type === "pulumi:providers:kubernetes")!;
    expect(provider.dependsOn).toContain("k8s-api-ready");
    const kube = resources.filter((r) => r.type.startsWith("kubernetes:"));
    expect(kube.length).toBeGreaterThanOrEqual(10);
    for (const resource of kube)
      expect(resource.provider, resource.name).toMatch(new RegExp(`::k8s-provider::${provider.id}$`));
    const releases = kube
      .filter((r) => r.type === "kubernetes:helm.sh/v3:Release")
      .map((r) => `${String(r.inputs.chart)}@${String(r.inputs.version)}`)
      .sort();
    expect(releases).toEqual([
      "cert-manager@v1.16.1",
      "gpu-operator@v24.9.0",
      "ingress-nginx@4.11.3",
      "kube-prometheus-stack@65.1.1",
      "minio@5.3.0",
      "oci://ghcr.io/kserve/charts/kserve-crd@v0.14.0",
      "oci://ghcr.io/kserve/charts/kserve@v0.14.0",
      "tigera-operator@v3.28.2",
    ]);
    const calico = kube.find((r) => r.inputs.chart === "tigera-operator")!;
    expect(
      (calico.inputs.values as { installation: { calicoNetwork: { ipPools: { cidr: string }[] } } }).installation
        .calicoNetwork.ipPools[0].cidr,
    ).toBe("10.244.0.0/16");
    expect(kube.find((r) => r.type === "kubernetes:storage.k8s.io/v1:StorageClass")!.inputs).toMatchObject({
      provisioner: "rancher.io/local-path",
    });
  });
});

describe("GPU Operator values match the plan", () => {
  function planFor(file: string, edit: (t: string) => string = (t) => t) {
    const loaded = loadSpecText(file, edit(fs.readFileSync(path.join(ROOT, file), "utf8")));
    if (!loaded.ok) throw new Error(loaded.errors.map((e) => e.message).join("\n"));
    return { spec: loaded.spec, plan: buildPlan({ spec: loaded.spec }) };
  }

  it("A100 MIG slices as MIG-backed vGPUs: the guests see whole vGPUs (nvidia.com/gpu), vGPU licensing", () => {
    const { spec, plan } = planFor("config/prod.yaml");
    const values = gpuOperatorValues(spec, plan) as Record<string, Record<string, unknown>>;
    expect(migStrategy(plan)).toBe("none");
    expect(values.migManager).toEqual({ enabled: false });
    expect(values.driver).toMatchObject({ enabled: false, licensingConfig: { nlsEnabled: true } });
    expect(
      deviceResources(
        plan,
        plan.vms.find((v) => v.name === "hs-prod-k8s-gpu-02")!,
      ),
    ).toEqual({ "nvidia.com/gpu": 1 });
  });

  it("passthrough (RTX 4090): no MIG, no licensing, nvidia.com/gpu", () => {
    const { spec, plan } = planFor("config/examples/rtx4090-passthrough.yaml");
    const values = gpuOperatorValues(spec, plan) as Record<string, Record<string, unknown>>;
    expect(values.driver).toEqual({ enabled: false });
    expect(values.migManager).toEqual({ enabled: false });
    expect(
      deviceResources(
        plan,
        plan.vms.find((v) => v.role === "k8s-gpu-worker")!,
      ),
    ).toEqual({ "nvidia.com/gpu": 1 });
  });

  it("time-sliced vGPU (L40S): licensing config, nvidia.com/gpu per worker", () => {
    const { spec, plan } = planFor("config/examples/l40s-vgpu.yaml");
    const values = gpuOperatorValues(spec, plan) as Record<string, Record<string, unknown>>;
    expect(values.driver).toMatchObject({ enabled: false, licensingConfig: { nlsEnabled: true } });
    for (const vm of plan.vms.filter((v) => v.role === "k8s-gpu-worker"))
      expect(deviceResources(plan, vm)).toEqual({ "nvidia.com/gpu": 1 });
  });

  it("MIG inside the guest with different profiles: mixed strategy, nvidia.com/mig-<profile>", () => {
    const { spec, plan } = planFor("config/dev.yaml", (t) =>
      t
        .replace("attach: mig-vgpu", "attach: mig-in-guest")
        .replace(
          "mig_slices: { hpc: 1, cloud: 1 }",
          "mig_slices: { cloud: [{ profile: 3g.40gb }, { profile: 2g.20gb }] }",
        )
        .replace(
          "compute_nodes: { count: 1, cpu_cores: 4, memory_gb: 8, disk_gb: 40, gpu_enabled: true,",
          "compute_nodes: { count: 1, cpu_cores: 4, memory_gb: 8, disk_gb: 40, gpu_enabled: false,",
        )
        .replace(
          'partitions: ["gpu", "debug"], default_partition: debug',
          'partitions: ["debug"], default_partition: debug',
        ),
    );
    expect(migStrategy(plan)).toBe("mixed");
    expect(gpuOperatorValues(spec, plan).mig).toEqual({ strategy: "mixed" });
    expect(
      deviceResources(
        plan,
        plan.vms.find((v) => v.role === "k8s-gpu-worker")!,
      ),
    ).toEqual({ "nvidia.com/mig-2g.20gb": 1, "nvidia.com/mig-3g.40gb": 1 });
  });

  it("MIG inside the guest with one profile: single strategy, nvidia.com/gpu", () => {
    const { plan } = planFor("config/dev.yaml", (t) =>
      t
        .replace("attach: mig-vgpu", "attach: mig-in-guest")
        .replace("mig_slices: { hpc: 1, cloud: 1 }", "mig_slices: { cloud: 3 }")
        .replace(
          "compute_nodes: { count: 1, cpu_cores: 4, memory_gb: 8, disk_gb: 40, gpu_enabled: true,",
          "compute_nodes: { count: 1, cpu_cores: 4, memory_gb: 8, disk_gb: 40, gpu_enabled: false,",
        )
        .replace(
          'partitions: ["gpu", "debug"], default_partition: debug',
          'partitions: ["debug"], default_partition: debug',
        ),
    );
    expect(migStrategy(plan)).toBe("single");
    expect(
      deviceResources(
        plan,
        plan.vms.find((v) => v.role === "k8s-gpu-worker")!,
      ),
    ).toEqual({ "nvidia.com/gpu": 3 });
  });
});
