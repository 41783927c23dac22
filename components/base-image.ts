// BaseImage: the storage pool and the verified base images VM disks overlay, one per distinct image the
// roles boot (imported once). A golden image also brings its kernel and initrd for direct kernel boot.
import * as pulumi from "@pulumi/pulumi";
import { BaseImageVolume, LibvirtPool } from "../src/providers/resources";
import type { ImageSource, RoleImage } from "../src/render/images";
import { baseVolumeName } from "../src/render/libvirt/names";
import { renderPoolXml } from "../src/render/libvirt/storage";
import { duplicateOf } from "../src/util/duplicates";
import { refuseArgs } from "./args-error";

export interface BaseImageArgs {
  /** libvirt connection URI of the host (spec: host.libvirt_uri), e.g. `qemu:///system`. */
  readonly uri: string;
  /** The storage pool the images and VM disks live in (spec: host.storage_pool); adopted when it exists. */
  readonly pool: { readonly name: string; readonly path: string };
  /** Distinct images (by disk name), e.g. from render/images.ts#roleImage per VM role. */
  readonly images: readonly RoleImage[];
}

/** Where a VM's domain finds its image in the pool. */
export interface ImportedImage {
  /** Path of the base disk on the host: the backing file of every overlay. */
  readonly path: pulumi.Output<string>;
  readonly boot: {
    readonly kernel: pulumi.Output<string>;
    readonly initrd: pulumi.Output<string>;
    readonly cmdline: string;
  } | null;
}

/** Refuses props a pool or image import could not use, before any resource exists. */
function validate(name: string, args: BaseImageArgs): void {
  refuseArgs("BaseImage", name, [
    !args.uri && {
      problem: "uri is empty",
      found: args.uri,
      expected: "a libvirt URI",
      fix: "pass host.libvirt_uri, e.g. qemu:///system",
    },
    !args.pool.name && {
      problem: "pool.name is empty",
      found: args.pool.name,
      expected: "a storage pool name",
      fix: "set host.storage_pool.name",
    },
    !args.pool.path.startsWith("/") && {
      problem: "pool.path is not absolute",
      found: args.pool.path,
      expected: "an absolute directory path",
      fix: "set host.storage_pool.path to an absolute path, e.g. /var/lib/libvirt/images",
    },
    args.images.length === 0 && {
      problem: "images is empty",
      found: [],
      expected: "at least one image",
      fix: "pass the image each VM role boots (render/images.ts#roleImage)",
    },
    duplicateOf(args.images.map((i) => i.disk.name)) !== undefined && {
      problem: "two images have the same disk name",
      found: duplicateOf(args.images.map((i) => i.disk.name)),
      expected: "distinct disk names",
      fix: "pass each distinct image once",
    },
  ]);
}

export class BaseImage extends pulumi.ComponentResource {
  readonly pool: LibvirtPool;
  /** Imported images by disk name (RoleImage.disk.name). */
  readonly images: ReadonlyMap<string, ImportedImage>;

  constructor(name: string, args: BaseImageArgs, opts?: pulumi.ComponentResourceOptions) {
    validate(name, args);
    super("hyperscaler:index:BaseImage", name, {}, opts);
    this.pool = new LibvirtPool(
      `${name}-pool`,
      { uri: args.uri, name: args.pool.name, xml: renderPoolXml(args.pool.name, args.pool.path), path: args.pool.path },
      { parent: this },
    );
    const imported = (resource: string, file: ImageSource, volume: string): BaseImageVolume =>
      new BaseImageVolume(
        resource,
        {
          uri: args.uri,
          pool: this.pool.name,
          poolAdopted: this.pool.adopted,
          name: volume,
          source: file.source,
          checksum: file.checksum,
          checksumUrl: file.checksumUrl,
          format: file.format,
        },
        { parent: this, dependsOn: [this.pool] },
      );
    const images = new Map<string, ImportedImage>();
    for (const image of args.images) {
      // The catalog image keeps the resource name it always had, so existing stacks do not re-import it.
      const resource = image.kind === "catalog" ? `${name}-volume` : `${name}-${image.disk.name}`;
      const disk = imported(resource, image.disk, baseVolumeName(image.disk.name));
      const boot = image.boot
        ? {
            kernel: imported(`${resource}-kernel`, image.boot.kernel, image.boot.kernel.name).path,
            initrd: imported(`${resource}-initrd`, image.boot.initrd, image.boot.initrd.name).path,
            cmdline: image.boot.cmdline,
          }
        : null;
      images.set(image.disk.name, { path: disk.path, boot });
    }
    this.images = images;
    this.registerOutputs({ images: [...images.keys()] });
  }
}
