// The CLI under generated hostile inputs, one process per case with a hard timeout (see cli-fuzz.ts).
// FUZZ_CASES and FUZZ_SEED reproduce or widen a run; bench/fuzz.bench.ts runs more cases and prints figures.
import { describe, expect, it } from "vitest";
import * as fs from "node:fs";
import * as path from "node:path";
import { tempDir } from "../helpers";
import { describeReport, judge, runCase, runFuzz } from "./cli-fuzz";

const CASES = Number(process.env.FUZZ_CASES ?? 80);
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);

describe("CLI fuzzing (whole processes)", () => {
  it("the judge catches what it must (a stack, a hang, exit 70, a silent failure)", () => {
    const kase = { kind: "argv" as const, label: "x", files: {}, specials: [], args: [] };
    expect(judge(kase, 70, false, "", "hyperscaler: internal error: TypeError: x\n    at f (/a/b.js:1:2)")).toEqual([
      "exit code 70 (expected 0, 1 or 2)",
      "printed a stack trace",
      "reported an internal error",
    ]);
    expect(judge(kase, null, true, "", "")).toEqual(["did not finish within 10000 ms"]);
    expect(judge(kase, 1, false, "", "")).toEqual(["failed without a message"]);
    expect(judge(kase, 2, false, "", "hyperscaler: --out x: is a file")).toEqual([]);
  });

  it("a case that hangs is killed at its timeout and reported", async () => {
    const dir = tempDir("hs-fuzz-hang-");
    const entry = path.join(dir, "hang.js");
    fs.writeFileSync(entry, "setInterval(() => {}, 1000);\n");
    const started = Date.now();
    const result = await runCase(
      entry,
      { kind: "argv", label: "hang", files: {}, specials: ["fifo"], args: ["@/fifo"] },
      dir,
      500,
    );
    expect(result.timedOut).toBe(true);
    expect(result.problems).toContain("did not finish within 500 ms");
    expect(Date.now() - started).toBeLessThan(8000);
  });

  it(
    `${CASES} generated specs, snapshots, inventories, plans and argument vectors: exit 0/1/2 with a message, no ` +
      `stack, no hang`,
    async () => {
      const report = await runFuzz({ cases: CASES, seed: SEED, concurrency: 2 });
      console.log(describeReport(report));
      const failures = report.failures.map((f) => `${f.kase.label}: ${f.problems.join(", ")}\n${f.output}`);
      expect(failures, `seed ${SEED}`).toEqual([]);
      expect(report.cases).toBe(CASES);
    },
    600_000,
  );
});
