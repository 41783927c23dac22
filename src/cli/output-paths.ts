// Output paths (--out, --svg, --capture) are checked before any work starts, so a typo in a path fails
// in milliseconds with the reason, instead of after planning with a stack trace (or a write into a FIFO
// that never returns). Writability is tested by creating and removing a probe entry, because access()
// says yes to root even on a read-only mount.
import * as fs from "node:fs";
import * as path from "node:path";
import { InputError } from "../spec/input-error";

function statOrNull(target: string): fs.Stats | null {
  try {
    return fs.statSync(target);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return null;
    if (code === "ENOTDIR") throw new InputError(`${target}: a part of this path is a file, not a directory`);
    throw new InputError(`${target}: cannot inspect the path (${code ?? String(error)})`);
  }
}

function kind(stat: fs.Stats): string {
  if (stat.isFile()) return "a file";
  if (stat.isDirectory()) return "a directory";
  if (stat.isFIFO()) return "a named pipe (FIFO)";
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return "a device";
  if (stat.isSocket()) return "a socket";
  return "not a regular file";
}

/** Creates and removes an entry in `dir`: the only writability test that holds for root and read-only mounts. */
function assertWritableDirectory(dir: string, flag: string, target: string): void {
  try {
    fs.rmdirSync(fs.mkdtempSync(path.join(dir, ".hyperscaler-write-check-")));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === "EROFS"
        ? "is on a read-only file system"
        : code === "EACCES" || code === "EPERM"
          ? "is not writable by this user"
          : `cannot be written (${code ?? String(error)})`;
    throw new InputError(`${flag} ${target}: the directory ${dir} ${why}; choose a writable place`);
  }
}

/** The nearest existing ancestor of a path that does not exist yet (mkdir -p creates the rest). */
function existingAncestor(target: string, flag: string): string {
  let dir = path.dirname(path.resolve(target));
  for (;;) {
    const stat = statOrNull(dir);
    if (stat) {
      if (!stat.isDirectory())
        throw new InputError(`${flag} ${target}: ${dir} is ${kind(stat)}, not a directory; choose another path`);
      return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) return dir;
    dir = parent;
  }
}

/**
 * A file the command will write (--svg): its directory must exist and be writable; it must not be a
 * directory or a FIFO.
 */
export function checkOutputFile(target: string, flag: string): void {
  if (target === "") throw new InputError(`${flag}: the path is empty; give a file name`);
  const stat = statOrNull(target);
  if (stat && !stat.isFile())
    throw new InputError(`${flag} ${target}: is ${kind(stat)}; give a path for a new or regular file`);
  const dir = path.dirname(path.resolve(target));
  const parent = statOrNull(dir);
  if (!parent)
    throw new InputError(`${flag} ${target}: the directory ${dir} does not exist; create it first (mkdir -p ${dir})`);
  if (!parent.isDirectory()) throw new InputError(`${flag} ${target}: ${dir} is ${kind(parent)}, not a directory`);
  assertWritableDirectory(dir, flag, target);
  if (stat) {
    try {
      fs.accessSync(target, fs.constants.W_OK);
    } catch {
      throw new InputError(`${flag} ${target}: the file exists and is not writable; remove it or choose another name`);
    }
  }
}

/** A directory the command will create or fill (--out, --capture): a directory if it exists, creatable if not. */
export function checkOutputDirectory(target: string, flag: string): void {
  if (target === "") throw new InputError(`${flag}: the path is empty; give a directory`);
  const stat = statOrNull(target);
  if (stat) {
    if (!stat.isDirectory())
      throw new InputError(
        `${flag} ${target}: is ${kind(stat)}, not a directory; give a directory (it is created if missing)`,
      );
    assertWritableDirectory(path.resolve(target), flag, target);
    return;
  }
  assertWritableDirectory(existingAncestor(target, flag), flag, target);
}
