// Shared test helpers.
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import type { CliIO } from "../src/cli/output";

export const ROOT = path.resolve(__dirname, "..");
export const SAMPLES = path.join(ROOT, "test", "fixtures", "samples");

export function fixture(name: string): string {
  return fs.readFileSync(path.join(ROOT, "test", "fixtures", name), "utf8");
}

const madeByThisFile: string[] = [];

/** A fresh directory under the run's temporary directory, removed after the test file (test/setup.ts). */
export function tempDir(prefix = "hs-test-"): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  madeByThisFile.push(dir);
  return dir;
}

/** Removes every directory tempDir() made in this test file; test/setup.ts calls it in afterAll. */
export function removeTempDirs(): void {
  // Retries: a daemon a test just stopped (slurmctld on SIGTERM) may still be writing its last files.
  for (const dir of madeByThisFile.splice(0))
    fs.rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
}

/** Captures CLI output for in-process runs. */
export function captureIO(): CliIO & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (text) => stdout.push(text), err: (text) => stderr.push(text) };
}

/** 1-based line of the first line containing `marker`. */
export function lineOf(text: string, marker: string): number {
  const index = text.split("\n").findIndex((line) => line.includes(marker));
  if (index < 0) throw new Error(`marker ${JSON.stringify(marker)} not in text`);
  return index + 1;
}

/** A TCP port free on 127.0.0.1 right now (for daemons the tests start on loopback). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

/** One regular expression from parts (their sources joined in order), so a long pattern can span lines. */
export function joinedPattern(...parts: RegExp[]): RegExp {
  return new RegExp(parts.map((part) => part.source).join(""));
}
