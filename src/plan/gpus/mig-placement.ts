// MIG carving: keeps the placements that already exist (the previous plan's, else the host's), places the
// remaining demands (mig-search.ts), and explains each demand that did not fit.
import { solvePlacements } from "../../gpu/solver";
import type { PlacementMove, Plan, PlanIssue } from "../types";
import type { Demand } from "./demands";
import { isMigCarrier, profileFor, type Device } from "./devices";
import { placeDemands, type Failure } from "./mig-search";

/**
 * Keeps existing placements: the previous plan's, else what the host already has carved. Returns the demands
 * still to place; a kept instance nobody asks for any more, or whose placement is no longer valid, is
 * reported as moved.
 */
export function keepPlacements(
  devices: Device[],
  demands: Demand[],
  previous: Plan | undefined,
  moved: PlacementMove[],
): Demand[] {
  const pending = [...demands];
  for (const device of devices.filter(isMigCarrier)) {
    const kept =
      previous?.gpus
        .find((gpu) => gpu.id === device.spec.id)
        ?.instances.map((i) => ({
          profile: i.profile,
          start: i.start,
          size: i.size,
          cluster: i.cluster,
          owner: i.assignedTo,
        })) ??
      (device.host?.migInstances ?? [])
        .filter((i) => i.start !== null && i.size !== null)
        .map((i) => ({
          profile: i.profile,
          start: i.start as number,
          size: i.size as number,
          cluster: null,
          owner: null,
        }));
    for (const instance of kept.sort((a, b) => a.start - b.start)) {
      const index = pending.findIndex(
        (demand) =>
          (demand.device === undefined || demand.device === device.spec.id) &&
          (instance.cluster === null || demand.cluster === instance.cluster) &&
          profileFor(device, demand)?.name === instance.profile,
      );
      if (index < 0) {
        moved.push({
          gpu: device.spec.id,
          profile: instance.profile,
          from: instance.start,
          to: null,
          reason: "no longer requested",
        });
        continue;
      }
      const candidate = {
        demand: pending[index],
        placed: { profile: instance.profile, start: instance.start, size: instance.size },
        previousOwner: instance.owner,
      };
      const check = device.entry
        ? solvePlacements(
            device.entry.geometry,
            device.profiles,
            [...device.fixed.map((f) => f.placed), candidate.placed],
            [],
          )
        : { feasible: false as const };
      if (!check.feasible) {
        moved.push({
          gpu: device.spec.id,
          profile: instance.profile,
          from: instance.start,
          to: null,
          reason: "its placement is no longer valid for this GPU",
        });
        continue;
      }
      device.fixed.push(candidate);
      pending.splice(index, 1);
    }
  }
  return pending;
}

/** Places the rest: pinned first, then larger profiles, onto explicit MIG GPUs before auto ones. */
export function placeRemaining(devices: Device[], pending: Demand[], moved: PlacementMove[]): Failure[] {
  const carriers = devices
    .filter(isMigCarrier)
    .sort((a, b) => Number(a.spec.attach === "auto") - Number(b.spec.attach === "auto"));
  const sizeOf = (demand: Demand): number => {
    for (const device of carriers) {
      const profile = profileFor(device, demand);
      if (profile) return profile.memorySlices * 10 + profile.computeSlices;
    }
    return 0;
  };
  pending.sort(
    (a, b) =>
      Number(b.device !== undefined) - Number(a.device !== undefined) || sizeOf(b) - sizeOf(a) || a.order - b.order,
  );
  return placeDemands(pending, carriers, moved);
}

/** One error per (cluster, profile) that did not fit, with GPUs that failed for the same reason grouped. */
export function groupFailures(failures: Failure[]): PlanIssue[] {
  const groups = new Map<string, Failure[]>();
  for (const failure of failures) {
    const key = `${failure.demand.cluster}|${failure.demand.profile}|${failure.demand.device}`;
    groups.set(key, [...(groups.get(key) ?? []), failure]);
  }
  return [...groups.values()].map((group) => {
    const { demand, reasons } = group[0];
    const byReason = new Map<string, Device[]>();
    for (const { device, reason } of reasons) byReason.set(reason, [...(byReason.get(reason) ?? []), device]);
    const explained = [...byReason]
      .map(
        ([reason, list]) =>
          `${list.map((d) => d.spec.id).join(", ")} (${list[0].entry?.displayName ?? list[0].spec.model}): ${reason}`,
      )
      .join("; ");
    const count = group.length > 1 ? `${group.length} x ` : "";
    const what = `${count}${demand.profile ?? "one-slice instance"} for cluster ${demand.cluster}`;
    const where = demand.device ? ` on ${demand.device}` : "";
    return {
      message: `cannot place ${what}${where}: ${explained || "no GPU can carry MIG slices"}`,
      gpu: demand.device ?? reasons[0]?.device.spec.id,
      hint: "ask for fewer or smaller slices (`hyperscaler plan` shows the slot map), or add a MIG-capable GPU",
      path: demand.path,
    };
  });
}
