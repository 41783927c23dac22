// Kubernetes VMs' third-party apt sources (issue 15 bug 6): cloud-init runs write_files, then
// package_update (apt-get update), then runcmd. A source naming a keyring that only runcmd creates breaks
// package_update. Proven twice: on the real rendered user-data (stage order), and with the real apt-get
// against a local file:// repository signed by a key this test generates (no network).
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { buildPlan } from "../../src/plan";
import { aptRepositorySteps, type AptRepository } from "../../src/render/cloud-init/kubernetes";
import { renderAll } from "../../src/render/files";
import { cloudInitLayers } from "../../src/render/layers";
import { loadSpecText } from "../../src/spec/load";
import { ROOT, tempDir } from "../helpers";

/** Keyrings the Debian 12 cloud image ships (debian-archive-keyring). */
const BASE_IMAGE_KEYRINGS = ["/usr/share/keyrings/debian-archive-keyring.gpg"];

function sh(command: string, env: NodeJS.ProcessEnv = process.env): SpawnSyncReturns<string> {
  return spawnSync("/bin/sh", ["-c", command], { encoding: "utf8", env });
}

describe("apt sources on the rendered user-data: no source before its keyring", () => {
  const files = [
    "config/prod.yaml",
    "config/dev.yaml",
    ...fs.readdirSync(path.join(ROOT, "config/examples")).map((f) => `config/examples/${f}`),
  ];
  it.each(files)(
    "%s: what package_update sees names only keyrings that exist by then; runcmd creates each keyring before " +
      "its source",
    (file) => {
      const loaded = loadSpecText(file, fs.readFileSync(path.join(ROOT, file), "utf8"));
      if (!loaded.ok) throw new Error(file);
      const plan = buildPlan({ spec: loaded.spec });
      const rendered = renderAll(loaded.spec, plan, { layers: cloudInitLayers(loaded.spec, plan) });
      for (const vm of plan.vms) {
        const config = parse(rendered.get(`cloud-init/${vm.name}/user-data`)!) as {
          write_files?: { path: string; content: string }[];
          runcmd?: (string | string[])[];
          package_update?: boolean;
        };
        const written = config.write_files ?? [];
        // After write_files, before runcmd: the keyrings that exist.
        const existing = new Set([...BASE_IMAGE_KEYRINGS, ...written.map((f) => f.path)]);
        for (const source of written.filter((f) => f.path.startsWith("/etc/apt/sources.list.d/"))) {
          for (const keyring of [...source.content.matchAll(/signed-by=([^\s\]]+)|Signed-By: (\S+)/gi)].map(
            (m) => m[1] ?? m[2],
          )) {
            expect(
              existing.has(keyring),
              `${vm.name}: ${source.path} names ${keyring}, which does not exist when package_update runs`,
            ).toBe(true);
          }
        }
        // Each staged source is installed by a runcmd step that makes its keyring first.
        const commands = (config.runcmd ?? []).map((c) => (Array.isArray(c) ? c.join(" ") : c));
        for (const staged of written.filter((f) => f.path.startsWith("/etc/hyperscaler/apt/"))) {
          const keyring = /signed-by=([^\s\]]+)/.exec(staged.content)![1];
          const step = commands.find((c) => c.includes(staged.path))!;
          expect(step, `${vm.name}: nothing installs ${staged.path}`).toBeDefined();
          expect(step.indexOf(`-o ${keyring}`), `${vm.name}: keyring after source`).toBeLessThan(
            step.indexOf(`install -m 0644 ${staged.path}`),
          );
          expect(step.indexOf(`-o ${keyring}`)).toBeGreaterThan(0);
          // apt-get update runs only after the step that installs the source.
          expect(commands.indexOf(step)).toBeLessThan(commands.lastIndexOf("apt-get update"));
        }
      }
    },
  );
});

describe("apt accepts the staged sources once their keyring exists (real apt-get, local signed repository)", () => {
  let dir = "";
  let repoUrl = "";
  const gnupg = (): NodeJS.ProcessEnv => ({ ...process.env, GNUPGHOME: path.join(dir, "gnupg") });

  beforeAll(() => {
    for (const tool of ["gpg", "apt-get", "apt-ftparchive", "curl"])
      expect(sh(`command -v ${tool}`).status, `${tool} missing: .ci/run installs gnupg, apt-utils, curl`).toBe(0);
    dir = tempDir("hs-apt-");
    fs.mkdirSync(path.join(dir, "gnupg"), { mode: 0o700 });
    const gen = sh(
      "gpg --batch --passphrase '' --quick-gen-key 'hyperscaler apt test <apt-test@hyperscaler.invalid>' " +
        "rsa2048 sign 1d",
      gnupg(),
    );
    expect(gen.status, gen.stderr).toBe(0);
    // A flat repository for amd64, with `$(ARCH)` in its URI as NVIDIA's list uses.
    const arch = path.join(dir, "repo", "deb", "amd64");
    fs.mkdirSync(arch, { recursive: true });
    const build = sh(
      [
        `cd ${arch}`,
        "apt-ftparchive packages . > Packages",
        "apt-ftparchive release . > Release",
        "gpg --batch --yes --clearsign -o InRelease Release",
        `gpg --batch --yes --armor --export > ${path.join(dir, "repo", "Release.key")}`,
      ].join(" && "),
      gnupg(),
    );
    expect(build.status, build.stderr).toBe(0);
    repoUrl = `file://${path.join(dir, "repo")}`;
  });

  afterAll(() => {
    if (dir) {
      sh(`gpgconf --homedir ${path.join(dir, "gnupg")} --kill all`);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  function aptUpdate(root: string): SpawnSyncReturns<string> {
    for (const sub of [
      "etc/apt/sources.list.d",
      "etc/apt/apt.conf.d",
      "etc/apt/preferences.d",
      "etc/apt/trusted.gpg.d",
      "var/lib/apt/lists/partial",
      "var/cache/apt/archives/partial",
    ])
      fs.mkdirSync(path.join(root, sub), { recursive: true });
    if (!fs.existsSync(path.join(root, "etc/apt/sources.list")))
      fs.writeFileSync(path.join(root, "etc/apt/sources.list"), "");
    const options = [
      `Dir::Etc=${root}/etc/apt`,
      "Dir::Etc::sourcelist=sources.list",
      "Dir::Etc::sourceparts=sources.list.d",
      "Dir::Etc::parts=apt.conf.d",
      "Dir::Etc::preferencesparts=preferences.d",
      "Dir::Etc::trustedparts=trusted.gpg.d",
      `Dir::State=${root}/var/lib/apt`,
      `Dir::Cache=${root}/var/cache/apt`,
      "APT::Sandbox::User=root",
      "Debug::NoLocking=1",
      "Acquire::Languages=none",
      "APT::Architecture=amd64",
      "APT::Architectures=amd64",
    ].flatMap((o) => ["-o", o]);
    return spawnSync("apt-get", [...options, "update"], { encoding: "utf8" });
  }

  const repository = (): AptRepository => ({
    name: "kubernetes",
    source: `${repoUrl}/deb/$(ARCH) /`,
    keyUrl: `${repoUrl}/Release.key`,
  });

  it(
    "the staged order: package_update passes before the key exists, the install step adds key then source, apt " +
      "accepts it",
    () => {
      const root = path.join(dir, "staged");
      const steps = aptRepositorySteps(repository(), root);
      // write_files
      fs.mkdirSync(path.dirname(steps.staged.path), { recursive: true });
      fs.writeFileSync(steps.staged.path, steps.staged.content);
      // package_update
      const before = aptUpdate(root);
      expect(before.status, before.stdout + before.stderr).toBe(0);
      // runcmd
      const install = sh(steps.install);
      expect(install.status, install.stderr).toBe(0);
      expect(fs.existsSync(path.join(root, "etc/apt/keyrings/kubernetes.gpg"))).toBe(true);
      const after = aptUpdate(root);
      expect(after.status, after.stdout + after.stderr).toBe(0);
      expect(after.stdout + after.stderr).not.toMatch(/^(W|E):/m);
      expect(fs.readdirSync(path.join(root, "var/lib/apt/lists")).some((f) => f.includes("InRelease"))).toBe(true);
    },
  );

  it("the order the bug had (source in sources.list.d before its keyring exists) makes apt-get update fail", () => {
    const root = path.join(dir, "broken");
    const steps = aptRepositorySteps(repository(), root);
    fs.mkdirSync(path.join(root, "etc/apt/sources.list.d"), { recursive: true });
    fs.writeFileSync(path.join(root, "etc/apt/sources.list.d/kubernetes.list"), steps.staged.content);
    const result = aptUpdate(root);
    expect(result.status).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(/kubernetes\.gpg|NO_PUBKEY|not signed/);
  });

  it("a repository signed by another key is refused even after the install step", () => {
    const root = path.join(dir, "wrong-key");
    const other = path.join(dir, "other-key.asc");
    const otherHome = path.join(dir, "gnupg-other");
    fs.mkdirSync(otherHome, { mode: 0o700 });
    const env = { ...process.env, GNUPGHOME: otherHome };
    expect(
      sh("gpg --batch --passphrase '' --quick-gen-key 'other <other@hyperscaler.invalid>' rsa2048 sign 1d", env).status,
    ).toBe(0);
    expect(sh(`gpg --batch --armor --export > ${other}`, env).status).toBe(0);
    sh(`gpgconf --homedir ${otherHome} --kill all`);
    const steps = aptRepositorySteps({ ...repository(), keyUrl: `file://${other}` }, root);
    fs.mkdirSync(path.dirname(steps.staged.path), { recursive: true });
    fs.writeFileSync(steps.staged.path, steps.staged.content);
    expect(sh(steps.install).status).toBe(0);
    const result = aptUpdate(root);
    expect(result.stdout + result.stderr).toMatch(/NO_PUBKEY|not signed|signatures couldn't be verified/);
  });
});
