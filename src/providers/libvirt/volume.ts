// The volume provider: a VM's system disk, a qcow2 overlay on a base image; grows in place.
import type * as dynamic from "@pulumi/pulumi/dynamic";
import { diffKeys } from "./engine-values";
import { leftoverVolume } from "./ownership";
import { localRunner, withTempFile, type Runner } from "./runner";
import { removeVolume, volumeState } from "./storage";
import { virsh, virshMaybe } from "./virsh";

export interface VolumeInputs {
  readonly uri: string;
  readonly pool: string;
  /** Whether the pool was adopted (not created by this stack): existing volumes there are never touched. */
  readonly poolAdopted?: boolean;
  readonly name: string;
  /** Volume XML (a qcow2 overlay with its backing store). */
  readonly xml: string;
  readonly capacityGiB: number;
  readonly backingPath: string;
}

export function makeVolumeProvider(run: Runner = localRunner): dynamic.ResourceProvider {
  const what = (pool: string, name: string): string => `libvirt volume ${pool}/${name}`;
  return {
    async create(inputs: VolumeInputs) {
      const w = what(inputs.pool, inputs.name);
      // A leftover overlay of ours with the same backing file is kept (it may hold the VM's data); another is redone.
      const leftover = leftoverVolume(run, inputs.uri, w, inputs.pool, inputs.name, inputs.poolAdopted, () =>
        volumeState(run, inputs.uri, inputs.pool, inputs.name).backingPath === inputs.backingPath ? "keep" : "recreate",
      );
      if (leftover === "none")
        withTempFile(inputs.xml, ".xml", (file) =>
          virsh(run, inputs.uri, w, ["vol-create", "--pool", inputs.pool, file]),
        );
      try {
        const path = virsh(run, inputs.uri, w, ["vol-path", "--pool", inputs.pool, inputs.name]).trim();
        return { id: `${inputs.pool}/${inputs.name}`, outs: { ...inputs, path } };
      } catch (error) {
        if (leftover === "none") virshMaybe(run, inputs.uri, ["vol-delete", "--pool", inputs.pool, inputs.name]);
        throw error;
      }
    },
    async read(id: string, props: VolumeInputs) {
      const state = volumeState(run, props.uri, props.pool, props.name);
      if (!state.exists) return { id: "", props: {} };
      return {
        id,
        props: {
          ...props,
          path: state.path,
          backingPath: state.backingPath ?? props.backingPath,
          capacityGiB: state.capacityBytes === null ? props.capacityGiB : Math.round(state.capacityBytes / 1024 ** 3),
        },
      };
    },
    async diff(_id: string, olds: VolumeInputs, news: VolumeInputs) {
      // A new base image or a smaller disk means a new disk; growing it is done in place.
      const replaces = diffKeys(olds as never, news as never, ["uri", "pool", "name", "backingPath"]);
      if (news.capacityGiB < olds.capacityGiB) replaces.push("capacityGiB");
      return {
        changes: replaces.length > 0 || olds.capacityGiB !== news.capacityGiB,
        replaces,
        deleteBeforeReplace: true,
      };
    },
    async update(_id: string, _olds: VolumeInputs, news: VolumeInputs) {
      virsh(run, news.uri, what(news.pool, news.name), [
        "vol-resize",
        "--pool",
        news.pool,
        news.name,
        `${news.capacityGiB}G`,
      ]);
      return { outs: { ...news, path: volumeState(run, news.uri, news.pool, news.name).path } };
    },
    async delete(_id: string, props: VolumeInputs & { path?: string | null }) {
      removeVolume(run, props.uri, what(props.pool, props.name), props.pool, props.name, props.path);
    },
  };
}
