// The CLI fuzz suite at a larger size (test/fuzz/cli-fuzz.ts): cases run, exit codes, stack traces,
// the slowest input. `node --import tsx bench/fuzz.bench.ts [CASES] [SEED]`.
import { describeReport, runFuzz } from "../test/fuzz/cli-fuzz";

export async function run(cases = 400, seed = 17): Promise<void> {
  console.log(`== CLI fuzz: ${cases} cases, one process each, ${10} s timeout per case ==`);
  const report = await runFuzz({ cases, seed, concurrency: 2 });
  console.log(describeReport(report));
  for (const failure of report.failures)
    console.log(`FAIL ${failure.kase.label}: ${failure.problems.join(", ")}\n${failure.output}`);
}

if (require.main === module) void run(Number(process.argv[2] ?? 400), Number(process.argv[3] ?? 17));
