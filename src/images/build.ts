// Builds a golden image: mmdebstrap (minbase, the host's apt mirror) into a directory, the recipe's
// clean-up (no host keys, no machine-id, no munge key, NoCloud only, daemons off until cloud-init
// enables the node's own), then `mkfs.ext4 -d` on a sparse file and `qemu-img convert` to qcow2: no
// loop device. The kernel and initrd are copied beside the disk for direct kernel boot.
import { spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { resolveImage, type OptionalRepository, type ResolvedImage } from "../facts/golden-images";
import { buildSources, formatSource, type AptSource } from "./mirror";
import { DEFAULT_KEEP, DISK_FILE, findImage, MANIFEST_FILE, pruneVersions, sha256File, versionDir, type ImageManifest, type StoredImage } from "./store";

/**
 * What the build does to the root besides installing packages. Part of the version digest: changing the
 * recipe makes a new version.
 */
export const RECIPE = {
  revision: 1,
  variant: "minbase",
  /** Virtual size of the root filesystem; VM disks (overlays) grow it, cloud-init's resizefs fills them. */
  diskGiB: 3,
  cmdline: "root=/dev/vda rw console=ttyS0 net.ifnames=0",
  remove: ["etc/ssh/ssh_host_*", "etc/munge/munge.key", "var/lib/dbus/machine-id", "etc/hostname"],
  emptied: ["etc/machine-id"],
  files: {
    "etc/cloud/cloud.cfg.d/90-hyperscaler.cfg": "# Golden image: seeds come from a NoCloud ISO; never probe cloud metadata services.\ndatasource_list: [ NoCloud, None ]\n",
    "etc/fstab": "/dev/vda / ext4 defaults,discard,errors=remount-ro 0 1\n",
  } as Record<string, string>,
  /** Enabled on first boot by cloud-init on the nodes that run them (they fail without their config). */
  disabled: ["slurmctld", "slurmd", "munge"],
  /**
   * SysV scripts dropped where a native systemd unit exists: with them, every `systemctl enable` runs
   * systemd-sysv-install (perl), which takes most of a minute per unit under emulation.
   */
  sysvDropped: ["munge", "slurmd", "slurmctld", "chrony", "qemu-guest-agent"],
} as const;

export interface BuildOptions {
  readonly name: string;
  readonly imagesDir: string;
  readonly mirror?: string;
  /** Versions of this image to keep, the new one included. */
  readonly keep?: number;
  /** Rebuild even when a version with these inputs exists. */
  readonly force?: boolean;
  readonly log?: (line: string) => void;
  /** apt config root (tests point it at a fixture). */
  readonly aptRoot?: string;
  /** Reachability probe for optional repositories (tests replace it). */
  readonly reachable?: (url: string) => Promise<boolean>;
}

export interface BuildResult {
  readonly image: StoredImage;
  readonly reused: boolean;
  readonly seconds: number;
  readonly pruned: string[];
}

export interface BuildInputs {
  readonly image: ResolvedImage;
  readonly sources: readonly AptSource[];
  readonly repositories: readonly { readonly repository: OptionalRepository; readonly reachable: boolean }[];
}

/** The version: a digest of everything that decides the image's content. */
export function inputsVersion(inputs: BuildInputs): string {
  const canonical = JSON.stringify({ recipe: RECIPE, image: inputs.image, sources: inputs.sources.map(formatSource), repositories: inputs.repositories });
  return crypto.createHash("sha256").update(canonical).digest("hex").slice(0, 16);
}

export async function urlReachable(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { method: "HEAD", signal: AbortSignal.timeout(5000) });
    return response.ok;
  } catch {
    return false;
  }
}

export async function buildInputs(options: Pick<BuildOptions, "name" | "mirror" | "aptRoot" | "reachable">): Promise<BuildInputs> {
  const image = resolveImage(options.name);
  const sources = buildSources(image.suite, options.mirror, options.aptRoot);
  const probe = options.reachable ?? urlReachable;
  const repositories = await Promise.all(image.optionalRepositories.map(async (repository) => ({ repository, reachable: await probe(repository.key_url) })));
  return { image, sources, repositories };
}

function run(command: string, args: readonly string[], log: (line: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let tail = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => {
      const text = chunk.toString();
      tail = (tail + text).slice(-4000);
      for (const line of text.split("\n")) if (line.trim()) log(`  ${command}: ${line.trim()}`);
    });
    child.on("error", (error) => reject(new Error(`${command} could not start: ${error.message}${(error as NodeJS.ErrnoException).code === "ENOENT" ? ` (install the Debian package that provides ${command})` : ""}`)));
    child.on("close", (code) => (code === 0 ? resolve(stdout) : reject(new Error(`${command} ${args.slice(0, 3).join(" ")} ... failed with exit code ${code}:\n${tail.trim()}`))));
  });
}

function removeGlob(root: string, pattern: string): void {
  const dir = path.join(root, path.dirname(pattern));
  const base = path.basename(pattern);
  if (!fs.existsSync(dir)) return;
  const regex = new RegExp(`^${base.replace(/[.+]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`);
  for (const entry of fs.readdirSync(dir)) if (regex.test(entry)) fs.rmSync(path.join(dir, entry), { force: true });
}

/** Applies RECIPE to the root directory. */
export async function customizeRoot(root: string, log: (line: string) => void): Promise<void> {
  for (const pattern of RECIPE.remove) removeGlob(root, pattern);
  for (const file of RECIPE.emptied) fs.writeFileSync(path.join(root, file), "");
  for (const [file, content] of Object.entries(RECIPE.files)) {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), content);
  }
  for (const unit of RECIPE.sysvDropped) {
    if (!fs.existsSync(path.join(root, "lib/systemd/system", `${unit}.service`))) continue;
    fs.rmSync(path.join(root, "etc/init.d", unit), { force: true });
    for (const level of ["0", "1", "2", "3", "4", "5", "6", "S"]) removeGlob(root, `etc/rc${level}.d/[SK]??${unit}`);
  }
  const units = RECIPE.disabled.filter((unit) => fs.existsSync(path.join(root, "lib/systemd/system", `${unit}.service`)));
  // The image's own systemctl, offline in a chroot: the build host needs no systemd.
  if (units.length) await run("chroot", [root, "systemctl", "disable", ...units], log);
}

/** name -> version of every installed package, read from the root's dpkg database. */
export async function installedPackages(root: string, log: (line: string) => void): Promise<Record<string, string>> {
  const text = await run("dpkg-query", [`--admindir=${path.join(root, "var/lib/dpkg")}`, "-W", "-f=${db:Status-Status}\t${Package}\t${Version}\n"], log);
  const packages: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const [status, name, version] = line.split("\t");
    if (status === "installed") packages[name] = version;
  }
  return Object.fromEntries(Object.entries(packages).sort(([a], [b]) => a.localeCompare(b)));
}

function duBytes(root: string): number {
  let total = 0;
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) total += fs.lstatSync(full).size;
    }
  };
  walk(root);
  return total;
}

/** Builds `name`, or returns the stored version when one was built from the same inputs. */
export async function buildImage(options: BuildOptions): Promise<BuildResult> {
  const started = Date.now();
  const log = options.log ?? (() => undefined);
  const inputs = await buildInputs(options);
  const version = inputsVersion(inputs);
  const existing = findImage(options.imagesDir, `${options.name}@${version}`);
  if (existing && !options.force && Object.entries(existing.manifest.files).every(([file, f]) => fs.existsSync(path.join(existing.dir, file)) && fs.statSync(path.join(existing.dir, file)).size === f.bytes)) {
    log(`image ${options.name}@${version}: inputs unchanged, reusing ${existing.diskPath}`);
    return { image: existing, reused: true, seconds: (Date.now() - started) / 1000, pruned: [] };
  }

  const target = versionDir(options.imagesDir, options.name, version);
  const work = `${target}.partial-${process.pid}`;
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true, mode: 0o755 });
  const root = path.join(work, "root");
  try {
    const include = [...inputs.image.packages];
    const omitted: ImageManifest["omitted"][number][] = [];
    const extraSources: string[] = [];
    for (const { repository, reachable } of inputs.repositories) {
      if (!reachable) {
        omitted.push({ packages: repository.packages, reason: `repository ${repository.name} (${repository.key_url}) was not reachable from the build host` });
        continue;
      }
      const key = path.join(work, `${repository.name}.asc`);
      const response = await fetch(repository.key_url, { signal: AbortSignal.timeout(30_000) });
      if (!response.ok) throw new Error(`repository ${repository.name}: signing key ${repository.key_url}: HTTP ${response.status}`);
      fs.writeFileSync(key, await response.text());
      extraSources.push(`deb [signed-by=${key}] ${repository.url} ${repository.suite}`);
      include.push(...repository.packages);
    }
    log(`image ${options.name}@${version}: mmdebstrap ${inputs.image.suite} (${include.length} packages) from ${inputs.sources.map((s) => s.uri).join(", ")}`);
    await run("mmdebstrap", [
      "--mode=root", `--variant=${RECIPE.variant}`, `--include=${include.join(",")}`, "--aptopt=Acquire::Retries \"3\"",
      inputs.image.suite, root, ...inputs.sources.map(formatSource), ...extraSources,
    ], log);
    await customizeRoot(root, log);
    const packages = await installedPackages(root, log);
    const kernels = fs.readdirSync(path.join(root, "boot")).filter((f) => f.startsWith("vmlinuz-")).sort();
    if (kernels.length === 0) throw new Error(`image ${options.name}: no kernel in /boot (does a layer include a linux-image package?)`);
    const kernelVersion = kernels[kernels.length - 1].slice("vmlinuz-".length);
    fs.copyFileSync(path.join(root, "boot", `vmlinuz-${kernelVersion}`), path.join(work, "vmlinuz"));
    fs.copyFileSync(path.join(root, "boot", `initrd.img-${kernelVersion}`), path.join(work, "initrd.img"));
    const rootfsBytes = duBytes(root);

    const raw = path.join(work, "disk.raw");
    fs.writeFileSync(raw, "");
    fs.truncateSync(raw, RECIPE.diskGiB * 1024 ** 3);
    log(`image ${options.name}@${version}: mkfs.ext4 -d and qemu-img convert`);
    await run("mkfs.ext4", ["-q", "-F", "-L", "root", "-d", root, raw], log);
    await run("qemu-img", ["convert", "-O", "qcow2", raw, path.join(work, DISK_FILE)], log);
    fs.rmSync(raw);
    fs.rmSync(root, { recursive: true, force: true });

    const files: Record<string, { sha256: string; bytes: number }> = {};
    for (const file of [DISK_FILE, "vmlinuz", "initrd.img"]) {
      const full = path.join(work, file);
      fs.chmodSync(full, 0o644);
      files[file] = { sha256: await sha256File(full), bytes: fs.statSync(full).size };
    }
    const manifest: ImageManifest = {
      name: options.name,
      version,
      description: inputs.image.description,
      layers: inputs.image.layers,
      suite: inputs.image.suite,
      sources: [...inputs.sources.map(formatSource), ...extraSources],
      builtAt: new Date().toISOString(),
      buildSeconds: Math.round((Date.now() - started) / 100) / 10,
      kernelVersion,
      packages,
      omitted,
      files,
      boot: { kernel: "vmlinuz", initrd: "initrd.img", cmdline: RECIPE.cmdline },
      disk: DISK_FILE,
      rootfsBytes,
    };
    fs.writeFileSync(path.join(work, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + "\n");
    // Publish atomically: a version directory with a manifest is always complete.
    fs.rmSync(target, { recursive: true, force: true });
    fs.renameSync(work, target);
    const pruned = pruneVersions(options.imagesDir, options.name, options.keep ?? DEFAULT_KEEP, version);
    const image = findImage(options.imagesDir, `${options.name}@${version}`)!;
    log(`image ${options.name}@${version}: built in ${manifest.buildSeconds} s${pruned.length ? `; removed old versions ${pruned.join(", ")}` : ""}`);
    return { image, reused: false, seconds: (Date.now() - started) / 1000, pruned };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
