// Exact MIG placement solver: explicit {profile, start, size} for every requested instance, or a reason
// why none exists. Depth-first search over allowed starts with symmetry breaking; the GPU has at most
// 8 memory positions and 7 instances, so the search is exhaustive and fast.

export interface SolverProfile {
  readonly name: string;
  readonly id: number | null;
  readonly computeSlices: number;
  readonly memorySlices: number;
  readonly starts: readonly number[];
  readonly maxCount: number;
}

export interface SolverGeometry {
  readonly positions: number;
  readonly computeSlices: number;
}

export interface Placed {
  readonly profile: string;
  readonly start: number;
  readonly size: number;
}

export type SolveResult =
  | { readonly feasible: true; readonly placements: readonly Placed[] }
  | { readonly feasible: false; readonly reason: string; readonly freePositions: readonly number[] };

/** Most instances one GPU holds: one per compute slice. */
export function maxInstances(geometry: SolverGeometry): number {
  return geometry.computeSlices;
}

function maskOf(start: number, size: number): number {
  return ((1 << size) - 1) << start;
}

function freePositions(geometry: SolverGeometry, occupied: number): number[] {
  return Array.from({ length: geometry.positions }, (_, i) => i).filter((i) => (occupied & (1 << i)) === 0);
}

/**
 * Places `requests` (profile names, in the caller's order) around `existing` instances.
 * Returns placements aligned with `requests`. Preference: larger profiles first, and high starts
 * before low ones, which keeps start 0 (the only start of 4g and 7g) free for growth.
 */
export function solvePlacements(
  geometry: SolverGeometry,
  profiles: readonly SolverProfile[],
  existing: readonly Placed[],
  requests: readonly string[],
): SolveResult {
  const byName = new Map(profiles.map((profile) => [profile.name, profile]));
  let occupied = 0;
  let compute = 0;
  const counts = new Map<string, number>();
  for (const instance of existing) {
    const mask = maskOf(instance.start, instance.size);
    if ((occupied & mask) !== 0)
      return {
        feasible: false,
        reason: `existing instances overlap at start ${instance.start}`,
        freePositions: freePositions(geometry, occupied),
      };
    occupied |= mask;
    compute += byName.get(instance.profile)?.computeSlices ?? 0;
    counts.set(instance.profile, (counts.get(instance.profile) ?? 0) + 1);
  }
  const free = freePositions(geometry, occupied);
  const wanted: SolverProfile[] = [];
  for (const name of requests) {
    const profile = byName.get(name);
    if (!profile)
      return {
        feasible: false,
        reason: `profile ${name} is not offered by this GPU (offered: ${profiles.map((p) => p.name).join(", ")})`,
        freePositions: free,
      };
    wanted.push(profile);
  }
  // Counting arguments first: they explain most refusals in words a person can check.
  const instances = existing.length + wanted.length;
  if (instances > maxInstances(geometry)) {
    return {
      feasible: false,
      reason: `${instances} instances exceed the GPU's maximum of ${maxInstances(geometry)}`,
      freePositions: free,
    };
  }
  const needCompute = compute + wanted.reduce((sum, p) => sum + p.computeSlices, 0);
  if (needCompute > geometry.computeSlices) {
    return {
      feasible: false,
      reason: `needs ${needCompute} compute slices; the GPU has ${geometry.computeSlices}`,
      freePositions: free,
    };
  }
  const needMemory = wanted.reduce((sum, p) => sum + p.memorySlices, 0);
  if (needMemory > free.length) {
    return {
      feasible: false,
      reason: `needs ${needMemory} memory positions; ${free.length} are free (${free.join(",") || "none"})`,
      freePositions: free,
    };
  }
  for (const profile of new Set(wanted)) {
    const total = (counts.get(profile.name) ?? 0) + wanted.filter((p) => p === profile).length;
    if (total > profile.maxCount) {
      return {
        feasible: false,
        reason: `${total} instances of ${profile.name}; the GPU allows ${profile.maxCount}`,
        freePositions: free,
      };
    }
  }

  const order = wanted.map((profile, index) => ({ profile, index }));
  order.sort(
    (a, b) =>
      b.profile.memorySlices - a.profile.memorySlices ||
      a.profile.starts.length - b.profile.starts.length ||
      a.profile.name.localeCompare(b.profile.name) ||
      a.index - b.index,
  );
  const starts = new Array<number>(order.length);

  const search = (k: number, mask: number): boolean => {
    if (k === order.length) return true;
    const { profile } = order[k];
    // Identical profiles take strictly decreasing starts: each arrangement is tried once.
    const bound = k > 0 && order[k - 1].profile === profile ? starts[k - 1] : Infinity;
    for (let s = profile.starts.length - 1; s >= 0; s--) {
      const start = profile.starts[s];
      if (start >= bound) continue;
      const slot = maskOf(start, profile.memorySlices);
      if ((mask & slot) !== 0 || start + profile.memorySlices > geometry.positions) continue;
      starts[k] = start;
      if (search(k + 1, mask | slot)) return true;
    }
    return false;
  };

  if (!search(0, occupied)) {
    const asked = wanted.map((p) => p.name).join(" + ");
    const blockers = existing.length
      ? `; existing instances hold ${existing.map((e) => `${e.profile}@${e.start}`).join(", ")}`
      : "";
    return {
      feasible: false,
      reason: `no arrangement of ${asked} fits the allowed starts in free positions ${free.join(",")}${blockers}`,
      freePositions: free,
    };
  }
  const placements = new Array<Placed>(wanted.length);
  order.forEach(
    ({ profile, index }, k) =>
      (placements[index] = { profile: profile.name, start: starts[k], size: profile.memorySlices }),
  );
  return { feasible: true, placements };
}

/** Every multiset of `names` with at most `limit` items (the solver's test and benchmark inputs). */
export function profileMultisets(names: readonly string[], limit: number): string[][] {
  const out: string[][] = [];
  const walk = (from: number, current: string[]): void => {
    out.push([...current]);
    if (current.length === limit) return;
    for (let i = from; i < names.length; i++) walk(i, [...current, names[i]]);
  };
  walk(0, []);
  return out;
}
