// Loads a host inventory for planning: a snapshot directory (replayed) or an inventory JSON file
// (`hyperscaler probe --json > FILE`), checked against schemas/host-inventory.schema.json.
import * as fs from "node:fs";
import { InputError } from "../spec/input-error";
import { readJsonInput } from "../spec/json-input";
import { inventoryFrom } from "./probe";
import { snapshotSource } from "./source";
import type { HostInventory } from "./types";

export function loadHost(target: string, libvirtUri?: string): HostInventory {
  let isDirectory: boolean;
  try {
    isDirectory = fs.statSync(target).isDirectory();
  } catch {
    throw new InputError(
      `host ${target} not found: give a snapshot directory (probe --capture DIR) ` +
        `or an inventory JSON (probe --json > FILE)`,
    );
  }
  if (isDirectory) return inventoryFrom(snapshotSource(target), libvirtUri);
  return readJsonInput<HostInventory>({
    file: target,
    what: "host inventory",
    schema: "host-inventory.schema.json",
    howToMake: "give a snapshot directory or the output of `hyperscaler probe --json`",
  });
}
