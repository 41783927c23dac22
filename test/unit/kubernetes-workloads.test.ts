// What the stack deploys into Kubernetes: render and the components give the same items; every raw
// manifest validates against the Kubernetes API schema (kubernetes-models); the deploy-breaking bugs of
// issue 15 (1, 5, 7, 13) against upstream's own files; the MLOps NetworkPolicies flow by flow; MLflow auth.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as appsV1 from "kubernetes-models/apps/v1";
import * as networkingV1 from "kubernetes-models/networking.k8s.io/v1";
import * as rbacV1 from "kubernetes-models/rbac.authorization.k8s.io/v1";
import * as storageV1 from "kubernetes-models/storage.k8s.io/v1";
import * as coreV1 from "kubernetes-models/v1";
import { afterAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { buildPlan } from "../../src/plan";
import type { Plan } from "../../src/plan/types";
import { buildStack } from "../../src/program/stack";
import { renderAll } from "../../src/render/files";
import { MIG_CONFIG_LABEL, MIG_PARTED_CONFIGMAP, nodeLabels } from "../../src/render/kubernetes";
import { MLOPS_SECRET_PLACEHOLDERS, mlflowStartScript, MLFLOW_AUTH_CONFIG } from "../../src/render/mlops";
import type { NetworkPolicy } from "../../src/render/network-policies";
import { CHARTS, IMAGES } from "../../src/facts/versions";
import {
  kubernetesWorkloads,
  type HelmReleaseItem,
  type KubeObject,
  type ManifestItem,
  type WorkloadItem,
} from "../../src/render/workloads";
import { loadSpecText } from "../../src/spec/load";
import type { ClusterSpec } from "../../src/spec/types";
import { helmMerge, loadChartReference } from "../chart-oracle";
import { ROOT, tempDir } from "../helpers";
import { recorded, resetRecorded, settled } from "../mocks";
import { flowAllowed, type Flow } from "../network-policy-eval";

const REFERENCE = path.join(ROOT, "..", "shared", "reference");
const HOST = path.join(ROOT, "test/fixtures/hosts/workstation.json");
const SPECS = [
  "config/prod.yaml",
  "config/dev.yaml",
  ...fs.readdirSync(path.join(ROOT, "config/examples")).map((f) => `config/examples/${f}`),
];

function load(file: string, edit: (text: string) => string = (t) => t): { spec: ClusterSpec; plan: Plan } {
  const loaded = loadSpecText(file, edit(fs.readFileSync(path.join(ROOT, file), "utf8")));
  if (!loaded.ok) throw new Error(loaded.errors.map((e) => e.message).join("\n"));
  return { spec: loaded.spec, plan: buildPlan({ spec: loaded.spec }) };
}

const migInGuest = (t: string): string =>
  t
    .replace("attach: mig-vgpu", "attach: mig-in-guest")
    .replace("mig_slices: { hpc: 1, cloud: 1 }", "mig_slices: { cloud: [{ profile: 3g.40gb }, { profile: 2g.20gb }] }")
    .replace(
      "compute_nodes: { count: 1, cpu_cores: 4, memory_gb: 8, disk_gb: 40, gpu_enabled: true,",
      "compute_nodes: { count: 1, cpu_cores: 4, memory_gb: 8, disk_gb: 40, gpu_enabled: false,",
    )
    .replace(
      'partitions: ["gpu", "debug"], default_partition: debug',
      'partitions: ["debug"], default_partition: debug',
    );

const items = (file: string, edit?: (t: string) => string): WorkloadItem[] => {
  const { spec, plan } = load(file, edit);
  return kubernetesWorkloads(spec, plan, MLOPS_SECRET_PLACEHOLDERS);
};
const manifests = (list: WorkloadItem[]): KubeObject[] =>
  list.filter((i): i is ManifestItem => i.type === "manifest").map((i) => i.object);
const release = (list: WorkloadItem[], id: string): HelmReleaseItem =>
  list.find((i): i is HelmReleaseItem => i.type === "helm" && i.id === id)!;

/** kubernetes-models' class per apiVersion/kind: `new Kind(object).validate()` checks it against the API schema. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  "v1/Namespace": coreV1.Namespace,
  "v1/ServiceAccount": coreV1.ServiceAccount,
  "v1/ConfigMap": coreV1.ConfigMap,
  "v1/Secret": coreV1.Secret,
  "v1/Service": coreV1.Service,
  "apps/v1/Deployment": appsV1.Deployment,
  "apps/v1/StatefulSet": appsV1.StatefulSet,
  "rbac.authorization.k8s.io/v1/Role": rbacV1.Role,
  "rbac.authorization.k8s.io/v1/RoleBinding": rbacV1.RoleBinding,
  "rbac.authorization.k8s.io/v1/ClusterRole": rbacV1.ClusterRole,
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": rbacV1.ClusterRoleBinding,
  "storage.k8s.io/v1/StorageClass": storageV1.StorageClass,
  "networking.k8s.io/v1/NetworkPolicy": networkingV1.NetworkPolicy,
  "networking.k8s.io/v1/Ingress": networkingV1.Ingress,
};

const figures: string[] = [];
afterAll(() => console.log(["kubernetes workloads:", ...figures].join("\n  ")));

describe("render and the components deploy the same workloads", () => {
  it(
    "every Helm release and manifest the stack creates " + "under mocks is the one render writes, and nothing else",
    async () => {
      resetRecorded();
      const outputs = await buildStack({
        stack: "test",
        clusterFile: path.join(ROOT, "config/prod.yaml"),
        hostSnapshot: HOST,
        start: true,
      });
      await new Promise((resolve) => outputs.kubernetes!.kubeconfig.apply(resolve));
      await settled();
      const deployed = recorded.filter((r) => r.type.startsWith("kubernetes:"));
      const { spec, plan } = load("config/prod.yaml");
      const rendered = renderAll(spec, plan);
      const list = kubernetesWorkloads(spec, plan, MLOPS_SECRET_PLACEHOLDERS);
      expect(deployed.length).toBe(list.length);
      for (const item of list) {
        const resource = deployed.find((r) => r.name === `k8s-addons-${item.id}` || r.name === `mlops-${item.id}`);
        expect(resource, item.id).toBeDefined();
        if (item.type === "helm") {
          const file = rendered.get(`kubernetes/helm/${item.release}.values.yaml`)!;
          expect(resource!.inputs.values, item.id).toEqual(parse(file));
          expect(resource!.inputs).toMatchObject({
            name: item.release,
            chart: CHARTS[item.chart].chart,
            version: CHARTS[item.chart].version,
            namespace: item.namespace,
          });
          expect(file.split("\n")[0]).toContain(`--version ${CHARTS[item.chart].version}`);
          continue;
        }
        const { kind, metadata } = item.object;
        const file = parse(
          rendered.get(
            `kubernetes/manifests/${metadata.namespace ?? "_cluster"}/${kind.toLowerCase()}-${metadata.name}.yaml`,
          )!,
        );
        const inputs = file;
        if (kind === "Secret") {
          // Render holds placeholders where the stack holds Pulumi secrets.
          expect(Object.keys((resource!.inputs.stringData as { value: object }).value).sort()).toEqual(
            Object.keys(inputs.stringData).sort(),
          );
          expect(
            Object.values(inputs.stringData as Record<string, string>).every((v) => /^\$\{[A-Z_]+\}$|^admin$/.test(v)),
          ).toBe(true);
        } else {
          expect(resource!.inputs, item.id).toEqual(inputs);
        }
      }
      figures.push(
        `prod: ${list.filter((i) => i.type === "helm").length} Helm releases and ` +
          `${list.filter((i) => i.type === "manifest").length} manifests, rendered = deployed`,
      );
    },
  );
});

describe("raw manifests against the Kubernetes API schema (kubernetes-models)", () => {
  it("every manifest of every shipped spec validates, and a broken one is refused", () => {
    let validated = 0;
    const kinds = new Set<string>();
    for (const file of SPECS) {
      for (const object of manifests(items(file))) {
        const Model = MODELS[`${object.apiVersion}/${object.kind}`];
        expect(Model, `${object.apiVersion} ${object.kind}`).toBeDefined();
        expect(
          () => new Model(object as never).validate(),
          `${file}: ${object.kind} ${object.metadata.name}`,
        ).not.toThrow();
        validated++;
        kinds.add(object.kind);
      }
    }
    figures.push(`${validated} manifests validated (${kinds.size} kinds) across ${SPECS.length} specs`);
    expect(validated).toBeGreaterThan(100);
    const deployment = manifests(items("config/prod.yaml")).find((o) => o.kind === "Deployment")!;
    const broken = JSON.parse(JSON.stringify(deployment));
    broken.spec.template.spec.containers[0].ports = [{ containerPort: "5000" }];
    expect(() => new appsV1.Deployment(broken).validate()).toThrow(/containerPort must be integer/);
  });
});

describe("issue 15 bugs against upstream's files", () => {
  it(
    "bug 1: local-path grants every permission upstream v0.0.30 grants, including the helper-pod Role in its " +
      "namespace",
    () => {
      const upstream = parseAllDocuments(
        fs.readFileSync(
          path.join(REFERENCE, "manifests/local-path-provisioner-v0.0.30/local-path-storage.yaml"),
          "utf8",
        ),
      )
        .map((d) => d.toJS())
        .filter(Boolean) as KubeObject[];
      const ours = manifests(items("config/prod.yaml"));
      const key = (o: KubeObject): string => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;
      for (const object of upstream) expect(ours.map(key), `upstream ${key(object)}`).toContain(key(object));
      const grants = (role: KubeObject): Set<string> =>
        new Set(
          (role.rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[]).flatMap((r) =>
            r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${g}/${res}:${v}`))),
          ),
        );
      let permissions = 0;
      for (const role of upstream.filter((o) => o.kind === "Role" || o.kind === "ClusterRole")) {
        const mine = grants(ours.find((o) => key(o) === key(role))!);
        for (const permission of grants(role)) {
          expect(mine, `${key(role)} ${permission}`).toContain(permission);
          permissions++;
        }
      }
      for (const binding of upstream.filter((o) => o.kind === "RoleBinding" || o.kind === "ClusterRoleBinding")) {
        const mine = ours.find((o) => key(o) === key(binding))!;
        expect({ roleRef: mine.roleRef, subjects: mine.subjects }).toEqual({
          roleRef: binding.roleRef,
          subjects: binding.subjects,
        });
      }
      expect(ours.find((o) => o.kind === "Role" && o.metadata.namespace === "local-path-storage")).toBeDefined();
      const deployment = ours.find(
        (o) => key(o) === "Deployment/local-path-storage/local-path-provisioner",
      )! as unknown as { spec: { template: { spec: { containers: { image: string; command: string[] }[] } } } };
      const upstreamDeployment = upstream.find((o) => o.kind === "Deployment") as unknown as typeof deployment;
      expect(deployment.spec.template.spec.containers[0].image).toBe(
        upstreamDeployment.spec.template.spec.containers[0].image,
      );
      expect(deployment.spec.template.spec.containers[0].command).toEqual(
        upstreamDeployment.spec.template.spec.containers[0].command,
      );
      figures.push(`local-path: ${upstream.length} upstream objects present, ${permissions} RBAC permissions granted`);
    },
  );

  it(
    "bug 5: MIG carved in the guest is kept: mig-manager is pointed at the planned layout per node, not the " +
      "chart's all-disabled",
    () => {
      const { spec, plan } = load("config/dev.yaml", migInGuest);
      const list = kubernetesWorkloads(spec, plan, MLOPS_SECRET_PLACEHOLDERS);
      const values = release(list, "gpu-operator").values as {
        migManager: { enabled: boolean; config: { name: string; default: string } };
      };
      expect(values.migManager).toMatchObject({ enabled: true, config: { name: MIG_PARTED_CONFIGMAP } });
      // The chart's default config, as gpu-operator v24.9.0 ships it, disables MIG: a node left on it would be wiped.
      const shipped = parse(
        parse(
          fs.readFileSync(
            path.join(REFERENCE, "mig-parted/gpu-operator-v24.9.0-default-mig-parted-config.yaml"),
            "utf8",
          ),
        ).data["config.yaml"],
      );
      expect(shipped["mig-configs"][values.migManager.config.default]).toEqual([
        { devices: "all", "mig-enabled": false },
      ]);
      const configMap = manifests(list).find(
        (o) => o.kind === "ConfigMap" && o.metadata.name === MIG_PARTED_CONFIGMAP,
      )! as unknown as { data: Record<string, string> };
      const config = parse(configMap.data["config.yaml"]);
      // Field names of mig-parted's v1 spec (api/spec/v1/spec.go at the version the operator ships).
      const specGo = fs.readFileSync(path.join(REFERENCE, "mig-parted/api/spec/v1/spec.go"), "utf8");
      for (const field of ["version", "mig-configs", "devices", "mig-enabled", "mig-devices"])
        expect(specGo).toContain(`yaml:"${field}`);
      expect(config.version).toBe("v1");
      for (const vm of plan.vms.filter((v) => v.gpus.some((g) => g.kind === "mig-in-guest"))) {
        expect(nodeLabels(vm)[MIG_CONFIG_LABEL]).toBe(vm.name);
        const planned: Record<string, number> = {};
        for (const instance of plan.gpus.find((g) => g.id === vm.gpus[0].gpu)!.instances)
          planned[instance.profile] = (planned[instance.profile] ?? 0) + 1;
        expect(config["mig-configs"][vm.name]).toEqual([{ devices: [0], "mig-enabled": true, "mig-devices": planned }]);
      }
      // Without MIG in the guest, mig-manager stays off.
      expect((release(items("config/prod.yaml"), "gpu-operator").values as { migManager: unknown }).migManager).toEqual(
        { enabled: false },
      );
    },
  );

  it(
    "bug 7: MinIO has no default user: the chart's console/console123 is replaced, root and user come from " +
      "existing secrets",
    () => {
      const list = items("config/prod.yaml");
      const minio = release(list, "minio");
      const merged = helmMerge(loadChartReference(CHARTS.minio).defaults, minio.values) as {
        rootUser: string;
        rootPassword: string;
        existingSecret: string;
        users: Record<string, string>[];
      };
      expect(merged.rootUser).toBe("");
      expect(merged.rootPassword).toBe("");
      expect(merged.existingSecret).toBe("minio-credentials");
      for (const user of merged.users) {
        expect(user.secretKey, user.accessKey).toBeUndefined();
        expect(user.existingSecret).toBe("minio-mlflow-user");
      }
      expect(JSON.stringify(merged.users)).not.toContain("console123");
      const secrets = manifests(list)
        .filter((o) => o.kind === "Secret")
        .map((o) => o.metadata.name);
      expect(secrets).toEqual(expect.arrayContaining(["minio-credentials", "minio-mlflow-user"]));
    },
  );

  it(
    "bug 13: MLflow's image already holds its PostgreSQL and S3 clients: nothing is pip-installed at start, the " +
      "image is pinned",
    () => {
      const mlflow = manifests(items("config/prod.yaml")).find(
        (o) => o.kind === "Deployment" && o.metadata.name === "mlflow",
      )! as unknown as {
        spec: { template: { spec: { containers: { image: string; command: string[]; args: string[] }[] } } };
      };
      const container = mlflow.spec.template.spec.containers[0];
      expect(container.image).toBe(IMAGES.mlflow.image);
      expect(container.image).toMatch(/:\d+\.\d+\.\d+-debian-12-r\d+$|@sha256:[0-9a-f]{64}$/);
      expect(JSON.stringify(container)).not.toMatch(/pip |pip3 /);
      for (const file of SPECS) expect(JSON.stringify(manifests(items(file)))).not.toMatch(/pip install/);
    },
  );
});

describe("MLOps NetworkPolicies (issue 17): default deny, exactly the flows the services need", () => {
  const policies = manifests(items("config/prod.yaml")).filter(
    (o) => o.kind === "NetworkPolicy",
  ) as unknown as NetworkPolicy[];
  const pod = (namespace: string, labels: Record<string, string>) => ({ namespace, labels });
  const mlflow = pod("mlops", { app: "mlflow" });
  const postgres = pod("mlops", { app: "postgresql" });
  const minio = pod("mlops", { app: "minio", release: "minio" });
  const minioJob = pod("mlops", { app: "minio-job", release: "minio" });
  const dns = pod("kube-system", { "k8s-app": "kube-dns" });
  const prometheus = pod("monitoring", {
    "app.kubernetes.io/name": "prometheus",
    "app.kubernetes.io/instance": "monitoring-prometheus",
  });
  const grafana = pod("monitoring", { "app.kubernetes.io/name": "grafana" });
  const ingressController = pod("ingress-nginx", { "app.kubernetes.io/name": "ingress-nginx" });
  const client = pod("default", { app: "training-job" });
  const dcgm = pod("gpu-operator", { app: "nvidia-dcgm-exporter" });
  const tcp = (from: Flow["from"], to: Flow["to"], port: number): Flow => ({ from, to, port, protocol: "TCP" });

  const allowed: [string, Flow][] = [
    ["MLflow -> PostgreSQL", tcp(mlflow, postgres, 5432)],
    ["MLflow -> MinIO", tcp(mlflow, minio, 9000)],
    ["MinIO bucket/user job -> MinIO", tcp(minioJob, minio, 9000)],
    ["MLflow -> DNS", { from: mlflow, to: dns, port: 53, protocol: "UDP" }],
    ["PostgreSQL -> DNS", { from: postgres, to: dns, port: 53, protocol: "UDP" }],
    ["a client anywhere -> MLflow (authenticated)", tcp(client, mlflow, 5000)],
    ["ingress controller -> MLflow", tcp(ingressController, mlflow, 5000)],
    ["ingress controller -> Grafana", tcp(ingressController, grafana, 3000)],
    ["Grafana -> Prometheus", tcp(grafana, prometheus, 9090)],
    ["Prometheus -> DCGM exporter", tcp(prometheus, dcgm, 9400)],
    ["Prometheus -> kubelet on a node", tcp(prometheus, { ip: "192.168.200.12" }, 10250)],
    ["Prometheus -> API server", tcp(prometheus, { ip: "192.168.200.10" }, 6443)],
  ];
  const denied: [string, Flow][] = [
    ["a client -> PostgreSQL", tcp(client, postgres, 5432)],
    ["a client -> MinIO", tcp(client, minio, 9000)],
    ["MinIO -> PostgreSQL", tcp(minio, postgres, 5432)],
    ["MLflow -> the internet", tcp(mlflow, { ip: "151.101.0.223" }, 443)],
    ["PostgreSQL -> the internet", tcp(postgres, { ip: "151.101.0.223" }, 443)],
    ["Grafana -> the internet (plugins)", tcp(grafana, { ip: "151.101.0.223" }, 443)],
    ["Prometheus -> a node's SSH", tcp(prometheus, { ip: "192.168.200.12" }, 22)],
    ["a client -> Grafana directly", tcp(client, grafana, 3000)],
    ["MLflow -> MinIO console", tcp(mlflow, minio, 9001)],
  ];
  it.each(allowed)("allowed: %s", (_, flow) => expect(flowAllowed(policies, flow)).toBe(true));
  it.each(denied)("denied: %s", (_, flow) => expect(flowAllowed(policies, flow)).toBe(false));
  it("both MLOps namespaces start from deny-all in both directions", () => {
    for (const namespace of ["mlops", "monitoring"]) {
      const deny = policies.find((p) => p.metadata.namespace === namespace && p.metadata.name === "default-deny")!;
      expect(deny.spec).toEqual({ podSelector: {}, policyTypes: ["Ingress", "Egress"], ingress: [], egress: [] });
    }
    figures.push(
      `NetworkPolicies: ${policies.length} policies, ${allowed.length} flows allowed and ${denied.length} ` +
        `denied as expected`,
    );
  });
});

describe("MLflow behind its basic-auth app (issue 17)", () => {
  it(
    "the server runs the basic-auth app; the start script writes the admin from the environment into a private " +
      "file",
    () => {
      const mlflow = manifests(items("config/prod.yaml")).find(
        (o) => o.kind === "Deployment" && o.metadata.name === "mlflow",
      )! as unknown as {
        spec: {
          template: {
            spec: {
              containers: { args: string[]; env: { name: string; valueFrom?: { secretKeyRef: { name: string } } }[] }[];
              volumes: { emptyDir?: { medium: string } }[];
            };
          };
        };
      };
      const pod = mlflow.spec.template.spec;
      expect(pod.containers[0].args.join(" ")).toContain("--app-name basic-auth");
      expect(pod.containers[0].env.find((e) => e.name === "MLFLOW_ADMIN_PASSWORD")!.valueFrom!.secretKeyRef.name).toBe(
        "mlflow-admin",
      );
      expect(pod.volumes[0].emptyDir!.medium).toBe("Memory");
      // Run the start script for real, with a stand-in `mlflow` that prints its arguments.
      const dir = tempDir("hs-mlflow-");
      const bin = path.join(dir, "bin");
      fs.mkdirSync(bin);
      fs.writeFileSync(path.join(bin, "mlflow"), '#!/bin/sh\necho "mlflow $*"\n', { mode: 0o755 });
      const ini = path.join(dir, "basic_auth.ini");
      const script = mlflowStartScript().replace(MLFLOW_AUTH_CONFIG, ini);
      const run = spawnSync("/bin/sh", ["-c", script, "mlflow", "server", "--app-name", "basic-auth"], {
        env: {
          PATH: `${bin}:/usr/bin:/bin`,
          MLFLOW_DB_PASSWORD: "dbpw",
          MLFLOW_ADMIN_USERNAME: "admin",
          MLFLOW_ADMIN_PASSWORD: "s3cret",
        },
        encoding: "utf8",
      });
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout.trim()).toBe("mlflow server --app-name basic-auth");
      const text = fs.readFileSync(ini, "utf8");
      expect(text).toContain("admin_password = s3cret");
      expect(text).toContain(
        "database_uri = postgresql://mlflow:dbpw@postgresql.mlops.svc.cluster.local:5432/mlflow_auth",
      );
      expect(fs.statSync(ini).mode & 0o077).toBe(0);
      // MLflow's auth database is created by PostgreSQL's init script.
      const init = manifests(items("config/prod.yaml")).find(
        (o) => o.metadata.name === "postgresql-init",
      )! as unknown as { data: Record<string, string> };
      expect(Object.values(init.data).join("")).toContain("CREATE DATABASE mlflow_auth OWNER mlflow;");
    },
  );
});
