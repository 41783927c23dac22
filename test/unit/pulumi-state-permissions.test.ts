// scripts/pulumi.ts and a pre-existing state: a passphrase file group/world can read is refused with the
// chmod fix (the user must know it may have leaked); a loose state directory is tightened to 700 with a
// warning; state or passphrase owned by another user, or of the wrong kind, is refused.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { passphraseEnv, secureStateDir, StateSecurityError } from "../../scripts/pulumi";
import { ROOT, tempDir } from "../helpers";

const dirs: string[] = [];
const fresh = (): string => {
  const dir = tempDir("hs-perm-");
  dirs.push(dir);
  return dir;
};
afterAll(() => dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

const saved = { pass: process.env.PULUMI_CONFIG_PASSPHRASE, file: process.env.PULUMI_CONFIG_PASSPHRASE_FILE };
beforeEach(() => {
  delete process.env.PULUMI_CONFIG_PASSPHRASE;
  delete process.env.PULUMI_CONFIG_PASSPHRASE_FILE;
});
afterEach(() => {
  if (saved.pass !== undefined) process.env.PULUMI_CONFIG_PASSPHRASE = saved.pass;
  else delete process.env.PULUMI_CONFIG_PASSPHRASE;
  if (saved.file !== undefined) process.env.PULUMI_CONFIG_PASSPHRASE_FILE = saved.file;
  else delete process.env.PULUMI_CONFIG_PASSPHRASE_FILE;
});

const mode = (file: string): number => fs.statSync(file).mode & 0o777;

describe("passphrase file permissions", () => {
  it.each([0o644, 0o640, 0o604, 0o660])(
    "a passphrase file with mode %o is refused with the chmod fix, and left as it is",
    (loose) => {
      const state = fresh();
      const file = path.join(state, "passphrase");
      fs.writeFileSync(file, "secret\n");
      fs.chmodSync(file, loose);
      expect(() => passphraseEnv(state)).toThrow(StateSecurityError);
      expect(() => passphraseEnv(state)).toThrow(
        new RegExp(
          `passphrase file ${file} is readable or writable by group/others \\(mode ` +
            `${loose.toString(8)}\\)[\\s\\S]*Fix: chmod 600 ${file}[\\s\\S]*change-secrets-provider`,
        ),
      );
      expect(mode(file)).toBe(loose);
    },
  );

  it("mode 600 and 400 are accepted", () => {
    for (const strict of [0o600, 0o400]) {
      const state = fresh();
      fs.writeFileSync(path.join(state, "passphrase"), "secret\n", { mode: strict });
      expect(passphraseEnv(state)).toEqual({ PULUMI_CONFIG_PASSPHRASE_FILE: path.join(state, "passphrase") });
    }
  });

  it("PULUMI_CONFIG_PASSPHRASE_FILE is held to the same rule", () => {
    const file = path.join(fresh(), "elsewhere");
    fs.writeFileSync(file, "secret\n", { mode: 0o644 });
    fs.chmodSync(file, 0o644);
    process.env.PULUMI_CONFIG_PASSPHRASE_FILE = file;
    expect(() => passphraseEnv(fresh())).toThrow(/mode 644/);
    fs.chmodSync(file, 0o600);
    expect(passphraseEnv(fresh())).toEqual({});
  });

  it("a passphrase file owned by another user, or a directory, is refused", () => {
    const state = fresh();
    const file = path.join(state, "passphrase");
    fs.writeFileSync(file, "secret\n", { mode: 0o600 });
    fs.chownSync(file, 65534, 65534);
    expect(() => passphraseEnv(state)).toThrow(/belongs to uid 65534, not to you/);
    const other = fresh();
    fs.mkdirSync(path.join(other, "passphrase"));
    expect(() => passphraseEnv(other)).toThrow(/is not a regular file/);
  });
});

describe("state directory permissions", () => {
  it("a state directory open to group/others is tightened to 700 with a warning", () => {
    const state = fresh();
    fs.chmodSync(state, 0o755);
    const warnings: string[] = [];
    secureStateDir(state, (text) => warnings.push(text));
    expect(mode(state)).toBe(0o700);
    expect(warnings).toEqual([
      `pulumi: warning: the state directory ${state} was open to group/others (mode 755); tightened to 700`,
    ]);
    secureStateDir(state, (text) => warnings.push(text));
    expect(warnings).toHaveLength(1);
  });

  it("a missing state directory is created 700; one owned by another user or a file is refused", () => {
    const state = path.join(fresh(), "new-state");
    secureStateDir(state, () => undefined);
    expect(mode(state)).toBe(0o700);
    fs.chownSync(state, 65534, 65534);
    expect(() => secureStateDir(state, () => undefined)).toThrow(/state directory .* belongs to uid 65534/);
    const file = path.join(fresh(), "state-file");
    fs.writeFileSync(file, "");
    expect(() => secureStateDir(file, () => undefined)).toThrow(/is not a directory/);
  });
});

describe("npm run up with a loose passphrase file (stand-in pulumi on PATH)", () => {
  it("exits 1 with the fix before Pulumi runs", () => {
    const dir = fresh();
    const bin = path.join(dir, "bin");
    fs.mkdirSync(bin);
    const log = path.join(dir, "calls.log");
    fs.writeFileSync(path.join(bin, "pulumi"), `#!/bin/sh\necho "$*" >> ${log}\nexit 0\n`, { mode: 0o755 });
    const state = path.join(dir, "state");
    fs.mkdirSync(state, { mode: 0o755 });
    fs.chmodSync(state, 0o755);
    fs.writeFileSync(path.join(state, "passphrase"), "secret\n");
    fs.chmodSync(path.join(state, "passphrase"), 0o644);
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}:${process.env.PATH}`, HYPERSCALER_STATE_DIR: state };
    delete env.PULUMI_CONFIG_PASSPHRASE;
    delete env.PULUMI_CONFIG_PASSPHRASE_FILE;
    const result = spawnSync(
      process.execPath,
      ["--import", "tsx", path.join(ROOT, "scripts/pulumi.ts"), "up", "--stack", "dev", "--skip-doctor"],
      { cwd: ROOT, encoding: "utf8", env },
    );
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      `the state directory ${state} was open to group/others (mode 755); tightened to 700`,
    );
    expect(result.stderr).toContain(`Fix: chmod 600 ${path.join(state, "passphrase")}`);
    expect(result.stderr).not.toMatch(/\n\s+at .*:\d+:\d+/);
    const calls = fs.existsSync(log)
      ? fs
          .readFileSync(log, "utf8")
          .trim()
          .split("\n")
          .filter((l) => !l.startsWith("version"))
      : [];
    expect(calls).toEqual([]);
  });
});
