// The npm run preview/up/destroy wrapper: argument parsing, the passphrase file, and a clean failure
// (with install instructions) where the Pulumi CLI is missing, as on our machines.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parseArgs, passphraseEnv, pulumiAvailable } from "../../scripts/pulumi";
import { ROOT, tempDir } from "../helpers";

describe("pulumi wrapper", () => {
  it("parses action, stack and extra arguments", () => {
    expect(parseArgs(["preview"])).toEqual({ action: "preview", stack: process.env.PULUMI_STACK ?? "dev", extra: [] });
    expect(parseArgs(["up", "--stack", "prod", "--yes"])).toEqual({ action: "up", stack: "prod", extra: ["--yes"] });
    expect(() => parseArgs(["apply"])).toThrow(/usage: npm run preview\|up\|destroy/);
    expect(() => parseArgs(["up", "--stack", "a b"])).toThrow(/is not valid/);
  });

  it("generates a passphrase file readable only by the user, once", () => {
    const dir = tempDir("hs-state-");
    const saved = { pass: process.env.PULUMI_CONFIG_PASSPHRASE, file: process.env.PULUMI_CONFIG_PASSPHRASE_FILE };
    delete process.env.PULUMI_CONFIG_PASSPHRASE;
    delete process.env.PULUMI_CONFIG_PASSPHRASE_FILE;
    try {
      const env = passphraseEnv(dir);
      const file = env.PULUMI_CONFIG_PASSPHRASE_FILE;
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      const first = fs.readFileSync(file, "utf8");
      expect(first.trim().length).toBeGreaterThanOrEqual(40);
      passphraseEnv(dir);
      expect(fs.readFileSync(file, "utf8")).toBe(first);
    } finally {
      if (saved.pass !== undefined) process.env.PULUMI_CONFIG_PASSPHRASE = saved.pass;
      if (saved.file !== undefined) process.env.PULUMI_CONFIG_PASSPHRASE_FILE = saved.file;
    }
  });

  it.skipIf(pulumiAvailable())("without the Pulumi CLI: says how to install it and exits non-zero", () => {
    const result = spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "scripts/pulumi.ts"), "preview"], { cwd: ROOT, encoding: "utf8" });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("the Pulumi CLI is not installed");
    expect(result.stderr).toContain("npx hyperscaler plan");
  });
});
