// Host paths in the spec, confined to where they may point:
// - host.storage_pool.path: libvirt creates, fills and (on destroy) empties this directory as root, so it
//   must be absolute, already normalized (no '.', '..', '//', trailing '/') and neither be nor resolve
//   (through symlinks) into a system directory: /, /etc, /proc, /sys, /dev, /boot, /usr, /bin, /sbin,
//   /lib, /lib32, /lib64, /libx32, /run.
// - images.path: read as the base disk of every VM, so it must be absolute and normalized, outside
//   /etc, /proc, /sys, /dev, /boot and /run (after symlinks), and a readable regular file holding a disk
//   image: qcow2 (magic "QFI\xfb") or raw (.raw/.img, a whole number of 512-byte sectors).
// Both are checked on the machine that validates: the spec describes this host.
import * as fs from "node:fs";
import * as path from "node:path";
import type { RuleContext } from "./context";

/** Never a storage pool: libvirt would write and delete files there as root. */
export const POOL_FORBIDDEN = [
  "/etc",
  "/proc",
  "/sys",
  "/dev",
  "/boot",
  "/usr",
  "/bin",
  "/sbin",
  "/lib",
  "/lib32",
  "/lib64",
  "/libx32",
  "/run",
] as const;
/** Never a base image: secrets and kernel interfaces live there (/etc/shadow, /proc/kcore, /dev/sda). */
export const IMAGE_FORBIDDEN = ["/etc", "/proc", "/sys", "/dev", "/boot", "/run"] as const;

const QCOW2_MAGIC = Buffer.from([0x51, 0x46, 0x49, 0xfb]);

/** The forbidden directory a path is (or lies under), if any. */
export function forbiddenRoot(target: string, forbidden: readonly string[]): string | undefined {
  return forbidden.find((dir) => target === dir || target.startsWith(dir + "/"));
}

/** Why a path is not absolute and normalized, or undefined when it is. */
export function unnormalized(target: string): string | undefined {
  if (!target.startsWith("/")) return "it is not absolute";
  if (target.split("/").some((segment) => segment === ".." || segment === "."))
    return "it contains '.' or '..' segments";
  if (target !== "/" && target.endsWith("/")) return "it ends with '/'";
  if (target.includes("//")) return "it contains '//'";
  return undefined;
}

/** The path with symlinks resolved as far as it exists (the rest appended), so a link cannot smuggle it into /etc. */
export function resolveExisting(target: string): string {
  let existing = target;
  const rest: string[] = [];
  while (existing !== "/") {
    try {
      return path.join(fs.realpathSync(existing), ...rest.reverse());
    } catch {
      rest.push(path.basename(existing));
      existing = path.dirname(existing);
    }
  }
  return path.join("/", ...rest.reverse());
}

export function checkPaths(ctx: RuleContext): void {
  checkPoolPath(ctx);
  checkImagePath(ctx);
}

function checkPoolPath(ctx: RuleContext): void {
  const pool = ctx.spec.host.storage_pool.path;
  const where = "/host/storage_pool/path";
  const expected = `an absolute, normalized directory outside ${POOL_FORBIDDEN.join(", ")}`;
  const bad = unnormalized(pool);
  if (bad) {
    const normalized = path.posix.resolve("/", pool);
    const system = forbiddenRoot(normalized, POOL_FORBIDDEN);
    const resolves = system ? `; it resolves to ${normalized}, inside the system directory ${system}` : "";
    const hint =
      system || normalized === "/"
        ? `use a directory of its own, e.g. /var/lib/libvirt/images/${ctx.spec.metadata.name}`
        : `write it as ${JSON.stringify(normalized)} if that is what you mean`;
    ctx.error({
      path: where,
      message: `storage pool path ${JSON.stringify(pool)} is not allowed: ${bad}${resolves}`,
      found: pool,
      expected,
      hint,
    });
    return;
  }
  if (pool === "/") {
    ctx.error({
      path: where,
      message: 'storage pool path "/" is the root directory',
      found: pool,
      expected,
      hint: `use a directory of its own, e.g. /var/lib/libvirt/images/${ctx.spec.metadata.name}`,
    });
    return;
  }
  const resolved = resolveExisting(pool);
  const system = forbiddenRoot(pool, POOL_FORBIDDEN) ?? forbiddenRoot(resolved, POOL_FORBIDDEN);
  if (system) {
    const via =
      resolved !== pool && !forbiddenRoot(pool, POOL_FORBIDDEN)
        ? ` (it resolves through a symlink to ${resolved})`
        : "";
    ctx.error({
      path: where,
      message:
        `storage pool path ${JSON.stringify(pool)} is inside the system directory ${system}${via}; ` +
        `libvirt writes and deletes files in the pool as root`,
      found: pool,
      expected,
      hint: `use a directory of its own, e.g. /var/lib/libvirt/images/${ctx.spec.metadata.name}`,
    });
  }
}

function checkImagePath(ctx: RuleContext): void {
  const image = ctx.spec.images.path;
  if (image === undefined) return;
  const where = "/images/path";
  const expected = `a readable qcow2 or raw disk image file, by absolute path, outside ${IMAGE_FORBIDDEN.join(", ")}`;
  const bad = unnormalized(image);
  if (bad) {
    ctx.error({
      path: where,
      message: `images.path ${JSON.stringify(image)} is not allowed: ${bad}`,
      found: image,
      expected,
      hint: "give the image's absolute path, e.g. /var/lib/libvirt/images/debian-12-generic-amd64.qcow2",
    });
    return;
  }
  const resolved = resolveExisting(image);
  const system = forbiddenRoot(image, IMAGE_FORBIDDEN) ?? forbiddenRoot(resolved, IMAGE_FORBIDDEN);
  if (system) {
    ctx.error({
      path: where,
      message:
        `images.path ${JSON.stringify(image)} is inside ${system}` +
        `${resolved !== image ? ` (resolved: ${resolved})` : ""}, where no disk image belongs`,
      found: image,
      expected,
      hint: "point images.path at the downloaded image, e.g. /var/lib/libvirt/images/debian-12-generic-amd64.qcow2",
    });
    return;
  }
  const problem = imageFileProblem(image);
  if (problem)
    ctx.error({
      path: where,
      message: `images.path ${JSON.stringify(image)} ${problem.message}`,
      found: image,
      expected,
      hint: problem.hint,
    });
}

/** The first `length` bytes of a file (fewer when it is shorter). */
function readHeader(file: string, length: number): Buffer {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    const header = Buffer.alloc(length);
    return header.subarray(0, fs.readSync(fd, header, 0, length, 0));
  } finally {
    fs.closeSync(fd);
  }
}

/** Why a file cannot serve as a base image, or undefined when it can. Reads 4 bytes at most. */
export function imageFileProblem(file: string): { message: string; hint: string } | undefined {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR")
      return {
        message: "does not exist",
        hint: "download the image first (see README: air-gapped hosts), or remove images.path to use the catalog image",
      };
    return { message: `cannot be inspected (${code ?? String(error)})`, hint: "check the path and its permissions" };
  }
  if (!stat.isFile())
    return {
      message: `is ${stat.isDirectory() ? "a directory" : "not a regular file"}`,
      hint: "name the image file itself",
    };
  let magic: Buffer;
  try {
    magic = readHeader(file, QCOW2_MAGIC.length);
  } catch (error) {
    return {
      message: `is not readable (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
      hint: "make the image readable by the user running hyperscaler and libvirt",
    };
  }
  if (magic.equals(QCOW2_MAGIC)) return undefined;
  if (/\.(raw|img)$/.test(file) && stat.size > 0 && stat.size % 512 === 0) return undefined;
  return {
    message:
      "is not a disk image: neither qcow2 (no QFI\\xfb header) " +
      "nor a raw image (.raw/.img, a whole number of 512-byte sectors)",
    hint: "check the file with `qemu-img info FILE`; convert other formats with `qemu-img convert -O qcow2`",
  };
}
