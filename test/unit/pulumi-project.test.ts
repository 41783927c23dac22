// Pulumi.yaml names the program, so the language host runs the current source (not package.json's `main`,
// the library's compiled entry, which can be older than the source). The program is loaded here the way
// @pulumi/pulumi's language host loads a TypeScript program: its own choice of ts-node and compiler, and
// its ts-node options (cmd/run/run.js), in a fresh process.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { ROOT, tempDir } from "../helpers";

const project = parse(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as {
  main?: string;
  runtime: { name: string; options?: { typescript?: boolean } };
};

describe("the Pulumi project", () => {
  it("names its program (index.ts, TypeScript source), not package.json's main", () => {
    expect(project.runtime).toMatchObject({ name: "nodejs", options: { typescript: true } });
    expect(project.main).toBe("index.ts");
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { main: string };
    expect(pkg.main).not.toBe(project.main);
  });

  it("the language host's TypeScript loader runs the program from source: an edit reaches it without a build", () => {
    const script = `
      const tsutils = require("@pulumi/pulumi/tsutils");
      const { tsnodeRequire, typescriptRequire } = tsutils.typeScriptRequireStrings();
      require(tsnodeRequire).register({ compiler: typescriptRequire, project: "tsconfig.json", skipProject: false,
        compilerOptions: { target: "ES2020", module: "nodenext", moduleResolution: "nodenext", sourceMap: "true",
          ...tsutils.loadTypeScriptCompilerOptions("tsconfig.json") } });
      const program = require(require("path").resolve(process.argv[1]));
      const loaded = Object.keys(require.cache).map((f) => require("path").relative(process.cwd(), f))
        .filter((f) => !f.startsWith("node_modules"));
      process.stdout.write(JSON.stringify({ type: typeof program, loaded }));`;
    // ts-node keeps a compile cache; give it a directory the test removes.
    const env = { ...process.env, TS_NODE_CACHE_DIRECTORY: tempDir("hs-ts-node-") };
    const result = spawnSync(process.execPath, ["-e", script, project.main!], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 120_000,
      env,
    });
    expect(result.status, result.stderr).toBe(0);
    const { type, loaded } = JSON.parse(result.stdout) as { type: string; loaded: string[] };
    expect(type).toBe("function"); // `export = async () => buildStack(...)`
    expect(loaded).toContain("src/program/stack.ts");
    expect(loaded).toContain("components/virtual-machine.ts");
    expect(loaded.filter((f) => f.startsWith("dist/"))).toEqual([]);
  });
});
