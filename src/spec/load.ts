// Loads cluster.yaml: read safely, parse with positions, JSON Schema (fills defaults), semantic rules.
import { place, parseSpecText, readSpecFile, toPlainData } from "./source";
import type { Finding, SpecDiagnostic } from "./diagnostics";
import { validateAgainstSchema } from "./schema";
import { checkRules } from "./rules";
import type { ClusterSpec } from "./types";

export type LoadResult =
  | {
      ok: true;
      spec: ClusterSpec;
      warnings: SpecDiagnostic[];
      file: string;
      lines?: readonly string[];
      /** Places a later finding about this spec (a plan refusal) at its file:line:column. */
      place: (finding: Finding) => SpecDiagnostic;
    }
  | {
      ok: false;
      errors: SpecDiagnostic[];
      warnings: SpecDiagnostic[];
      file: string;
      /** The file could not be read at all. */
      io?: boolean;
      /** The source lines, for showing the line under each error (absent when the file could not be read). */
      lines?: readonly string[];
    };

export function loadSpecFile(file: string): LoadResult {
  const read = readSpecFile(file);
  if (!read.ok) return { ok: false, errors: [read.diagnostic], warnings: [], file, io: read.io };
  return loadSpecText(file, read.text);
}

/** Loads spec text; `file` is only used to label diagnostics. */
export function loadSpecText(file: string, text: string): LoadResult {
  const result = loadText(file, text);
  return { ...result, lines: text.split(/\r?\n/) };
}

function loadText(file: string, text: string): LoadResult {
  const parsed = parseSpecText(file, text);
  if (!parsed.ok) return { ok: false, errors: parsed.diagnostics, warnings: [], file };
  const source = parsed.source;
  const plain = toPlainData(source);
  if (!plain.ok) return { ok: false, errors: [plain.diagnostic], warnings: [], file };
  const data = plain.data;
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    return {
      ok: false,
      file,
      warnings: [],
      errors: [
        place(source, {
          path: "",
          message: `a cluster spec is a YAML mapping, found ${Array.isArray(data) ? "a list" : `a ${typeof data}`}`,
          found: data,
          expected: 'a mapping with at least version: "1.0"',
          hint: "start from config/dev.yaml",
        }),
      ],
    };
  }
  const schemaFindings = validateAgainstSchema(data);
  if (schemaFindings.length > 0) {
    return {
      ok: false,
      file,
      warnings: [],
      errors: sortByPosition(schemaFindings.map((finding) => place(source, finding))),
    };
  }
  const spec = data as ClusterSpec;
  const { errors, warnings } = checkRules(spec);
  const placedWarnings = sortByPosition(warnings.map((finding) => place(source, finding)));
  if (errors.length > 0)
    return {
      ok: false,
      file,
      warnings: placedWarnings,
      errors: sortByPosition(errors.map((finding) => place(source, finding))),
    };
  return { ok: true, spec, warnings: placedWarnings, file, place: (finding) => place(source, finding) };
}

function sortByPosition(diagnostics: SpecDiagnostic[]): SpecDiagnostic[] {
  return diagnostics.sort((a, b) => a.line - b.line || a.column - b.column);
}
