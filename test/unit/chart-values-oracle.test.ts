// Oracle: every Helm values key the project sets exists in the chart's own defaults (values.yaml, its
// subcharts', values.schema.json) at the pinned version, from ../shared/reference/charts/. Also: the
// merged values (chart defaults + ours, as Helm coalesces them) never request more than they limit.
import Ajv from "ajv";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildPlan } from "../../src/plan";
import { MLOPS_SECRET_PLACEHOLDERS } from "../../src/render/mlops";
import { CHARTS, type ChartKey } from "../../src/facts/versions";
import { computeLabel } from "../../src/facts/node-labels";
import { kubernetesWorkloads, type HelmReleaseItem } from "../../src/render/workloads";
import { loadSpecText } from "../../src/spec/load";
import { checkValues, FREE_FORM_BY_CHART, FREE_FORM_EVERYWHERE, helmMerge, loadChartReference } from "../chart-oracle";
import { joinedPattern, ROOT } from "../helpers";

const SPECS = [
  "config/prod.yaml",
  "config/dev.yaml",
  ...fs.readdirSync(path.join(ROOT, "config/examples")).map((f) => `config/examples/${f}`),
];

/**
 * MIG carved in the guest (the GPU Operator's mig-manager config) and services sized above the charts' default limits.
 */
function variants(file: string, text: string): string[] {
  if (file !== "config/dev.yaml") return [text];
  const migInGuest = text
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
  return [text, migInGuest, bigServices(text)];
}

export function bigServices(text: string): string {
  return (
    text.replace(/^services:\n( {2}.*\n)+/m, "").trimEnd() +
    "\nservices:\n" +
    '  kserve: { enabled: true, cpu: "500m", memory: "1Gi" }\n' +
    '  minio: { enabled: true, cpu: "2", memory: "4Gi" }\n'
  );
}

function releasesOf(text: string, file: string): HelmReleaseItem[] {
  const loaded = loadSpecText(file, text);
  if (!loaded.ok) throw new Error(`${file}: ${loaded.errors.map((e) => e.message).join("; ")}`);
  const plan = buildPlan({ spec: loaded.spec });
  return kubernetesWorkloads(loaded.spec, plan, MLOPS_SECRET_PLACEHOLDERS).filter(
    (i): i is HelmReleaseItem => i.type === "helm",
  );
}

const ALL = SPECS.flatMap((file) =>
  variants(file, fs.readFileSync(path.join(ROOT, file), "utf8")).flatMap((text) => releasesOf(text, file)),
);
const figures: string[] = [];

afterAll(() => {
  // Figures for the closing note: keys checked per chart and the free-form exceptions used.
  console.log(["chart values oracle:", ...figures].join("\n  "));
});

/** Kubernetes quantity to a number (cores or bytes), for comparing requests with limits. */
function quantity(text: string | number): number {
  const match = /^([0-9.]+)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(String(text));
  if (!match) throw new Error(`not a quantity: ${text}`);
  const scale: Record<string, number> = {
    m: 1e-3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
  };
  return Number(match[1]) * (match[2] ? scale[match[2]] : 1);
}

function resourceBlocks(
  values: unknown,
  at = "",
): { path: string; requests: Record<string, string>; limits: Record<string, string> }[] {
  if (typeof values !== "object" || values === null) return [];
  const out: { path: string; requests: Record<string, string>; limits: Record<string, string> }[] = [];
  for (const [key, child] of Object.entries(values)) {
    const here = at ? `${at}.${key}` : key;
    const block = child as { requests?: Record<string, string>; limits?: Record<string, string> } | null;
    if (key === "resources" && block && block.requests && block.limits)
      out.push({ path: here, requests: block.requests, limits: block.limits });
    else out.push(...resourceBlocks(child, here));
  }
  return out;
}

describe("chart values oracle (reference/charts at the pinned versions)", () => {
  const charts = [...new Set(ALL.map((r) => r.chart))].sort();

  it("covers every chart the project deploys", () => {
    expect(charts).toEqual((Object.keys(CHARTS) as ChartKey[]).sort());
  });

  for (const key of Object.keys(CHARTS) as ChartKey[]) {
    it(
      `${CHARTS[key].chart} ${CHARTS[key].version}: every key we set exists in the chart's defaults or is a ` +
        `listed free-form map`,
      () => {
        const pin = CHARTS[key];
        const reference = loadChartReference(pin);
        if (reference.chartVersion) expect(reference.chartVersion, `${reference.dir}/Chart.yaml`).toBe(pin.version);
        const name = pin.chart.split("/").pop()!;
        const exceptions = [...FREE_FORM_EVERYWHERE, ...(FREE_FORM_BY_CHART[name] ?? [])];
        const checked = new Set<string>();
        const freeForm = new Map<string, string>();
        for (const release of ALL.filter((r) => r.chart === key)) {
          const result = checkValues(
            release.values,
            reference.defaults,
            reference.schema,
            exceptions,
            reference.subcharts,
          );
          expect(result.missing, `${name}: keys not in ${reference.dir}/values.yaml`).toEqual([]);
          for (const p of result.checked) checked.add(p);
          for (const f of result.freeForm) freeForm.set(f.path, f.exception);
          if (reference.schema) {
            // The chart's own schema, as `helm install` applies it to the coalesced values.
            const ajv = new Ajv({ strict: false, allErrors: true });
            const validate = ajv.compile(reference.schema);
            const merged = helmMerge(reference.defaults, release.values);
            expect(validate(merged) ? [] : validate.errors, `${name}: values.schema.json`).toEqual([]);
          }
        }
        const used = [...new Set(freeForm.values())];
        figures.push(
          `${name} ${pin.version}: ${checked.size} keys checked, ${freeForm.size} under free-form exceptions ` +
            `(${used.join(", ") || "none"})`,
        );
        // An exception that covers nothing is stale: keep the list exactly what is needed.
        for (const exception of FREE_FORM_BY_CHART[name] ?? [])
          expect(used, `${name}: exception ${exception.pattern} is unused`).toContain(exception.pattern);
      },
    );
  }

  it("a key the chart does not read is caught (gpu-operator daemonsets.nodeSelector, bug 8)", () => {
    const reference = loadChartReference(CHARTS.gpuOperator);
    const result = checkValues(
      { daemonsets: { nodeSelector: computeLabel("gpu") } },
      reference.defaults,
      undefined,
      FREE_FORM_EVERYWHERE.filter((e) => e.pattern !== "**.nodeSelector"),
    );
    expect(result.missing).toEqual(["daemonsets.nodeSelector"]);
    // And the project no longer sets it.
    for (const release of ALL.filter((r) => r.chart === "gpuOperator"))
      expect(release.values).not.toHaveProperty("daemonsets");
  });

  it("bumping a chart version without its reference fails with what to add", () => {
    expect(() => loadChartReference({ ...CHARTS.gpuOperator, version: "v24.9.1" })).toThrow(
      joinedPattern(
        /no reference values: add shared\/reference\/charts\/gpu-operator-v24\.9\.1\/values\.yaml /,
        /.*copied byte-for-byte from the upstream tag of v24\.9\.1/,
      ),
    );
  });

  it("bug 9: with the charts' default limits merged in, no container requests more than its limit", () => {
    let blocks = 0;
    for (const release of ALL) {
      const reference = loadChartReference(CHARTS[release.chart]);
      const merged = helmMerge(reference.defaults, release.values);
      for (const block of resourceBlocks(merged)) {
        for (const resource of Object.keys(block.requests).filter((r) => r in block.limits)) {
          blocks++;
          expect(
            quantity(block.requests[resource]),
            `${release.release} ${block.path}.${resource}: request ${block.requests[resource]} > limit ` +
              `${block.limits[resource]}`,
          ).toBeLessThanOrEqual(quantity(block.limits[resource]));
        }
      }
    }
    expect(blocks).toBeGreaterThan(0);
    const kserve = ALL.find((r) => r.chart === "kserve" && JSON.stringify(r.values).includes("500m"))!;
    expect((kserve.values as { kserve: { controller: { resources: unknown } } }).kserve.controller.resources).toEqual({
      requests: { cpu: "500m", memory: "1Gi" },
      limits: { cpu: "500m", memory: "1Gi" },
    });
  });
});
