// Benchmark helpers: time repeated runs, print figures and ratios against a baseline from the same run.
import { spawnSync } from "node:child_process";
import * as path from "node:path";

export const ROOT = path.resolve(__dirname, "..");

export interface Figures {
  readonly label: string;
  readonly runs: number;
  readonly medianMs: number;
  readonly p99Ms: number;
  readonly minMs: number;
}

export function summarise(label: string, samples: number[]): Figures {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { label, runs: samples.length, medianMs: at(0.5), p99Ms: at(0.99), minMs: sorted[0] };
}

export function timeSync(runs: number, fn: () => void): number[] {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    fn();
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return samples;
}

/** Times a whole process (spawn to exit); fails loudly if the command does not exit as expected. */
export function timeProcess(runs: number, command: string, args: string[], expectCode = 0): number[] {
  return timeSync(runs, () => {
    const result = spawnSync(command, args, { cwd: ROOT, encoding: "utf8" });
    if (result.status !== expectCode)
      throw new Error(`${command} ${args.join(" ")} exited ${result.status}: ${result.stderr}`);
  });
}

export function report(figures: Figures, baseline?: Figures, target?: number): void {
  const ratio = baseline ? `  ${(figures.medianMs / baseline.medianMs).toFixed(2)}x ${baseline.label}` : "";
  const goal = target === undefined ? "" : `  target < ${target} ms: ${figures.medianMs < target ? "met" : "MISSED"}`;
  console.log(
    `${figures.label.padEnd(48)} median ${figures.medianMs.toFixed(1).padStart(8)} ms  p99 ` +
      `${figures.p99Ms.toFixed(1).padStart(8)} ms  min ${figures.minMs.toFixed(1).padStart(8)} ms  ` +
      `(n=${figures.runs})${ratio}${goal}`,
  );
}
