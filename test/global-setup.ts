// The /tmp guard: the whole run gets a temporary directory of its own (TMPDIR, which os.tmpdir(), mktemp
// and the tools the tests spawn honour), so what this run leaves is told apart from what other processes
// on the machine create. At the end, anything left in it fails the run with the names, and the directory
// is removed, so /tmp is left as it was either way.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** tsx's compile cache (tsx-<uid>), created by `node --import tsx` children: a cache, not a test's leftover. */
const CACHES = /^tsx-\d+$/;

export function leftoversIn(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((name) => !CACHES.test(name))
    .sort();
}

export default function setup(): () => void {
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), "hs-vitest-run-"));
  // libvirt's QEMU user must traverse it to reach pools and images the integration tests put below it.
  fs.chmodSync(runDir, 0o755);
  process.env.TMPDIR = runDir;
  return () => {
    const left = leftoversIn(runDir);
    fs.rmSync(runDir, { recursive: true, force: true });
    if (left.length > 0) {
      throw new Error(
        `the tests left ${left.length} entr${left.length === 1 ? "y" : "ies"} in the temporary directory ` +
          `(removed now): ${left.join(", ")}. Make temporary directories with tempDir() from test/helpers.ts ` +
          `(removed after each file) or remove them in afterAll.`,
      );
    }
  };
}
