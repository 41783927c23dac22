// The chart-values oracle: every key the project sets in a Helm release must exist in that chart's
// default values.yaml (or its subchart's, or its values.schema.json) at the pinned version, copied
// byte-for-byte under ../shared/reference/charts/. Free-form maps are explicit exceptions.
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { referenceDir, type ChartPin } from "../src/facts/versions";
import { ROOT } from "./helpers";

export const REFERENCE_CHARTS = path.join(ROOT, "..", "shared", "reference", "charts");

/** A path pattern (dotted, `[]` for array items, `*` one segment, `**` any depth) whose children are free-form. */
export interface FreeForm {
  readonly pattern: string;
  readonly why: string;
}

/**
 * Pass-through Kubernetes objects and label maps: the charts template them verbatim, so their children are not values
 * keys.
 */
export const FREE_FORM_EVERYWHERE: readonly FreeForm[] = [
  { pattern: "**.nodeSelector", why: "label map, rendered verbatim into the pod spec" },
  { pattern: "**.affinity", why: "a Kubernetes Affinity, rendered verbatim" },
  { pattern: "**.resources", why: "a Kubernetes ResourceRequirements, rendered verbatim" },
  { pattern: "**.labels", why: "label map" },
  { pattern: "**.annotations", why: "annotation map" },
];

/** Per chart (by values path), where the chart documents a structure its defaults leave empty. */
export const FREE_FORM_BY_CHART: Readonly<Record<string, readonly FreeForm[]>> = {
  "tigera-operator": [
    {
      pattern: "installation",
      why: "rendered verbatim as the operator.tigera.io/v1 Installation spec (calicoNetwork.ipPools)",
    },
  ],
  minio: [
    {
      pattern: "users[]",
      why: "existingSecret/existingSecretKey items are the commented example under `users:` in values.yaml",
    },
    { pattern: "buckets[]", why: "bucket items (name, policy, purge) are the commented example under `buckets: []`" },
  ],
  "kube-prometheus-stack": [
    {
      pattern: "prometheus.prometheusSpec.storageSpec",
      why: "a Prometheus StorageSpec (volumeClaimTemplate), rendered verbatim",
    },
  ],
};

export interface OracleResult {
  readonly checked: string[];
  readonly freeForm: { path: string; exception: string }[];
  readonly missing: string[];
}

/** Whether a dotted path (array items as `name[]`) matches a pattern: `*` one segment, `**` any number. */
function matchesPattern(pattern: string, at: string): boolean {
  const want = pattern.split(".");
  const have = at === "" ? [] : at.split(".");
  const match = (p: number, h: number): boolean => {
    if (p === want.length) return h === have.length;
    if (want[p] === "**") return match(p + 1, h) || (h < have.length && match(p, h + 1));
    return h < have.length && (want[p] === "*" || want[p] === have[h]) && match(p + 1, h + 1);
  };
  return match(0, 0);
}

/** The exception covering a parent path: the pattern matches it or one of its ancestors (free-form below). */
function freeFormFor(parent: string, exceptions: readonly FreeForm[]): FreeForm | undefined {
  const segments = parent === "" ? [] : parent.split(".");
  return exceptions.find((e) => segments.some((_, i) => matchesPattern(e.pattern, segments.slice(0, i + 1).join("."))));
}

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Keys the defaults (values.yaml) and the JSON schema (properties) know at a point. */
interface Known {
  readonly defaults: unknown;
  readonly schema: Record<string, unknown> | undefined;
}

/** The schema under `node` for a key; the key `[]` means an array's items. */
function schemaChild(
  root: Record<string, unknown> | undefined,
  node: Record<string, unknown> | undefined,
  key: string,
): Record<string, unknown> | undefined {
  let current = node;
  for (let hops = 0; current && typeof current.$ref === "string" && hops < 20; hops++) {
    const ref = current.$ref.replace(/^#\//, "").split("/");
    current = ref.reduce<Record<string, unknown> | undefined>(
      (n, part) => (n ? (n[part] as Record<string, unknown>) : undefined),
      root,
    );
  }
  if (!current) return undefined;
  if (key === "[]") return current.items as Record<string, unknown> | undefined;
  return (current.properties as Record<string, Record<string, unknown>> | undefined)?.[key];
}

/**
 * Walks `values` against the chart's knowledge. A key missing from the defaults is accepted only when its
 * parent is an explicit free-form exception; everything else is reported missing.
 */
export function checkValues(
  values: unknown,
  defaults: unknown,
  schemaRoot: Record<string, unknown> | undefined,
  exceptions: readonly FreeForm[],
  subcharts: Readonly<Record<string, unknown>> = {},
): OracleResult {
  const result: OracleResult = { checked: [], freeForm: [], missing: [] };
  const walk = (value: unknown, known: Known, at: string): void => {
    if (Array.isArray(value)) {
      const items = Array.isArray(known.defaults) ? known.defaults : [];
      const union = Object.assign({}, ...items.filter(isMap));
      for (const item of value)
        if (isMap(item))
          walkMap(
            item,
            { defaults: items.length ? union : undefined, schema: schemaChild(schemaRoot, known.schema, "[]") },
            `${at}[]`,
          );
      return;
    }
    if (isMap(value)) walkMap(value, known, at);
  };
  const walkMap = (value: Record<string, unknown>, known: Known, at: string): void => {
    for (const [key, child] of Object.entries(value)) {
      const here = at ? `${at}.${key}` : key;
      // A subchart's keys: its own defaults, overlaid by what the parent chart sets under its name.
      const sub =
        !at && key in subcharts
          ? helmMerge(subcharts[key], isMap(known.defaults) ? known.defaults[key] : undefined)
          : undefined;
      const inDefaults = sub !== undefined || (isMap(known.defaults) && key in known.defaults);
      const childSchema = schemaChild(schemaRoot, known.schema, key);
      if (inDefaults || childSchema) {
        result.checked.push(here);
        walk(
          child,
          { defaults: sub ?? (isMap(known.defaults) ? known.defaults[key] : undefined), schema: childSchema },
          here,
        );
        continue;
      }
      const exception = freeFormFor(at, exceptions);
      if (exception) result.freeForm.push({ path: here, exception: exception.pattern });
      else result.missing.push(here);
    }
  };
  walk(values, { defaults, schema: schemaRoot }, "");
  return result;
}

/** Helm's coalescing of values: maps merge key by key, anything else is replaced. */
export function helmMerge(base: unknown, over: unknown): unknown {
  if (over === undefined) return base;
  if (!isMap(base) || !isMap(over)) return over;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) out[key] = helmMerge(base[key], value);
  return out;
}

export interface ChartReference {
  readonly dir: string;
  readonly defaults: unknown;
  readonly schema: Record<string, unknown> | undefined;
  /** Subchart defaults by the values key that configures them. */
  readonly subcharts: Record<string, unknown>;
  /** The version its Chart.yaml states, when the saved file carries the released version. */
  readonly chartVersion: string | null;
}

/** Loads a pinned chart's reference, or throws saying exactly what to add. */
export function loadChartReference(
  pin: Pick<ChartPin, "chart" | "version" | "checkedAgainst">,
  root = REFERENCE_CHARTS,
): ChartReference {
  const dir = path.join(root, referenceDir(pin));
  const valuesFile = path.join(dir, "values.yaml");
  if (!fs.existsSync(valuesFile)) {
    throw new Error(
      `chart ${pin.chart} ${pin.version} has no reference values: add ` +
        `${path.relative(path.join(ROOT, ".."), valuesFile)} (and values.schema.json if the chart has one, and ` +
        `each subchart's charts/<name>/values.yaml), copied byte-for-byte from the upstream tag of ` +
        `${pin.version}, with a line in shared/reference/charts/README.md saying where it came from; then update ` +
        `checkedAgainst in src/facts/versions.ts`,
    );
  }
  const schemaFile = path.join(dir, "values.schema.json");
  const schema = fs.existsSync(schemaFile)
    ? (JSON.parse(fs.readFileSync(schemaFile, "utf8")) as Record<string, unknown>)
    : undefined;
  const subcharts: Record<string, unknown> = {};
  const subDir = path.join(dir, "charts");
  if (fs.existsSync(subDir))
    for (const name of fs.readdirSync(subDir))
      subcharts[name] = parse(fs.readFileSync(path.join(subDir, name, "values.yaml"), "utf8")) ?? {};
  // Chart.template.yaml (cert-manager) has no version until the release build fills it in.
  const chartFile = [path.join(dir, "Chart.yaml")].find((f) => fs.existsSync(f));
  const stated = chartFile
    ? String((parse(fs.readFileSync(chartFile, "utf8")) as { version?: string }).version ?? "")
    : "";
  // Source-tree Chart.yaml files carry placeholders (v0.0, v1.0.0-devel); the release build sets the version.
  const chartVersion = /^v?\d+\.\d+\.\d+$/.test(stated) && !/^v?0\.0\./.test(stated) ? stated : null;
  return { dir, defaults: parse(fs.readFileSync(valuesFile, "utf8")) ?? {}, schema, subcharts, chartVersion };
}
