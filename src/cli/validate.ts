// `hyperscaler validate [FILE...] [--json]`: exit 0 valid, 1 invalid, 2 usage or I/O errors.
import { formatHuman, toJson, type SpecDiagnostic } from "../spec/diagnostics";
import { loadSpecFile, type LoadResult } from "../spec/load";
import { EXIT, type CliIO } from "./output";

export interface ValidateOptions {
  readonly json?: boolean;
}

export function runValidate(files: readonly string[], options: ValidateOptions, io: CliIO): number {
  const results = files.map((file) => loadSpecFile(file));
  const errors = results.flatMap((result) => (result.ok ? [] : result.errors));
  const warnings = results.flatMap((result) => result.warnings);
  if (options.json) {
    io.out(
      JSON.stringify(
        {
          valid: errors.length === 0,
          files: results.map((result) => ({ file: result.file, valid: result.ok })),
          errors: errors.map(toJson),
          warnings: warnings.map(toJson),
        },
        null,
        2,
      ),
    );
  } else {
    for (const result of results) printResult(result, io);
    const invalid = results.filter((result) => !result.ok).length;
    io.err(
      invalid === 0
        ? `${results.length} spec(s) valid`
        : `${invalid} of ${results.length} spec(s) invalid, ${errors.length} error(s)`,
    );
  }
  if (results.some((result) => !result.ok && result.io)) return EXIT.usage;
  return errors.length === 0 ? EXIT.ok : EXIT.failed;
}

function printResult(result: LoadResult, io: CliIO): void {
  const lines = result.lines;
  for (const warning of result.warnings)
    io.err(formatHuman(warning, lines?.[warning.line - 1]).replace(": error: ", ": warning: "));
  if (result.ok) {
    io.out(`${result.file}: ok`);
    return;
  }
  for (const error of result.errors) io.out(formatHuman(error, lines?.[error.line - 1]));
}

export type { SpecDiagnostic };
