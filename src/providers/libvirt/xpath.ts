// Reading parts of an object's XML through `virsh ... --xpath` (attributes of elements, text of nodes).
import type { Runner } from "./runner";

/** Attributes of every element libvirt returns for an XPath query (one element per line). */
export function xpathAttributes(
  run: Runner,
  uri: string,
  args: readonly string[],
  xpath: string,
): Record<string, string>[] {
  const result = run("virsh", ["-q", "-c", uri, ...args, "--xpath", xpath]);
  if (result.code !== 0) return [];
  return result.stdout
    .split(/\n(?=\s*<)/)
    .filter((line) => line.trim().startsWith("<"))
    .map((element) => {
      const attributes: Record<string, string> = {};
      for (const match of element.matchAll(/([A-Za-z_:][\w:.-]*)=(['"])(.*?)\2/g)) attributes[match[1]] = match[3];
      return attributes;
    });
}

/** Text content of every node an XPath query returns. */
export function xpathText(run: Runner, uri: string, args: readonly string[], xpath: string): string[] {
  const result = run("virsh", ["-q", "-c", uri, ...args, "--xpath", xpath]);
  if (result.code !== 0) return [];
  return result.stdout
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean);
}
