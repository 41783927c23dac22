// The /tmp guard is live: this run's temporary directory is its own (test/global-setup.ts), tempDir()
// directories are removed after each file (test/setup.ts), and the leftover check sees what a test leaves.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { leftoversIn } from "../global-setup";
import { removeTempDirs, tempDir } from "../helpers";

describe("temporary directory hygiene", () => {
  it("the run has a temporary directory of its own, inherited by spawned processes", async () => {
    expect(path.basename(os.tmpdir())).toMatch(/^hs-vitest-run-/);
    expect(path.dirname(os.tmpdir())).not.toBe(os.tmpdir());
    const { spawnSync } = await import("node:child_process");
    expect(spawnSync("mktemp", ["-u"], { encoding: "utf8" }).stdout.startsWith(os.tmpdir() + "/")).toBe(true);
  });

  it("tempDir() directories are removed by removeTempDirs() (run after every file)", () => {
    const dir = tempDir("hs-guard-");
    fs.writeFileSync(path.join(dir, "id_ed25519"), "private\n", { mode: 0o600 });
    expect(leftoversIn(os.tmpdir())).toContain(path.basename(dir));
    removeTempDirs();
    expect(fs.existsSync(dir)).toBe(false);
  });

  it("the leftover check names what is left and ignores tsx's compile cache", () => {
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "hs-guard-check-"));
    try {
      fs.mkdirSync(path.join(scratch, "tsx-0"));
      expect(leftoversIn(scratch)).toEqual([]);
      fs.mkdirSync(path.join(scratch, "hs-ssh-abc"));
      expect(leftoversIn(scratch)).toEqual(["hs-ssh-abc"]);
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  });
});
