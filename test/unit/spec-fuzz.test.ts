// Property tests: random mutations of the valid configs never crash the loader; they either
// validate or come back with errors that carry positions and pointers.
import * as fc from "fast-check";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { loadSpecText } from "../../src/spec/load";
import { ROOT } from "../helpers";

const CONFIGS = [
  "config/dev.yaml",
  "config/prod.yaml",
  ...fs.readdirSync(path.join(ROOT, "config/examples")).map((f) => `config/examples/${f}`),
];
const TEXTS = CONFIGS.map((file) => fs.readFileSync(path.join(ROOT, file), "utf8"));

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Every path to a value inside a JSON tree. */
function paths(value: Json, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [prefix];
  if (Array.isArray(value)) value.forEach((item, index) => out.push(...paths(item, [...prefix, index])));
  else if (value !== null && typeof value === "object")
    for (const [key, item] of Object.entries(value)) out.push(...paths(item, [...prefix, key]));
  return out;
}

function mutate(root: Json, at: (string | number)[], action: "set" | "delete", replacement: Json): Json {
  if (at.length === 0) return action === "set" ? replacement : {};
  const copy = structuredClone(root) as Record<string | number, Json>;
  let node: Record<string | number, Json> = copy;
  for (const segment of at.slice(0, -1)) node = node[segment] as Record<string | number, Json>;
  const last = at[at.length - 1];
  if (action === "delete") {
    if (Array.isArray(node)) node.splice(Number(last), 1);
    else delete node[last];
  } else node[last] = replacement;
  return copy;
}

const replacementValue: fc.Arbitrary<Json> = fc.oneof(
  fc.integer({ min: -5, max: 5000 }),
  fc.string({ maxLength: 12 }),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom("192.168.100.10", "10.0.0.0/8", "1g.10gb", "0000:65:00.0", "hybrid", "24:00:00", "10.0.0.1-300"),
  fc.array(fc.integer({ min: 0, max: 9 }), { maxLength: 3 }),
  fc.dictionary(fc.constantFrom("count", "profile", "cpu_core", "x"), fc.integer({ min: 0, max: 9 }), { maxKeys: 2 }),
);

function assertWellFormed(text: string): void {
  const result = loadSpecText("fuzz.yaml", text);
  if (result.ok) return;
  expect(result.errors.length).toBeGreaterThan(0);
  for (const error of result.errors) {
    expect(error.line).toBeGreaterThanOrEqual(1);
    expect(error.column).toBeGreaterThanOrEqual(1);
    expect(typeof error.path).toBe("string");
    expect(error.message.length).toBeGreaterThan(0);
  }
}

describe("loader robustness", () => {
  it("structural mutations of valid configs validate or give positioned errors", () => {
    fc.assert(
      fc.property(
        fc.nat(TEXTS.length - 1),
        fc.nat(),
        fc.constantFrom<"set" | "delete">("set", "delete"),
        replacementValue,
        (which, pick, action, replacement) => {
          const data = parse(TEXTS[which]) as Json;
          const all = paths(data);
          const mutated = mutate(data, all[pick % all.length], action, replacement);
          assertWellFormed(stringify(mutated));
        },
      ),
      { numRuns: 400 },
    );
  });

  it("text mutations (inserted, deleted and replaced characters) never crash", () => {
    fc.assert(
      fc.property(
        fc.nat(TEXTS.length - 1),
        fc.nat(),
        fc.nat(20),
        fc.string({ maxLength: 6 }),
        (which, at, removed, inserted) => {
          const text = TEXTS[which];
          const position = at % (text.length + 1);
          assertWellFormed(text.slice(0, position) + inserted + text.slice(position + removed));
        },
      ),
      { numRuns: 400 },
    );
  });
});
