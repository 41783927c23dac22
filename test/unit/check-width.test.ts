// scripts/check-width.ts: the line-width check `npm run format:check` runs after Prettier (which breaks
// code but never a string or a comment).
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { formattedFiles, wideLines } from "../../scripts/check-width";
import { ROOT, tempDir } from "../helpers";

describe("wideLines", () => {
  it.each([
    ["a line at the width", "x".repeat(10), []],
    ["a line one column over", "x".repeat(11), [{ line: 1, width: 11 }]],
    ["the right line number", ["short", "x".repeat(12), "short"].join("\n"), [{ line: 2, width: 12 }]],
    ["a long URL that cannot be split", `// see https://example.org/${"a".repeat(40)}`, []],
    ["long text next to a URL", `// ${"word ".repeat(4)} https://example.org/a`, [{ line: 1, width: 45 }]],
    ["wide characters measured as Prettier does (two columns each)", "界".repeat(6), [{ line: 1, width: 12 }]],
  ])("%s", (_name, text, expected) => {
    expect(wideLines(text, 10)).toEqual(expected);
  });
});

describe("formattedFiles", () => {
  it("takes Prettier's file set: code in, ignored paths and unknown file types out", async () => {
    const dir = tempDir("check-width-");
    fs.writeFileSync(path.join(dir, ".prettierignore"), "fixtures/\n");
    fs.writeFileSync(path.join(dir, ".gitignore"), "out/\n");
    for (const file of ["src/a.ts", "fixtures/b.ts", "out/c.js", "notes.weird", "node_modules/d/e.ts"]) {
      fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      fs.writeFileSync(path.join(dir, file), "export {};\n");
    }
    expect(await formattedFiles(dir)).toEqual(["src/a.ts"]);
  });

  it("on this repository: the sources are checked, the byte-compared fixtures are not", async () => {
    const files = await formattedFiles(ROOT);
    expect(files).toContain("scripts/check-width.ts");
    expect(files).toContain("eslint.config.mjs");
    expect(files.some((file) => file.startsWith("test/fixtures/"))).toBe(false);
    expect(files.some((file) => file.endsWith(".yaml"))).toBe(false);
  });
});
