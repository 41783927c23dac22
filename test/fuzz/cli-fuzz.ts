// Property-based fuzzing of the CLI as whole processes: generated spec files, snapshot directories,
// inventory JSON, previous-plan JSON and argument vectors (fast-check). Every case runs the CLI in its
// own process with a hard timeout, and must end with exit 0, 1 or 2, a message when it fails, no stack
// trace and no "internal error". Used by test/fuzz/cli-fuzz.test.ts and bench/fuzz.bench.ts.
import * as fc from "fast-check";
import { spawn, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { inventoryFrom } from "../../src/host/probe";
import { snapshotSource } from "../../src/host/source";
import { buildPlan, planToJson } from "../../src/plan";
import { loadSpecFile } from "../../src/spec/load";

export const ROOT = path.resolve(__dirname, "../..");
/** Longer than any legitimate run (about 0.3 s here); a case that reaches it is a hang. */
export const CASE_TIMEOUT_MS = 10_000;

/**
 * Bundles src/cli/main.ts with esbuild (dependencies stay external) into the repository's
 * node_modules/.cache, so each case starts a fresh node on the current sources in about 0.2 s.
 */
export function bundleCli(): { entry: string; remove(): void } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const esbuild = require("esbuild") as typeof import("esbuild");
  const dir = fs.mkdtempSync(path.join(ROOT, "node_modules", ".cache-hs-fuzz-"));
  const entry = path.join(dir, "cli.js");
  esbuild.buildSync({
    stdin: {
      contents: 'require("./src/cli/main").main(process.argv.slice(2)).then((code) => { process.exitCode = code; });',
      resolveDir: ROOT,
      loader: "ts",
    },
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    packages: "external",
    outfile: entry,
    logLevel: "silent",
  });
  return { entry, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

interface Seeds {
  readonly specs: string[];
  readonly inventory: string;
  readonly plan: string;
  readonly snapshot: Record<string, string>;
}

function seeds(): Seeds {
  const files = [
    "config/dev.yaml",
    "config/prod.yaml",
    ...fs.readdirSync(path.join(ROOT, "config/examples")).map((f) => `config/examples/${f}`),
  ];
  const specs = [
    ...files.map((f) => fs.readFileSync(path.join(ROOT, f), "utf8")),
    fs.readFileSync(path.join(ROOT, "test/fixtures/user-example.yaml"), "utf8"),
  ];
  const loaded = loadSpecFile(path.join(ROOT, "config/prod.yaml"));
  if (!loaded.ok) throw new Error("config/prod.yaml does not load");
  const samples = path.join(ROOT, "test/fixtures/samples");
  const snapshot: Record<string, string> = {
    "nvidia-smi-q-x.xml": fs.readFileSync(
      path.join(samples, "nvidia-smi-q-x_a100-sxm4-80gb_mig-enabled_4x1g.20gb_drv535.xml"),
      "utf8",
    ),
    "lspci-Dnn.txt": fs.readFileSync(path.join(samples, "lspci-nn_h100-sxm5-80gb_x4.txt"), "utf8"),
    "nvidia-smi-mig-lgipp.txt": fs.readFileSync(
      path.join(samples, "nvidia-smi-mig-lgipp_h100-pcie-80gb_drv525.txt"),
      "utf8",
    ),
    "mdevctl-types.txt": fs.readFileSync(path.join(samples, "mdevctl-types_tesla-p4_grid-types_drv525.txt"), "utf8"),
    "proc-cpuinfo.txt": "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Xeon\nflags\t\t: fpu vmx\n\n",
    "proc-meminfo.txt": "MemTotal:       263842340 kB\n",
    "dev-kvm.txt": "present: yes\naccessible: yes\n",
    "sysfs/.listings.json": JSON.stringify(
      { "bus/pci/devices": ["0000:65:00.0"], "kernel/iommu_groups": ["13"] },
      null,
      2,
    ),
    "sysfs/.links.json": JSON.stringify(
      {
        "bus/pci/devices/0000:65:00.0/iommu_group": "../../../kernel/iommu_groups/13",
        "bus/pci/devices/0000:65:00.0/driver": "../../../bus/pci/drivers/nvidia",
      },
      null,
      2,
    ),
    "sysfs/bus/pci/devices/0000:65:00.0/vendor": "0x10de\n",
    "sysfs/bus/pci/devices/0000:65:00.0/device": "0x20b5\n",
    "snapshot.json": JSON.stringify({ capturedAt: "2026-01-01T00:00:00.000Z", files: ["lspci-Dnn.txt"] }, null, 2),
  };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hs-fuzz-seed-"));
  try {
    writeTree(dir, snapshot);
    const inventory = JSON.stringify(inventoryFrom(snapshotSource(dir)), null, 2);
    return { specs, inventory, plan: planToJson(buildPlan({ spec: loaded.spec })), snapshot };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function writeTree(dir: string, files: Record<string, string>): void {
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(dir, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
  }
}

// ---- mutations ----

/** Hostile fragments that have broken parsers before: aliases, tags, deep nesting, control characters, huge lines. */
const HOSTILE = [
  "*undefined_alias",
  "&a [*a]",
  "!!binary AAAA",
  "!!timestamp 2001-12-14",
  "!!js/function 'x'",
  ".inf",
  "-.inf",
  ".nan",
  "~",
  "null",
  "0x1F",
  "1e999",
  "[".repeat(3000),
  "{".repeat(3000),
  '{"a":'.repeat(2000),
  "- ".repeat(500),
  "\u0000",
  "\u0007\u001b[31m",
  "\r\n\r\n",
  "\t\t",
  "\uFEFF",
  "\uD800",
  "x".repeat(200_000),
  "<<: *a",
  "? [a, b]\n: c",
  "--- \n...\n---",
  "%YAML 1.1\n---",
  "'",
  '"',
  "#",
  "\\u0000",
  '"\\ud800"',
  "1.99",
  "-1",
  "99999999999999999999",
];

const textMutation = (text: string): fc.Arbitrary<string> =>
  fc.oneof(
    fc.tuple(fc.nat(), fc.nat(40), fc.string({ maxLength: 8, unit: "binary" })).map(([at, removed, inserted]) => {
      const position = at % (text.length + 1);
      return text.slice(0, position) + inserted + text.slice(position + removed);
    }),
    fc.tuple(fc.nat(), fc.constantFrom(...HOSTILE)).map(([at, inserted]) => {
      const position = at % (text.length + 1);
      return text.slice(0, position) + inserted + text.slice(position);
    }),
    fc.nat().map((at) => text.slice(0, at % (text.length + 1))),
    fc.tuple(fc.nat(), fc.nat(200), fc.integer({ min: 2, max: 200 })).map(([at, length, times]) => {
      const position = at % (text.length + 1);
      return text.slice(0, position) + text.slice(position, position + length).repeat(times) + text.slice(position);
    }),
  );

const replacementValue: fc.Arbitrary<Json> = fc.oneof(
  fc.integer({ min: -5, max: 5000 }),
  fc.double(),
  fc.string({ maxLength: 12 }),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom("../../etc/shadow", "/etc", "1.99", "a\nb", "0000:65:00.0", "1g.10gb", "\u0000", "x".repeat(5000)),
  fc.array(fc.integer({ min: 0, max: 9 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer({ min: 0, max: 9 }), { maxKeys: 3 }),
);

function paths(value: Json, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [prefix];
  if (Array.isArray(value)) value.forEach((item, index) => out.push(...paths(item, [...prefix, index])));
  else if (value !== null && typeof value === "object")
    for (const [key, item] of Object.entries(value)) out.push(...paths(item, [...prefix, key]));
  return out;
}

function mutate(root: Json, at: (string | number)[], remove: boolean, replacement: Json): Json {
  if (at.length === 0) return remove ? {} : replacement;
  const copy = structuredClone(root) as Record<string | number, Json>;
  let node: Record<string | number, Json> = copy;
  for (const segment of at.slice(0, -1)) node = node[segment] as Record<string | number, Json>;
  const last = at[at.length - 1];
  if (remove) {
    if (Array.isArray(node)) node.splice(Number(last), 1);
    else delete node[last];
  } else node[last] = replacement;
  return copy;
}

const structuralMutation = (data: Json, render: (value: Json) => string): fc.Arbitrary<string> =>
  fc.tuple(fc.nat(), fc.boolean(), replacementValue).map(([pick, remove, replacement]) => {
    const all = paths(data);
    return render(mutate(data, all[pick % all.length], remove, replacement));
  });

const mutatedText = (text: string, data: Json, render: (value: Json) => string): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 3, arbitrary: textMutation(text) },
    { weight: 2, arbitrary: structuralMutation(data, render) },
    { weight: 1, arbitrary: fc.constant(text) },
  );

// ---- cases ----

export type CaseKind = "spec" | "snapshot" | "inventory" | "plan" | "argv";

export interface FuzzCase {
  readonly kind: CaseKind;
  readonly label: string;
  /** Files to create in the case directory (relative path -> content). */
  readonly files: Record<string, string>;
  /** Special entries: FIFOs, a symlink to /dev/zero, a directory. */
  readonly specials: readonly ("fifo" | "zero" | "dir")[];
  /** Arguments; "@/" prefixes a path inside the case directory. */
  readonly args: readonly string[];
}
// Cases run with the case directory as working directory, so relative output paths land there.

const PROD = path.join(ROOT, "config/prod.yaml");

export function caseArbitrary(): fc.Arbitrary<FuzzCase> {
  const seed = seeds();
  const specs = seed.specs.map((text) => ({ text, data: parse(text) as Json }));
  const specCase: fc.Arbitrary<FuzzCase> = fc
    .tuple(
      fc.nat(specs.length - 1),
      fc.constantFrom(
        ["validate"],
        ["validate", "--json"],
        ["plan"],
        ["plan", "--json"],
        ["render", "--out", "@/out"],
        ["doctor", "--replay", "@/empty-snapshot", "--spec"],
      ),
    )
    .chain(([which, command]) =>
      mutatedText(specs[which].text, specs[which].data, (value) => stringify(value)).map((text) => ({
        which,
        command,
        text,
      })),
    )
    .map(({ which, command, text }) => ({
      kind: "spec",
      label: `${command.join(" ")} <mutated spec ${which}, ${text.length} chars>`,
      files: { "spec.yaml": text, "empty-snapshot/snapshot.json": "{}" },
      specials: [],
      args: [...command, "@/spec.yaml"],
    }));

  const snapshotCase: fc.Arbitrary<FuzzCase> = fc
    .tuple(
      fc.constantFrom(...Object.keys(seed.snapshot)),
      fc.constantFrom(
        ["probe", "--replay", "@/snap"],
        ["probe", "--json", "--replay", "@/snap"],
        ["doctor", "--replay", "@/snap"],
        ["plan", PROD, "--host", "@/snap"],
      ),
    )
    .chain(([file, command]) => {
      const text = seed.snapshot[file];
      const mutated = file.endsWith(".json")
        ? mutatedText(text, JSON.parse(text) as Json, (value) => JSON.stringify(value, null, 2))
        : textMutation(text);
      return mutated.map((content) => ({ file, command, content }));
    })
    .map(({ file, command, content }) => ({
      kind: "snapshot",
      label: `${command.join(" ")} <snapshot with mutated ${file}>`,
      files: Object.fromEntries(
        Object.entries(seed.snapshot).map(([name, text]) => [`snap/${name}`, name === file ? content : text]),
      ),
      specials: [],
      args: command,
    }));

  const jsonCase = (kind: "inventory" | "plan", text: string, flag: string): fc.Arbitrary<FuzzCase> =>
    mutatedText(text, JSON.parse(text) as Json, (value) => JSON.stringify(value, null, 2)).map((content) => ({
      kind,
      label: `plan ${PROD} ${flag} <mutated ${kind} JSON, ${content.length} chars>`,
      files: { "input.json": content },
      specials: [],
      args: ["plan", PROD, flag, "@/input.json"],
    }));

  const pathValue = fc.constantFrom(
    "@/fifo",
    "@/zero",
    "@/dir",
    "@/missing",
    "@/dir/x/y",
    "@/spec.yaml",
    "/proc/x",
    "/sys/x",
    "",
    "-",
    "--json",
    "\u0000",
    "x".repeat(5000),
  );
  const argvCase: fc.Arbitrary<FuzzCase> = fc
    .tuple(
      fc.constantFrom("validate", "probe", "doctor", "plan", "render", "frobnicate", "--help", "-V"),
      fc.array(
        fc.oneof(
          fc.constantFrom(
            "--json",
            "--out",
            "--svg",
            "--host",
            "--previous",
            "--replay",
            "--capture",
            "--spec",
            "--uri",
            "--jsn",
            "-x",
          ),
          pathValue,
          fc.string({ maxLength: 6 }),
        ),
        { maxLength: 6 },
      ),
    )
    .map(([command, rest]) => {
      // Never a remote libvirt URI: --uri only ever gets a local value.
      const args = rest.map((value, index) => (rest[index - 1] === "--uri" ? "test:///default" : value));
      return {
        kind: "argv" as const,
        label: `${command} ${args.map((a) => JSON.stringify(a.length > 20 ? a.slice(0, 20) + "..." : a)).join(" ")}`,
        files: { "spec.yaml": seed.specs[0] },
        specials: ["fifo", "zero", "dir"] as const,
        args: [command, ...args],
      };
    });

  return fc.oneof(
    { weight: 4, arbitrary: specCase },
    { weight: 3, arbitrary: snapshotCase },
    { weight: 2, arbitrary: jsonCase("inventory", seed.inventory, "--host") },
    { weight: 2, arbitrary: jsonCase("plan", seed.plan, "--previous") },
    { weight: 2, arbitrary: argvCase },
  );
}

// ---- running ----

export interface CaseResult {
  readonly kase: FuzzCase;
  readonly code: number | null;
  readonly ms: number;
  readonly timedOut: boolean;
  readonly output: string;
  readonly problems: string[];
}

const STACK = /\n\s+at .*(:\d+:\d+\)?|\(native\))/;

export function judge(
  _kase: FuzzCase,
  code: number | null,
  timedOut: boolean,
  stdout: string,
  stderr: string,
  timeoutMs = CASE_TIMEOUT_MS,
): string[] {
  const problems: string[] = [];
  const output = stdout + stderr;
  if (timedOut) problems.push(`did not finish within ${timeoutMs} ms`);
  else if (code === null || ![0, 1, 2].includes(code)) problems.push(`exit code ${code} (expected 0, 1 or 2)`);
  if (code !== 0 && !timedOut && output.trim() === "") problems.push("failed without a message");
  if (STACK.test(output)) problems.push("printed a stack trace");
  if (/internal error/i.test(output)) problems.push("reported an internal error");
  return problems;
}

export async function runCase(
  entry: string,
  kase: FuzzCase,
  scratch: string,
  timeoutMs = CASE_TIMEOUT_MS,
): Promise<CaseResult> {
  const dir = fs.mkdtempSync(path.join(scratch, "case-"));
  writeTree(dir, kase.files);
  for (const special of kase.specials) {
    if (special === "fifo") execFileSync("mkfifo", [path.join(dir, "fifo")]);
    if (special === "zero") fs.symlinkSync("/dev/zero", path.join(dir, "zero"));
    if (special === "dir") fs.mkdirSync(path.join(dir, "dir"));
  }
  const args = kase.args
    .map((arg) => (arg.startsWith("@/") ? path.join(dir, arg.slice(2)) : arg))
    .map((arg) => arg.replaceAll("\u0000", ""));
  const start = process.hrtime.bigint();
  const result = await new Promise<{ code: number | null; timedOut: boolean; stdout: string; stderr: string }>(
    (resolve) => {
      const child = spawn(process.execPath, [entry, ...args], {
        cwd: dir,
        env: { ...process.env, NO_COLOR: "1" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk: Buffer) => (stdout = (stdout + chunk.toString()).slice(-200_000)));
      child.stderr.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-200_000)));
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill("SIGKILL");
      }, timeoutMs);
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code, timedOut, stdout, stderr });
      });
    },
  );
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  fs.rmSync(dir, { recursive: true, force: true });
  return {
    kase,
    code: result.code,
    ms,
    timedOut: result.timedOut,
    output: (result.stdout + result.stderr).slice(0, 2000),
    problems: judge(kase, result.code, result.timedOut, result.stdout, result.stderr, timeoutMs),
  };
}

export interface FuzzReport {
  readonly seed: number;
  readonly cases: number;
  readonly byKind: Record<CaseKind, number>;
  readonly exitCodes: Record<string, number>;
  readonly failures: CaseResult[];
  readonly stackTraces: number;
  readonly slowest: CaseResult;
  readonly medianMs: number;
  readonly wallMs: number;
}

/** Generates `cases` inputs from `seed` and runs them `concurrency` at a time. */
export async function runFuzz(options: { cases: number; seed: number; concurrency: number }): Promise<FuzzReport> {
  const cli = bundleCli();
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "hs-fuzz-"));
  const started = Date.now();
  try {
    const inputs = fc.sample(caseArbitrary(), { numRuns: options.cases, seed: options.seed });
    const results: CaseResult[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: options.concurrency }, async () => {
        while (next < inputs.length) {
          const kase = inputs[next++];
          results.push(await runCase(cli.entry, kase, scratch));
        }
      }),
    );
    const byKind = { spec: 0, snapshot: 0, inventory: 0, plan: 0, argv: 0 } as Record<CaseKind, number>;
    const exitCodes: Record<string, number> = {};
    for (const result of results) {
      byKind[result.kase.kind]++;
      exitCodes[String(result.code)] = (exitCodes[String(result.code)] ?? 0) + 1;
    }
    const sorted = [...results].sort((a, b) => a.ms - b.ms);
    return {
      seed: options.seed,
      cases: results.length,
      byKind,
      exitCodes,
      failures: results.filter((result) => result.problems.length > 0),
      stackTraces: results.filter((result) => result.problems.includes("printed a stack trace")).length,
      slowest: sorted[sorted.length - 1],
      medianMs: sorted[Math.floor(sorted.length / 2)].ms,
      wallMs: Date.now() - started,
    };
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
    cli.remove();
  }
}

export function describeReport(report: FuzzReport): string {
  return [
    `cases run: ${report.cases} (seed ${report.seed}; ${Object.entries(report.byKind)
      .map(([kind, n]) => `${kind} ${n}`)
      .join(", ")})`,
    `exit codes: ${Object.entries(report.exitCodes)
      .map(([code, n]) => `${code}: ${n}`)
      .join(", ")}`,
    `stack traces: ${report.stackTraces}; failures: ${report.failures.length}`,
    `median case: ${report.medianMs.toFixed(0)} ms; slowest: ${report.slowest.ms.toFixed(0)} ms ` +
      `(${report.slowest.kase.label}, exit ${report.slowest.code})`,
    `wall time: ${(report.wallMs / 1000).toFixed(1)} s`,
  ].join("\n");
}
