// Golden image definitions (images/golden/<name>.yaml): layers resolved parent-first into one package
// list. Bad definitions fail with the file, the field, what was found and what is expected.
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";

export interface OptionalRepository {
  readonly name: string;
  /** apt repository URL (deb line URI). */
  readonly url: string;
  /** ASCII-armored signing key. */
  readonly key_url: string;
  readonly suite: string;
  readonly packages: readonly string[];
}

export interface ImageDefinition {
  readonly name: string;
  readonly parent?: string;
  readonly description: string;
  readonly suite?: string;
  readonly packages: readonly string[];
  readonly optional_repository?: OptionalRepository;
}

/** A definition with its parents folded in: what one mmdebstrap run installs. */
export interface ResolvedImage {
  readonly name: string;
  readonly description: string;
  /** Layer names, base first. */
  readonly layers: readonly string[];
  readonly suite: string;
  readonly packages: readonly string[];
  readonly optionalRepositories: readonly OptionalRepository[];
}

export class ImageDefinitionError extends Error {}

/** images/golden in the package (found from this module's location, in src/ or dist/). */
export function definitionsDir(): string {
  for (let dir = __dirname, i = 0; i < 5; i++, dir = path.dirname(dir)) {
    const candidate = path.join(dir, "images", "golden");
    if (fs.existsSync(candidate)) return candidate;
  }
  throw new ImageDefinitionError("images/golden (the golden image definitions) not found beside the package");
}

const NAME = /^[a-z][a-z0-9-]{0,31}$/;
const PACKAGE = /^[a-z0-9][a-z0-9+.-]+$/;

function check(file: string, field: string, ok: boolean, found: unknown, expected: string): void {
  if (!ok)
    throw new ImageDefinitionError(
      `${file}: ${field} is ${JSON.stringify(found)}; expected ${expected}. Fix the definition.`,
    );
}

export function loadDefinition(dir: string, name: string): ImageDefinition {
  const file = path.join(dir, `${name}.yaml`);
  if (!fs.existsSync(file)) {
    const known = availableImages(dir);
    throw new ImageDefinitionError(
      `no golden image named ${JSON.stringify(name)}: ${file} does not exist (defined: ${known.join(", ") || "none"})`,
    );
  }
  const raw = parse(fs.readFileSync(file, "utf8")) as Record<string, unknown> | null;
  check(file, "the document", typeof raw === "object" && raw !== null, raw, "a mapping");
  const doc = raw as Record<string, unknown>;
  check(file, "name", doc.name === name, doc.name, `${JSON.stringify(name)} (the file's name)`);
  check(file, "description", typeof doc.description === "string", doc.description, "a string");
  check(
    file,
    "parent",
    doc.parent === undefined || (typeof doc.parent === "string" && NAME.test(doc.parent)),
    doc.parent,
    "an image name",
  );
  check(
    file,
    "suite",
    doc.suite === undefined || (typeof doc.suite === "string" && NAME.test(doc.suite)),
    doc.suite,
    "a Debian suite such as bookworm",
  );
  const packages = doc.packages;
  check(
    file,
    "packages",
    Array.isArray(packages) && packages.every((p) => typeof p === "string" && PACKAGE.test(p)),
    packages,
    "a list of Debian package names",
  );
  const repo = doc.optional_repository as Record<string, unknown> | undefined;
  if (repo !== undefined) {
    for (const key of ["name", "url", "key_url", "suite"])
      check(file, `optional_repository.${key}`, typeof repo[key] === "string", repo[key], "a string");
    check(
      file,
      "optional_repository.packages",
      Array.isArray(repo.packages) &&
        (repo.packages as unknown[]).every((p) => typeof p === "string" && PACKAGE.test(p)),
      repo.packages,
      "a list of package names",
    );
  }
  return doc as unknown as ImageDefinition;
}

export function availableImages(dir: string = definitionsDir()): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .map((f) => f.slice(0, -5))
    .sort();
}

export function resolveImage(name: string, dir: string = definitionsDir()): ResolvedImage {
  const chain: ImageDefinition[] = [];
  for (let current: string | undefined = name; current !== undefined;) {
    if (chain.some((d) => d.name === current))
      throw new ImageDefinitionError(
        `golden image ${name}: parents form a cycle (${[...chain.map((d) => d.name), current].join(" -> ")})`,
      );
    const definition = loadDefinition(dir, current);
    chain.push(definition);
    current = definition.parent;
  }
  chain.reverse();
  const packages = [...new Set(chain.flatMap((d) => d.packages))];
  const suite = [...chain].reverse().find((d) => d.suite)?.suite ?? "bookworm";
  return {
    name,
    description: chain[chain.length - 1].description,
    layers: chain.map((d) => d.name),
    suite,
    packages,
    optionalRepositories: chain.flatMap((d) => (d.optional_repository ? [d.optional_repository] : [])),
  };
}
