// Inventories and plans the tool writes conform to schemas/host-inventory.schema.json and plan.schema.json.
import Ajv2020 from "ajv/dist/2020";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { inventoryFrom } from "../../src/host/probe";
import { liveSource, snapshotSource } from "../../src/host/source";
import { buildPlan } from "../../src/plan";
import { loadSpecFile } from "../../src/spec/load";
import { fakeExecutor, fakeRoot, sample, snapshotDir } from "../fixtures/host";
import { ROOT } from "../helpers";

const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
const schema = (name: string) => ajv.compile(JSON.parse(fs.readFileSync(path.join(ROOT, "schemas", name), "utf8")));

describe("output schemas", () => {
  const validateInventory = schema("host-inventory.schema.json");
  const validatePlan = schema("plan.schema.json");

  it("inventories from replays and fake trees conform", () => {
    const inventories = [
      inventoryFrom(
        snapshotSource(
          snapshotDir({
            "nvidia-smi-q-x.xml": sample("nvidia-smi-q-x_a100-sxm4-80gb_mig-enabled_4x1g.20gb_drv535.xml"),
          }),
        ),
      ),
      inventoryFrom(
        snapshotSource(
          snapshotDir({
            "lspci-Dnn.txt": sample("lspci-nn_h100-sxm5-80gb_x4.txt"),
            "nvidia-smi-mig-lgipp.txt": sample("nvidia-smi-mig-lgipp_h100-pcie-80gb_drv525.txt"),
          }),
        ),
      ),
      inventoryFrom(
        liveSource({
          root: fakeRoot({
            iommuClass: true,
            gpus: [
              {
                address: "0000:65:00.0",
                device: "0x20b5",
                driver: "nvidia",
                group: 3,
                mdevTypes: [{ id: "nvidia-700", name: "A100D-1-10C", available: 7 }],
              },
            ],
          }),
          executor: fakeExecutor(),
        }),
      ),
    ];
    for (const inventory of inventories)
      expect(validateInventory(inventory), JSON.stringify(validateInventory.errors)).toBe(true);
  });

  it("plans of every shipped config conform", () => {
    const files = [
      "config/dev.yaml",
      "config/prod.yaml",
      ...fs.readdirSync(path.join(ROOT, "config/examples")).map((f) => `config/examples/${f}`),
    ];
    for (const file of files) {
      const loaded = loadSpecFile(path.join(ROOT, file));
      if (!loaded.ok) throw new Error(file);
      const plan = JSON.parse(JSON.stringify(buildPlan({ spec: loaded.spec })));
      expect(validatePlan(plan), `${file}: ${JSON.stringify(validatePlan.errors)}`).toBe(true);
      expect(plan.feasible, file).toBe(true);
    }
  });
});
