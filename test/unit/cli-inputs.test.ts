// Hostile inputs to every command: only regular files are read (FIFO, /dev/zero behind a symlink and
// directories refused before a byte is read), the size cap holds while reading, every JSON input is
// checked against its schema with file:line:column, output paths are checked before any work starts,
// and duplicate keys are found in one pass.
import * as fs from "node:fs";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main";
import { loadSpecText } from "../../src/spec/load";
import { readInputFile } from "../../src/util/input-file";
import { snapshotDir } from "../fixtures/host";
import { captureIO, joinedPattern, ROOT, tempDir } from "../helpers";

const PROD = path.join(ROOT, "config/prod.yaml");
const dir = tempDir("hs-inputs-");
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function run(args: string[]) {
  const io = captureIO();
  const code = await main(args, io);
  return { code, stdout: io.stdout.join("\n"), stderr: io.stderr.join("\n") };
}

function write(name: string, content: string): string {
  const file = path.join(dir, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
  return file;
}

const NO_STACK = /\n\s+at .*:\d+:\d+\)?/;

describe("only regular files are read", () => {
  const fifo = path.join(dir, "pipe.yaml");
  execFileSync("mkfifo", [fifo]);
  const zero = path.join(dir, "zero.yaml");
  fs.symlinkSync("/dev/zero", zero);

  const cases: [string, string[], RegExp][] = [
    [
      "a FIFO as the spec",
      ["validate", fifo],
      /is a named pipe \(FIFO\), not a regular file; a cluster spec is read only from a regular file/,
    ],
    ["a symlink to /dev/zero as the spec", ["plan", zero], /zero\.yaml: is a character device, not a regular file/],
    ["a FIFO as --host", ["plan", PROD, "--host", fifo], /host inventory .*pipe\.yaml: is a named pipe \(FIFO\)/],
    [
      "/dev/zero as --previous",
      ["plan", PROD, "--previous", zero],
      /previous plan .*zero\.yaml: is a character device/,
    ],
    [
      "a directory as --previous",
      ["plan", PROD, "--previous", dir],
      /previous plan .*: is a directory, not a regular file/,
    ],
    ["a FIFO as doctor --spec", ["doctor", "--spec", fifo], /pipe\.yaml: is a named pipe/],
  ];
  it.each(cases)("refuses %s with exit 2 and no stack", async (_name, args, message) => {
    const result = await run(args);
    expect(result.code).toBe(2);
    expect(result.stderr + result.stdout).toMatch(message);
    expect(result.stderr + result.stdout).not.toMatch(NO_STACK);
  });

  it("a FIFO inside a snapshot directory is refused, not waited on", async () => {
    const snapshot = snapshotDir({});
    execFileSync("mkfifo", [path.join(snapshot, "nvidia-smi-q-x.xml")]);
    const result = await run(["probe", "--replay", snapshot]);
    fs.rmSync(snapshot, { recursive: true, force: true });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/snapshot file .*nvidia-smi-q-x\.xml: is a named pipe \(FIFO\)/);
  });

  it("enforces the size cap while reading, not only from stat (a /proc file reports size 0)", () => {
    expect(fs.statSync("/proc/self/status").size).toBe(0);
    const read = readInputFile("/proc/self/status", 64, "test input");
    expect(read).toMatchObject({ ok: false, problem: "too-large" });
    expect(!read.ok && read.message).toMatch(/^file is more than 0\.0 MiB/);
    expect(readInputFile("/proc/self/status", 1 << 20, "test input").ok).toBe(true);
  });
});

describe("JSON inputs are checked against their schemas, with positions", () => {
  it("--host inventory JSON: syntax error at line:column", async () => {
    const file = write("inventory-syntax.json", '{\n  "schemaVersion": 1,\n  "gpus": [,]\n}\n');
    const result = await run(["plan", PROD, "--host", file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${file} is not a valid host inventory`);
    expect(result.stderr).toContain(`${file}:3:12: error: JSON syntax error: a value was expected`);
    expect(result.stderr).not.toMatch(NO_STACK);
  });

  it("--host inventory JSON: a wrong type is reported at the value", async () => {
    const inventory = JSON.parse((await run(["probe", "--json", "--replay", snapshotDir({})])).stdout);
    inventory.memory.totalMiB = "lots";
    const file = write("inventory-type.json", JSON.stringify(inventory, null, 2));
    const result = await run(["plan", PROD, "--host", file]);
    expect(result.code).toBe(2);
    const line =
      fs
        .readFileSync(file, "utf8")
        .split("\n")
        .findIndex((l) => l.includes('"lots"')) + 1;
    expect(result.stderr).toMatch(
      new RegExp(
        `inventory-type\\.json:${line}:\\d+: error: totalMiB must be an integer or null, found a string "lots"`,
      ),
    );
  });

  it("--previous plan JSON: the const and an unknown key are placed", async () => {
    const plan = (await run(["plan", PROD, "--json"])).stdout
      .replace('"planVersion": 1', '"planVersion": 7')
      .replace('"feasible": true', '"feasible": true,\n  "feasable": true');
    const file = write("previous.json", plan);
    const result = await run(["plan", PROD, "--previous", file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/previous\.json:2:18: error: planVersion must be 1, found 7/);
    expect(result.stderr).toMatch(/previous\.json:\d+:3: error: unknown key "feasable" in the top level/);
  });

  it("--previous plan JSON: names that must refer to each other are placed (fuzz seed 852190485)", async () => {
    const plan = JSON.parse((await run(["plan", PROD, "--json"])).stdout) as {
      networks: { name: string }[];
      vms: { name: string; role: string; cluster: string; gpus: { gpu: string }[] }[];
    };
    const hpc = plan.networks.findIndex((n) => n.name === "hpc_network");
    plan.networks[hpc].name = "hpc_network!!timestamp 2001-12-14";
    const gpuVm = plan.vms.find((vm) => vm.gpus.length > 0)!;
    gpuVm.gpus[0].gpu = "GPU-9";
    const controller = plan.vms.find((vm) => vm.role === "slurm-controller")!;
    controller.role = "slurm-compute";
    const file = write("previous-references.json", JSON.stringify(plan, null, 2));
    const result = await run(["plan", PROD, "--previous", file]);
    expect(result.code).toBe(2);
    expect(result.stderr).not.toMatch(/internal error|\n\s+at /);
    const lines = fs.readFileSync(file, "utf8").split("\n");
    const lineOf = (needle: string, from = 0) => lines.findIndex((l, i) => i >= from && l.includes(needle)) + 1;
    const ctl = lineOf(`"name": "${controller.name}"`);
    expect(result.stderr).toContain(
      `previous-references.json:${lineOf('"network": "hpc_network"', ctl - 1)}:18: error: VM ${controller.name} ` +
        "is on network hpc_network, which the plan does not define",
    );
    expect(result.stderr).toMatch(new RegExp(`error: VM ${gpuVm.name} has a share of GPU GPU-9, which the plan`));
    expect(result.stderr).toContain("error: the hpc cluster's VMs have 0 slurm-controller VMs");
  });

  const snapshotCases: [string, Record<string, string>, RegExp][] = [
    [
      "sysfs/.listings.json not JSON",
      { "sysfs/.listings.json": '{"bus/pci/devices": ["0000:65:00.0"' },
      /\.listings\.json:1:36: error: JSON syntax error: '\]' was expected/,
    ],
    [
      "sysfs/.listings.json of the wrong shape",
      { "sysfs/.listings.json": '{\n  "bus/pci/devices": "0000:65:00.0"\n}' },
      /\.listings\.json:2:22: error: bus\/pci\/devices must be a list, found a string "0000:65:00\.0"/,
    ],
    [
      "sysfs/.links.json with a number",
      { "sysfs/.links.json": '{"a": 1}' },
      /\.links\.json:1:7: error: a must be a string, found an integer 1/,
    ],
    [
      "snapshot.json with capturedAt a number",
      { "snapshot.json": '{\n "capturedAt": 5\n}' },
      /snapshot\.json:2:16: error: capturedAt must be a string/,
    ],
  ];
  it.each(snapshotCases)("a snapshot with %s is refused with a positioned error", async (_name, files, message) => {
    const snapshot = snapshotDir({});
    for (const [name, content] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(snapshot, name)), { recursive: true });
      fs.writeFileSync(path.join(snapshot, name), content);
    }
    for (const args of [
      ["probe", "--replay", snapshot],
      ["plan", PROD, "--host", snapshot],
    ]) {
      const result = await run(args);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(
        /is not a valid snapshot .*capture the snapshot again with `hyperscaler probe --capture DIR`/,
      );
      expect(result.stderr).toMatch(message);
      expect(result.stderr).not.toMatch(NO_STACK);
    }
    fs.rmSync(snapshot, { recursive: true, force: true });
  });
});

describe("output paths are checked before any work starts", () => {
  const file = write("plain-file", "x");
  const cases: [string, string[], RegExp][] = [
    [
      "--svg into a missing directory",
      ["plan", PROD, "--svg", path.join(dir, "missing", "plan.svg")],
      /--svg .*: the directory .*missing does not exist; create it first/,
    ],
    [
      "--svg naming a directory",
      ["plan", PROD, "--svg", dir],
      /--svg .*: is a directory; give a path for a new or regular file/,
    ],
    ["--out naming a file", ["render", PROD, "--out", file], /--out .*plain-file: is a file, not a directory/],
    [
      "--out below a file",
      ["render", PROD, "--out", path.join(file, "sub")],
      /plain-file\/sub: a part of this path is a file, not a directory/,
    ],
    [
      "--out in /proc (not writable, even for root)",
      ["render", PROD, "--out", "/proc/hs-render"],
      /--out \/proc\/hs-render: the directory \/proc cannot be written/,
    ],
    ["--capture naming a file", ["probe", "--capture", file], /--capture .*plain-file: is a file, not a directory/],
  ];
  it.each(cases)("refuses %s with exit 2, writing nothing", async (_name, args, message) => {
    const before = fs.readdirSync(dir).sort();
    const result = await run(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe("");
    expect(fs.readdirSync(dir).sort()).toEqual(before);
  });

  it("--svg into a read-only mount is refused (the write probe works for root)", async () => {
    // /sys is mounted read-only in containers and not writable for files anywhere: a real EROFS/EACCES.
    const result = await run(["plan", PROD, "--svg", "/sys/plan.svg"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      joinedPattern(
        /--svg \/sys\/plan\.svg: the directory \/sys /,
        /(is on a read-only file system|is not writable by this user|cannot be written)/,
      ),
    );
  });
});

describe("duplicate keys", () => {
  it("are reported at the repeat, naming the first", () => {
    const result = loadSpecText("dup.yaml", 'version: "1.0"\nmetadata:\n  name: a\n  description: x\n  name: b\n');
    expect(result.ok).toBe(false);
    expect(!result.ok && result.errors).toEqual([
      expect.objectContaining({
        line: 5,
        column: 3,
        message: 'duplicate key "name": already defined at line 3, column 3',
      }),
    ]);
  });

  it('compare keys by type and value (1 and "1" differ, like YAML does)', () => {
    const result = loadSpecText("keys.yaml", 'version: "1.0"\nmetadata: { name: a }\nx: { 1: a, "1": b, 1: c }\n');
    expect(!result.ok && result.errors.map((e) => e.message)).toEqual([
      "duplicate key 1: already defined at line 3, column 6",
    ]);
  });
});
