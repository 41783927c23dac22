// The apt sources an image is built from: the Debian mirror the host already uses (its sources.list and
// sources.list.d, one-line and deb822 forms), or one mirror given with --mirror (a local mirror).
import * as fs from "node:fs";
import * as path from "node:path";

/** One `deb URI SUITE COMPONENTS` line for mmdebstrap. */
export interface AptSource {
  readonly uri: string;
  readonly suite: string;
  readonly components: readonly string[];
}

export function formatSource(source: AptSource): string {
  return `deb ${source.uri} ${source.suite} ${source.components.join(" ")}`;
}

function parseOneLine(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const line of text.split("\n")) {
    const match = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.+)$/.exec(line);
    if (match) sources.push({ uri: match[1], suite: match[2], components: match[3].trim().split(/\s+/) });
  }
  return sources;
}

function parseDeb822(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields: Record<string, string> = {};
    for (const line of stanza.split("\n")) {
      const match = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (match) fields[match[1].toLowerCase()] = match[2].trim();
    }
    if (!(fields.types ?? "").split(/\s+/).includes("deb") || fields.enabled === "no") continue;
    for (const uri of (fields.uris ?? "").split(/\s+/).filter(Boolean)) {
      for (const suite of (fields.suites ?? "").split(/\s+/).filter(Boolean)) sources.push({ uri, suite, components: (fields.components ?? "main").split(/\s+/) });
    }
  }
  return sources;
}

/** The host's Debian sources for `suite` (suite, suite-updates, suite-security), main component only. */
export function hostDebianSources(suite: string, root = "/etc/apt"): AptSource[] {
  const files = [path.join(root, "sources.list")];
  const dir = path.join(root, "sources.list.d");
  if (fs.existsSync(dir)) files.push(...fs.readdirSync(dir).sort().map((f) => path.join(dir, f)));
  const all: AptSource[] = [];
  for (const file of files) {
    if (!fs.existsSync(file)) continue;
    const text = fs.readFileSync(file, "utf8");
    if (file.endsWith(".sources")) all.push(...parseDeb822(text));
    else if (file.endsWith(".list")) all.push(...parseOneLine(text));
  }
  const wanted = new Set([suite, `${suite}-updates`, `${suite}-security`]);
  return all.filter((s) => wanted.has(s.suite) && s.components.includes("main")).map((s) => ({ ...s, components: ["main"] }));
}

/** Sources for a build: the given mirror for the suite alone, else the host's. */
export function buildSources(suite: string, mirror?: string, root?: string): AptSource[] {
  if (mirror) return [{ uri: mirror.replace(/\/+$/, ""), suite, components: ["main"] }];
  const sources = hostDebianSources(suite, root);
  if (sources.length === 0) throw new Error(`the host's apt sources (${root ?? "/etc/apt"}) list no Debian ${suite} mirror with component main; pass --mirror URL`);
  return sources;
}
