// Reads cluster.yaml safely and keeps source positions, so every finding can point at file:line:column.
import * as fs from "node:fs";
import { Document, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Node } from "yaml";
import { segmentsOf, type Finding, type SpecDiagnostic } from "./diagnostics";

/** Specs are small; anything bigger is a mistake (wrong file) and must not stall the parser. */
export const MAX_SPEC_BYTES = 4 * 1024 * 1024;
/** Alias expansions allowed before we call it an alias bomb. */
export const MAX_ALIAS_COUNT = 200;

export interface SpecSource {
  readonly file: string;
  readonly text: string;
  readonly lines: readonly string[];
  readonly doc: Document.Parsed;
  readonly lineCounter: LineCounter;
}

export type ReadResult = { ok: true; text: string } | { ok: false; diagnostic: SpecDiagnostic; io: boolean };

function fileError(file: string, message: string, hint: string, found?: unknown, expected?: string): SpecDiagnostic {
  return { file, line: 0, column: 0, path: "", message, hint, found, expected };
}

/** Reads a spec file, refusing directories, huge files and binary content with a clean diagnostic. */
export function readSpecFile(file: string): ReadResult {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { ok: false, io: true, diagnostic: fileError(file, "file not found", "check the path; specs usually live in config/") };
    if (code === "EACCES") return { ok: false, io: true, diagnostic: fileError(file, "permission denied reading the file", "make the file readable by this user") };
    return { ok: false, io: true, diagnostic: fileError(file, `cannot read the file (${code ?? String(error)})`, "check the path and permissions") };
  }
  if (stat.isDirectory()) {
    return { ok: false, io: true, diagnostic: fileError(file, "is a directory, not a cluster.yaml file", "name a YAML file, e.g. config/dev.yaml", "directory", "a YAML file") };
  }
  if (stat.size > MAX_SPEC_BYTES) {
    return {
      ok: false,
      io: false,
      diagnostic: fileError(file, `file is ${(stat.size / 1048576).toFixed(1)} MiB; a cluster spec is at most ${MAX_SPEC_BYTES / 1048576} MiB`, "check that this is the right file", `${stat.size} bytes`, `at most ${MAX_SPEC_BYTES} bytes`),
    };
  }
  const bytes = fs.readFileSync(file);
  return decodeSpecBytes(file, bytes);
}

export function decodeSpecBytes(file: string, bytes: Uint8Array): ReadResult {
  if (bytes.includes(0)) {
    return { ok: false, io: false, diagnostic: fileError(file, "file is binary (it contains NUL bytes), not YAML text", "name the cluster.yaml text file", "binary data", "UTF-8 YAML text") };
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return { ok: false, io: false, diagnostic: fileError(file, "file is not valid UTF-8 text", "save the file as UTF-8", "invalid UTF-8 bytes", "UTF-8 YAML text") };
  }
  return { ok: true, text };
}

export type ParseResult = { ok: true; source: SpecSource } | { ok: false; diagnostics: SpecDiagnostic[] };

/** Parses YAML text keeping positions; syntax errors, duplicate keys and empty documents become diagnostics. */
export function parseSpecText(file: string, text: string): ParseResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, strict: true });
  const lines = text.split(/\r?\n/);
  const diagnostics: SpecDiagnostic[] = doc.errors.map((error) => {
    const { line, col } = lineCounter.linePos(error.pos[0]);
    const duplicate = error.code === "DUPLICATE_KEY";
    return {
      file,
      line,
      column: col,
      path: "",
      message: duplicate ? "duplicate key: " + firstLine(error.message) : "YAML syntax error: " + firstLine(error.message),
      hint: duplicate ? "each key may appear once per mapping; merge the two entries" : "fix the YAML syntax at this position (indentation, quotes, ':' after keys)",
    };
  });
  if (diagnostics.length > 0) return { ok: false, diagnostics };
  if (doc.contents === null || (isScalar(doc.contents) && (doc.contents.value === null || doc.contents.value === ""))) {
    return {
      ok: false,
      diagnostics: [{ file, line: 1, column: 1, path: "", message: "the file is empty; a cluster spec is a YAML mapping", expected: "a mapping with at least `version: \"1.0\"`", hint: "start from config/dev.yaml" }],
    };
  }
  return { ok: true, source: { file, text, lines, doc, lineCounter } };
}

function firstLine(message: string): string {
  return message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
}

/** Converts YAML to plain data, turning alias bombs and other conversion failures into a diagnostic. */
export function toPlainData(source: SpecSource): { ok: true; data: unknown } | { ok: false; diagnostic: SpecDiagnostic } {
  try {
    return { ok: true, data: source.doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const aliases = /alias/i.test(message);
    return {
      ok: false,
      diagnostic: {
        file: source.file,
        line: 1,
        column: 1,
        path: "",
        message: aliases ? `YAML aliases expand too much (${firstLine(message)})` : `cannot read the YAML document: ${firstLine(message)}`,
        hint: aliases ? `a spec needs few aliases; write the values out (at most ${MAX_ALIAS_COUNT} alias expansions)` : undefined,
      },
    };
  }
}

/** The YAML node at a JSON pointer, or the deepest ancestor that exists (for defaults and missing keys). */
export function locate(source: SpecSource, pointer: string, atKey = false): { line: number; column: number } {
  let node: unknown = source.doc.contents;
  let offset = rangeStart(node) ?? 0;
  for (const segment of segmentsOf(pointer)) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && String(item.key.value) === segment);
      if (!pair) break;
      const keyStart = rangeStart(pair.key);
      const valueStart = rangeStart(pair.value);
      offset = atKey || valueStart === undefined ? keyStart ?? offset : valueStart;
      node = pair.value;
    } else if (isSeq(node)) {
      const item = node.items[Number(segment)];
      if (item === undefined) break;
      offset = rangeStart(item) ?? offset;
      node = item;
    } else {
      break;
    }
  }
  const { line, col } = source.lineCounter.linePos(offset);
  return { line, column: col };
}

function rangeStart(node: unknown): number | undefined {
  return node && typeof node === "object" && "range" in node ? (node as Node).range?.[0] : undefined;
}

export function place(source: SpecSource, finding: Finding): SpecDiagnostic {
  const { line, column } = locate(source, finding.path, finding.atKey);
  return { file: source.file, line, column, ...finding };
}
