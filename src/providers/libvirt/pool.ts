// The storage pool provider: creates (define, build, start, autostart) or adopts a pool of the same name and path.
import type * as dynamic from "@pulumi/pulumi/dynamic";
import { diffKeys, structSafe } from "./engine-values";
import { localRunner, withTempFile, type Runner } from "./runner";
import { poolPath } from "./storage";
import { isNotFound, keyValues, remove, virsh, virshMaybe } from "./virsh";

export interface PoolInputs {
  readonly uri: string;
  readonly name: string;
  readonly xml: string;
  readonly path: string;
}

export function makePoolProvider(run: Runner = localRunner): dynamic.ResourceProvider {
  const what = (name: string): string => `libvirt pool ${name}`;
  return {
    async create(inputs: PoolInputs) {
      const existing = virshMaybe(run, inputs.uri, ["pool-info", inputs.name]);
      // A pool of the same name and path is adopted (pools are shared by stacks on one host) and never removed.
      if (existing.code === 0) {
        const path = poolPath(run, inputs.uri, inputs.name);
        if (path !== inputs.path)
          throw new Error(
            `${what(inputs.name)} exists with path ${path ?? "(unreadable)"}, not ${inputs.path}; ` +
              `nothing was changed. Set host.storage_pool.path to ${path} to adopt it, ` +
              "or choose another host.storage_pool.name",
          );
        return { id: inputs.name, outs: { ...inputs, adopted: true } };
      }
      if (!isNotFound(existing))
        throw new Error(`${what(inputs.name)}: virsh pool-info failed: ${existing.stderr.trim()}`);
      withTempFile(inputs.xml, ".xml", (file) => virsh(run, inputs.uri, what(inputs.name), ["pool-define", file]));
      try {
        virsh(run, inputs.uri, what(inputs.name), ["pool-build", inputs.name]);
        virsh(run, inputs.uri, what(inputs.name), ["pool-start", inputs.name]);
        virsh(run, inputs.uri, what(inputs.name), ["pool-autostart", inputs.name]);
      } catch (error) {
        // Only what this create made: the definition (the directory only if pool-build made it and it is empty).
        virshMaybe(run, inputs.uri, ["pool-destroy", inputs.name]);
        virshMaybe(run, inputs.uri, ["pool-delete", inputs.name]);
        virshMaybe(run, inputs.uri, ["pool-undefine", inputs.name]);
        throw error;
      }
      return { id: inputs.name, outs: { ...inputs, adopted: false } };
    },
    async read(id: string, props: PoolInputs & { adopted?: boolean }) {
      const info = virshMaybe(run, props.uri, ["pool-info", id]);
      if (info.code !== 0) {
        if (isNotFound(info)) return { id: "", props: {} };
        throw new Error(`${what(id)}: virsh pool-info failed: ${info.stderr.trim()}`);
      }
      // The path libvirt holds (drift shows), not the one recorded.
      return {
        id,
        props: structSafe({
          ...props,
          name: id,
          path: poolPath(run, props.uri, id),
          state: keyValues(info.stdout)["State"] ?? null,
        }),
      };
    },
    async diff(_id: string, olds: PoolInputs, news: PoolInputs) {
      const replaces = diffKeys(olds as never, news as never, ["uri", "name", "path"]);
      return { changes: replaces.length > 0, replaces, deleteBeforeReplace: true };
    },
    async delete(id: string, props: PoolInputs & { adopted?: boolean }) {
      if (props.adopted) return;
      virshMaybe(run, props.uri, ["pool-destroy", id]);
      // The pool's directory goes with it when empty (its volumes were deleted first); foreign files stay.
      virshMaybe(run, props.uri, ["pool-delete", id]);
      remove(run, props.uri, what(id), ["pool-undefine", id]);
    },
  };
}
