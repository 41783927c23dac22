// The lifecycle contract every custom resource type must keep, driven through the provider host:
// create -> read (no drift) -> diff with the same inputs (no change) -> each updatable property (update, then
// no drift) -> each replacing property (replace, then no drift) -> delete -> read (gone) -> delete again.
import { expect } from "vitest";
import type { EngineResource } from "./engine-resource";
import type { Props } from "./provider-host";

export interface Transition {
  /** Property changed, for the log. */
  readonly property: string;
  readonly inputs: Props;
}

export interface Contract {
  readonly resource: EngineResource;
  readonly inputs: Props;
  readonly updates: readonly Transition[];
  readonly replaces: readonly Transition[];
  /** Checks after each step against the real system (e.g. libvirt holds what the outputs say). */
  readonly verify?: (outputs: Props, inputs: Props) => void | Promise<void>;
  /** The real object is gone (after delete). */
  readonly gone?: () => boolean | Promise<boolean>;
  /**
   * Read after delete. Default: the object is gone (read returns no id). A MIG layout reads the GPU, which
   * stays: its read then reports no instances, so the next up re-creates them.
   */
  readonly readAfterDelete?: (outputs: Props | null) => void;
}

/** Runs the contract; returns the transitions exercised (for the figures). */
export async function runContract(contract: Contract): Promise<string[]> {
  const { resource } = contract;
  const log: string[] = [];
  const settle = async (inputs: Props, label: string) => {
    const read = await resource.refresh();
    expect(read, `${label}: read finds the object`).not.toBeNull();
    await contract.verify?.(resource.visibleOutputs, inputs);
    const again = await resource.preview(inputs);
    expect(
      again.kind,
      `${label}: after read, the same inputs diff as no change (no drift); diff was ${JSON.stringify(again.diff)}`,
    ).toBe("same");
  };

  expect((await resource.up(contract.inputs)).kind).toBe("create");
  log.push("create");
  await settle(contract.inputs, "create");
  log.push("read", "diff-same");

  let current = contract.inputs;
  for (const update of contract.updates) {
    const preview = await resource.preview(update.inputs);
    expect(preview.kind, `preview of a change of ${update.property}: ${JSON.stringify(preview.diff)}`).toBe("update");
    expect((await resource.up(update.inputs)).kind).toBe("update");
    await settle(update.inputs, `update of ${update.property}`);
    current = update.inputs;
    log.push(`update:${update.property}`);
  }
  for (const replace of contract.replaces) {
    const preview = await resource.preview(replace.inputs);
    expect(preview.kind, `preview of a change of ${replace.property}: ${JSON.stringify(preview.diff)}`).toBe("replace");
    const step = await resource.up(replace.inputs);
    expect(step.kind).toBe("replace");
    expect(step.diff!.replaces.length, `replaces names the changed property ${replace.property}`).toBeGreaterThan(0);
    await settle(replace.inputs, `replace of ${replace.property}`);
    current = replace.inputs;
    log.push(`replace:${replace.property}`);
  }
  void current;
  await resource.destroy();
  log.push("delete");
  const after = await resource.refresh();
  if (contract.readAfterDelete) contract.readAfterDelete(after);
  else expect(after, "read after delete finds nothing").toBeNull();
  if (contract.gone) expect(await contract.gone(), "the object is gone from the system").toBe(true);
  await resource.destroy();
  log.push("delete-again");
  return log;
}
