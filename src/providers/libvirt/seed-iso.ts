// The seed ISO provider: builds the NoCloud seed (xorriso, label "cidata") and uploads it into a volume.
import type * as dynamic from "@pulumi/pulumi/dynamic";
import { diffKeys } from "./engine-values";
import { builtin } from "../../util/builtin";
import { localRunner, sha256, type Runner } from "./runner";
import { removeVolume, uploadVolume, volumeState } from "./storage";

export interface SeedIsoInputs {
  readonly uri: string;
  readonly pool: string;
  /** Whether the pool was adopted (see VolumeInputs). */
  readonly poolAdopted?: boolean;
  readonly name: string;
  /** user-data, meta-data, network-config. May hold secrets: never copied into outputs. */
  readonly files: Readonly<Record<string, string>>;
}

export function seedDigest(files: Readonly<Record<string, string>>): string {
  return sha256(
    Object.keys(files)
      .sort()
      .map((name) => `${name}\u0000${files[name]}`)
      .join("\u0001"),
  );
}

export function makeSeedIsoProvider(run: Runner = localRunner): dynamic.ResourceProvider {
  const what = (pool: string, name: string): string => `seed ISO ${pool}/${name}`;
  const outputsOf = (inputs: SeedIsoInputs, path: string | null) => ({
    uri: inputs.uri,
    pool: inputs.pool,
    name: inputs.name,
    contentSha256: seedDigest(inputs.files),
    path,
  });
  return {
    async create(inputs: SeedIsoInputs) {
      const fs = builtin<typeof import("node:fs")>("node:fs");
      const os = builtin<typeof import("node:os")>("node:os");
      const path = builtin<typeof import("node:path")>("node:path");
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hs-seed-"));
      try {
        const content = path.join(dir, "cidata");
        fs.mkdirSync(content, { mode: 0o700 });
        for (const [name, text] of Object.entries(inputs.files))
          fs.writeFileSync(path.join(content, name), text, { mode: 0o600 });
        const iso = path.join(dir, "seed.iso");
        // NoCloud finds its seed by the volume label "cidata".
        const built = run("xorriso", [
          "-as",
          "mkisofs",
          "-quiet",
          "-output",
          iso,
          "-volid",
          "cidata",
          "-joliet",
          "-rock",
          content,
        ]);
        if (built.code !== 0) {
          const output = (built.stderr || built.stdout).trim() || `exit code ${built.code}`;
          throw new Error(`${what(inputs.pool, inputs.name)}: xorriso failed: ${output}`);
        }
        const volumePath = uploadVolume(run, inputs, what(inputs.pool, inputs.name), iso, "raw");
        return { id: `${inputs.pool}/${inputs.name}`, outs: outputsOf(inputs, volumePath) };
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
    async read(
      id: string,
      props: { uri: string; pool: string; name: string; contentSha256: string; path: string | null },
    ) {
      const state = volumeState(run, props.uri, props.pool, props.name);
      return state.exists ? { id, props: { ...props, path: state.path } } : { id: "", props: {} };
    },
    async diff(
      _id: string,
      olds: { uri: string; pool: string; name: string; contentSha256: string },
      news: SeedIsoInputs,
    ) {
      const replaces = diffKeys(olds, news as never, ["uri", "pool", "name"]);
      if (olds.contentSha256 !== seedDigest(news.files)) replaces.push("files");
      return { changes: replaces.length > 0, replaces, deleteBeforeReplace: true };
    },
    async delete(_id: string, props: { uri: string; pool: string; name: string; path?: string | null }) {
      removeVolume(run, props.uri, what(props.pool, props.name), props.pool, props.name, props.path);
    },
  };
}
