// BaseImage: the storage pool and the verified base images VM disks overlay, one per distinct image the
// roles boot (imported once). A golden image also brings its kernel and initrd for direct kernel boot.
import * as pulumi from "@pulumi/pulumi";
import { BaseImageVolume, LibvirtPool } from "../src/providers/resources";
import type { ImageSource, RoleImage } from "../src/render/images";
import { baseVolumeName } from "../src/render/libvirt/names";
import { renderPoolXml } from "../src/render/libvirt/storage";

export interface BaseImageArgs {
  readonly uri: string;
  readonly pool: { readonly name: string; readonly path: string };
  /** Distinct images (by disk name). */
  readonly images: readonly RoleImage[];
}

/** Where a VM's domain finds its image in the pool. */
export interface ImportedImage {
  /** Path of the base disk on the host: the backing file of every overlay. */
  readonly path: pulumi.Output<string>;
  readonly boot: { readonly kernel: pulumi.Output<string>; readonly initrd: pulumi.Output<string>; readonly cmdline: string } | null;
}

export class BaseImage extends pulumi.ComponentResource {
  readonly pool: LibvirtPool;
  /** Imported images by disk name (RoleImage.disk.name). */
  readonly images: ReadonlyMap<string, ImportedImage>;

  constructor(name: string, args: BaseImageArgs, opts?: pulumi.ComponentResourceOptions) {
    super("hyperscaler:index:BaseImage", name, {}, opts);
    this.pool = new LibvirtPool(`${name}-pool`, { uri: args.uri, name: args.pool.name, xml: renderPoolXml(args.pool.name, args.pool.path), path: args.pool.path }, { parent: this });
    const imported = (resource: string, file: ImageSource, volume: string): BaseImageVolume => new BaseImageVolume(resource, {
      uri: args.uri,
      pool: this.pool.name,
      poolAdopted: this.pool.adopted,
      name: volume,
      source: file.source,
      checksum: file.checksum,
      checksumUrl: file.checksumUrl,
      format: file.format,
    }, { parent: this, dependsOn: [this.pool] });
    const images = new Map<string, ImportedImage>();
    for (const image of args.images) {
      // The catalog image keeps the resource name it always had, so existing stacks do not re-import it.
      const resource = image.kind === "catalog" ? `${name}-volume` : `${name}-${image.disk.name}`;
      const disk = imported(resource, image.disk, baseVolumeName(image.disk.name));
      const boot = image.boot ? {
        kernel: imported(`${resource}-kernel`, image.boot.kernel, image.boot.kernel.name).path,
        initrd: imported(`${resource}-initrd`, image.boot.initrd, image.boot.initrd.name).path,
        cmdline: image.boot.cmdline,
      } : null;
      images.set(image.disk.name, { path: disk.path, boot });
    }
    this.images = images;
    this.registerOutputs({ images: [...images.keys()] });
  }
}
