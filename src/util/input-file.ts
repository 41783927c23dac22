// Reads a user-named input file without hanging or exhausting memory: only regular files (a FIFO,
// a device such as /dev/zero behind a symlink, or a directory is refused before any byte is read),
// and the size cap is enforced while reading, so a file that grows or lies about its size stops at the cap.
import * as fs from "node:fs";

export type InputFileProblem = "missing" | "denied" | "not-a-file" | "too-large" | "unreadable";

export type InputFileResult =
  | { ok: true; bytes: Buffer }
  | { ok: false; problem: InputFileProblem; message: string; hint: string; found?: string; expected?: string };

const CHUNK = 64 * 1024;

function kindOf(stat: fs.Stats): string {
  if (stat.isDirectory()) return "a directory";
  if (stat.isFIFO()) return "a named pipe (FIFO)";
  if (stat.isCharacterDevice()) return "a character device";
  if (stat.isBlockDevice()) return "a block device";
  if (stat.isSocket()) return "a socket";
  return "not a regular file";
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

function capText(bytes: number): string {
  return bytes % 1048576 === 0 ? `${bytes / 1048576} MiB` : mib(bytes);
}

/**
 * Reads at most `maxBytes` of a regular file. `what` names the file's role in messages ("cluster spec").
 * O_NONBLOCK keeps open() of a FIFO from waiting for a writer; fstat on the open descriptor then decides,
 * so a file swapped between a check and the read cannot slip through.
 */
export function readInputFile(file: string, maxBytes: number, what: string): InputFileResult {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { ok: false, problem: "missing", message: "file not found", hint: "check the path" };
    if (code === "ENOTDIR")
      return {
        ok: false,
        problem: "missing",
        message: "file not found (a part of the path is not a directory)",
        hint: "check the path",
      };
    if (code === "EACCES" || code === "EPERM")
      return {
        ok: false,
        problem: "denied",
        message: "permission denied reading the file",
        hint: "make the file readable by this user",
      };
    if (code === "EISDIR") return notAFile("a directory", what);
    if (code === "ELOOP")
      return {
        ok: false,
        problem: "unreadable",
        message: "too many levels of symbolic links",
        hint: "point the path at the file itself",
      };
    return {
      ok: false,
      problem: "unreadable",
      message: `cannot open the file (${code ?? String(error)})`,
      hint: "check the path and permissions",
    };
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) return notAFile(kindOf(stat), what);
    if (stat.size > maxBytes) return tooLarge(stat.size, maxBytes, what);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(CHUNK);
      const read = fs.readSync(fd, chunk, 0, CHUNK, null);
      if (read === 0) break;
      total += read;
      if (total > maxBytes) return tooLarge(total, maxBytes, what, true);
      chunks.push(read === CHUNK ? chunk : chunk.subarray(0, read));
    }
    return { ok: true, bytes: Buffer.concat(chunks, total) };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EISDIR") return notAFile("a directory", what);
    return {
      ok: false,
      problem: "unreadable",
      message: `cannot read the file (${code ?? String(error)})`,
      hint: "check the file and the disk",
    };
  } finally {
    fs.closeSync(fd);
  }
}

function notAFile(kind: string, what: string): InputFileResult {
  return {
    ok: false,
    problem: "not-a-file",
    message: `is ${kind}, not a regular file; a ${what} is read only from a regular file`,
    hint: `name the ${what} file itself`,
    found: kind,
    expected: "a regular file",
  };
}

function tooLarge(size: number, maxBytes: number, what: string, whileReading = false): InputFileResult {
  return {
    ok: false,
    problem: "too-large",
    message: `file is ${whileReading ? "more than " : ""}${mib(size)}; a ${what} is at most ${capText(maxBytes)}`,
    hint: "check that this is the right file",
    found: `${whileReading ? "more than " : ""}${size} bytes`,
    expected: `at most ${maxBytes} bytes`,
  };
}
