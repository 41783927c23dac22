// The duplicate-key check on a 1.3 MB cluster.yaml with 80,000 keys in one mapping (issue 17: 70 s).
// Before: yaml's own uniqueKeys check (each key compared with every earlier one, quadratic), timed once.
// After: the loader (one hash set per mapping). Baseline: parsing alone, without any duplicate check.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { LineCounter, parseDocument } from "yaml";
import { loadSpecFile } from "../src/spec/load";
import { parseSpecText } from "../src/spec/source";
import { report, summarise, timeSync } from "./lib";

export function manyKeysSpec(keys: number): string {
  const lines = [
    'version: "1.0"',
    "metadata:",
    "  name: many-keys",
    "  description: one mapping with many keys",
    "labels:",
  ];
  for (let i = 0; i < keys; i++) lines.push(`  k${i}: ${i}`);
  return lines.join("\n") + "\n";
}

export function run(keys = 80_000): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hs-bench-keys-"));
  try {
    const text = manyKeysSpec(keys);
    const file = path.join(dir, "many-keys.yaml");
    fs.writeFileSync(file, text);
    console.log(`== duplicate keys: ${keys.toLocaleString("en")} keys, ${(text.length / 1e6).toFixed(2)} MB ==`);
    const baseline = summarise(
      "parse only (no duplicate check)",
      timeSync(3, () => parseDocument(text, { uniqueKeys: false, lineCounter: new LineCounter() })),
    );
    report(baseline);
    report(
      summarise(
        "before: yaml uniqueKeys (quadratic), 1 run",
        timeSync(1, () => parseDocument(text, { uniqueKeys: true, lineCounter: new LineCounter() })),
      ),
      baseline,
    );
    report(
      summarise(
        "after: parseSpecText (hash set per mapping)",
        timeSync(3, () => parseSpecText(file, text)),
      ),
      baseline,
    );
    report(
      summarise(
        "after: whole loadSpecFile (read, parse, schema)",
        timeSync(3, () => loadSpecFile(file)),
      ),
      baseline,
    );
    const dup = text.replace("  k79999: 79999", "  k0: 79999");
    const found = parseSpecText(file, dup);
    console.log(`duplicate at the end found: ${!found.ok && found.diagnostics[0].message}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) run(Number(process.argv[2] ?? 80_000));
