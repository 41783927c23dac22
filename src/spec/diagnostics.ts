// A diagnostic about a spec: where (file, line, column, JSON pointer), what was found, what was expected, the fix.

export interface SpecDiagnostic {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** JSON pointer into the document ("" is the root). */
  readonly path: string;
  readonly message: string;
  readonly found?: unknown;
  readonly expected?: string;
  readonly hint?: string;
}

/** A diagnostic before it is placed in a file: rules speak in JSON pointers, the loader adds positions. */
export interface Finding {
  readonly path: string;
  readonly message: string;
  readonly found?: unknown;
  readonly expected?: string;
  readonly hint?: string;
  /** Point at the key rather than its value (unknown keys, duplicate keys). */
  readonly atKey?: boolean;
}

export function pointerOf(segments: readonly (string | number)[]): string {
  return segments.map((segment) => "/" + String(segment).replace(/~/g, "~0").replace(/\//g, "~1")).join("");
}

export function segmentsOf(pointer: string): string[] {
  if (pointer === "") return [];
  return pointer
    .slice(1)
    .split("/")
    .map((segment) => segment.replace(/~1/g, "/").replace(/~0/g, "~"));
}

/** Shows a found value the way the user wrote it: strings quoted, long values cut. */
export function show(value: unknown): string {
  if (value === undefined) return "nothing";
  // YAML's .inf/.nan, which JSON would print as null.
  if (typeof value === "number" && !Number.isFinite(value))
    return Number.isNaN(value) ? ".nan" : value > 0 ? ".inf" : "-.inf";
  const text = typeof value === "string" ? JSON.stringify(value) : (JSON.stringify(value) ?? withoutJson(value));
  return text.length > 80 ? text.slice(0, 77) + "..." : text;
}

/** A value JSON has no text for (a function, a symbol), as String() would write it. */
function withoutJson(value: unknown): string {
  if (typeof value === "function" || typeof value === "symbol") return value.toString();
  return Object.prototype.toString.call(value);
}

/** Levenshtein distance, for "did you mean" hints. */
export function editDistance(a: string, b: string): number {
  const previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = previous[0];
    previous[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = previous[j];
      previous[j] = Math.min(previous[j] + 1, previous[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return previous[b.length];
}

/** The closest candidate when it is close enough to be a typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

export function formatHuman(diagnostic: SpecDiagnostic, sourceLine: string | undefined): string {
  const where = diagnostic.line > 0 ? `${diagnostic.file}:${diagnostic.line}:${diagnostic.column}` : diagnostic.file;
  const lines = [`${where}: error: ${diagnostic.message}`];
  if (sourceLine !== undefined && diagnostic.line > 0) {
    const shown = sourceLine.replace(/\t/g, " ");
    lines.push(`  ${shown.length > 160 ? shown.slice(0, 157) + "..." : shown}`);
    lines.push(`  ${" ".repeat(Math.max(0, Math.min(diagnostic.column - 1, 160)))}^`);
  }
  if (diagnostic.hint) lines.push(`  hint: ${diagnostic.hint}`);
  return lines.join("\n");
}

export function toJson(diagnostic: SpecDiagnostic): Record<string, unknown> {
  return {
    file: diagnostic.file,
    line: diagnostic.line,
    column: diagnostic.column,
    path: diagnostic.path,
    message: diagnostic.message,
    found: diagnostic.found === undefined ? null : diagnostic.found,
    expected: diagnostic.expected ?? null,
    hint: diagnostic.hint ?? null,
  };
}
