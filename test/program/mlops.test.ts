// MLOps services under mocks: MLflow wired to the in-cluster PostgreSQL and MinIO through secret
// references, toggles that remove exactly what they switch off, requests and placement on every
// workload, and no secret in plain text.
import * as fs from "node:fs";
import * as path from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { buildStack } from "../../src/program/stack";
import { ADDRESSES } from "../../src/render/mlops";
import { computeLabel, preferComputeAffinity } from "../../src/facts/node-labels";
import { ROOT, tempDir } from "../helpers";
import { recorded, resetRecorded, settled, type Recorded } from "../mocks";

const HOST = path.join(ROOT, "test/fixtures/hosts/workstation.json");
const SECRET_MARK = "4dabf18193072939515e22adb298388d";

/** Runs prod, with its `services:` block replaced when one is given. */
async function run(servicesYaml?: string): Promise<Recorded[]> {
  resetRecorded();
  const file = path.join(tempDir("hs-mlops-"), "prod.yaml");
  const prod = fs.readFileSync(path.join(ROOT, "config/prod.yaml"), "utf8");
  fs.writeFileSync(file, servicesYaml === undefined ? prod : prod.replace(/^services:\n( {2}.*\n)+/m, servicesYaml));
  const outputs = await buildStack({ stack: "test", clusterFile: file, hostSnapshot: HOST, start: true });
  await new Promise((resolve) => outputs.kubernetes!.kubeconfig.apply(resolve));
  await settled();
  return [...recorded];
}

const mlopsResources = (resources: Recorded[]): string[] =>
  resources
    .filter((r) => r.name.startsWith("mlops-"))
    .map((r) => r.name)
    .sort();
const byName = (resources: Recorded[], name: string) => resources.find((r) => r.name === name)!;

describe("MLOps services", () => {
  beforeEach(() => resetRecorded());

  it(
    "MLflow uses the in-cluster PostgreSQL and MinIO by " + "service name, with credentials by secret reference",
    async () => {
      const resources = await run();
      const deployment = byName(resources, "mlops-mlflow").inputs as {
        spec: {
          template: {
            spec: {
              containers: {
                args: string[];
                env: { name: string; value?: string; valueFrom?: { secretKeyRef: { name: string; key: string } } }[];
              }[];
            };
          };
        };
      };
      const container = deployment.spec.template.spec.containers[0];
      const args = container.args.join(" ");
      expect(args).toContain(
        "--backend-store-uri postgresql://mlflow:$(MLFLOW_DB_PASSWORD)@postgresql.mlops.svc.cluster.local:5432/mlflow",
      );
      expect(args).toContain("--artifacts-destination s3://mlflow-artifacts");
      const env = Object.fromEntries(container.env.map((e) => [e.name, e]));
      expect(env.MLFLOW_S3_ENDPOINT_URL.value).toBe(ADDRESSES.minio);
      expect(env.MLFLOW_DB_PASSWORD.valueFrom).toEqual({
        secretKeyRef: { name: "postgresql-credentials", key: "mlflow-password" },
      });
      // MLflow stores artifacts as its own MinIO user, not as root.
      expect(env.AWS_ACCESS_KEY_ID.value).toBe("mlflow");
      expect(env.AWS_SECRET_ACCESS_KEY.valueFrom).toEqual({
        secretKeyRef: { name: "minio-mlflow-user", key: "secretKey" },
      });
      // The MinIO chart creates the artifact bucket and that user from existing secrets.
      const minio = byName(resources, "mlops-minio").inputs as {
        values: {
          existingSecret: string;
          users: unknown[];
          buckets: { name: string }[];
          persistence: { size: string };
        };
      };
      expect(minio.values.existingSecret).toBe("minio-credentials");
      expect(minio.values.users).toEqual([
        {
          accessKey: "mlflow",
          existingSecret: "minio-mlflow-user",
          existingSecretKey: "secretKey",
          policy: "readwrite",
        },
      ]);
      expect(minio.values.buckets.map((b) => b.name)).toEqual(["mlflow-artifacts"]);
      expect(minio.values.persistence.size).toBe("100Gi"); // services.minio.storage_gb in prod.yaml
    },
  );

  it("no password appears as a literal: every Secret's data is a Pulumi secret, no workload carries one", async () => {
    const resources = await run();
    const secrets = resources.filter((r) => r.type === "kubernetes:core/v1:Secret");
    expect(secrets.map((s) => s.name).sort()).toEqual([
      "mlops-grafana-admin",
      "mlops-minio-credentials",
      "mlops-minio-mlflow-user",
      "mlops-mlflow-admin",
      "mlops-postgresql-credentials",
    ]);
    const passwords: string[] = [];
    for (const secret of secrets) {
      const data = secret.inputs.stringData as { [SECRET_MARK]?: string; value: Record<string, string> };
      expect(data[SECRET_MARK], secret.name).toBeDefined();
      for (const [key, value] of Object.entries(data.value))
        if (key !== "admin-user" && key !== "username") passwords.push(value);
    }
    expect(passwords.length).toBe(6);
    const workloads = JSON.stringify(
      resources
        .filter((r) => r.type !== "kubernetes:core/v1:Secret" && !r.type.startsWith("random:"))
        .map((r) => r.inputs),
    );
    for (const secret of passwords) expect(workloads).not.toContain(secret);
  });

  it("toggles remove exactly the services switched off", async () => {
    const all = mlopsResources(await run());
    const expectations: [string, (name: string) => boolean][] = [
      ["kserve", (n) => /kserve|cert-manager/.test(n)],
      ["monitoring", (n) => /monitoring|grafana|gpu-dashboard/.test(n)],
      ["mlflow", (n) => /mlops-mlflow|netpol-mlops-mlflow/.test(n)],
    ];
    for (const [service, belongs] of expectations) {
      const without = mlopsResources(await run(`services:\n  ${service}: { enabled: false }\n`));
      expect(
        all.filter((n) => !without.includes(n)),
        service,
      ).toEqual(all.filter(belongs));
      expect(all.filter(belongs).length, service).toBeGreaterThan(0);
    }
    const none = mlopsResources(
      await run(
        "services:\n  minio: { enabled: false }\n  postgresql: { enabled: false }\n  mlflow: { enabled: false " +
          "}\n  monitoring: { enabled: false }\n  kserve: { enabled: false }\n",
      ),
    );
    expect(none.filter((n) => !/password|user/.test(n))).toEqual([]);
  });

  it("every workload has resource requests and node placement", async () => {
    const resources = await run();
    const workloads = resources.filter(
      (r) => r.name.startsWith("mlops-") && /apps\/v1:(Deployment|StatefulSet)/.test(r.type),
    );
    expect(workloads.map((w) => w.name).sort()).toEqual(["mlops-mlflow", "mlops-postgresql"]);
    for (const workload of workloads) {
      const spec = (
        workload.inputs as {
          spec: {
            template: {
              spec: {
                nodeSelector?: unknown;
                affinity?: unknown;
                containers: { resources: { requests: Record<string, string> } }[];
              };
            };
          };
        }
      ).spec.template.spec;
      expect(spec.nodeSelector ?? spec.affinity, workload.name).toEqual(computeLabel("cpu"));
      for (const container of spec.containers)
        expect(Object.keys(container.resources.requests).sort()).toEqual(["cpu", "memory"]);
    }
    const releases = resources.filter((r) => r.name.startsWith("mlops-") && r.type === "kubernetes:helm.sh/v3:Release");
    const placed = (values: unknown): boolean =>
      JSON.stringify(values).includes(`"nodeSelector":${JSON.stringify(computeLabel("cpu"))}`);
    const requested = (values: unknown): boolean => JSON.stringify(values).includes('"requests":{');
    for (const release of releases.filter((r) => r.inputs.values)) {
      if (release.name === "mlops-kserve-crd") continue;
      expect(placed(release.inputs.values) && requested(release.inputs.values), release.name).toBe(true);
    }
  });

  it("a cluster without CPU workers still runs the services, preferring compute=cpu", async () => {
    resetRecorded();
    const outputs = await buildStack({
      stack: "test",
      clusterFile: path.join(ROOT, "config/dev.yaml"),
      hostSnapshot: HOST,
      start: true,
    });
    await new Promise((resolve) => outputs.kubernetes!.kubeconfig.apply(resolve));
    await settled();
    const mlflow = byName([...recorded], "mlops-mlflow").inputs as {
      spec: { template: { spec: { nodeSelector?: unknown; affinity?: { nodeAffinity: unknown } } } };
    };
    expect(mlflow.spec.template.spec.nodeSelector).toBeUndefined();
    expect(JSON.stringify(mlflow.spec.template.spec.affinity)).toContain(
      "preferredDuringSchedulingIgnoredDuringExecution",
    );
    expect(mlflow.spec.template.spec.affinity).toEqual(preferComputeAffinity("cpu"));
    expect(Object.keys(outputs.services).sort()).toEqual(["grafana", "minio", "mlflow", "postgresql", "prometheus"]);
  });
});
