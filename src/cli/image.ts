// `hyperscaler image build|list|verify`: golden images in the image store (see src/images).
import { ImageDefinitionError } from "../facts/golden-images";
import { buildImage } from "../images/build";
import { DEFAULT_KEEP, defaultImagesDir, findImage, listImages, verifyImage, type StoredImage } from "../images/store";
import { EXIT, UsageError, type CliIO } from "./output";
import { table } from "../util/table";

export interface ImageCommonOptions {
  readonly dir?: string;
  readonly json?: boolean;
}

function imagesDir(options: ImageCommonOptions): string {
  return options.dir ?? defaultImagesDir();
}

export interface ImageBuildOptions extends ImageCommonOptions {
  readonly mirror?: string;
  /** As typed on the command line; checked here. */
  readonly keep?: string;
  readonly force?: boolean;
}

export async function runImageBuild(name: string, options: ImageBuildOptions, io: CliIO): Promise<number> {
  const keep = options.keep === undefined ? DEFAULT_KEEP : Number(options.keep);
  if (!Number.isInteger(keep) || keep < 1)
    throw new UsageError(`--keep ${options.keep}: expected a whole number of versions, at least 1`);
  if (options.mirror !== undefined && !/^(https?|file):\/\//.test(options.mirror))
    throw new UsageError(`--mirror ${options.mirror}: expected an http://, https:// or file:// URL of a Debian mirror`);
  if (process.getuid?.() !== 0) throw new UsageError("image build runs mmdebstrap in root mode: run it as root (sudo)");
  try {
    const result = await buildImage({
      name,
      imagesDir: imagesDir(options),
      mirror: options.mirror,
      keep,
      force: options.force,
      log: (line) => io.err(line),
    });
    const m = result.image.manifest;
    if (options.json)
      io.out(
        JSON.stringify(
          {
            name: m.name,
            version: m.version,
            reused: result.reused,
            seconds: result.seconds,
            path: result.image.diskPath,
            sha256: m.files[m.disk].sha256,
            pruned: result.pruned,
          },
          null,
          2,
        ),
      );
    else
      io.out(
        `${m.name}@${m.version} ${result.reused ? "reused" : "built"} ` +
          `in ${result.seconds.toFixed(1)} s: ${result.image.diskPath}`,
      );
    return EXIT.ok;
  } catch (error) {
    if (error instanceof ImageDefinitionError) throw new UsageError(error.message);
    io.err(`hyperscaler image build ${name}: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT.failed;
  }
}

export function imageSummary(image: StoredImage): Record<string, unknown> {
  const m = image.manifest;
  return {
    name: m.name,
    version: m.version,
    path: image.diskPath,
    sha256: m.files[m.disk].sha256,
    bytes: m.files[m.disk].bytes,
    kernelVersion: m.kernelVersion,
    builtAt: m.builtAt,
    layers: m.layers,
    omitted: m.omitted,
    packages: m.packages,
  };
}

export function runImageList(options: ImageCommonOptions, io: CliIO): number {
  const images = listImages(imagesDir(options));
  if (options.json) {
    io.out(JSON.stringify({ dir: imagesDir(options), images: images.map(imageSummary) }, null, 2));
    return EXIT.ok;
  }
  if (images.length === 0) {
    io.out(`no golden images in ${imagesDir(options)} (build one with: hyperscaler image build hpc)`);
    return EXIT.ok;
  }
  const rows = images.map((i) => [
    i.manifest.name,
    i.manifest.version,
    i.manifest.builtAt,
    `${(i.manifest.files[i.manifest.disk].bytes / 1024 ** 2).toFixed(0)} MiB`,
    String(Object.keys(i.manifest.packages).length),
    i.manifest.kernelVersion,
    i.diskPath,
  ]);
  io.out(table(["name", "version", "built", "size", "packages", "kernel", "path"], rows));
  return EXIT.ok;
}

export async function runImageVerify(
  reference: string | undefined,
  options: ImageCommonOptions,
  io: CliIO,
): Promise<number> {
  const dir = imagesDir(options);
  let images = listImages(dir);
  if (reference) {
    const found = reference.includes("@") ? findImage(dir, reference) : null;
    images = found ? [found] : images.filter((i) => i.manifest.name === reference);
    if (images.length === 0) throw new UsageError(`image ${reference}: not in ${dir} (see hyperscaler image list)`);
  }
  const results = [];
  for (const image of images) results.push(await verifyImage(image));
  if (options.json) io.out(JSON.stringify({ ok: results.every((r) => r.ok), images: results }, null, 2));
  else
    for (const r of results)
      io.out(
        `${r.ok ? "ok  " : "FAIL"} ${r.name}@${r.version}${r.problems.length ? `: ${r.problems.join("; ")}` : ""}`,
      );
  return results.every((r) => r.ok) ? EXIT.ok : EXIT.failed;
}
