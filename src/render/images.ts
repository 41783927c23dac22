// The base image each VM role boots: a golden image from the image store (built by `hyperscaler image
// build`, the default) or the published Debian cloud image from images/catalog.json (`catalog`).
import * as fs from "node:fs";
import * as path from "node:path";
import { RECIPE } from "../images/build";
import { defaultImagesDir, findImage } from "../images/store";
import type { PlannedVm } from "../plan/types";
import type { ClusterSpec } from "../spec/types";
import type { DirectBoot } from "./libvirt/domain";

export interface ImageSource {
  /** Names the base volume in the pool (golden images carry their version). */
  readonly name: string;
  readonly source: string;
  readonly checksum: string;
  readonly checksumUrl: string;
  readonly format: "qcow2" | "raw";
}

/** Direct kernel boot files of a golden image, imported into the pool beside its disk. */
export interface BootFiles {
  readonly kernel: ImageSource;
  readonly initrd: ImageSource;
  readonly cmdline: string;
}

export interface RoleImage {
  readonly kind: "golden" | "catalog";
  readonly disk: ImageSource;
  /** Golden images boot their own kernel directly; catalog images boot their bootloader. */
  readonly boot: BootFiles | null;
}

interface CatalogEntry {
  readonly url: string;
  readonly checksumUrl: string;
  readonly checksum: string;
  readonly format: "qcow2" | "raw";
}

function catalog(): Record<string, CatalogEntry> {
  for (let dir = __dirname, i = 0; i < 5; i++, dir = path.dirname(dir)) {
    const file = path.join(dir, "images", "catalog.json");
    if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, CatalogEntry>;
  }
  throw new Error("images/catalog.json not found");
}

/** The published cloud image of `images.base` (downloaded and verified, or the local `images.path`). */
export function imageSource(spec: ClusterSpec): ImageSource {
  const entry = catalog()[spec.images.base];
  if (!entry) throw new Error(`image ${spec.images.base} is not in images/catalog.json`);
  if (spec.images.path) {
    return {
      name: spec.images.base,
      source: spec.images.path,
      checksum: spec.images.checksum ?? "",
      checksumUrl: spec.images.checksum ? "" : entry.checksumUrl,
      format: entry.format,
    };
  }
  return {
    name: spec.images.base,
    source: entry.url,
    checksum: entry.checksum,
    checksumUrl: entry.checksumUrl,
    format: entry.format,
  };
}

/** True when the VM's role boots a golden image: its packages are in the image, cloud-init installs none. */
export function bootsGoldenImage(spec: ClusterSpec, vm: Pick<PlannedVm, "role">): boolean {
  return spec.images.roles[vm.role] !== "catalog";
}

/** Thrown when a golden image a role needs is not in the store. */
export class MissingImageError extends Error {}

export function goldenImagesDir(spec: ClusterSpec): string {
  return spec.images.golden_dir ?? defaultImagesDir();
}

/** The image a role boots, with the files the pool imports (checksums from the image's manifest). */
export function roleImage(spec: ClusterSpec, role: PlannedVm["role"]): RoleImage {
  const reference = spec.images.roles[role];
  if (reference === "catalog") return { kind: "catalog", disk: imageSource(spec), boot: null };
  const dir = goldenImagesDir(spec);
  const image = findImage(dir, reference);
  if (!image) {
    const build = `hyperscaler image build ${reference.split("@")[0]}${spec.images.golden_dir ? ` --dir ${dir}` : ""}`;
    throw new MissingImageError(
      `images.roles.${role} is ${reference}, but the golden image store ${dir} holds no such image; ` +
        `build it with \`${build}\` (or set images.roles.${role}: catalog for the published Debian cloud image)`,
    );
  }
  const m = image.manifest;
  const file = (name: string, volume: string, format: "qcow2" | "raw"): ImageSource => ({
    name: volume,
    source: path.join(image.dir, name),
    checksum: `sha256:${m.files[name].sha256}`,
    checksumUrl: "",
    format,
  });
  return {
    kind: "golden",
    disk: file(m.disk, `${m.name}-${m.version}`, "qcow2"),
    boot: {
      kernel: file(m.boot.kernel, `${m.name}-${m.version}-vmlinuz`, "raw"),
      initrd: file(m.boot.initrd, `${m.name}-${m.version}-initrd`, "raw"),
      cmdline: m.boot.cmdline,
    },
  };
}

/** Where a libvirt directory pool keeps a volume (what `virsh vol-path` answers): the pool's path and the name. */
export function poolVolumePath(poolPath: string, volume: string): string {
  return path.posix.join(poolPath, volume);
}

/**
 * The direct kernel boot a role's VMs get, exactly as the stack deploys it (the kernel and initrd the pool
 * imports); undefined for the catalog image, which boots its own bootloader. For `hyperscaler render` on a
 * machine without the golden image (a PR's plan diff), the version shows as UNBUILT.
 */
export function roleDirectBoot(spec: ClusterSpec, role: PlannedVm["role"]): DirectBoot | undefined {
  let image: RoleImage;
  try {
    image = roleImage(spec, role);
  } catch (error) {
    if (!(error instanceof MissingImageError)) throw error;
    const name = `${spec.images.roles[role].split("@")[0]}-UNBUILT`;
    const pool = spec.host.storage_pool.path;
    return {
      kernel: poolVolumePath(pool, `${name}-vmlinuz`),
      initrd: poolVolumePath(pool, `${name}-initrd`),
      cmdline: RECIPE.cmdline,
    };
  }
  if (!image.boot) return undefined;
  const pool = spec.host.storage_pool.path;
  return {
    kernel: poolVolumePath(pool, image.boot.kernel.name),
    initrd: poolVolumePath(pool, image.boot.initrd.name),
    cmdline: image.boot.cmdline,
  };
}
