// Live probe of this machine: the sysfs/procfs/command inventory, enriched by systeminformation
// (CPU identity and core counts, memory) and the free space where the storage pool lives.
import * as fs from "node:fs";
import * as path from "node:path";
import { inventoryFrom } from "./probe";
import { liveSource, recordingSource, type LiveOptions } from "./source";
import type { HostInventory } from "./types";

export interface LiveProbeOptions extends LiveOptions {
  /** Directory whose filesystem's free space is reported (the storage pool). */
  readonly diskPath?: string;
  /** Write the raw inputs here as a snapshot. */
  readonly captureDir?: string;
}

function freeGiB(target: string): number | null {
  // The pool directory may not exist yet: measure its nearest existing parent.
  for (let dir = target; ; dir = path.dirname(dir)) {
    try {
      const stats = fs.statfsSync(dir);
      return Math.floor((stats.bavail * stats.bsize) / 1024 ** 3);
    } catch {
      if (dir === path.dirname(dir)) return null;
    }
  }
}

export async function probeLive(options: LiveProbeOptions = {}): Promise<HostInventory> {
  const base = liveSource(options);
  const recorder = options.captureDir ? recordingSource(base) : undefined;
  const inventory = inventoryFrom(recorder?.source ?? base, options.libvirtUri);
  if (recorder && options.captureDir) recorder.write(options.captureDir);
  const diskPath = options.diskPath ?? "/var/lib/libvirt/images";
  const disk = { path: diskPath, freeGiB: freeGiB(path.join(options.root ?? "/", diskPath)) };
  if ((options.root ?? "/") !== "/") return { ...inventory, disk };
  // systeminformation reads the real machine: only for a real live probe, never for a fake root.
  const si = await import("systeminformation");
  const [cpu, mem] = await Promise.all([si.cpu(), si.mem()]);
  return {
    ...inventory,
    cpu: {
      ...inventory.cpu,
      vendor: inventory.cpu.vendor ?? (cpu.manufacturer || null),
      model: inventory.cpu.model ?? (cpu.brand ? `${cpu.manufacturer} ${cpu.brand}`.trim() : null),
      cores: cpu.physicalCores || inventory.cpu.cores,
      threads: cpu.cores || inventory.cpu.threads,
    },
    memory: { totalMiB: inventory.memory.totalMiB ?? Math.floor(mem.total / 1048576) },
    disk,
  };
}
