// The schema documents every field, and the README's reference is the one generated from it.
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { clusterSchema } from "../../src/spec/schema";
import { spliceReference } from "../../src/spec/reference";
import { ROOT } from "../helpers";

type Schema = Record<string, unknown>;

function undocumented(schema: Schema, where: string, out: string[]): string[] {
  const properties = (schema.properties ?? {}) as Record<string, Schema>;
  for (const [key, child] of Object.entries(properties)) {
    if (typeof child.description !== "string" || child.description.length === 0) {
      // A pure $ref inherits the description of its target.
      const target =
        typeof child.$ref === "string"
          ? (child.$ref
              .replace("#/", "")
              .split("/")
              .reduce<unknown>((n, k) => (n as Schema)[k], clusterSchema()) as Schema)
          : undefined;
      if (!target || typeof target.description !== "string") out.push(`${where}.${key}`);
    }
    undocumented(child, `${where}.${key}`, out);
  }
  if (schema.items && typeof schema.items === "object") undocumented(schema.items as Schema, `${where}[]`, out);
  return out;
}

describe("schema documentation", () => {
  it("every property has a description", () => {
    const schema = clusterSchema();
    const missing = undocumented(schema, "", []);
    for (const [name, def] of Object.entries(schema.$defs as Record<string, Schema>))
      undocumented(def, `$defs.${name}`, missing);
    expect(missing).toEqual([]);
  });

  it("forbids unknown keys everywhere", () => {
    const open: string[] = [];
    const walk = (schema: Schema, where: string): void => {
      if (schema.type === "object" && schema.properties && schema.additionalProperties !== false) open.push(where);
      for (const [key, child] of Object.entries((schema.properties ?? {}) as Record<string, Schema>))
        walk(child, `${where}.${key}`);
      if (schema.items && typeof schema.items === "object") walk(schema.items as Schema, `${where}[]`);
    };
    const schema = clusterSchema();
    walk(schema, "");
    for (const [name, def] of Object.entries(schema.$defs as Record<string, Schema>)) walk(def, `$defs.${name}`);
    expect(open).toEqual([]);
  });

  it("README's cluster.yaml reference matches the schema (run `npm run docs` after schema changes)", () => {
    const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
    expect(spliceReference(readme)).toBe(readme);
  });
});
