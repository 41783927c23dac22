// The base image provider: uploads a verified image (a local file, or downloaded) into a volume.
import type * as dynamic from "@pulumi/pulumi/dynamic";
import { downloadToFile, expectedChecksum, fileDigest } from "../../images/download";
import { diffKeys } from "./engine-values";
import { builtin } from "../../util/builtin";
import { localRunner, type Runner } from "./runner";
import { removeVolume, uploadVolume, volumeState } from "./storage";

export interface BaseImageInputs {
  readonly uri: string;
  readonly pool: string;
  /** Whether the pool was adopted (see VolumeInputs). */
  readonly poolAdopted?: boolean;
  readonly name: string;
  /** Local file (air-gapped hosts) or http(s) URL. */
  readonly source: string;
  /** "sha256:<hex>" or "sha512:<hex>"; or empty with checksumUrl. */
  readonly checksum: string;
  /** A SHA*SUMS file listing the image, used when no checksum is pinned. */
  readonly checksumUrl: string;
  readonly format: "qcow2" | "raw";
}

export function makeBaseImageProvider(run: Runner = localRunner): dynamic.ResourceProvider {
  const what = (pool: string, name: string): string => `base image ${pool}/${name}`;
  return {
    async create(inputs: BaseImageInputs) {
      const fs = builtin<typeof import("node:fs")>("node:fs");
      const os = builtin<typeof import("node:os")>("node:os");
      const path = builtin<typeof import("node:path")>("node:path");
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hs-image-"));
      try {
        let file = inputs.source;
        if (/^https?:\/\//.test(inputs.source)) {
          file = path.join(dir, "image");
          await downloadToFile(inputs.source, file);
        } else if (!fs.existsSync(file)) {
          throw new Error(`${what(inputs.pool, inputs.name)}: source file ${file} does not exist`);
        }
        const expected = await expectedChecksum(inputs);
        const actual = await fileDigest(file, expected.algorithm);
        if (actual !== expected.hex)
          throw new Error(
            `${what(inputs.pool, inputs.name)}: ${expected.algorithm} mismatch for ${inputs.source}: ` +
              `got ${actual}, expected ${expected.hex}`,
          );
        const volumePath = uploadVolume(run, inputs, what(inputs.pool, inputs.name), file, inputs.format);
        return {
          id: `${inputs.pool}/${inputs.name}`,
          outs: { ...inputs, path: volumePath, verified: `${expected.algorithm}:${actual}` },
        };
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
    async read(id: string, props: BaseImageInputs) {
      const state = volumeState(run, props.uri, props.pool, props.name);
      return state.exists ? { id, props: { ...props, path: state.path } } : { id: "", props: {} };
    },
    async diff(_id: string, olds: BaseImageInputs, news: BaseImageInputs) {
      const replaces = diffKeys(olds as never, news as never, ["uri", "pool", "name", "source", "checksum", "format"]);
      return { changes: replaces.length > 0, replaces, deleteBeforeReplace: true };
    },
    async delete(_id: string, props: BaseImageInputs & { path?: string | null }) {
      removeVolume(run, props.uri, what(props.pool, props.name), props.pool, props.name, props.path);
    },
  };
}
