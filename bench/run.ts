// Runs every benchmark and prints its figures: `npm run build && npm run bench`.
// The libvirt benchmark needs a running libvirtd (scripts/start-services.sh) and takes minutes
// (it copies a 1 GiB image 50 times as its baseline). The image benchmark builds three golden images
// (root, the apt mirror; several minutes; HYPERSCALER_BENCH_IMAGES=0 leaves it out).
import { run as duplicateKeys } from "./duplicate-keys.bench";
import { run as firewall } from "./firewall.bench";
import { run as fuzz } from "./fuzz.bench";
import { run as images } from "./images.bench";
import { run as libvirt } from "./libvirt.bench";
import { run as planner } from "./planner.bench";
import { run as probe } from "./probe.bench";
import { run as program } from "./program.bench";
import { run as validate } from "./validate.bench";

async function main(): Promise<void> {
  validate();
  duplicateKeys();
  await fuzz();
  probe();
  planner();
  await program();
  await firewall();
  await libvirt();
  if (process.env.HYPERSCALER_BENCH_IMAGES !== "0") await images();
}

void main();
