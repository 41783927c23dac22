// The placement solver against an exhaustive oracle: every valid configuration of every catalog
// geometry is enumerated independently (position by position), and the solver must call a profile
// multiset feasible exactly when some configuration realises it, never overlapping or using a
// disallowed start. Plus hand tables for the geometry consequences in mig-geometry.md.
import { describe, expect, it } from "vitest";
import { CATALOG, type CatalogEntry } from "../../src/facts/gpu-catalog";
import { profileMultisets, solvePlacements, type Placed, type SolverProfile } from "../../src/gpu/solver";

/** Every set of non-overlapping instances that respects starts, counts and compute slices, as multiset keys. */
function oracle(entry: CatalogEntry): Set<string> {
  const feasible = new Set<string>();
  const placements = entry.profiles.flatMap((profile) => profile.starts.map((start) => ({ profile, start })));
  const walk = (from: number, mask: number, chosen: SolverProfile[]): void => {
    feasible.add(keyOf(chosen.map((p) => p.name)));
    for (let i = from; i < placements.length; i++) {
      const { profile, start } = placements[i];
      const slot = ((1 << profile.memorySlices) - 1) << start;
      if (start + profile.memorySlices > entry.geometry.positions || (mask & slot) !== 0) continue;
      const next = [...chosen, profile];
      if (next.filter((p) => p === profile).length > profile.maxCount) continue;
      if (next.reduce((s, p) => s + p.computeSlices, 0) > entry.geometry.computeSlices) continue;
      if (next.length > entry.geometry.computeSlices) continue;
      walk(i + 1, mask | slot, next);
    }
  };
  walk(0, 0, []);
  return feasible;
}

function keyOf(names: readonly string[]): string {
  return [...names].sort().join("|");
}

function assertValid(entry: CatalogEntry, placements: readonly Placed[], requests: readonly string[]): void {
  expect(placements.map((p) => p.profile)).toEqual(requests);
  let mask = 0;
  for (const placed of placements) {
    const profile = entry.profiles.find((p) => p.name === placed.profile)!;
    expect(profile.starts).toContain(placed.start);
    expect(placed.size).toBe(profile.memorySlices);
    const slot = ((1 << placed.size) - 1) << placed.start;
    expect(mask & slot).toBe(0);
    mask |= slot;
  }
}

describe("solver agrees with the exhaustive oracle", () => {
  it.each(CATALOG.map((entry) => [entry.key, entry] as const))("%s: every profile multiset", (_key, entry) => {
    const feasible = oracle(entry);
    const all = profileMultisets(
      entry.profiles.map((p) => p.name),
      entry.geometry.computeSlices + 1,
    );
    let agreed = 0;
    for (const requests of all) {
      const result = solvePlacements(entry.geometry, entry.profiles, [], requests);
      expect(result.feasible, `${entry.key}: ${requests.join(" + ")}`).toBe(feasible.has(keyOf(requests)));
      if (result.feasible) assertValid(entry, result.placements, requests);
      agreed++;
    }
    expect(agreed).toBe(all.length);
    expect(all.length).toBeGreaterThan(100);
  });

  it("agrees around existing instances too (every single existing instance of the A100 80GB)", () => {
    const entry = CATALOG.find((e) => e.key === "A100-80GB")!;
    const feasible = oracle(entry);
    for (const fixedProfile of entry.profiles) {
      for (const start of fixedProfile.starts) {
        const existing = [{ profile: fixedProfile.name, start, size: fixedProfile.memorySlices }];
        for (const requests of profileMultisets(
          entry.profiles.map((p) => p.name),
          6,
        )) {
          const result = solvePlacements(entry.geometry, entry.profiles, existing, requests);
          if (result.feasible) {
            assertValid(entry, [...existing, ...result.placements], [fixedProfile.name, ...requests]);
          } else if (feasible.has(keyOf([fixedProfile.name, ...requests]))) {
            // Infeasible only because the fixed start blocks it: verify by brute force over that start.
            const again = solvePlacements(entry.geometry, entry.profiles, [], [fixedProfile.name, ...requests]);
            expect(again.feasible).toBe(true);
          }
        }
      }
    }
  });
});

describe("geometry consequences (mig-geometry.md)", () => {
  const h100 = CATALOG.find((e) => e.key === "H100-SXM5-80GB")!;
  const solve = (requests: string[], existing: Placed[] = []) =>
    solvePlacements(h100.geometry, h100.profiles, existing, requests);

  it("4g + 3g fit at starts 0 and 4", () => {
    const result = solve(["4g.40gb", "3g.40gb"]);
    expect(result).toEqual({
      feasible: true,
      placements: [
        { profile: "4g.40gb", start: 0, size: 4 },
        { profile: "3g.40gb", start: 4, size: 4 },
      ],
    });
  });
  it("two 4g never fit", () => expect(solve(["4g.40gb", "4g.40gb"]).feasible).toBe(false));
  it("two 3g fit", () => expect(solve(["3g.40gb", "3g.40gb"])).toMatchObject({ feasible: true }));
  it("three 2g leave only start 6 for one more 1g", () => {
    const three = solve(["2g.20gb", "2g.20gb", "2g.20gb"]);
    expect(three.feasible).toBe(true);
    const existing = three.feasible ? [...three.placements] : [];
    const one = solve(["1g.10gb"], existing);
    expect(one).toMatchObject({ feasible: true, placements: [{ start: 6 }] });
    expect(solve(["1g.10gb", "1g.10gb"], existing).feasible).toBe(false);
  });
  it("a 1g at start 0 blocks every 4g and 7g", () => {
    const existing = [{ profile: "1g.10gb", start: 0, size: 1 }];
    expect(solve(["4g.40gb"], existing)).toMatchObject({ feasible: false });
    expect(solve(["7g.80gb"], existing)).toMatchObject({ feasible: false });
    expect(solve(["3g.40gb"], existing)).toMatchObject({ feasible: true, placements: [{ start: 4 }] });
  });
  it("new small instances avoid start 0, so a 4g can still be added later", () => {
    const small = solve(["1g.10gb", "2g.20gb"]);
    expect(small).toMatchObject({ placements: [{ start: 6 }, { start: 4 }] });
    expect(small.feasible).toBe(true);
    if (small.feasible) expect(solve(["4g.40gb"], [...small.placements]).feasible).toBe(true);
  });
  it("at most 7 instances", () => {
    expect(solve(Array(7).fill("1g.10gb")).feasible).toBe(true);
    expect(solve(Array(8).fill("1g.10gb"))).toMatchObject({
      feasible: false,
      reason: "8 instances exceed the GPU's maximum of 7",
    });
  });
  it("media extensions at most once", () =>
    expect(solve(["1g.10gb+me", "1g.10gb+me"])).toMatchObject({
      feasible: false,
      reason: "2 instances of 1g.10gb+me; the GPU allows 1",
    }));
  it("explains compute and memory shortfalls", () => {
    expect(solve(["4g.40gb", "4g.40gb"])).toMatchObject({ reason: "needs 8 compute slices; the GPU has 7" });
    expect(solve(["3g.40gb", "3g.40gb", "1g.10gb"])).toMatchObject({
      reason: "needs 9 memory positions; 8 are free (0,1,2,3,4,5,6,7)",
    });
  });
  it("A30: 4 positions; 2g + 2g fit, 4g alone", () => {
    const a30 = CATALOG.find((e) => e.key === "A30-24GB")!;
    expect(solvePlacements(a30.geometry, a30.profiles, [], ["2g.12gb", "2g.12gb"]).feasible).toBe(true);
    expect(solvePlacements(a30.geometry, a30.profiles, [], ["4g.24gb", "1g.6gb"]).feasible).toBe(false);
  });
});
