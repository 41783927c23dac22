// The `compute=cpu|gpu` node label has one owner, src/facts/node-labels.ts: no other source file writes
// the key, and every node selector the stack renders matches a node that kubelet labels.
import * as fs from "node:fs";
import * as path from "node:path";
import * as ts from "typescript";
import { describe, expect, it } from "vitest";
import { COMPUTE_LABEL, computeLabel, computeLabelText, preferComputeAffinity } from "../../src/facts/node-labels";
import { buildPlan } from "../../src/plan";
import { nodeLabels } from "../../src/render/kubernetes";
import { cpuPlacement, MLOPS_SECRET_PLACEHOLDERS } from "../../src/render/mlops";
import { kubernetesWorkloads } from "../../src/render/workloads";
import { loadSpecText } from "../../src/spec/load";
import { ROOT } from "../helpers";

const OWNER = "src/facts/node-labels.ts";
const EXAMPLES = fs.readdirSync(path.join(ROOT, "config/examples")).map((f) => `config/examples/${f}`);
const SPECS = ["config/prod.yaml", "config/dev.yaml", ...EXAMPLES];

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith(".ts") ? [full] : [];
  });
}

/** Where a file other than the owner spells the label: a `compute` key, the string "compute", or "compute=". */
export function labelSpellings(fileName: string, text: string): string[] {
  const file = ts.createSourceFile(fileName, text, ts.ScriptTarget.ES2022, true);
  const found: string[] = [];
  const at = (node: ts.Node): string => `${fileName}:${file.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
  const visit = (node: ts.Node): void => {
    const property = ts.isPropertyAssignment(node) || ts.isShorthandPropertyAssignment(node);
    if (property && !ts.isComputedPropertyName(node.name) && node.name.text === COMPUTE_LABEL) {
      found.push(`${at(node)}: a "${COMPUTE_LABEL}" key`);
    }
    if (ts.isStringLiteralLike(node) || ts.isTemplateLiteralToken(node)) {
      if (node.text === COMPUTE_LABEL || new RegExp(`\\b${COMPUTE_LABEL}=`).test(node.text)) {
        found.push(`${at(node)}: ${JSON.stringify(node.text)}`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

describe("the compute=cpu|gpu node label", () => {
  it(`is spelled only in ${OWNER}`, () => {
    const files = [
      ...sourceFiles(path.join(ROOT, "src")),
      ...sourceFiles(path.join(ROOT, "components")),
      path.join(ROOT, "index.ts"),
    ];
    const spellings = files
      .map((file) => path.relative(ROOT, file).split(path.sep).join("/"))
      .filter((file) => file !== OWNER)
      .flatMap((file) => labelSpellings(file, fs.readFileSync(path.join(ROOT, file), "utf8")));
    expect(spellings).toEqual([]);
  });

  it("the scan finds a second copy of the label, as a key, a selector string or a message", () => {
    const copy = [
      'const labels = { compute: "cpu" };',
      'const expression = { key: "compute", operator: "In", values: ["gpu"] };',
      "const message = `they are the compute=cpu pool`;",
      'const fine = { computeSlices: 1, compute_nodes: 2, "slurm-compute": 3 };',
    ].join("\n");
    expect(labelSpellings("copy.ts", copy)).toEqual([
      'copy.ts:1: a "compute" key',
      'copy.ts:2: "compute"',
      'copy.ts:3: "they are the compute=cpu pool"',
    ]);
  });

  it("reads as the key and value kubelet and kubectl use", () => {
    expect(computeLabel("cpu")).toEqual({ compute: "cpu" });
    expect(computeLabelText("gpu")).toBe("compute=gpu");
    expect(preferComputeAffinity("cpu")).toEqual({
      nodeAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          { weight: 100, preference: { matchExpressions: [{ key: "compute", operator: "In", values: ["cpu"] }] } },
        ],
      },
    });
  });

  it.each(SPECS)("%s: every node selector and compute affinity rendered matches a labelled node", (file) => {
    const loaded = loadSpecText(file, fs.readFileSync(path.join(ROOT, file), "utf8"));
    if (!loaded.ok) throw new Error(loaded.errors.map((e) => e.message).join("\n"));
    if (!loaded.spec.clusters.cloud) return;
    const plan = buildPlan({ spec: loaded.spec });
    const nodes = plan.vms.filter((vm) => vm.role.startsWith("k8s-")).map(nodeLabels);
    // GPU workers carry compute=gpu, CPU workers and the control plane compute=cpu.
    for (const vm of plan.vms.filter((v) => v.role.startsWith("k8s-"))) {
      expect(nodeLabels(vm)[COMPUTE_LABEL]).toBe(vm.gpus.length > 0 ? "gpu" : "cpu");
    }
    const selectors: Record<string, string>[] = [];
    const expressions: { key: string; values: string[] }[] = [];
    const walk = (value: unknown): void => {
      if (Array.isArray(value)) return value.forEach(walk);
      if (typeof value !== "object" || value === null) return;
      for (const [key, inner] of Object.entries(value)) {
        if (key === "nodeSelector" && typeof inner === "object" && inner !== null) {
          selectors.push(inner as Record<string, string>);
        }
        if (key === "matchExpressions") expressions.push(...(inner as { key: string; values: string[] }[]));
        walk(inner);
      }
    };
    walk(kubernetesWorkloads(loaded.spec, plan, MLOPS_SECRET_PLACEHOLDERS));
    walk(cpuPlacement(plan));
    expect(selectors.length + expressions.length).toBeGreaterThan(0);
    for (const selector of selectors) {
      const matches = (labels: Record<string, string>): boolean =>
        Object.entries(selector).every(([k, v]) => labels[k] === v);
      expect(nodes.some(matches), JSON.stringify(selector)).toBe(true);
    }
    for (const { key, values } of expressions.filter((e) => e.key === COMPUTE_LABEL)) {
      expect(
        nodes.some((labels) => values.includes(labels[key])),
        `${key} in ${values.join(",")}`,
      ).toBe(true);
    }
  });
});
