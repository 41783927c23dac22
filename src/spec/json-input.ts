// Reads a JSON input the user named (host inventory, snapshot metadata, previous plan): a regular file
// under a size cap, strict JSON, validated against its schema in schemas/. Every problem becomes a
// diagnostic at file:line:column (jsonc-parser supplies the offsets), thrown as one InputError.
import type { ValidateFunction } from "ajv";
import { findNodeAtLocation, parseTree, printParseErrorCode, type Node, type ParseError } from "jsonc-parser";
import * as fs from "node:fs";
import * as path from "node:path";
import { segmentsOf, type Finding, type SpecDiagnostic } from "./diagnostics";
import { findingsFrom, findUp } from "./schema";
import { InputError } from "./input-error";
import { readInputFile } from "../util/input-file";

/** JSON inputs are machine-written and small; a plan for 2,000 VMs is a few MiB. */
export const MAX_JSON_BYTES = 32 * 1024 * 1024;

const PARSE_ERRORS: Record<string, string> = {
  InvalidSymbol: "an unexpected character",
  InvalidNumberFormat: "a malformed number",
  PropertyNameExpected: "a property name in double quotes was expected",
  ValueExpected: "a value was expected",
  ColonExpected: "':' was expected after the property name",
  CommaExpected: "',' was expected between items",
  CloseBraceExpected: "'}' was expected",
  CloseBracketExpected: "']' was expected",
  EndOfFileExpected: "nothing may follow the JSON value",
  InvalidCommentToken: "comments are not JSON",
  UnexpectedEndOfComment: "comments are not JSON",
  UnexpectedEndOfString: "a string is not closed",
  UnexpectedEndOfNumber: "a number is cut off",
  InvalidUnicode: "an invalid \\u escape",
  InvalidEscapeCharacter: "an invalid escape in a string",
  InvalidCharacter: "a control character inside a string",
};

/** A file of the wrong kind has hundreds of problems; the first few say what is wrong. */
const MAX_SHOWN = 8;

const validators = new Map<string, ValidateFunction>();

/** The compiled validator for schemas/<name> (compiled once per process). */
export function schemaValidator(name: string): ValidateFunction {
  let validate = validators.get(name);
  if (!validate) {
    const file = findUp(path.join("schemas", name));
    if (!file) throw new Error(`schemas/${name} not found above ${__dirname}`);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const Ajv2020 = (require("ajv/dist/2020") as typeof import("ajv/dist/2020")).default;
    const ajv = new Ajv2020({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true });
    ajv.addVocabulary(["x-expected", "x-hint"]);
    validate = ajv.compile(JSON.parse(fs.readFileSync(file, "utf8")) as object);
    validators.set(name, validate);
  }
  return validate;
}

export interface JsonInput {
  /** The file, as named in messages. */
  readonly file: string;
  /** What the file is, for messages: "host inventory". */
  readonly what: string;
  /** schemas/<schema> the data must satisfy. */
  readonly schema: string;
  /** How to produce a good one, appended to the headline. */
  readonly howToMake: string;
  /**
   * What the schema cannot say (names that must refer to each other), checked once the schema holds;
   * each finding is placed at its JSON pointer like a schema finding.
   */
  readonly check?: (data: never) => Finding[];
}

/** Reads, parses and validates; throws InputError (never a raw exception) for any problem with the file. */
export function readJsonInput<T>(input: JsonInput): T {
  const read = readInputFile(input.file, MAX_JSON_BYTES, input.what);
  if (!read.ok) throw new InputError(`${input.what} ${input.file}: ${read.message} (${read.hint})`);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(read.bytes);
  } catch {
    throw new InputError(`${input.what} ${input.file}: not UTF-8 text; ${input.howToMake}`);
  }
  return parseJsonInput<T>(input, text);
}

/** Parses and validates JSON text already read (`input.file` labels the diagnostics). */
export function parseJsonInput<T>(input: JsonInput, text: string): T {
  const headline = `${input.file} is not a valid ${input.what}; ${input.howToMake}`;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new InputError(headline, syntaxDiagnostics(input.file, text), text);
  }
  const validate = schemaValidator(input.schema);
  let valid: boolean;
  try {
    valid = validate(data);
  } catch (error) {
    // Only pathological nesting makes validation recurse this deep.
    if (error instanceof RangeError) throw new InputError(`${headline} (the JSON is nested too deeply)`);
    throw error;
  }
  if (!valid) {
    const findings = findingsFrom(validate.errors ?? []);
    const shown = findings.slice(0, MAX_SHOWN);
    const more = findings.length > MAX_SHOWN ? ` (${findings.length} problems; the first ${MAX_SHOWN} follow)` : "";
    throw new InputError(headline + more, placeAll(input.file, text, shown), text);
  }
  const inconsistent = input.check?.(data as never) ?? [];
  if (inconsistent.length > 0) {
    throw new InputError(headline, placeAll(input.file, text, inconsistent.slice(0, MAX_SHOWN)), text);
  }
  return data as T;
}

function syntaxDiagnostics(file: string, text: string): SpecDiagnostic[] {
  const errors: ParseError[] = [];
  try {
    parseTree(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  } catch {
    return [
      {
        file,
        line: 1,
        column: 1,
        path: "",
        message: "JSON syntax error: the document is nested too deeply",
        hint: "give the file the tool wrote",
      },
    ];
  }
  if (errors.length === 0) {
    // JSON.parse is stricter than jsonc-parser in a few corners (e.g. a lone surrogate): still say where.
    return [
      {
        file,
        line: 1,
        column: 1,
        path: "",
        message: "JSON syntax error",
        hint: "check the file with `python3 -m json.tool FILE`",
      },
    ];
  }
  const lines = lineStarts(text);
  // The first error is the real one; the rest are the parser recovering from it.
  return errors.slice(0, 1).map((error) => ({
    file,
    ...position(lines, error.offset),
    path: "",
    message: `JSON syntax error: ${PARSE_ERRORS[printParseErrorCode(error.error)] ?? printParseErrorCode(error.error)}`,
    found: text.slice(error.offset, error.offset + Math.max(1, Math.min(error.length, 20))) || "the end of the file",
    hint: "fix the JSON at this position (or write the file again with the command that makes it)",
  }));
}

function placeAll(file: string, text: string, findings: readonly Finding[]): SpecDiagnostic[] {
  let tree: Node | undefined;
  try {
    tree = parseTree(text, [], { disallowComments: true });
  } catch {
    tree = undefined;
  }
  const lines = lineStarts(text);
  return findings.map((finding) => ({
    file,
    ...position(lines, tree ? offsetOf(tree, finding.path, finding.atKey) : 0),
    ...finding,
  }));
}

/** Offset of the node at a JSON pointer, or of its deepest existing ancestor. */
function offsetOf(root: Node, pointer: string, atKey = false): number {
  let node = root;
  const segments = segmentsOf(pointer);
  for (let i = 0; i < segments.length; i++) {
    const segment = node.type === "array" ? Number(segments[i]) : segments[i];
    const child = findNodeAtLocation(node, [segment]);
    if (!child) break;
    const last = i === segments.length - 1;
    if (last && atKey && child.parent?.type === "property" && child.parent.children?.[0])
      return child.parent.children[0].offset;
    node = child;
  }
  return node.offset;
}

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) starts.push(i + 1);
  return starts;
}

function position(starts: readonly number[], offset: number): { line: number; column: number } {
  let low = 0;
  let high = starts.length - 1;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (starts[middle] <= offset) low = middle;
    else high = middle - 1;
  }
  return { line: low + 1, column: offset - starts[low] + 1 };
}
