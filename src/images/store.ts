// The image store: <dir>/<name>/<version>/{disk.qcow2, vmlinuz, initrd.img, manifest.json}. Versions are
// digests of the build inputs; older versions stay (a configurable count) so a stack can roll back.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export interface ManifestFile {
  readonly sha256: string;
  readonly bytes: number;
}

export interface ImageManifest {
  readonly name: string;
  /** Digest of the build inputs (definitions, apt sources, recipe). */
  readonly version: string;
  readonly description: string;
  readonly layers: readonly string[];
  readonly suite: string;
  readonly sources: readonly string[];
  readonly builtAt: string;
  readonly buildSeconds: number;
  readonly kernelVersion: string;
  /** Every installed Debian package: name -> version. */
  readonly packages: Readonly<Record<string, string>>;
  /** Packages a definition asked for that were left out, and why (an unreachable repository). */
  readonly omitted: readonly { readonly packages: readonly string[]; readonly reason: string }[];
  /** Files of this version (relative to its directory). */
  readonly files: Readonly<Record<string, ManifestFile>>;
  /** Direct kernel boot: kernel and initrd beside the disk, and the command line they need. */
  readonly boot: { readonly kernel: string; readonly initrd: string; readonly cmdline: string };
  readonly disk: string;
  readonly rootfsBytes: number;
}

export const DISK_FILE = "disk.qcow2";
export const MANIFEST_FILE = "manifest.json";
export const DEFAULT_KEEP = 3;

/** HYPERSCALER_IMAGES_DIR, else $XDG_STATE_HOME/hyperscaler/images, else ~/.local/state/hyperscaler/images. */
export function defaultImagesDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HYPERSCALER_IMAGES_DIR) return path.resolve(env.HYPERSCALER_IMAGES_DIR);
  const state = env.XDG_STATE_HOME || path.join(os.homedir(), ".local", "state");
  return path.join(state, "hyperscaler", "images");
}

export function versionDir(dir: string, name: string, version: string): string {
  return path.join(dir, name, version);
}

export interface StoredImage {
  readonly manifest: ImageManifest;
  readonly dir: string;
  readonly diskPath: string;
}

function readManifest(dir: string): ImageManifest | null {
  const file = path.join(dir, MANIFEST_FILE);
  if (!fs.existsSync(file)) return null;
  return JSON.parse(fs.readFileSync(file, "utf8")) as ImageManifest;
}

/** Every complete version of every image (a version without a manifest is an unfinished build). */
export function listImages(dir: string): StoredImage[] {
  if (!fs.existsSync(dir)) return [];
  const images: StoredImage[] = [];
  for (const name of fs.readdirSync(dir).sort()) {
    const nameDir = path.join(dir, name);
    if (!fs.statSync(nameDir).isDirectory()) continue;
    for (const version of fs.readdirSync(nameDir)) {
      const vdir = path.join(nameDir, version);
      const manifest = fs.statSync(vdir).isDirectory() ? readManifest(vdir) : null;
      if (manifest) images.push({ manifest, dir: vdir, diskPath: path.join(vdir, manifest.disk) });
    }
  }
  // Newest first within a name.
  return images.sort((a, b) => a.manifest.name.localeCompare(b.manifest.name) || b.manifest.builtAt.localeCompare(a.manifest.builtAt));
}

/** `name` (its newest version) or `name@version` (a pinned one, e.g. to roll back). */
export function findImage(dir: string, reference: string): StoredImage | null {
  const [name, version] = reference.split("@");
  const candidates = listImages(dir).filter((i) => i.manifest.name === name && (!version || i.manifest.version === version));
  return candidates[0] ?? null;
}

/** Deletes all but the `keep` newest versions of `name`; never `current`. Returns what was removed. */
export function pruneVersions(dir: string, name: string, keep: number, current: string): string[] {
  const versions = listImages(dir).filter((i) => i.manifest.name === name);
  const removed: string[] = [];
  let kept = 0;
  for (const image of versions) {
    if (image.manifest.version === current || kept < keep - 1) {
      if (image.manifest.version !== current) kept++;
      continue;
    }
    fs.rmSync(image.dir, { recursive: true, force: true });
    removed.push(image.manifest.version);
  }
  return removed;
}

export async function sha256File(file: string): Promise<string> {
  const hash = crypto.createHash("sha256");
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

export interface VerifyResult {
  readonly name: string;
  readonly version: string;
  readonly ok: boolean;
  readonly problems: string[];
}

/** Recomputes every file's sha256 and compares it with the manifest. */
export async function verifyImage(image: StoredImage): Promise<VerifyResult> {
  const problems: string[] = [];
  for (const [file, expected] of Object.entries(image.manifest.files)) {
    const full = path.join(image.dir, file);
    if (!fs.existsSync(full)) {
      problems.push(`${file}: missing`);
      continue;
    }
    const actual = await sha256File(full);
    if (actual !== expected.sha256) problems.push(`${file}: sha256 ${actual}, manifest says ${expected.sha256}`);
  }
  return { name: image.manifest.name, version: image.manifest.version, ok: problems.length === 0, problems };
}
