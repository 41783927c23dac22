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
    expect(parseArgs(["preview"])).toEqual({
      action: "preview",
      stack: process.env.PULUMI_STACK ?? "dev",
      skipDoctor: false,
      extra: [],
    });
    expect(parseArgs(["up", "--stack", "prod", "--yes", "--skip-doctor"])).toEqual({
      action: "up",
      stack: "prod",
      skipDoctor: true,
      extra: ["--yes"],
    });
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

  // Offline here: the npm launcher cannot download the CLI. (On a connected machine it would, so skip there.)
  const online = spawnSync("getent", ["hosts", "get.pulumi.com"], { encoding: "utf8" }).status === 0;
  it.skipIf(pulumiAvailable() || online)(
    "without a CLI and without a network: the launcher's failure is explained, exit 1",
    () => {
      const home = tempDir("hs-pulumi-home-");
      const result = spawnSync(
        process.execPath,
        ["--import", "tsx", path.join(ROOT, "scripts/pulumi.ts"), "preview", "--skip-doctor"],
        { cwd: ROOT, encoding: "utf8", env: { ...process.env, PATH: "/usr/bin:/bin", PULUMI_HOME: home } },
      );
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(/the Pulumi CLI v3\.\d+\.\d+ could not be fetched by its npm launcher/);
      expect(result.stderr).toContain("npx hyperscaler plan");
      expect(result.stderr).not.toMatch(/\n\s+at .*:\d+:\d+/);
    },
  );
});

describe("pulumi wrapper with a stand-in CLI on PATH (the real one cannot be installed here)", () => {
  const KNOWN =
    "hs-dev-slurm-ctl,hs-dev-slurm-ctl.hpc-network.hs-dev.internal,192.168.110.10 ssh-ed25519 " +
    "AAAAC3NzaC1lZDI1NTE5AAAAIHZK9kdxpRi3GSti8MjwW5PYHNCI3B0jnviEzgeIBx5M";
  /** A `pulumi` that records its arguments and the backend environment it was given. */
  function standIn(): { bin: string; log: string; state: string } {
    const dir = tempDir("hs-fake-pulumi-");
    const log = path.join(dir, "calls.log");
    const bin = path.join(dir, "bin");
    fs.mkdirSync(bin);
    // `stack output knownHosts` answers as the real CLI would for a stack with one VM.
    fs.writeFileSync(
      path.join(bin, "pulumi"),
      `#!/bin/sh\necho "$* | backend=$PULUMI_BACKEND_URL | passfile=$PULUMI_CONFIG_PASSPHRASE_FILE" >> ${log}\n` +
        `case "$*" in "stack output knownHosts"*) echo "${KNOWN}";; esac\nexit 0\n`,
      { mode: 0o755 },
    );
    return { bin, log, state: path.join(dir, "state") };
  }
  const run = (args: string[], fake: { bin: string; state: string }) => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PATH: `${fake.bin}:${process.env.PATH}`,
      HYPERSCALER_STATE_DIR: fake.state,
    };
    delete env.PULUMI_CONFIG_PASSPHRASE;
    delete env.PULUMI_CONFIG_PASSPHRASE_FILE;
    return spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "scripts/pulumi.ts"), ...args], {
      cwd: ROOT,
      encoding: "utf8",
      env,
    });
  };

  it("runs doctor first and stops on FAIL without touching the stack", () => {
    const fake = standIn();
    const result = run(["up", "--stack", "dev"], fake);
    // No machine here has the dev spec's GPU at 0000:65:00.0, so doctor fails.
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/FAIL {2}gpu-GPU-0-present +GPU-0: no NVIDIA GPU at 0000:65:00\.0/);
    expect(result.stderr).toContain("doctor reported FAIL");
    expect(
      fs
        .readFileSync(fake.log, "utf8")
        .split("\n")
        .filter((l) => l && !l.startsWith("version")),
    ).toEqual([]);
  });

  it("selects or creates the stack on the local file backend, then previews with --diff", () => {
    const fake = standIn();
    const result = run(["preview", "--stack", "prod", "--skip-doctor", "--refresh"], fake);
    expect(result.status, result.stderr).toBe(0);
    const calls = fs
      .readFileSync(fake.log, "utf8")
      .trim()
      .split("\n")
      .filter((l) => !l.startsWith("version"));
    const backend = `backend=file://${fake.state}`;
    const passfile = `passfile=${path.join(fake.state, "passphrase")}`;
    expect(calls).toEqual([
      `stack select --create prod --non-interactive | ${backend} | ${passfile}`,
      `preview --diff --stack prod --refresh | ${backend} | ${passfile}`,
    ]);
    expect(fs.statSync(path.join(fake.state, "passphrase")).mode & 0o777).toBe(0o600);
  });

  it(
    "after a successful up, writes the stack's pinned host keys to <state>/<stack>.known_hosts and says how to " +
      "use it",
    () => {
      const fake = standIn();
      const result = run(["up", "--stack", "dev", "--skip-doctor", "--yes"], fake);
      expect(result.status, result.stderr).toBe(0);
      const calls = fs
        .readFileSync(fake.log, "utf8")
        .trim()
        .split("\n")
        .filter((l) => !l.startsWith("version"))
        .map((l) => l.split(" | ")[0]);
      expect(calls).toEqual([
        "stack select --create dev --non-interactive",
        "up --diff --stack dev --yes",
        "stack output knownHosts --stack dev",
      ]);
      const file = path.join(fake.state, "dev.known_hosts");
      expect(fs.readFileSync(file, "utf8")).toBe(`${KNOWN}\n`);
      expect(result.stderr).toContain(`--known-hosts ${path.relative(ROOT, file)}`);
    },
  );

  it("destroy skips doctor and runs pulumi destroy", () => {
    const fake = standIn();
    expect(run(["destroy", "--stack", "dev"], fake).status).toBe(0);
    expect(fs.readFileSync(fake.log, "utf8")).toContain("destroy --stack dev | backend=file://");
  });

  it(
    "without a CLI on PATH, runs the npm launcher's CLI (the dependency `pulumi`, cached in PULUMI_HOME: no " +
      "download)",
    () => {
      const fake = standIn();
      const version = (
        JSON.parse(fs.readFileSync(path.join(ROOT, "node_modules/pulumi/package.json"), "utf8")) as { version: string }
      ).version;
      const home = tempDir("hs-pulumi-home-");
      fs.mkdirSync(path.join(home, "versions", version, "bin"), { recursive: true });
      fs.copyFileSync(path.join(fake.bin, "pulumi"), path.join(home, "versions", version, "bin", "pulumi"));
      fs.chmodSync(path.join(home, "versions", version, "bin", "pulumi"), 0o755);
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        PATH: "/usr/bin:/bin",
        PULUMI_HOME: home,
        HYPERSCALER_STATE_DIR: fake.state,
      };
      delete env.PULUMI_CONFIG_PASSPHRASE;
      delete env.PULUMI_CONFIG_PASSPHRASE_FILE;
      const result = spawnSync(
        process.execPath,
        ["--import", "tsx", path.join(ROOT, "scripts/pulumi.ts"), "preview", "--stack", "dev", "--skip-doctor"],
        { cwd: ROOT, encoding: "utf8", env },
      );
      expect(result.status, result.stderr).toBe(0);
      const calls = fs
        .readFileSync(fake.log, "utf8")
        .split("\n")
        .filter((l) => l && !l.startsWith("version"));
      expect(calls[0]).toMatch(/^stack select --create dev --non-interactive/);
      expect(calls[1]).toMatch(/^preview --diff --stack dev/);
    },
  );

  it(
    "a role pinned to an image version the store does not hold stops before doctor and pulumi, saying how to fix " +
      "it",
    () => {
      const fake = standIn();
      const store = tempDir("hs-empty-store-");
      const spec = path.join(tempDir("hs-pinned-"), "pinned.yaml");
      fs.writeFileSync(
        spec,
        fs
          .readFileSync(path.join(ROOT, "config/dev.yaml"), "utf8")
          .replace(/^services:/m, "images: { roles: { slurm-compute: hpc@0000000000000001 } }\nservices:"),
      );
      const stack = path.join(ROOT, "stacks", "Pulumi.pinnedtest.yaml");
      fs.writeFileSync(stack, `config:\n  hyperscaler:clusterFile: ${path.relative(ROOT, spec)}\n`);
      try {
        const env: NodeJS.ProcessEnv = {
          ...process.env,
          PATH: `${fake.bin}:${process.env.PATH}`,
          HYPERSCALER_STATE_DIR: fake.state,
          HYPERSCALER_IMAGES_DIR: store,
        };
        const result = spawnSync(
          process.execPath,
          ["--import", "tsx", path.join(ROOT, "scripts/pulumi.ts"), "up", "--stack", "pinnedtest"],
          { cwd: ROOT, encoding: "utf8", env },
        );
        expect(result.status).toBe(1);
        expect(result.stderr).toContain("images.roles pins hpc@0000000000000001, which the image store");
        expect(result.stderr).toContain("npx hyperscaler image list");
        expect(
          fs
            .readFileSync(fake.log, "utf8")
            .split("\n")
            .filter((l) => l && !l.startsWith("version")),
        ).toEqual([]);
      } finally {
        fs.rmSync(stack, { force: true });
      }
    },
  );
});
