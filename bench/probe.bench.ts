// Host probe: live `probe --json` as a whole process, and replay of an 8-GPU snapshot (in process).
// Targets (issue 3): under 500 ms and under 200 ms.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { inventoryFrom } from "../src/host/probe";
import { snapshotSource } from "../src/host/source";
import { ROOT, report, summarise, timeProcess, timeSync } from "./lib";

function eightGpuSnapshot(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hs-bench-snap-"));
  const samples = path.join(ROOT, "test", "fixtures", "samples");
  const lgipp = fs.readFileSync(path.join(samples, "nvidia-smi-mig-lgipp_h100-pcie-80gb_drv525.txt"), "utf8");
  const lgip = fs.readFileSync(path.join(samples, "nvidia-smi-mig-lgip_a100-pcie-40gb_r470-era.txt"), "utf8");
  const addresses = Array.from({ length: 8 }, (_, i) => `0000:${(0x18 + i * 0x10).toString(16)}:00.0`);
  fs.writeFileSync(
    path.join(dir, "lspci-Dnn.txt"),
    addresses
      .map((a) => `${a} 3D controller [0302]: NVIDIA Corporation GH100 [H100 SXM5 80GB] [10de:2330] (rev a1)`)
      .join("\n"),
  );
  fs.writeFileSync(
    path.join(dir, "nvidia-smi-mig-lgipp.txt"),
    addresses.map((_, g) => lgipp.replace(/GPU {2}0/g, `GPU  ${g}`)).join("\n"),
  );
  fs.writeFileSync(
    path.join(dir, "nvidia-smi-mig-lgip.txt"),
    addresses.map((_, g) => lgip.replace(/\| {3}0 {2}MIG/g, `|   ${g}  MIG`)).join("\n"),
  );
  const xml = fs.readFileSync(
    path.join(samples, "nvidia-smi-q-x_a100-sxm4-80gb_mig-enabled_4x1g.20gb_drv535.xml"),
    "utf8",
  );
  const gpu = xml.slice(xml.indexOf("<gpu id="), xml.lastIndexOf("</gpu>") + 6);
  fs.writeFileSync(
    path.join(dir, "nvidia-smi-q-x.xml"),
    xml.slice(0, xml.indexOf("<gpu id=")) +
      addresses.map((a) => gpu.replace(/<gpu id="[^"]+">/, `<gpu id="0000${a}">`)).join("\n") +
      "\n</nvidia_smi_log>\n",
  );
  return dir;
}

export function run(): void {
  console.log("== probe ==");
  const baseline = summarise("node -e 0 (process start baseline)", timeProcess(10, process.execPath, ["-e", "0"]));
  report(baseline);
  report(
    summarise(
      "live probe --json (whole process)",
      timeProcess(10, process.execPath, ["bin/hyperscaler.js", "probe", "--json"]),
    ),
    baseline,
    500,
  );
  const dir = eightGpuSnapshot();
  const check = inventoryFrom(snapshotSource(dir));
  if (check.gpus.length !== 8 || check.gpus.some((g) => g.migProfiles.length === 0))
    throw new Error("8-GPU snapshot did not replay fully");
  inventoryFrom(snapshotSource(dir)); // warm-up
  report(
    summarise(
      "replay 8-GPU snapshot (in process)",
      timeSync(50, () => inventoryFrom(snapshotSource(dir))),
    ),
    undefined,
    200,
  );
  report(
    summarise(
      "probe --replay 8-GPU snapshot (whole process)",
      timeProcess(10, process.execPath, ["bin/hyperscaler.js", "probe", "--json", "--replay", dir]),
    ),
    baseline,
  );
  fs.rmSync(dir, { recursive: true, force: true });
}

if (require.main === module) run();
