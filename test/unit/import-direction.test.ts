// Imports run one way. Every import, export-from, require() and import() in src/, components/ and index.ts
// is read with the TypeScript compiler (ts.preProcessFile, resolved by ts.resolveModuleName), each file is
// mapped to its layer, and any edge from a layer to a layer on its right fails, as does any import cycle
// between folders (same-layer folders may import each other, but only one way).
import * as fs from "node:fs";
import * as path from "node:path";
import * as ts from "typescript";
import { describe, expect, it } from "vitest";
import { ROOT } from "../helpers";

interface Layer {
  readonly name: string;
  /** Top-level folders (src/<x>, components) or root files (index.ts, src/index.ts). */
  readonly units: readonly string[];
}

/**
 * The layers, left (bottom) to right (top). A file may import from its own layer and from layers to its
 * left, never from one to its right. The order is the order data flows in (DESIGN.md section 3): facts
 * and the user's spec come first, the host is probed, the GPUs are divided, a plan is made from spec and
 * host, the plan is checked and rendered to text, the text becomes resources, and a program or the CLI
 * drives it all. A layer that needed one to its right would make that layer unusable without the whole
 * stack above it, which is what keeps the pure functions importable alone. This table is the one place
 * the order is written (README "Where code lives" lists it for readers).
 */
export const LAYERS: readonly Layer[] = [
  // Helpers without domain knowledge (IPv4 arithmetic, reading a file a user named).
  { name: "util", units: ["src/util"] },
  // Fixed facts about the outside world, each with one owner: the GPU catalog, vGPU sizes, pinned chart
  // and Kubernetes versions, the golden image definitions, node labels. Every layer reads them.
  { name: "facts", units: ["src/facts"] },
  // What the user asked for: cluster.yaml, and the JSON inputs a user names, with positioned diagnostics.
  { name: "spec", units: ["src/spec"] },
  // What the machine has: the hardware probe (live or replayed) and the golden image store on its disk.
  { name: "host", units: ["src/host", "src/images"] },
  // How a host's GPUs can be divided (MIG placement solver, effective profiles).
  { name: "gpu", units: ["src/gpu"] },
  // spec + host -> Plan: pure and deterministic.
  { name: "plan", units: ["src/plan"] },
  // Questions asked of a plan before anything is applied: can this host run it (doctor).
  { name: "preflight", units: ["src/preflight"] },
  // Plan -> text: libvirt XML, cloud-init, slurm.conf, kubeadm configs, manifests, plan reports.
  { name: "render", units: ["src/render"] },
  // Rendered text becomes resources; what a change would replace; checks of a running cluster.
  { name: "providers/components", units: ["src/providers", "components", "src/preview", "src/verify"] },
  // Entry points that drive everything: the stack program, the CLI, the package's public API.
  { name: "program/cli", units: ["src/program", "src/cli", "index.ts", "src/index.ts"] },
];

export interface ImportEdge {
  /** Repository-relative paths, "/"-separated. */
  readonly from: string;
  readonly to: string;
}

/** The folder (or root file) a file belongs to: src/<x>, components, index.ts, src/index.ts; null outside. */
export function unitOf(file: string): string | null {
  const parts = file.split("/");
  if (parts.length === 1) return file === "index.ts" ? file : null;
  if (parts[0] === "components") return "components";
  if (parts[0] === "src") return parts.length === 2 ? file : `src/${parts[1]}`;
  return null;
}

function layerOf(unit: string, layers: readonly Layer[]): number {
  return layers.findIndex((layer) => layer.units.includes(unit));
}

/** One message per edge that points right, or that leaves the layered code, or whose folder has no layer. */
export function layerViolations(edges: readonly ImportEdge[], layers: readonly Layer[] = LAYERS): string[] {
  const problems: string[] = [];
  const addIt = `add it to LAYERS (${path.basename(__filename)})`;
  for (const { from, to } of edges) {
    const fromUnit = unitOf(from);
    const toUnit = unitOf(to);
    if (fromUnit === null) continue;
    const fromLayer = layerOf(fromUnit, layers);
    if (fromLayer < 0) {
      problems.push(`${from} is in folder ${fromUnit}, which is in no layer: ${addIt}`);
      continue;
    }
    if (toUnit === null) {
      if (/\.tsx?$/.test(to)) {
        problems.push(`${from} imports ${to}: library code may not import test, bench or scripts code`);
      }
      continue;
    }
    const toLayer = layerOf(toUnit, layers);
    if (toLayer < 0) {
      problems.push(`${from} imports ${to}, whose folder ${toUnit} is in no layer: ${addIt}`);
    } else if (toLayer > fromLayer) {
      const [mine, theirs] = [layers[fromLayer].name, layers[toLayer].name];
      problems.push(`${from} imports ${to}: layer ${mine} may not import layer ${theirs}`);
    }
  }
  return [...new Set(problems)];
}

/** Folders that import each other, directly or round a loop: one message per strongly connected set. */
export function folderCycles(edges: readonly ImportEdge[]): string[] {
  const graph = new Map<string, Map<string, ImportEdge>>();
  for (const edge of edges) {
    const a = unitOf(edge.from);
    const b = unitOf(edge.to);
    if (a === null || b === null || a === b) continue;
    if (!graph.has(a)) graph.set(a, new Map());
    if (!graph.has(b)) graph.set(b, new Map());
    if (!graph.get(a)!.has(b)) graph.get(a)!.set(b, edge);
  }
  // Tarjan's strongly connected components.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const components: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, index.size);
    low.set(node, index.get(node)!);
    stack.push(node);
    for (const next of graph.get(node)!.keys()) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (stack.includes(next)) {
        low.set(node, Math.min(low.get(node)!, index.get(next)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      for (let member = stack.pop(); member !== undefined; member = member === node ? undefined : stack.pop()) {
        component.push(member);
      }
      if (component.length > 1) components.push(component.sort());
    }
  };
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) visit(node);
  return components.map((members) => {
    const inside = members.flatMap((a) =>
      [...graph.get(a)!].filter(([b]) => members.includes(b)).map(([, e]) => `${e.from} imports ${e.to}`),
    );
    return `import cycle between folders ${members.join(", ")}: ${inside.sort().join("; ")}`;
  });
}

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return filesUnder(full);
    return /\.tsx?$/.test(entry.name) ? [full] : [];
  });
}

/** Every import edge of the layered code, read and resolved by the TypeScript compiler. */
export function importEdges(root: string = ROOT): { edges: ImportEdge[]; unresolved: string[] } {
  const configFile = ts.readConfigFile(path.join(root, "tsconfig.json"), (file) => ts.sys.readFile(file));
  const options = ts.parseJsonConfigFileContent(configFile.config, ts.sys, root).options;
  const files = [
    ...filesUnder(path.join(root, "src")),
    ...filesUnder(path.join(root, "components")),
    path.join(root, "index.ts"),
  ];
  const relative = (file: string): string => path.relative(root, file).split(path.sep).join("/");
  const edges: ImportEdge[] = [];
  const unresolved: string[] = [];
  for (const file of files) {
    const info = ts.preProcessFile(fs.readFileSync(file, "utf8"), true, true);
    for (const { fileName } of info.importedFiles) {
      const resolved = ts.resolveModuleName(fileName, file, options, ts.sys).resolvedModule;
      if (resolved === undefined) {
        // A package that is not installed is tsc's business; a relative path that goes nowhere is a bug here.
        if (fileName.startsWith(".")) unresolved.push(`${relative(file)} imports ${fileName}, which does not resolve`);
        continue;
      }
      if (resolved.isExternalLibraryImport) continue;
      edges.push({ from: relative(file), to: relative(resolved.resolvedFileName) });
    }
  }
  return { edges, unresolved };
}

describe("imports run one way", () => {
  const { edges, unresolved } = importEdges();

  it("reads the real import graph (every layered folder, relative imports resolved)", () => {
    expect(unresolved).toEqual([]);
    // The reader sees the stack program's imports: a parser that found nothing would pass everything.
    expect(edges).toContainEqual({ from: "index.ts", to: "src/index.ts" });
    expect(edges).toContainEqual({ from: "src/index.ts", to: "src/program/stack.ts" });
    const units = new Set(edges.map((edge) => unitOf(edge.from)));
    for (const unit of ["src/spec", "src/host", "src/plan", "src/render", "components", "src/cli"]) {
      expect(units).toContain(unit);
    }
  });

  it("no file imports a layer to the right of its own", () => {
    expect(layerViolations(edges)).toEqual([]);
  });

  it("no two folders import each other, directly or round a loop", () => {
    expect(folderCycles(edges)).toEqual([]);
  });

  it("every folder of src/ is in a layer", () => {
    const units = fs
      .readdirSync(path.join(ROOT, "src"), { withFileTypes: true })
      .filter((entry) => entry.isDirectory() || entry.name.endsWith(".ts"))
      .map((entry) => `src/${entry.name}`);
    expect(units.filter((unit) => layerOf(unit, LAYERS) < 0)).toEqual([]);
  });
});

describe('README\'s "Where code lives"', () => {
  it("lists every layer's existing folders, in the order of LAYERS", () => {
    const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
    const start = readme.indexOf("## Where code lives");
    expect(start, 'README.md has a "## Where code lives" section').toBeGreaterThanOrEqual(0);
    const section = readme.slice(start, readme.indexOf("\n## ", start + 1));
    const listed = LAYERS.flatMap((layer, order) =>
      layer.units
        .filter((unit) => fs.existsSync(path.join(ROOT, unit)))
        .map((unit) => ({ unit, order, at: section.indexOf(`\`${unit}\``) })),
    );
    expect(listed.filter((entry) => entry.at < 0).map((entry) => entry.unit)).toEqual([]);
    const byPosition = [...listed].sort((a, b) => a.at - b.at);
    expect(byPosition.map((entry) => entry.unit)).toEqual(listed.map((entry) => entry.unit));
  });
});

describe("the import-direction check itself", () => {
  it("reports an import into a layer to the right, naming both files and both layers", () => {
    const edges = [
      { from: "src/render/plan-text.ts", to: "src/cli/table.ts" },
      { from: "src/cli/plan.ts", to: "src/render/plan-text.ts" },
      { from: "src/spec/rules/gpus.ts", to: "src/facts/gpu-catalog.ts" },
    ];
    expect(layerViolations(edges)).toEqual([
      "src/render/plan-text.ts imports src/cli/table.ts: layer render may not import layer program/cli",
    ]);
  });

  it("reports a folder that is in no layer, and library code that imports tests", () => {
    expect(layerViolations([{ from: "src/newthing/a.ts", to: "src/util/ipv4.ts" }])[0]).toMatch(
      /^src\/newthing\/a\.ts is in folder src\/newthing, which is in no layer/,
    );
    expect(layerViolations([{ from: "src/plan/a.ts", to: "test/helpers.ts" }])).toEqual([
      "src/plan/a.ts imports test/helpers.ts: library code may not import test, bench or scripts code",
    ]);
    // Data files (package.json, schemas) are not code and sit in no layer.
    expect(layerViolations([{ from: "src/spec/schema.ts", to: "schemas/cluster.schema.json" }])).toEqual([]);
  });

  it("reports folders that import each other, even within one layer or round a loop of three", () => {
    expect(
      folderCycles([
        { from: "src/host/probe.ts", to: "src/gpu/catalog.ts" },
        { from: "src/gpu/profiles.ts", to: "src/host/types.ts" },
        { from: "src/host/types.ts", to: "src/host/probe.ts" },
      ]),
    ).toEqual([
      "import cycle between folders src/gpu, src/host: " +
        "src/gpu/profiles.ts imports src/host/types.ts; src/host/probe.ts imports src/gpu/catalog.ts",
    ]);
    const loop = folderCycles([
      { from: "src/providers/a.ts", to: "components/b.ts" },
      { from: "components/b.ts", to: "src/verify/c.ts" },
      { from: "src/verify/c.ts", to: "src/providers/d.ts" },
      { from: "src/verify/c.ts", to: "src/plan/types.ts" },
    ]);
    expect(loop).toHaveLength(1);
    expect(loop[0]).toMatch(/^import cycle between folders components, src\/providers, src\/verify: /);
    expect(folderCycles([{ from: "src/cli/a.ts", to: "src/spec/b.ts" }])).toEqual([]);
  });
});
