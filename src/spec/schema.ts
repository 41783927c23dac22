// JSON Schema validation (ajv) of cluster.yaml, with ajv's errors turned into findings a person can act on.
// The validator is compiled once at build time (ajv standalone, dist/cluster-validator.js) so the CLI
// starts fast; from sources (tests, ts-node) it is compiled on first use.
import type { ErrorObject, ValidateFunction } from "ajv";
import * as fs from "node:fs";
import * as path from "node:path";
import { closest, segmentsOf, show, type Finding } from "./diagnostics";

export function findUp(relative: string): string | undefined {
  // Compiled code lives in dist/src/spec, sources in src/spec: look upwards.
  for (let dir = __dirname, i = 0; i < 5; i++, dir = path.dirname(dir)) {
    const candidate = path.join(dir, relative);
    if (fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

let compiled: ValidateFunction | undefined;
let schemaDocument: Record<string, unknown> | undefined;

export function clusterSchema(): Record<string, unknown> {
  if (!schemaDocument) {
    const file = findUp(path.join("schemas", "cluster.schema.json"));
    if (!file) throw new Error(`schemas/cluster.schema.json not found above ${__dirname}`);
    schemaDocument = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
  }
  return schemaDocument;
}

export const AJV_OPTIONS = {
  allErrors: true,
  verbose: true,
  useDefaults: true,
  strict: true,
  allowUnionTypes: true,
} as const;

/** Compiles the schema with ajv (used from sources, and by the build to emit the standalone module). */
export function compileWithAjv(extra: Record<string, unknown> = {}): {
  validate: ValidateFunction;
  ajv: import("ajv").default;
} {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Ajv2020 = (require("ajv/dist/2020") as typeof import("ajv/dist/2020")).default;
  const ajv = new Ajv2020({ ...AJV_OPTIONS, ...extra });
  // Our annotations: what a pattern means in words, and the fix to suggest.
  ajv.addVocabulary(["x-expected", "x-hint"]);
  return { validate: ajv.compile(clusterSchema()), ajv };
}

function validator(): ValidateFunction {
  if (!compiled) {
    const prebuilt =
      path.basename(path.dirname(path.dirname(__dirname))) === "dist" ? findUp("cluster-validator.js") : undefined;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    compiled = prebuilt ? (require(prebuilt) as ValidateFunction) : compileWithAjv().validate;
  }
  return compiled;
}

/** Validates in place (ajv fills defaults into `data`) and returns findings. */
export function validateAgainstSchema(data: unknown): Finding[] {
  const validate = validator();
  if (validate(data)) return [];
  return findingsFrom(validate.errors ?? []);
}

/** ajv's errors (compiled with verbose: true) as findings a person can act on, without repeats. */
export function findingsFrom(errors: readonly ErrorObject[]): Finding[] {
  // propertyNames failures are reported twice (the name's own pattern, then propertyNames): keep one.
  const kept = errors.filter((error) => !(error.propertyName !== undefined && error.keyword !== "propertyNames"));
  const typeErrorPaths = new Set(kept.filter((error) => error.keyword === "type").map((error) => error.instancePath));
  // A wrong type makes every other complaint about the same value noise.
  const relevant = kept.filter((error) => error.keyword === "type" || !typeErrorPaths.has(error.instancePath));
  const findings = relevant.map((error) =>
    describe(error, (error.parentSchema ?? {}) as Record<string, unknown>, error.data),
  );
  // A typo (`cpu_core`) shows up as an unknown key and a missing key: say it once, as the typo.
  const typoTargets = new Set(
    findings
      .filter((f) => f.message.startsWith("unknown key") && f.hint?.startsWith("did you mean"))
      .map((f) => `${f.path.slice(0, f.path.lastIndexOf("/"))}\u0000${/"([^"]+)"/.exec(f.hint ?? "")?.[1]}`),
  );
  const seen = new Set<string>();
  return findings.filter((finding) => {
    const missing = /^missing required key "([^"]+)"/.exec(finding.message);
    if (missing && typoTargets.has(`${finding.path}\u0000${missing[1]}`)) return false;
    const key = finding.path + "\u0000" + finding.message;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function where(pointer: string): string {
  return pointer === "" ? "the top level" : pointer;
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "number") return Number.isInteger(value) ? "an integer" : "a number";
  return `a ${typeof value}`;
}

function describe(error: ErrorObject, parent: Record<string, unknown>, value: unknown): Finding {
  const expectedWords = parent["x-expected"] as string | undefined;
  const schemaHint = parent["x-hint"] as string | undefined;
  const pointer = error.instancePath;
  const field = segmentsOf(pointer).pop() || "value";
  switch (error.keyword) {
    case "additionalProperties": {
      const key = String(error.params.additionalProperty);
      const allowed = Object.keys((parent.properties as Record<string, unknown>) ?? {});
      const suggestion = closest(key, allowed);
      return {
        path: `${pointer}/${key.replace(/~/g, "~0").replace(/\//g, "~1")}`,
        atKey: true,
        message: `unknown key "${key}" in ${where(pointer)}`,
        found: key,
        expected: `one of ${allowed.join(", ")}`,
        hint: suggestion ? `did you mean "${suggestion}"?` : `allowed keys here: ${allowed.join(", ")}`,
      };
    }
    case "required": {
      const key = String(error.params.missingProperty);
      return {
        path: pointer,
        atKey: true,
        message: `missing required key "${key}" in ${where(pointer)}`,
        expected: `a "${key}" key`,
        hint: schemaHint ?? `add "${key}:" under ${where(pointer)}`,
      };
    }
    case "type": {
      const expected = String(error.params.type)
        .split(",")
        .map((t) =>
          t === "array"
            ? "a list"
            : t === "object"
              ? "a mapping"
              : t === "null"
                ? "null"
                : `${t === "integer" ? "an" : "a"} ${t}`,
        )
        .join(" or ");
      const numberLike = typeof value === "string" && /^[0-9]+$/.test(value);
      if (value === null) {
        return {
          path: pointer,
          atKey: true,
          message: `${field} has no value (an empty key is null); it must be ${expected}`,
          found: null,
          expected,
          hint:
            schemaHint && !/quoted/.test(schemaHint)
              ? schemaHint
              : `write the ${field} settings indented under "${field}:", or remove the "${field}:" line`,
        };
      }
      if (typeof value === "number" && !Number.isFinite(value)) {
        return {
          path: pointer,
          message:
            `${field} must be ${expected}, found ${show(value)} ` +
            `(YAML's ${Number.isNaN(value) ? "not-a-number" : "infinity"})`,
          found: show(value),
          expected: `a finite ${expected.replace(/^an? /, "")}`,
          hint: `write a finite value, e.g. ${field}: 16`,
        };
      }
      return {
        path: pointer,
        message: `${field} must be ${expected}, found ${typeName(value)} ${show(value)}`,
        found: value,
        expected,
        hint: schemaHint ?? (numberLike ? `remove the quotes: ${field}: ${value}` : undefined),
      };
    }
    case "enum": {
      const allowed = (error.params.allowedValues as unknown[]).map(String);
      const suggestion = typeof value === "string" ? closest(value, allowed) : undefined;
      return {
        path: pointer,
        message: `${field} must be one of ${allowed.join(", ")}; found ${show(value)}`,
        found: value,
        expected: `one of ${allowed.join(", ")}`,
        hint: schemaHint ?? (suggestion ? `did you mean "${suggestion}"?` : `use one of ${allowed.join(", ")}`),
      };
    }
    case "pattern": {
      const expected = expectedWords ?? `text matching ${String(error.params.pattern)}`;
      return {
        path: pointer,
        message: `${field} ${show(value)} is not ${expected}`,
        found: value,
        expected,
        hint: schemaHint,
      };
    }
    case "minimum":
    case "maximum":
    case "exclusiveMinimum":
    case "exclusiveMaximum": {
      const comparison =
        error.keyword === "minimum"
          ? "at least"
          : error.keyword === "maximum"
            ? "at most"
            : error.keyword === "exclusiveMinimum"
              ? "more than"
              : "less than";
      const bound = `${comparison} ${error.params.limit}`;
      return {
        path: pointer,
        message: `${field} must be ${bound}, found ${show(value)}`,
        found: value,
        expected: bound,
        hint: schemaHint ?? `set ${field} to a value ${bound}`,
      };
    }
    case "minItems":
    case "maxItems": {
      const bound = `${error.keyword === "minItems" ? "at least" : "at most"} ${error.params.limit} item(s)`;
      return {
        path: pointer,
        message: `${field} must have ${bound}, found ${(value as unknown[]).length}`,
        found: value,
        expected: bound,
      };
    }
    case "const":
      return {
        path: pointer,
        message: `${field} must be ${show(error.params.allowedValue)}, found ${show(value)}`,
        found: value,
        expected: show(error.params.allowedValue),
        hint: schemaHint,
      };
    case "minLength":
      return {
        path: pointer,
        message: `${field} must not be empty`,
        found: value,
        expected: `at least ${error.params.limit} character(s)`,
      };
    case "uniqueItems":
      return {
        path: `${pointer}/${error.params.j}`,
        message:
          `${field} lists ${show((value as unknown[])[error.params.j as number])} twice ` +
          `(items ${error.params.j} and ${error.params.i})`,
        found: (value as unknown[])[error.params.j as number],
        expected: "each item once",
        hint: "remove the duplicate",
      };
    case "propertyNames": {
      const name = String(error.params.propertyName);
      return {
        path: `${pointer}/${name}`,
        atKey: true,
        message:
          `name "${name}" in ${where(pointer)} ` + `must be lowercase letters, digits and '_', starting with a letter`,
        found: name,
        expected: "a name like hpc_network",
        hint: `rename it to "${
          name
            .toLowerCase()
            .replace(/[^a-z0-9_]/g, "_")
            .replace(/^[^a-z]+/, "") || "net"
        }"`,
      };
    }
    default:
      return { path: pointer, message: `${field}: ${error.message ?? error.keyword}`, found: value };
  }
}
