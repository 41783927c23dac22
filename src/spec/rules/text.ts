// Spec strings end up inside generated files (gridd.conf, slurm.conf, cloud-init YAML, libvirt XML,
// authorized_keys, apt sources), where a newline starts a new directive. So no string value anywhere in
// the spec may hold a control character (C0, DEL, C1) or a Unicode line/paragraph separator. The one
// exception is metadata.description, free text that may span lines (tabs and newlines only).
import { pointerOf } from "../diagnostics";
import type { RuleContext } from "./context";

// eslint-disable-next-line no-control-regex -- refusing control characters is the point of this rule
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
// eslint-disable-next-line no-control-regex -- as above, with tab and newline allowed
const CONTROL_EXCEPT_LINES = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/;
const MULTILINE_ALLOWED = new Set(["/metadata/description"]);
const BLOCK_SCALAR_NOTE = " (a YAML block scalar | or > adds one at the end: use a quoted string)";

function describe(character: string): string {
  const names: Record<string, string> = {
    "\n": "a newline (\\n)",
    "\r": "a carriage return (\\r)",
    "\t": "a tab (\\t)",
    "\u0000": "a NUL byte",
  };
  return (
    names[character] ?? `control character U+${character.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}`
  );
}

export function checkText(ctx: RuleContext): void {
  const walk = (value: unknown, segments: (string | number)[]): void => {
    if (typeof value === "string") {
      const pointer = pointerOf(segments);
      const match = (MULTILINE_ALLOWED.has(pointer) ? CONTROL_EXCEPT_LINES : CONTROL).exec(value);
      if (match) {
        const field = String(segments[segments.length - 1] ?? "value");
        ctx.error({
          path: pointer,
          message:
            `${field} contains ${describe(match[0])} at character ${match.index + 1}; ` +
            `values here are written into configuration files, ` +
            `where it would start a new line or directive`,
          found: value,
          expected: "a single line of printable text",
          hint: `remove the ${describe(match[0])}${match[0] === "\n" ? BLOCK_SCALAR_NOTE : ""}`,
        });
      }
    } else if (Array.isArray(value)) {
      value.forEach((item, index) => walk(item, [...segments, index]));
    } else if (value !== null && typeof value === "object") {
      for (const [key, item] of Object.entries(value)) walk(item, [...segments, key]);
    }
  };
  walk(ctx.spec, []);
}
