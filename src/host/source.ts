// Where the probe reads the host: a live machine (files under an injectable root, commands through an
// injectable executor) or a captured snapshot directory. Capture records exactly what the probe read.
import * as fs from "node:fs";
import * as path from "node:path";
import { InputError } from "../spec/input-error";
import { readInputFile } from "../util/input-file";
import { execCommand, type ExecResult } from "../util/exec";
import { parseJsonInput } from "../spec/json-input";

export interface Executor {
  run(command: string, args: readonly string[]): ExecResult;
}

/** Runs real commands; a missing command is exit code null, never an exception. */
export const localExecutor: Executor = {
  run: (command, args) => execCommand(command, args, { timeoutMs: 20_000, maxBufferBytes: 64 * 1024 * 1024 }),
};

/** The raw inputs a snapshot holds (each optional: missing means unknown). */
export const SNAPSHOT_FILES = [
  "nvidia-smi-q-x.xml",
  "nvidia-smi-L.txt",
  "nvidia-smi-mig-lgip.txt",
  "nvidia-smi-mig-lgipp.txt",
  "nvidia-smi-mig-lgi.txt",
  "nvidia-smi-mig-lci.txt",
  "lspci-Dnn.txt",
  "proc-cpuinfo.txt",
  "proc-cmdline.txt",
  "proc-modules.txt",
  "proc-meminfo.txt",
  "mdevctl-types.txt",
  "virsh-version.txt",
  "modprobe-d.txt",
  "processes.txt",
  "dev-kvm.txt",
  "hostname.txt",
] as const;
export type SnapshotFile = (typeof SNAPSHOT_FILES)[number];

/** Read access to /sys: file contents, directory listings and symlink targets. */
export interface SysFs {
  read(relative: string): string | null;
  list(relative: string): string[];
  /** The symlink's target, as readlink prints it; null when not a link. */
  link(relative: string): string | null;
}

export interface HostSource {
  readonly kind: "live" | "replay";
  readonly path: string | null;
  readonly capturedAt: string | null;
  input(name: SnapshotFile): string | null;
  readonly sys: SysFs;
}

function readOrNull(file: string): string | null {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return null;
  }
}

function listOrEmpty(dir: string): string[] {
  try {
    return fs.readdirSync(dir).sort();
  } catch {
    return [];
  }
}

export interface LiveOptions {
  /** Filesystem root ("/" on a real host; a fake tree in tests). */
  readonly root?: string;
  readonly executor?: Executor;
  readonly libvirtUri?: string;
}

export function liveSource(options: LiveOptions = {}): HostSource {
  const root = options.root ?? "/";
  const exec = options.executor ?? localExecutor;
  const at = (...parts: string[]): string => path.join(root, ...parts);
  const command = (cmd: string, args: string[]): string | null => {
    const result = exec.run(cmd, args);
    return result.code === 0 ? result.stdout : null;
  };
  const inputs: Record<SnapshotFile, () => string | null> = {
    "nvidia-smi-q-x.xml": () => command("nvidia-smi", ["-q", "-x"]),
    "nvidia-smi-L.txt": () => command("nvidia-smi", ["-L"]),
    "nvidia-smi-mig-lgip.txt": () => command("nvidia-smi", ["mig", "-lgip"]),
    "nvidia-smi-mig-lgipp.txt": () => command("nvidia-smi", ["mig", "-lgipp"]),
    "nvidia-smi-mig-lgi.txt": () => command("nvidia-smi", ["mig", "-lgi"]),
    "nvidia-smi-mig-lci.txt": () => command("nvidia-smi", ["mig", "-lci"]),
    "lspci-Dnn.txt": () => command("lspci", ["-Dnn"]),
    "proc-cpuinfo.txt": () => readOrNull(at("proc", "cpuinfo")),
    "proc-cmdline.txt": () => readOrNull(at("proc", "cmdline")),
    "proc-modules.txt": () => readOrNull(at("proc", "modules")),
    "proc-meminfo.txt": () => readOrNull(at("proc", "meminfo")),
    "mdevctl-types.txt": () => command("mdevctl", ["types"]),
    "virsh-version.txt": () => command("virsh", ["-c", options.libvirtUri ?? "qemu:///system", "version"]),
    "modprobe-d.txt": () => {
      const dir = at("etc", "modprobe.d");
      const files = listOrEmpty(dir).filter((f) => f.endsWith(".conf"));
      return fs.existsSync(dir) ? files.map((f) => readOrNull(path.join(dir, f)) ?? "").join("\n") : null;
    },
    "processes.txt": () => {
      const proc = at("proc");
      const pids = listOrEmpty(proc).filter((p) => /^\d+$/.test(p));
      if (pids.length === 0) return null;
      return (
        pids
          .map((pid) => (readOrNull(path.join(proc, pid, "comm")) ?? "").trim())
          .filter(Boolean)
          .sort()
          .join("\n") + "\n"
      );
    },
    "dev-kvm.txt": () => {
      const device = at("dev", "kvm");
      if (!fs.existsSync(device)) return "present: no\naccessible: no\n";
      try {
        // Opening is the real test: access() always passes for root, even on a dead device node.
        fs.closeSync(fs.openSync(device, "r+"));
        return "present: yes\naccessible: yes\n";
      } catch {
        return "present: yes\naccessible: no\n";
      }
    },
    "hostname.txt": () => readOrNull(at("etc", "hostname")) ?? readOrNull(at("proc", "sys", "kernel", "hostname")),
  };
  return {
    kind: "live",
    path: root === "/" ? null : root,
    capturedAt: null,
    input: (name) => inputs[name](),
    sys: {
      read: (relative) => readOrNull(at("sys", relative))?.trim() ?? null,
      list: (relative) => listOrEmpty(at("sys", relative)),
      link: (relative) => {
        try {
          return fs.readlinkSync(at("sys", relative));
        } catch {
          return null;
        }
      },
    },
  };
}

const SYSFS_LINKS = path.join("sysfs", ".links.json");
const SYSFS_LISTINGS = path.join("sysfs", ".listings.json");
const META = "snapshot.json";
/** A captured command output or sysfs file; nvidia-smi -q -x of eight GPUs is about 1 MiB. */
export const MAX_SNAPSHOT_FILE_BYTES = 16 * 1024 * 1024;

/**
 * A snapshot file's text, or null when it is absent (absent means unknown). Anything else that is not a
 * readable regular file under the cap (a FIFO, a device, a directory, a huge file) is refused, never read.
 */
function readSnapshotFile(file: string): string | null {
  const read = readInputFile(file, MAX_SNAPSHOT_FILE_BYTES, "snapshot file");
  if (read.ok) return read.bytes.toString("utf8");
  if (read.problem === "missing") return null;
  throw new InputError(
    `snapshot file ${file}: ${read.message} (${read.hint}; ` +
      `or capture the snapshot again with \`hyperscaler probe --capture DIR\`)`,
  );
}

const RECAPTURE = "capture the snapshot again with `hyperscaler probe --capture DIR`";

/**
 * Replays a snapshot directory written by `hyperscaler probe --capture`; its JSON files are checked against their
 * schemas.
 */
export function snapshotSource(dir: string): HostSource {
  let isDirectory: boolean;
  try {
    isDirectory = fs.statSync(dir).isDirectory();
  } catch {
    isDirectory = false;
  }
  if (!isDirectory)
    throw new InputError(
      `snapshot directory ${dir} does not exist (give the directory written by \`hyperscaler probe --capture DIR\`)`,
    );
  const json = <T>(file: string, schema: string, what: string, fallback: T): T => {
    const text = readSnapshotFile(path.join(dir, file));
    if (text === null) return fallback;
    return parseJsonInput<T>({ file: path.join(dir, file), what, schema, howToMake: RECAPTURE }, text);
  };
  const links = json<Record<string, string>>(
    SYSFS_LINKS,
    "host-snapshot-links.schema.json",
    "snapshot symlink table",
    {},
  );
  const listings = json<Record<string, string[]>>(
    SYSFS_LISTINGS,
    "host-snapshot-listings.schema.json",
    "snapshot directory listing",
    {},
  );
  const meta = json<{ capturedAt?: string }>(META, "host-snapshot-meta.schema.json", "snapshot description", {});
  const sysDir = path.join(dir, "sysfs");
  const own = (table: Record<string, unknown>, key: string): boolean =>
    Object.prototype.hasOwnProperty.call(table, key);
  return {
    kind: "replay",
    path: dir,
    capturedAt: meta.capturedAt ?? null,
    input: (name) => readSnapshotFile(path.join(dir, name)),
    sys: {
      read: (relative) => {
        if (relative.split("/").includes("..")) return null;
        return readSnapshotFile(path.join(sysDir, relative))?.trim() ?? null;
      },
      list: (relative) =>
        own(listings, relative)
          ? listings[relative]
          : listOrEmpty(path.join(sysDir, relative)).filter((f) => !f.startsWith(".")),
      link: (relative) => (own(links, relative) ? links[relative] : null),
    },
  };
}

/** Wraps a source and remembers everything read, so it can be written out as a snapshot. */
export function recordingSource(inner: HostSource): { source: HostSource; write(dir: string): string[] } {
  const inputs = new Map<SnapshotFile, string | null>();
  const files = new Map<string, string>();
  const links: Record<string, string> = {};
  const listings: Record<string, string[]> = {};
  const source: HostSource = {
    ...inner,
    input: (name) => {
      if (!inputs.has(name)) inputs.set(name, inner.input(name));
      return inputs.get(name)!;
    },
    sys: {
      read: (relative) => {
        const value = inner.sys.read(relative);
        if (value !== null) files.set(relative, value);
        return value;
      },
      list: (relative) => (listings[relative] = inner.sys.list(relative)),
      link: (relative) => {
        const value = inner.sys.link(relative);
        if (value !== null) links[relative] = value;
        return value;
      },
    },
  };
  return {
    source,
    write(dir) {
      const written: string[] = [];
      fs.mkdirSync(path.join(dir, "sysfs"), { recursive: true });
      for (const [name, value] of inputs) {
        if (value === null) continue;
        fs.writeFileSync(path.join(dir, name), value);
        written.push(name);
      }
      for (const [relative, value] of files) {
        const target = path.join(dir, "sysfs", relative);
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, value + "\n");
      }
      fs.writeFileSync(path.join(dir, SYSFS_LINKS), JSON.stringify(links, null, 2) + "\n");
      fs.writeFileSync(path.join(dir, SYSFS_LISTINGS), JSON.stringify(listings, null, 2) + "\n");
      fs.writeFileSync(
        path.join(dir, META),
        JSON.stringify({ capturedAt: new Date().toISOString(), files: written.sort() }, null, 2) + "\n",
      );
      return written;
    },
  };
}
