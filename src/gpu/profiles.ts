// The profiles a GPU really offers: the catalog's, overridden by what the live driver reports
// (`nvidia-smi mig -lgip/-lgipp`), matched by id and geometry because drivers rename profiles.
import type { HostGpu } from "../host/types";
import type { CatalogEntry, MigProfile } from "../facts/gpu-catalog";
import type { SolverProfile } from "./solver";

export interface EffectiveProfile extends SolverProfile {
  readonly memoryGiB: number;
  readonly mediaExtensions: boolean;
  /** Where the facts came from: the catalog or the live driver. */
  readonly source: "catalog" | "live";
}

function fromCatalog(profile: MigProfile): EffectiveProfile {
  return { ...profile, source: "catalog" };
}

export function effectiveProfiles(entry: CatalogEntry, host?: HostGpu | null): EffectiveProfile[] {
  const live = host?.migProfiles ?? [];
  if (live.length === 0) return entry.profiles.map(fromCatalog);
  return live
    .map((profile): EffectiveProfile => {
      const size = profile.placements[0]?.size;
      const computeFromName = Number(/^([0-9])g/.exec(profile.name)?.[1] ?? NaN);
      const catalogMatch =
        entry.profiles.find(
          (p) => p.id !== null && p.id === profile.id && (size === undefined || p.memorySlices === size),
        ) ??
        entry.profiles.find((p) => p.name === profile.name) ??
        entry.profiles.find(
          (p) =>
            p.computeSlices === computeFromName &&
            p.memorySlices === size &&
            p.mediaExtensions === profile.name.endsWith("+me"),
        );
      const memorySlices = size ?? catalogMatch?.memorySlices ?? 0;
      return {
        id: profile.id,
        name: profile.name,
        computeSlices: catalogMatch?.computeSlices ?? (Number.isFinite(computeFromName) ? computeFromName : 1),
        memorySlices,
        memoryGiB: profile.memoryMiB !== null ? Math.round(profile.memoryMiB / 1024) : (catalogMatch?.memoryGiB ?? 0),
        maxCount: profile.instancesTotal ?? catalogMatch?.maxCount ?? 1,
        starts: profile.placements.length ? profile.placements.map((p) => p.start) : (catalogMatch?.starts ?? []),
        mediaExtensions: profile.name.endsWith("+me"),
        source: "live",
      };
    })
    .filter((profile) => profile.memorySlices > 0 && profile.starts.length > 0);
}
