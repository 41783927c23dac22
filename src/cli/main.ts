// The `hyperscaler` command line: validate, probe, doctor, plan, render. Works without Pulumi.
import { Command, CommanderError } from "commander";
import * as fs from "node:fs";
import * as path from "node:path";
import { InputError } from "../spec/input-error";
import { EXIT, processIO, UsageError, type CliIO } from "./output";
// Each command loads its own modules when it runs: `validate` must start fast, not load the planner.
// The type imports below are erased: they load nothing.
import type { DoctorOptions, ProbeOptions } from "./host";
import type { ImageBuildOptions, ImageCommonOptions } from "./image";
import type { PlanOptions, RenderOptions } from "./plan";
import type { VerifyOptions } from "./verify";

// Commander hands each action its parsed options typed `any`; each action below names the shape the
// options it declares produce (camelCase names, strings for values, true for flags).

function packageVersion(): string {
  for (let dir = __dirname, i = 0; i < 5; i++, dir = path.dirname(dir)) {
    const file = path.join(dir, "package.json");
    if (fs.existsSync(file)) return (JSON.parse(fs.readFileSync(file, "utf8")) as { version: string }).version;
  }
  return "unknown";
}

export function buildProgram(io: CliIO, setCode: (code: number) => void): Command {
  const program = new Command("hyperscaler")
    .description("Validate, probe, plan and render a GPU workstation hyperscaler (cluster.yaml) without Pulumi.")
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.out(text), writeErr: (text) => io.err(text) })
    .showHelpAfterError("(run hyperscaler --help for usage)")
    .version(packageVersion(), "-V, --version");

  program
    .command("validate")
    .description("check cluster.yaml files against the schema and the semantic rules")
    .argument("[files...]", "spec files", ["config/dev.yaml"])
    .option("--json", "print { valid, errors: [...] } as JSON")
    .action(async (files: string[], options: { json?: boolean }) =>
      setCode((await import("./validate")).runValidate(files, options, io)),
    );

  program
    .command("probe")
    .description("inventory this host (CPU, memory, KVM, IOMMU, libvirt, NVIDIA GPUs with MIG/vGPU state)")
    .option("--json", "print the inventory as JSON")
    .option("--replay <dir>", "build the inventory from a captured snapshot instead of this machine")
    .option("--capture <dir>", "also write the raw inputs to a snapshot directory")
    .option("--uri <uri>", "libvirt URI", "qemu:///system")
    .action(async (options: ProbeOptions) => setCode(await (await import("./host")).runProbe(options, io)));

  program
    .command("doctor")
    .description("preflight checks: virtualization, KVM, IOMMU, drivers, MIG, vGPU, libvirt, capacity")
    .option("--json", "print { checks: [...] }")
    .option("--replay <dir>", "check a captured snapshot instead of this machine")
    .option("--spec <file>", "also check what this cluster.yaml needs")
    .option("--uri <uri>", "libvirt URI (default: the spec's host.libvirt_uri, else qemu:///system)")
    .action(async (options: DoctorOptions) => setCode(await (await import("./host")).runDoctorCommand(options, io)));

  program
    .command("plan")
    .description("plan GPU placements, vGPU/passthrough assignments and VMs for a spec")
    .argument("<file>", "cluster.yaml")
    .option("--host <path>", "host snapshot directory (probe --capture) or inventory JSON (probe --json)")
    .option("--previous <plan>", "previous plan JSON: keep its placements where still feasible")
    .option("--json", "print the plan as JSON")
    .option("--svg <out>", "also draw the GPUs' slot maps and the VMs they feed")
    .action(async (file: string, options: PlanOptions) => setCode((await import("./plan")).runPlan(file, options, io)));

  program
    .command("render")
    .description("write the plan and every generated file (GPU maps, ...) to a directory")
    .argument("<file>", "cluster.yaml")
    .requiredOption("--out <dir>", "output directory")
    .option("--host <path>", "host snapshot directory or inventory JSON")
    .option("--previous <plan>", "previous plan JSON")
    .option("--ssh-public-key <key>", "the stack's hyperscaler:sshPublicKey, so seeds equal the deployed ones")
    .option(
      "--stack-id <uuid>",
      "the stack's identity (pulumi stack output stackId), so libvirt UUIDs equal the deployed ones",
    )
    .action(async (file: string, options: RenderOptions) =>
      setCode((await import("./plan")).runRender(file, options, io)),
    );

  const image = program.command("image").description("golden VM images: build with mmdebstrap, list, verify checksums");
  const imageDir = "image store directory (default: $HYPERSCALER_IMAGES_DIR or ~/.local/state/hyperscaler/images)";
  image
    .command("build")
    .description("build a golden image (images/golden/<name>.yaml); unchanged inputs reuse the stored version")
    .argument("<name>", "image name: base, hpc, k8s")
    .option("--mirror <url>", "Debian mirror to build from (default: the host's apt sources)")
    .option("--dir <dir>", imageDir)
    .option("--keep <count>", "versions of this image to keep, the new one included", "3")
    .option("--force", "rebuild even when the inputs are unchanged")
    .option("--json", "print { name, version, reused, seconds, path, sha256 }")
    .action(async (name: string, options: ImageBuildOptions) =>
      setCode(await (await import("./image")).runImageBuild(name, options, io)),
    );
  image
    .command("list")
    .description("every stored image version: name, version, path, sha256, packages")
    .option("--dir <dir>", imageDir)
    .option("--json", "print { dir, images: [...] } with each image's packages as name -> version")
    .action(async (options: ImageCommonOptions) => setCode((await import("./image")).runImageList(options, io)));
  image
    .command("verify")
    .description("recompute every stored file's sha256 and compare it with the manifest")
    .argument("[image]", "name or name@version (default: every stored image)")
    .option("--dir <dir>", imageDir)
    .option("--json", "print { ok, images: [...] }")
    .action(async (reference: string | undefined, options: ImageCommonOptions) =>
      setCode(await (await import("./image")).runImageVerify(reference, options, io)),
    );

  program
    .command("verify")
    .description(
      "after `pulumi up`: check every layer (SSH, Slurm GPU job, Kubernetes GPU pod, MLflow + MinIO, DCGM metrics)",
    )
    .argument("<file>", "cluster.yaml")
    .option("--json", "print { passed, checks: [...] }")
    .option("--host <path>", "host snapshot directory or inventory JSON used for the plan")
    .option("--user <name>", "SSH user (default: the spec's security.admin_user)")
    .option("--identity <file>", "SSH private key")
    .option(
      "--known-hosts <file>",
      "the stack's pinned host keys (pulumi stack output knownHosts > FILE): checked strictly",
    )
    .option(
      "--ssh-wrapper <command>",
      'run ssh under this command, e.g. "ip netns exec NS" when the VMs\' network is in a network namespace',
    )
    .action(async (file: string, options: VerifyOptions) =>
      setCode(await (await import("./verify")).runVerifyCommand(file, options, io)),
    );

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
    if (error instanceof UsageError || error instanceof InputError) {
      io.err(`hyperscaler: ${error.message}`);
      return EXIT.usage;
    }
    // A bug, not bad input: say so plainly, with the stack for the bug report.
    io.err(`hyperscaler: internal error: ${error instanceof Error ? error.stack : String(error)}`);
    return 70;
  }
}
