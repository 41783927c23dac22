// A throwaway libvirt lab for tests and benchmarks: unique names, a pool in a temp directory, a small
// qcow2 base image made with qemu-img. Networks are defined, never started; domains likewise.
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { buildPlan } from "../../src/plan";
import type { Plan } from "../../src/plan/types";
import { loadSpecText } from "../../src/spec/load";
import type { ClusterSpec } from "../../src/spec/types";

export const URI = "qemu:///system";

export function virsh(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync("virsh", ["-q", "-c", URI, ...args], { encoding: "utf8" });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

export function libvirtReachable(): boolean {
  return virsh("version").code === 0;
}

export interface Lab {
  readonly prefix: string;
  readonly poolName: string;
  readonly poolPath: string;
  readonly baseFile: string;
  readonly baseSha256: string;
  readonly spec: ClusterSpec;
  readonly plan: Plan;
}

/** A prod-shaped plan renamed to a unique prefix, with bridges of its own so nothing collides. */
export function makeLab(root: string, specText: string, baseSizeGiB = 1): Lab {
  const prefix = `hst${randomBytes(3).toString("hex")}`;
  let text = specText
    .replace(/name: hs-prod/, `name: ${prefix}`)
    .replace(/virbr100/, `${prefix}a`)
    .replace(/virbr200/, `${prefix}b`);
  text = text
    .replace(/name: hs-dev/, `name: ${prefix}`)
    .replace(/virbr110/, `${prefix}a`)
    .replace(/virbr210/, `${prefix}b`);
  const loaded = loadSpecText("lab.yaml", text);
  if (!loaded.ok) throw new Error(loaded.errors.map((e) => e.message).join("\n"));
  // QEMU runs as libvirt-qemu: it must traverse the lab's directories to reach the pool and the backing file.
  fs.chmodSync(root, 0o755);
  const poolPath = fs.mkdtempSync(path.join(root, `${prefix}-pool-`));
  fs.chmodSync(poolPath, 0o755);
  const baseDir = fs.mkdtempSync(path.join(root, `${prefix}-base-`));
  fs.chmodSync(baseDir, 0o755);
  const baseFile = path.join(baseDir, "base.qcow2");
  const made = spawnSync("qemu-img", ["create", "-q", "-f", "qcow2", baseFile, `${baseSizeGiB}G`], {
    encoding: "utf8",
  });
  if (made.status !== 0) throw new Error(`qemu-img create failed: ${made.stderr}`);
  return {
    prefix,
    poolName: `${prefix}-pool`,
    poolPath,
    baseFile,
    baseSha256: createHash("sha256").update(fs.readFileSync(baseFile)).digest("hex"),
    spec: loaded.spec,
    plan: buildPlan({ spec: loaded.spec }),
  };
}

/** Everything libvirt holds whose name starts with the prefix. */
export function leftovers(prefix: string): string[] {
  const names = (args: string[]): string[] =>
    virsh(...args)
      .stdout.split("\n")
      .map((l) => l.trim().split(/\s+/)[0])
      .filter((n) => n && n.startsWith(prefix));
  const pools = names(["pool-list", "--all", "--name"]);
  const volumes = pools.flatMap((pool) => names(["vol-list", "--pool", pool]).map((v) => `${pool}/${v}`));
  return [
    ...names(["list", "--all", "--name"]).map((n) => `domain ${n}`),
    ...names(["net-list", "--all", "--name"]).map((n) => `network ${n}`),
    ...pools.map((p) => `pool ${p}`),
    ...volumes.map((v) => `volume ${v}`),
  ];
}

/** Removes whatever a failed test left (best effort), so one failure does not poison the next run. */
export function scrub(prefix: string): void {
  for (const name of virsh("list", "--all", "--name")
    .stdout.split("\n")
    .map((l) => l.trim())
    .filter((n) => n.startsWith(prefix))) {
    virsh("destroy", name);
    virsh("undefine", name);
  }
  for (const name of virsh("net-list", "--all", "--name")
    .stdout.split("\n")
    .map((l) => l.trim())
    .filter((n) => n.startsWith(prefix))) {
    virsh("net-destroy", name);
    virsh("net-undefine", name);
  }
  for (const pool of virsh("pool-list", "--all", "--name")
    .stdout.split("\n")
    .map((l) => l.trim())
    .filter((n) => n.startsWith(prefix))) {
    for (const volume of virsh("vol-list", "--pool", pool)
      .stdout.split("\n")
      .map((l) => l.trim().split(/\s+/)[0])
      .filter(Boolean))
      virsh("vol-delete", "--pool", pool, volume);
    virsh("pool-destroy", pool);
    virsh("pool-undefine", pool);
  }
}
