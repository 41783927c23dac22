// Golden images: cold build versus a rebuild with unchanged inputs (reuse), for each layer, and the size
// of each layer's image. Builds into a scratch store (HYPERSCALER_BENCH_IMAGES_DIR to keep it); needs
// root and the apt mirror. The e2e run (npm run test:e2e) prints the bring-up figures: empty -> srun,
// no-op apply, destroy, memory per VM.
import * as fs from "node:fs";
import * as path from "node:path";
import { buildImage } from "../src/images/build";

export async function run(): Promise<void> {
  console.log("== golden images (mmdebstrap; real builds) ==");
  if (process.getuid?.() !== 0) {
    console.log("skipped: image builds need root");
    return;
  }
  const keep = Boolean(process.env.HYPERSCALER_BENCH_IMAGES_DIR);
  const dir = process.env.HYPERSCALER_BENCH_IMAGES_DIR ?? fs.mkdtempSync(path.join("/var/tmp", "hs-bench-images-"));
  try {
    for (const name of ["base", "hpc", "k8s"]) {
      const cold = await buildImage({ name, imagesDir: dir, force: true });
      const reused = await buildImage({ name, imagesDir: dir });
      if (!reused.reused) throw new Error(`${name}: the second build with unchanged inputs did not reuse the image`);
      const m = cold.image.manifest;
      const mib = (bytes: number) => (bytes / 1024 ** 2).toFixed(0);
      console.log(
        `${name.padEnd(5)} cold ${cold.seconds.toFixed(1).padStart(6)} s   reused ` +
          `${(reused.seconds * 1000).toFixed(1).padStart(6)} ms (${(cold.seconds / reused.seconds).toFixed(0)}x ` +
          `faster)   qcow2 ${mib(m.files[m.disk].bytes)} MiB   rootfs ${mib(m.rootfsBytes)} MiB   ` +
          `${Object.keys(m.packages).length} ` +
          `packages${m.omitted.length ? `   omitted: ${m.omitted.map((o) => o.packages.join(",")).join("; ")}` : ""}`,
      );
    }
  } finally {
    if (!keep) fs.rmSync(dir, { recursive: true, force: true });
  }
}
