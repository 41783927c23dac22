// The search for MIG placements across GPUs: which GPU takes each pending demand (first fit, then spread,
// then a bounded exhaustive search; last, kept placements may move), each GPU's layout solved by gpu/solver.
import { solvePlacements } from "../../gpu/solver";
import type { PlacementMove } from "../types";
import type { Demand } from "./demands";
import { profileFor, type Device } from "./devices";

/** Re-solves a device's movable instances around its fixed ones; writes placements when feasible. */
export function resolveDevice(
  device: Device,
  extra?: { demand: Demand; previousOwner: string | null },
): { ok: true } | { ok: false; reason: string } {
  if (!device.entry) return { ok: false, reason: "model not in the MIG catalog" };
  const movable = extra ? [...device.free, { ...extra, placed: null }] : device.free;
  const names: string[] = [];
  for (const item of movable) {
    const profile = profileFor(device, item.demand);
    if (!profile) {
      const among = device.spec.allowed_mig_profiles ? " among allowed_mig_profiles" : "";
      return { ok: false, reason: `does not offer ${item.demand.profile ?? "a 1g profile"}${among}` };
    }
    names.push(profile.name);
  }
  if (extra && device.spec.attach === "mig-in-guest") {
    const clusters = new Set([...device.fixed, ...device.free].map((item) => item.demand.cluster));
    if (clusters.size > 0 && !clusters.has(extra.demand.cluster))
      return { ok: false, reason: "MIG inside the guest: the whole GPU goes to one VM of another cluster" };
  }
  const result = solvePlacements(
    device.entry.geometry,
    device.profiles,
    device.fixed.map((f) => f.placed),
    names,
  );
  if (!result.feasible) return { ok: false, reason: result.reason };
  if (extra) device.free.push({ ...extra, placed: null });
  device.free.forEach((item, index) => (item.placed = result.placements[index]));
  return { ok: true };
}

/** Bound on the cross-GPU search: an infeasible spec must still answer quickly. */
export const EXHAUSTIVE_STEPS = 20_000;

export type Chooser = (candidates: Device[]) => Device[];

/** Devices in declared order (fills one GPU before the next: keeps whole GPUs free). */
export const firstFit: Chooser = (candidates) => candidates;

/** Devices with the most free compute first (spreads large profiles so small ones still fit). */
export const spread: Chooser = (candidates) => [...candidates].sort((a, b) => usedCompute(a) - usedCompute(b));

export function usedCompute(device: Device): number {
  return [...device.fixed, ...device.free].reduce(
    (sum, item) => sum + (profileFor(device, item.demand)?.computeSlices ?? 0),
    0,
  );
}

export interface Failure {
  readonly demand: Demand;
  /** Why each GPU refused, with what it carried at that moment. */
  readonly reasons: { device: Device; reason: string }[];
}

export function carried(device: Device): string[] {
  return [
    ...device.fixed.map((f) => f.placed.profile),
    ...device.free.flatMap((f) => (f.placed ? [f.placed.profile] : [])),
  ];
}

export function saveState(devices: Device[]): () => void {
  const saved = devices.map((d) => ({ d, fixed: [...d.fixed], free: d.free.map((f) => ({ ...f })) }));
  // Hand out copies: a restored state is mutated by the next attempt and must stay restorable.
  return () => saved.forEach(({ d, fixed, free }) => ((d.fixed = [...fixed]), (d.free = free.map((f) => ({ ...f })))));
}

export function candidatesFor(demand: Demand, carriers: Device[]): Device[] {
  return demand.device !== undefined ? carriers.filter((d) => d.spec.id === demand.device) : carriers;
}

export function greedy(pending: Demand[], carriers: Device[], choose: Chooser): Failure[] {
  const failures: Failure[] = [];
  for (const demand of pending) {
    const reasons: { device: Device; reason: string }[] = [];
    let placed = false;
    for (const device of choose(candidatesFor(demand, carriers))) {
      const holding = carried(device);
      const attempt = resolveDevice(device, { demand, previousOwner: null });
      if (attempt.ok) {
        placed = true;
        break;
      }
      reasons.push({ device, reason: `${holding.length ? `carries ${holding.join(" + ")}; ` : ""}${attempt.reason}` });
    }
    if (!placed) failures.push({ demand, reasons });
  }
  return failures;
}

/** Exhaustive search over which GPU takes each demand, with GPUs in identical state tried once. */
export function exhaustive(pending: Demand[], carriers: Device[], budget: { steps: number }): boolean {
  const walk = (k: number): boolean => {
    if (k === pending.length) return true;
    if (--budget.steps < 0) return false;
    const tried = new Set<string>();
    for (const device of candidatesFor(pending[k], carriers)) {
      // GPUs of one model, settings, profiles carried and clusters served are interchangeable here.
      const settings = `${device.entry?.key}|${device.spec.allowed_mig_profiles?.join(",")}|${device.spec.attach}`;
      const profiles = [
        ...device.fixed.map((f) => f.placed.profile),
        ...device.free.map((f) => profileFor(device, f.demand)?.name),
      ].sort();
      const clusters = [...device.fixed, ...device.free].map((f) => f.demand.cluster).sort();
      const state = `${settings}|${profiles.join(",")}|${clusters.join(",")}`;
      if (tried.has(state)) continue;
      tried.add(state);
      const restore = saveState([device]);
      if (resolveDevice(device, { demand: pending[k], previousOwner: null }).ok && walk(k + 1)) return true;
      restore();
    }
    return false;
  };
  return walk(0);
}

/** Places every pending demand: first fit, then spread, then exhaustive search; last, lets kept placements move. */
export function placeDemands(pending: Demand[], carriers: Device[], moved: PlacementMove[]): Failure[] {
  const restore = saveState(carriers);
  let failures = greedy(pending, carriers, firstFit);
  if (failures.length === 0) return [];
  restore();
  failures = greedy(pending, carriers, spread);
  if (failures.length === 0) return [];
  restore();
  if (exhaustive(pending, carriers, { steps: EXHAUSTIVE_STEPS })) return [];
  restore();
  // Kept placements may be what blocks: release them and re-solve, reporting what moves.
  const kept = carriers.flatMap((d) => d.fixed.map((f) => ({ device: d, item: f })));
  if (kept.length > 0) {
    for (const device of carriers) {
      device.free = [...device.fixed.map((f) => ({ ...f })), ...device.free];
      device.fixed = [];
    }
    const retry = exhaustive(pending, carriers, { steps: EXHAUSTIVE_STEPS })
      ? []
      : (restore(), greedy(pending, carriers, firstFit));
    if (retry.length === 0) {
      for (const { device, item } of kept) {
        const now = device.free.find((f) => f.demand === item.demand)?.placed;
        const blocked = pending
          .map((d) => `${d.profile ?? "1g"} (${d.cluster})`)
          .filter((v, i, a) => a.indexOf(v) === i)
          .join(", ");
        if (now && now.start !== item.placed.start)
          moved.push({
            gpu: device.spec.id,
            profile: item.placed.profile,
            from: item.placed.start,
            to: now.start,
            reason: `kept placements left no room for ${blocked}`,
          });
      }
      return [];
    }
    return retry;
  }
  return greedy(pending, carriers, firstFit);
}
