// The `hyperscaler` command line: validate, probe, doctor, plan, render. Works without Pulumi.
import { Command, CommanderError } from "commander";
import { EXIT, processIO, UsageError, type CliIO } from "./output";
import { runValidate } from "./validate";

export function buildProgram(io: CliIO, setCode: (code: number) => void): Command {
  const program = new Command("hyperscaler")
    .description("Validate, probe, plan and render a GPU workstation hyperscaler (cluster.yaml) without Pulumi.")
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.out(text), writeErr: (text) => io.err(text) })
    .showHelpAfterError("(run hyperscaler --help for usage)");

  program
    .command("validate")
    .description("check cluster.yaml files against the schema and the semantic rules")
    .argument("[files...]", "spec files", ["config/dev.yaml"])
    .option("--json", "print { valid, errors: [...] } as JSON")
    .action((files: string[], options: { json?: boolean }) => setCode(runValidate(files, options, io)));

  return program;
}

/** Runs the CLI and returns the exit code. Never throws for user input. */
export async function main(argv: readonly string[], io: CliIO = processIO): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram(io, (value) => (code = value));
  try {
    await program.parseAsync([...argv], { from: "user" });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (error instanceof UsageError) {
      io.err(`hyperscaler: ${error.message}`);
      return EXIT.usage;
    }
    // A bug, not bad input: say so plainly, with the stack for the bug report.
    io.err(`hyperscaler: internal error: ${error instanceof Error ? error.stack : String(error)}`);
    return 70;
  }
}
