// Loads a host inventory for planning: a snapshot directory (replayed) or an inventory JSON file.
import * as fs from "node:fs";
import { UsageError } from "../cli/output";
import { inventoryFrom } from "./probe";
import { snapshotSource } from "./source";
import type { HostInventory } from "./types";

export function loadHost(target: string, libvirtUri?: string): HostInventory {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(target);
  } catch {
    throw new UsageError(`host ${target} not found: give a snapshot directory (probe --capture DIR) or an inventory JSON (probe --json > FILE)`);
  }
  if (stat.isDirectory()) return inventoryFrom(snapshotSource(target), libvirtUri);
  let inventory: HostInventory;
  try {
    inventory = JSON.parse(fs.readFileSync(target, "utf8")) as HostInventory;
  } catch {
    throw new UsageError(`${target} is not JSON; give a snapshot directory or the output of \`hyperscaler probe --json\``);
  }
  if (inventory?.schemaVersion !== 1 || !Array.isArray(inventory.gpus)) {
    throw new UsageError(`${target} is not a host inventory (expected schemaVersion 1 and a gpus list, as \`hyperscaler probe --json\` prints)`);
  }
  return inventory;
}
