// `hyperscaler plan FILE [--host DIR|inventory.json] [--previous PLAN.json] [--json] [--svg OUT]`
// and `hyperscaler render FILE --out DIR [--host ...]`.
import * as fs from "node:fs";
import * as path from "node:path";
import { loadHost } from "../host/load";
import { buildPlan, planIssueDiagnostic, planToJson } from "../plan";
import { loadPreviousPlan } from "../plan/previous";
import type { Plan } from "../plan/types";
import { renderAll } from "../render/files";
import { roleDirectBoot } from "../render/images";
import { cloudInitLayers } from "../render/layers";
import { planToSvg } from "../render/plan-svg";
import { planToText } from "../render/plan-text";
import { blastRadiusText, planBlastRadius } from "../preview/blast-radius";
import { formatHuman } from "../spec/diagnostics";
import { loadSpecFile } from "../spec/load";
import type { ClusterSpec } from "../spec/types";
import { EXIT, UsageError, type CliIO } from "./output";
import { checkOutputDirectory, checkOutputFile } from "./output-paths";

export interface PlanOptions {
  readonly host?: string;
  readonly previous?: string;
  readonly json?: boolean;
  readonly svg?: string;
}

/** Loads the spec (printing validation errors) and plans; returns undefined when the spec is invalid. */
export function planFromFiles(
  file: string,
  options: Pick<PlanOptions, "host" | "previous">,
  io: CliIO,
): Plan | undefined {
  return specAndPlan(file, options, io)?.plan;
}

/** The validated spec and its plan; undefined (errors printed) when the spec is invalid. */
export function specAndPlan(
  file: string,
  options: Pick<PlanOptions, "host" | "previous">,
  io: CliIO,
): { spec: ClusterSpec; plan: Plan } | undefined {
  const loaded = loadSpecFile(file);
  if (!loaded.ok) {
    if (loaded.io)
      throw new UsageError(
        `${file}: ${loaded.errors[0].message}${loaded.errors[0].hint ? ` (${loaded.errors[0].hint})` : ""}`,
      );
    for (const error of loaded.errors) io.err(formatHuman(error, loaded.lines?.[error.line - 1]));
    return undefined;
  }
  const host = options.host ? loadHost(options.host) : undefined;
  const previous = options.previous ? loadPreviousPlan(options.previous) : undefined;
  const plan = buildPlan({ spec: loaded.spec, host, previous });
  // Each refusal at the setting to change, as spec errors are shown (file:line:column, the line, a caret).
  for (const issue of plan.errors) {
    const diagnostic = planIssueDiagnostic(issue, loaded.place);
    io.err(formatHuman(diagnostic, loaded.lines?.[diagnostic.line - 1]));
  }
  return { spec: loaded.spec, plan };
}

export function runPlan(file: string, options: PlanOptions, io: CliIO): number {
  if (options.svg !== undefined) checkOutputFile(options.svg, "--svg");
  const loaded = specAndPlan(file, options, io);
  if (!loaded) return EXIT.failed;
  const { spec, plan } = loaded;
  io.out(options.json ? planToJson(plan).trimEnd() : planToText(plan));
  if (options.previous && !options.json && plan.feasible) {
    // The previous plan carries no spec: both sides use this spec, so edits outside the plan (images,
    // keys, services) are not seen here; `pulumi preview` shows them.
    io.out(blastRadiusText(planBlastRadius({ spec, plan: loadPreviousPlan(options.previous) }, { spec, plan })));
  }
  if (options.svg) fs.writeFileSync(options.svg, planToSvg(plan));
  return plan.feasible ? EXIT.ok : EXIT.failed;
}

export interface RenderOptions {
  readonly out: string;
  readonly host?: string;
  readonly previous?: string;
  readonly sshPublicKey?: string;
  readonly stackId?: string;
}

export function runRender(file: string, options: RenderOptions, io: CliIO): number {
  checkOutputDirectory(options.out, "--out");
  const loaded = specAndPlan(file, options, io);
  if (!loaded) return EXIT.failed;
  const { spec, plan } = loaded;
  if (!plan.feasible) {
    io.err(planToText(plan));
    io.err("render: the plan is not feasible; nothing written");
    return EXIT.failed;
  }
  const files = renderAll(spec, plan, {
    layers: cloudInitLayers(spec, plan),
    extraKeys: options.sshPublicKey ? [options.sshPublicKey] : [],
    stackId: options.stackId,
    bootOf: (role) => roleDirectBoot(spec, role),
  });
  for (const [name, text] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
    const target = path.join(options.out, name);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, text, { mode: 0o644 });
  }
  io.out(`render: wrote ${files.size} file(s) to ${options.out}`);
  return EXIT.ok;
}
