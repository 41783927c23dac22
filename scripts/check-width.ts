// Fails when a line in a file Prettier formats is wider than Prettier's printWidth. Prettier breaks code
// but never a string literal or a comment, so those can stay over the width after `npm run format`; this
// is the check that they do not. The width and the file set are Prettier's own (.prettierrc.json,
// .prettierignore), measured with Prettier's string width. Run by `npm run format:check`.
import * as fs from "node:fs";
import * as path from "node:path";
import * as prettier from "prettier";

const ROOT = path.join(__dirname, "..");
const SKIPPED_DIRS = new Set([".git", "node_modules", "dist"]);
const URL = /\bhttps?:\/\/\S+/g;

export interface WideLine {
  /** 1-based line number. */
  readonly line: number;
  readonly width: number;
}

/** The lines of `text` wider than `width`; a line that fits once its URLs are left out is not counted. */
export function wideLines(text: string, width: number): WideLine[] {
  const wide: WideLine[] = [];
  text.split("\n").forEach((line, index) => {
    const measured = prettier.util.getStringWidth(line);
    if (measured <= width) return;
    if (prettier.util.getStringWidth(line.replace(URL, "")) <= width) return;
    wide.push({ line: index + 1, width: measured });
  });
  return wide;
}

/** Every file under `root` Prettier would format (not ignored, a parser it knows), relative to `root`. */
export async function formattedFiles(root: string): Promise<string[]> {
  const ignorePath = [path.join(root, ".gitignore"), path.join(root, ".prettierignore")];
  const files: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!SKIPPED_DIRS.has(entry.name)) await walk(full);
      } else if (entry.isFile()) {
        const info = await prettier.getFileInfo(full, { ignorePath });
        if (!info.ignored && info.inferredParser) files.push(path.relative(root, full));
      }
    }
  };
  await walk(root);
  return files.sort();
}

async function main(): Promise<number> {
  const files = await formattedFiles(ROOT);
  let count = 0;
  for (const file of files) {
    const full = path.join(ROOT, file);
    const width = (await prettier.resolveConfig(full))?.printWidth ?? 80;
    for (const wide of wideLines(fs.readFileSync(full, "utf8"), width)) {
      console.log(`${file}:${wide.line}: ${wide.width} columns, over the width of ${width}`);
      count++;
    }
  }
  if (count === 0) {
    console.log(`check-width: ${files.length} files, no line over the width`);
    return 0;
  }
  console.log(`check-width: ${count} lines over the width; split the string or comment (Prettier will not)`);
  return 1;
}

if (require.main === module) {
  main().then(
    (code) => (process.exitCode = code),
    (error: unknown) => {
      console.error(error);
      process.exitCode = 2;
    },
  );
}
