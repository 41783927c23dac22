// libvirt: 50 qcow2 overlays on a 1 GiB base versus copying the base 50 times (ratio), and define/undefine
// of 50 domains through the domain provider. Against the real libvirtd; nothing is started.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { makeDomainProvider, makePoolProvider, makeVolumeProvider } from "../src/providers/libvirt";
import { renderDomain } from "../src/render/libvirt/domain";
import { renderOverlayVolumeXml, renderPoolXml } from "../src/render/libvirt/storage";
import { leftovers, makeLab, scrub, URI } from "../test/integration/libvirt-lab";
import { report, ROOT, summarise } from "./lib";

async function timeAsync(fn: () => Promise<void> | void): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export async function run(): Promise<void> {
  console.log("== libvirt (real libvirtd) ==");
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "hs-bench-libvirt-"));
  const lab = makeLab(work, fs.readFileSync(path.join(ROOT, "config/prod.yaml"), "utf8"));
  try {
    // A 1 GiB base with real data in it, so copying costs what copying a real image costs per GiB.
    const base = path.join(work, "base-1g.qcow2");
    const raw = path.join(work, "base.raw");
    spawnSync("dd", ["if=/dev/urandom", `of=${raw}`, "bs=1M", "count=1024", "status=none"]);
    spawnSync("qemu-img", ["convert", "-q", "-f", "raw", "-O", "qcow2", raw, base]);
    fs.rmSync(raw);
    const pools = makePoolProvider();
    const pool = await pools.create({
      uri: URI,
      name: lab.poolName,
      xml: renderPoolXml(lab.poolName, lab.poolPath),
      path: lab.poolPath,
    });
    const volumes = makeVolumeProvider();
    const overlays: { id: string; outs?: Record<string, unknown> }[] = [];
    const overlayMs = await timeAsync(async () => {
      for (let i = 0; i < 50; i++) {
        const name = `${lab.prefix}-ov-${i}.qcow2`;
        overlays.push(
          await volumes.create({
            uri: URI,
            pool: lab.poolName,
            name,
            xml: renderOverlayVolumeXml({ name, capacityGiB: 20, backingPath: base }),
            capacityGiB: 20,
            backingPath: base,
          }),
        );
      }
    });
    const copyMs = await timeAsync(() => {
      for (let i = 0; i < 50; i++) fs.copyFileSync(base, path.join(work, `copy-${i}.qcow2`));
    });
    for (let i = 0; i < 50; i++) fs.rmSync(path.join(work, `copy-${i}.qcow2`));
    report(summarise("copy the 1 GiB base 50 times (baseline)", [copyMs]));
    report(summarise("create 50 overlays through the provider", [overlayMs]), summarise("copy", [copyMs]));
    console.log(
      `  overlays are ${(copyMs / overlayMs).toFixed(1)}x faster than copies; per overlay ` +
        `${(overlayMs / 50).toFixed(1)} ms`,
    );
    for (const overlay of overlays) await volumes.delete!(overlay.id, overlay.outs);

    const domains = makeDomainProvider();
    const vm = lab.plan.vms.find((v) => v.gpus.length > 0)!;
    const created: { id: string; outs?: Record<string, unknown> }[] = [];
    const defineMs = await timeAsync(async () => {
      for (let i = 0; i < 50; i++) {
        const named = { ...vm, name: `${lab.prefix}-dom-${i}` };
        const { xml, facts } = renderDomain(lab.plan, named, { pool: lab.poolName });
        created.push(await domains.create({ uri: URI, name: named.name, xml, facts, start: false }));
      }
    });
    const undefineMs = await timeAsync(async () => {
      for (const domain of created) await domains.delete!(domain.id, domain.outs);
    });
    report(summarise("define 50 domains (provider create)", [defineMs]));
    console.log(`  per domain ${(defineMs / 50).toFixed(1)} ms`);
    report(summarise("undefine 50 domains (provider delete)", [undefineMs]));
    await pools.delete!(pool.id, pool.outs);
    const left = leftovers(lab.prefix);
    if (left.length) throw new Error(`benchmark left ${left.join(", ")}`);
  } finally {
    scrub(lab.prefix);
    fs.rmSync(work, { recursive: true, force: true });
  }
}

if (require.main === module) void run();
