// `npm ci` installs exactly the lock, and refuses it when a platform's optional build is missing from it
// (rollup ships one native package per platform): the lock must list them all, whichever machine wrote it.
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../helpers";

const lock = JSON.parse(fs.readFileSync(path.join(ROOT, "package-lock.json"), "utf8")) as {
  packages: Record<string, { optionalDependencies?: Record<string, string> }>;
};

describe("package-lock.json", () => {
  it("lists every optional dependency of every locked package (npm ci works on any platform)", () => {
    const missing: string[] = [];
    for (const [where, entry] of Object.entries(lock.packages)) {
      for (const name of Object.keys(entry.optionalDependencies ?? {})) {
        const nested = `${where}/node_modules/${name}`;
        if (!lock.packages[nested] && !lock.packages[`node_modules/${name}`])
          missing.push(`${name} (wanted by ${where || "the root"})`);
      }
    }
    expect(missing).toEqual([]);
  });
});
