// The package as a user gets it: `npm pack` (its `prepare` builds dist/), the tarball installed into a fresh
// project, every program under examples/ type-checked there against the installed package (imports by the
// package name only, through its `exports` and `types`), and the installed package run from plain Node:
// loadSpecFile + buildPlan on a config it ships (so `files` ships the schema, the validator, the catalog).
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ROOT, tempDir } from "../helpers";

const EXAMPLES = path.join(ROOT, "examples");
const examples = fs
  .readdirSync(EXAMPLES)
  .filter((name) => fs.existsSync(path.join(EXAMPLES, name, "index.ts")))
  .sort();
const TSC = path.join(ROOT, "node_modules/typescript/bin/tsc");

let project = "";
let scratch = "";

function run(command: string, args: string[], cwd: string): SpawnSyncReturns<string> {
  // npm's own scratch files go to a directory this file removes, never to the run's TMPDIR itself.
  const result = spawnSync(command, args, {
    cwd,
    encoding: "utf8",
    timeout: 300_000,
    env: { ...process.env, TMPDIR: scratch },
  });
  if (result.status !== 0)
    throw new Error(`${command} ${args.join(" ")} (in ${cwd}) failed:\n${result.stdout}\n${result.stderr}`);
  return result;
}

beforeAll(() => {
  const dir = tempDir("hs-pack-");
  scratch = path.join(dir, "scratch");
  fs.mkdirSync(scratch);
  const started = Date.now();
  run("npm", ["pack", "--pack-destination", dir], ROOT);
  const tarball = fs.readdirSync(dir).find((name) => name.endsWith(".tgz"));
  if (!tarball) throw new Error(`npm pack wrote no tarball to ${dir}`);
  project = path.join(dir, "project");
  fs.mkdirSync(project);
  fs.writeFileSync(
    path.join(project, "package.json"),
    JSON.stringify({ name: "example-user", version: "1.0.0", private: true }),
  );
  run(
    "npm",
    ["install", "--prefer-offline", "--no-audit", "--no-fund", path.join(dir, tarball), "@types/node@^20.19.0"],
    project,
  );
  process.stdout.write(`examples-pack: npm pack + install ${Date.now() - started} ms\n`);
}, 600_000);

describe("examples/ against the packed package", () => {
  it("there are at least two examples, each a Pulumi program with its own package.json and tsconfig", () => {
    expect(examples.length).toBeGreaterThanOrEqual(2);
    for (const name of examples) {
      for (const file of ["Pulumi.yaml", "package.json", "tsconfig.json", "README.md"])
        expect(fs.existsSync(path.join(EXAMPLES, name, file)), `${name}/${file}`).toBe(true);
      const source = fs.readFileSync(path.join(EXAMPLES, name, "index.ts"), "utf8");
      // A user's imports: the package by name, nothing from this repository's tree.
      const imports = [...source.matchAll(/from\s+"([^"]+)"/g)].map((m) => m[1]);
      expect(imports, name).toEqual(imports.map(() => "hyperscaler-workstation"));
    }
  });

  it.each(examples)("%s type-checks against the installed tarball", (name) => {
    const target = path.join(project, name);
    fs.cpSync(path.join(EXAMPLES, name), target, { recursive: true });
    const started = Date.now();
    const result = spawnSync(process.execPath, [TSC, "-p", path.join(target, "tsconfig.json"), "--noEmit"], {
      cwd: target,
      encoding: "utf8",
      timeout: 300_000,
    });
    process.stdout.write(`examples-pack: ${name} compiled in ${Date.now() - started} ms\n`);
    expect(result.status, result.stdout + result.stderr).toBe(0);
  });

  it("the installed package loads in plain Node and plans a config it ships", () => {
    const script = `
      const lib = require("hyperscaler-workstation");
      const path = require("node:path");
      const root = path.dirname(require.resolve("hyperscaler-workstation/package.json"));
      const loaded = lib.loadSpecFile(path.join(root, "config/dev.yaml"));
      if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
      const plan = lib.buildPlan({ spec: loaded.spec });
      const roles = { ...loaded.spec.images.roles, "slurm-compute": "catalog" };
      const image = lib.roleImage({ ...loaded.spec, images: { ...loaded.spec.images, roles } }, "slurm-compute");
      let deep = "exported";
      try { require("hyperscaler-workstation/dist/src/plan"); } catch (error) { deep = error.code; }
      process.stdout.write(JSON.stringify({ exports: Object.keys(lib).length, feasible: plan.feasible,
        vms: plan.vms.length, image: image.disk.name, deep,
        components: typeof lib.SlurmCluster, stack: typeof lib.buildStack, root }));`;
    const result = spawnSync(process.execPath, ["-e", script], { cwd: project, encoding: "utf8", timeout: 60_000 });
    expect(result.status, result.stderr).toBe(0);
    const facts = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(facts).toMatchObject({
      feasible: true,
      vms: 4,
      image: "debian-12",
      deep: "ERR_PACKAGE_PATH_NOT_EXPORTED",
      components: "function",
      stack: "function",
    });
    expect(String(facts.root).startsWith(path.join(project, "node_modules"))).toBe(true);
    expect(facts.exports).toBeGreaterThan(40);
  });
});
