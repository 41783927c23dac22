// Pulumi dynamic resources over the providers. One provider object per kind: the engine caches each
// provider's serialization, so sharing the object serializes it once per program.
import * as pulumi from "@pulumi/pulumi";
import { makeMigLayoutProvider, makeVgpuDeviceProvider, type GpuInstance } from "./gpu";
import type { DomainFacts } from "../render/libvirt/domain-facts";
import {
  makeBaseImageProvider,
  makeDomainProvider,
  makeNetworkProvider,
  makePoolProvider,
  makeSeedIsoProvider,
  makeVolumeProvider,
} from "./libvirt";

const providers = {
  pool: makePoolProvider(),
  network: makeNetworkProvider(),
  volume: makeVolumeProvider(),
  baseImage: makeBaseImageProvider(),
  seedIso: makeSeedIsoProvider(),
  domain: makeDomainProvider(),
  migLayout: makeMigLayoutProvider(),
  vgpuDevice: makeVgpuDeviceProvider(),
};

type In<T> = { [K in keyof T]: pulumi.Input<T[K]> };

export class LibvirtPool extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly path: pulumi.Output<string>;
  /** True when the pool existed and was adopted: the stack never removes it nor touches volumes it did not make. */
  declare readonly adopted: pulumi.Output<boolean>;
  constructor(
    name: string,
    args: In<{ uri: string; name: string; xml: string; path: string }>,
    opts?: pulumi.CustomResourceOptions,
  ) {
    super(providers.pool, name, { ...args, adopted: undefined }, opts, "hyperscaler", "LibvirtPool");
  }
}

export class LibvirtNetwork extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  constructor(
    name: string,
    args: In<{
      uri: string;
      name: string;
      xml: string;
      bridge: string;
      ip: string;
      dhcpHosts: string[];
      start: boolean;
    }>,
    opts?: pulumi.CustomResourceOptions,
  ) {
    super(providers.network, name, args, opts, "hyperscaler", "LibvirtNetwork");
  }
}

export class LibvirtVolume extends pulumi.dynamic.Resource {
  declare readonly path: pulumi.Output<string>;
  constructor(
    name: string,
    args: In<{
      uri: string;
      pool: string;
      poolAdopted: boolean;
      name: string;
      xml: string;
      capacityGiB: number;
      backingPath: string;
    }>,
    opts?: pulumi.CustomResourceOptions,
  ) {
    super(providers.volume, name, { ...args, path: undefined }, opts, "hyperscaler", "LibvirtVolume");
  }
}

export class BaseImageVolume extends pulumi.dynamic.Resource {
  declare readonly path: pulumi.Output<string>;
  declare readonly verified: pulumi.Output<string>;
  constructor(
    name: string,
    args: In<{
      uri: string;
      pool: string;
      poolAdopted: boolean;
      name: string;
      source: string;
      checksum: string;
      checksumUrl: string;
      format: "qcow2" | "raw";
    }>,
    opts?: pulumi.CustomResourceOptions,
  ) {
    super(
      providers.baseImage,
      name,
      { ...args, path: undefined, verified: undefined },
      opts,
      "hyperscaler",
      "BaseImageVolume",
    );
  }
}

export class SeedIso extends pulumi.dynamic.Resource {
  declare readonly contentSha256: pulumi.Output<string>;
  constructor(
    name: string,
    args: In<{ uri: string; pool: string; poolAdopted: boolean; name: string; files: Record<string, string> }>,
    opts?: pulumi.CustomResourceOptions,
  ) {
    // The files can hold secrets (munge key, join token): always a secret input, never an output.
    super(
      providers.seedIso,
      name,
      { ...args, files: pulumi.secret(args.files), contentSha256: undefined, path: undefined },
      opts,
      "hyperscaler",
      "SeedIso",
    );
  }
}

export class LibvirtDomain extends pulumi.dynamic.Resource {
  declare readonly restartRequired: pulumi.Output<boolean>;
  declare readonly bootedSeedSha256: pulumi.Output<string | null>;
  constructor(
    name: string,
    args: In<{
      uri: string;
      name: string;
      xml: string;
      facts: DomainFacts;
      networks: string[];
      disk: string;
      devices: string[];
      start: boolean;
      seedSha256?: string;
    }>,
    opts?: pulumi.CustomResourceOptions,
  ) {
    super(
      providers.domain,
      name,
      { ...args, restartRequired: undefined, bootedSeedSha256: undefined },
      opts,
      "hyperscaler",
      "LibvirtDomain",
    );
  }
}

export class MigLayout extends pulumi.dynamic.Resource {
  constructor(
    name: string,
    args: In<{ gpu: string; pciAddress: string; migEnabled: boolean; instances: GpuInstance[]; force: boolean }>,
    opts?: pulumi.CustomResourceOptions,
  ) {
    super(providers.migLayout, name, { ...args, liveInstances: undefined }, opts, "hyperscaler", "MigLayout");
  }
}

export class VgpuDevice extends pulumi.dynamic.Resource {
  declare readonly uuid: pulumi.Output<string>;
  declare readonly vfAddress: pulumi.Output<string | null>;
  constructor(
    name: string,
    args: In<{
      uuid: string;
      gpu: string;
      parentPciAddress: string;
      vgpuType: string;
      path: "mdev" | "sriov";
      sysRoot: string;
    }>,
    opts?: pulumi.CustomResourceOptions,
  ) {
    super(
      providers.vgpuDevice,
      name,
      { ...args, vfAddress: undefined, mdevParent: undefined },
      opts,
      "hyperscaler",
      "VgpuDevice",
    );
  }
}
