// The base image provider: uploads a verified image (a local file, or downloaded) into a volume.
import type * as dynamic from "@pulumi/pulumi/dynamic";
import { downloadToFile, expectedChecksum, fileDigest } from "../../images/download";
import { diffKeys } from "./engine-values";
import { leftoverVolume } from "./ownership";
import { builtin, localRunner, type Runner } from "./runner";
import { removeVolume, volumeState } from "./storage";
import { virsh, virshMaybe } from "./virsh";

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
      let created = false;
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
        const size = fs.statSync(file).size;
        leftoverVolume(
          run,
          inputs.uri,
          what(inputs.pool, inputs.name),
          inputs.pool,
          inputs.name,
          inputs.poolAdopted,
          () => "recreate",
        );
        virsh(run, inputs.uri, what(inputs.pool, inputs.name), [
          "vol-create-as",
          inputs.pool,
          inputs.name,
          String(size),
          "--format",
          inputs.format,
        ]);
        created = true;
        virsh(run, inputs.uri, what(inputs.pool, inputs.name), [
          "vol-upload",
          "--pool",
          inputs.pool,
          inputs.name,
          file,
        ]);
        const state = volumeState(run, inputs.uri, inputs.pool, inputs.name);
        return {
          id: `${inputs.pool}/${inputs.name}`,
          outs: { ...inputs, path: state.path, verified: `${expected.algorithm}:${actual}` },
        };
      } catch (error) {
        if (created) virshMaybe(run, inputs.uri, ["vol-delete", "--pool", inputs.pool, inputs.name]);
        throw error;
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
