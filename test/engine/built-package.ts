// The package as it ships: compiled by `tsc -p tsconfig.build.json` into dist/ (what `npm run build` and
// `prepare` do). Providers are serialized from there, not from the TypeScript the test runner transforms.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { ROOT } from "../helpers";

const DIST = path.join(ROOT, "dist");

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(full));
    else if (entry.name.endsWith(".ts")) newest = Math.max(newest, fs.statSync(full).mtimeMs);
  }
  return newest;
}

let built = false;

/** Builds dist/ when any source is newer than it; returns the path of a module inside dist. */
export function distModule(relative: string): string {
  const target = path.join(DIST, relative);
  if (!built) {
    const stale =
      !fs.existsSync(target) ||
      fs.statSync(target).mtimeMs <
        Math.max(
          newestSource(path.join(ROOT, "src")),
          newestSource(path.join(ROOT, "components")),
          ...fs.readdirSync(path.join(ROOT, "schemas")).map((f) => fs.statSync(path.join(ROOT, "schemas", f)).mtimeMs),
        );
    if (stale) {
      // What `npm run build` does: compile, then the ahead-of-time cluster.yaml validator (it embeds the schema).
      for (const step of [
        [path.join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"],
        [path.join(ROOT, "scripts/build-validator.js")],
      ]) {
        const result = spawnSync(process.execPath, step, { cwd: ROOT, encoding: "utf8" });
        if (result.status !== 0) throw new Error(`building the package failed:\n${result.stdout}${result.stderr}`);
      }
    }
    built = true;
  }
  return target;
}

/** Requires a compiled module of the package (dist), e.g. "src/providers/libvirt/index.js". */
export function requireBuilt<T>(relative: string): T {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(distModule(relative)) as T;
}
