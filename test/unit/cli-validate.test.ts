// `hyperscaler validate`: exit codes, human output (snapshots), --json, and hostile files.
import * as fs from "node:fs";
import * as path from "node:path";
import { distModule } from "../engine/built-package";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main";
import { captureIO, fixture, ROOT, tempDir } from "../helpers";

async function run(args: string[]) {
  const io = captureIO();
  const code = await main(args, io);
  return { code, stdout: io.stdout.join("\n"), stderr: io.stderr.join("\n") };
}

const dir = tempDir();
function write(name: string, content: string | Uint8Array): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
}

describe("hyperscaler validate", () => {
  it("accepts every shipped config", async () => {
    const files = [
      "config/dev.yaml",
      "config/prod.yaml",
      ...fs.readdirSync(path.join(ROOT, "config/examples")).map((f) => `config/examples/${f}`),
    ].map((f) => path.join(ROOT, f));
    expect(files.length).toBeGreaterThanOrEqual(5);
    const result = await run(["validate", ...files]);
    expect(result.stderr).toContain(`${files.length} spec(s) valid`);
    expect(result.code).toBe(0);
  });

  it("prints FILE:LINE:COL, the source line with a caret and a hint", async () => {
    const file = write(
      "typo.yaml",
      fixture("user-example.yaml").replace(
        'cpu_cores: 4, memory_gb: 8, disk_gb: 100, ip_address: "192.168.100.10"',
        'cpu_core: 4, memory_gb: 8, disk_gb: 100, ip_address: "192.168.100.10"',
      ),
    );
    const result = await run(["validate", file]);
    expect(result.code).toBe(1);
    expect(result.stdout.replaceAll(dir, "<dir>")).toMatchSnapshot();
  });

  it("reports several errors of one file in order", async () => {
    const file = write(
      "several.yaml",
      fixture("user-example.yaml")
        .replace('"1g.10gb", "2g.20gb"', '"1g.10g", "2g.20gb"')
        .replace('ip_range: "192.168.100.11-14"', 'ip_range: "192.168.100.11-13"')
        .replace('max_job_time: "24:00:00"', 'max_job_time: "24h"'),
    );
    const result = await run(["validate", file]);
    expect(result.code).toBe(1);
    expect(result.stdout.replaceAll(dir, "<dir>")).toMatchSnapshot();
  });

  it("--json gives valid, errors with file, line, column, path, message, found, expected, hint", async () => {
    const file = write("json.yaml", fixture("user-example.yaml").replace('strategy: "hybrid"', 'strategy: "hybird"'));
    const result = await run(["validate", "--json", file]);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(report.valid).toBe(false);
    expect(report.errors).toEqual([
      {
        file,
        line: 12,
        column: 15,
        path: "/global/gpu_allocation/strategy",
        message: 'strategy must be one of mig, whole, hybrid; found "hybird"',
        found: "hybird",
        expected: "one of mig, whole, hybrid",
        hint: 'did you mean "hybrid"?',
      },
    ]);
  });

  const hostile: [string, () => string, number, RegExp][] = [
    ["an empty file", () => write("empty.yaml", ""), 1, /the file is empty/],
    [
      "a YAML syntax error",
      () => write("syntax.yaml", 'version: "1.0"\nclusters:\n  hpc: [\n'),
      1,
      /YAML syntax error/,
    ],
    [
      "a binary file",
      () => write("binary.yaml", Uint8Array.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 0xff])),
      1,
      /file is binary/,
    ],
    [
      "invalid UTF-8",
      () => write("latin1.yaml", Uint8Array.from([0x76, 0x3a, 0x20, 0xe9, 0xe8, 0x0a])),
      1,
      /not valid UTF-8/,
    ],
    [
      "a 50 MB file",
      () => write("huge.yaml", "# " + "x".repeat(50 * 1024 * 1024)),
      1,
      /file is 50\.0 MiB; a cluster spec is at most 4 MiB/,
    ],
    [
      "a YAML alias bomb",
      () =>
        write(
          "bomb.yaml",
          'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c ' +
            "[*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n",
        ),
      1,
      /aliases expand too much/,
    ],
    [
      "a list instead of a mapping",
      () => write("list.yaml", "- a\n- b\n"),
      1,
      /a cluster spec is a YAML mapping, found a list/,
    ],
    ["a missing file", () => path.join(dir, "nope.yaml"), 2, /nope\.yaml: error: file not found/],
    ["a directory", () => dir, 2, /is a directory/],
  ];
  it.each(hostile)("handles %s without a stack trace", async (_name, make, code, message) => {
    const result = await run(["validate", make()]);
    expect(result.code).toBe(code);
    const output = result.stdout + result.stderr;
    expect(output).toMatch(message);
    expect(output).not.toMatch(/\n\s+at .*\(.*:\d+:\d+\)/);
  });

  it("unknown commands and options are usage errors (exit 2)", async () => {
    expect((await run(["frobnicate"])).code).toBe(2);
    expect((await run(["validate", "--jsn", "x.yaml"])).code).toBe(2);
  });
});

describe("the built CLI (ahead-of-time compiled validator)", () => {
  it("reports exactly what the in-process loader reports", async () => {
    const { spawnSync } = await import("node:child_process");
    distModule("cluster-validator.js"); // rebuilt when a source or schema is newer than dist
    const base = fixture("user-example.yaml");
    const variants = [
      base.replace("cpu_cores: 4, memory_gb: 8", "cpu_core: 4, memory_gb: 0"),
      base.replace('version: "1.0"', "version: 1.0").replace('strategy: "hybrid"', 'strategy: "hybird"'),
      base.replace('bridge: "virbr100"', 'bridge: "a-very-long-bridge-name"').replace("count: 4,", 'count: "4",'),
      base.replace('ip_range: "192.168.100.11-14"', 'ip_range: "192.168.100.11-13"'),
    ];
    for (const [index, text] of variants.entries()) {
      const file = write(`built-${index}.yaml`, text);
      const child = spawnSync(
        process.execPath,
        [path.join(ROOT, "bin", "hyperscaler.js"), "validate", "--json", file],
        { encoding: "utf8" },
      );
      expect(child.status, child.stderr).toBe(1);
      const inProcess = await run(["validate", "--json", file]);
      expect(JSON.parse(child.stdout)).toEqual(JSON.parse(inProcess.stdout));
    }
  });
});
