// BaseImage: the storage pool and the verified base image every VM disk overlays (downloaded once).
import * as pulumi from "@pulumi/pulumi";
import { BaseImageVolume, LibvirtPool } from "../src/providers/resources";
import type { ImageSource } from "../src/render/images";
import { baseVolumeName } from "../src/render/libvirt/names";
import { renderPoolXml } from "../src/render/libvirt/storage";

export interface BaseImageArgs {
  readonly uri: string;
  readonly pool: { readonly name: string; readonly path: string };
  readonly image: ImageSource;
}

export class BaseImage extends pulumi.ComponentResource {
  readonly pool: LibvirtPool;
  readonly volume: BaseImageVolume;
  /** Path of the base image on the host: the backing file of every overlay. */
  readonly path: pulumi.Output<string>;

  constructor(name: string, args: BaseImageArgs, opts?: pulumi.ComponentResourceOptions) {
    super("hyperscaler:index:BaseImage", name, {}, opts);
    this.pool = new LibvirtPool(`${name}-pool`, { uri: args.uri, name: args.pool.name, xml: renderPoolXml(args.pool.name, args.pool.path), path: args.pool.path }, { parent: this });
    this.volume = new BaseImageVolume(`${name}-volume`, {
      uri: args.uri,
      pool: this.pool.name,
      poolAdopted: this.pool.adopted,
      name: baseVolumeName(args.image.name),
      source: args.image.source,
      checksum: args.image.checksum,
      checksumUrl: args.image.checksumUrl,
      format: args.image.format,
    }, { parent: this, dependsOn: [this.pool] });
    this.path = this.volume.path;
    this.registerOutputs({ path: this.path });
  }
}
