// An input the user named (inventory, snapshot, previous plan, output path) is unusable: a headline and,
// when the problem has a place in a file, positioned diagnostics with the source line. The message holds
// all of it, so wherever the error surfaces (CLI: exit 2, no stack; stack program) it reads the same.
import { formatHuman, type SpecDiagnostic } from "./diagnostics";

export class InputError extends Error {
  constructor(
    readonly headline: string,
    readonly diagnostics: readonly SpecDiagnostic[] = [],
    /** The file's text, for the source line under each diagnostic. */
    sourceText?: string,
  ) {
    const lines = sourceText?.split(/\r?\n/);
    super(
      [headline, ...diagnostics.map((diagnostic) => formatHuman(diagnostic, lines?.[diagnostic.line - 1]))].join("\n"),
    );
    this.name = "InputError";
  }
}
