// Reads cluster.yaml safely and keeps source positions, so every finding can point at file:line:column.
import { Document, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Node } from "yaml";
import { readInputFile } from "../util/input-file";
import { segmentsOf, show, type Finding, type SpecDiagnostic } from "./diagnostics";

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

/** Reads a spec file: only a regular file, at most MAX_SPEC_BYTES (enforced while reading), UTF-8 text. */
export function readSpecFile(file: string): ReadResult {
  const read = readInputFile(file, MAX_SPEC_BYTES, "cluster spec");
  if (!read.ok) {
    const hint =
      read.problem === "missing"
        ? "check the path; specs usually live in config/"
        : read.problem === "not-a-file"
          ? "name a YAML file, e.g. config/dev.yaml"
          : read.hint;
    // A file too large is the wrong file (exit 1); one that cannot be opened is a usage problem (exit 2).
    return {
      ok: false,
      io: read.problem !== "too-large",
      diagnostic: fileError(file, read.message, hint, read.found, read.expected),
    };
  }
  return decodeSpecBytes(file, read.bytes);
}

export function decodeSpecBytes(file: string, bytes: Uint8Array): ReadResult {
  if (bytes.includes(0)) {
    return {
      ok: false,
      io: false,
      diagnostic: fileError(
        file,
        "file is binary (it contains NUL bytes), not YAML text",
        "name the cluster.yaml text file",
        "binary data",
        "UTF-8 YAML text",
      ),
    };
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return {
      ok: false,
      io: false,
      diagnostic: fileError(
        file,
        "file is not valid UTF-8 text",
        "save the file as UTF-8",
        "invalid UTF-8 bytes",
        "UTF-8 YAML text",
      ),
    };
  }
  return { ok: true, text };
}

export type ParseResult = { ok: true; source: SpecSource } | { ok: false; diagnostics: SpecDiagnostic[] };

/** Parses YAML text keeping positions; syntax errors, duplicate keys and empty documents become diagnostics. */
export function parseSpecText(file: string, text: string): ParseResult {
  const lineCounter = new LineCounter();
  // yaml's own uniqueKeys check compares each key with every earlier one (quadratic: 80k keys took 70 s);
  // duplicateKeys() below does the same check with one hash set per mapping.
  const doc = parseDocument(text, { lineCounter, uniqueKeys: false, prettyErrors: false, strict: true });
  const lines = text.split(/\r?\n/);
  const at = (offset: number): { line: number; column: number } => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  const diagnostics: SpecDiagnostic[] = doc.errors.map((error) => ({
    file,
    ...at(error.pos[0]),
    path: "",
    message: "YAML syntax error: " + firstLine(error.message),
    hint: "fix the YAML syntax at this position (indentation, quotes, ':' after keys)",
  }));
  if (diagnostics.length === 0) {
    visit(doc, {
      Alias(_key, alias) {
        if (alias.resolve(doc) !== undefined) return;
        diagnostics.push({
          file,
          ...at(alias.range?.[0] ?? 0),
          path: "",
          message: `undefined YAML alias *${alias.source}: no anchor &${alias.source} is defined before it`,
          found: `*${alias.source}`,
          expected: `an anchor &${alias.source} on an earlier value`,
          hint:
            `mark an earlier value with &${alias.source} ` +
            `(e.g. cpu_cores: &${alias.source} 4), or write the value out`,
        });
      },
    });
    for (const duplicate of duplicateKeys(doc)) {
      const first = at(duplicate.firstOffset);
      diagnostics.push({
        file,
        ...at(duplicate.offset),
        path: "",
        message: `duplicate key ${show(duplicate.key)}: already defined at line ${first.line}, column ${first.column}`,
        found: duplicate.key,
        expected: "each key once per mapping",
        hint: "each key may appear once per mapping; merge the two entries",
      });
    }
  }
  if (diagnostics.length > 0) return { ok: false, diagnostics };
  if (doc.contents === null || (isScalar(doc.contents) && (doc.contents.value === null || doc.contents.value === ""))) {
    return {
      ok: false,
      diagnostics: [
        {
          file,
          line: 1,
          column: 1,
          path: "",
          message: "the file is empty; a cluster spec is a YAML mapping",
          expected: 'a mapping with at least `version: "1.0"`',
          hint: "start from config/dev.yaml",
        },
      ],
    };
  }
  return { ok: true, source: { file, text, lines, doc, lineCounter } };
}

interface DuplicateKey {
  readonly key: unknown;
  readonly offset: number;
  readonly firstOffset: number;
}

/** Keys repeated within one mapping, in one pass (a hash set per mapping). Scalar keys compare by type and value. */
export function duplicateKeys(doc: Document.Parsed): DuplicateKey[] {
  const found: DuplicateKey[] = [];
  visit(doc, {
    Map(_key, map) {
      const seen = new Map<string, number>();
      for (const pair of map.items) {
        if (!isScalar(pair.key)) continue;
        const value = pair.key.value;
        const identity = `${typeof value}\u0000${String(value)}`;
        const offset = pair.key.range?.[0] ?? 0;
        const first = seen.get(identity);
        if (first === undefined) seen.set(identity, offset);
        else found.push({ key: value, offset, firstOffset: first });
      }
    },
  });
  return found;
}

function firstLine(message: string): string {
  return message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
}

/** Converts YAML to plain data, turning alias bombs and other conversion failures into a diagnostic. */
export function toPlainData(
  source: SpecSource,
): { ok: true; data: unknown } | { ok: false; diagnostic: SpecDiagnostic } {
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
        message: aliases
          ? `YAML aliases expand too much (${firstLine(message)})`
          : `cannot read the YAML document: ${firstLine(message)}`,
        hint: aliases
          ? `a spec needs few aliases; write the values out (at most ${MAX_ALIAS_COUNT} alias expansions)`
          : undefined,
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
      offset = atKey || valueStart === undefined ? (keyStart ?? offset) : valueStart;
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
