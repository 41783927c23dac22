// `hyperscaler probe [--json] [--replay DIR] [--capture DIR]` and
// `hyperscaler doctor [--json] [--replay DIR] [--spec FILE]`.
import * as fs from "node:fs";
import { runDoctor } from "../preflight/doctor";
import { probeLive } from "../host/live";
import { inventoryFrom } from "../host/probe";
import { snapshotSource } from "../host/source";
import type { HostGpu, HostInventory } from "../host/types";
import { formatHuman } from "../spec/diagnostics";
import { loadSpecFile } from "../spec/load";
import { EXIT, UsageError, type CliIO } from "./output";
import { checkOutputDirectory } from "./output-paths";
import { table } from "../util/table";

export interface ProbeOptions {
  readonly json?: boolean;
  readonly replay?: string;
  readonly capture?: string;
  readonly uri?: string;
}

export async function probe(options: ProbeOptions): Promise<HostInventory> {
  if (options.replay && options.capture) throw new UsageError("--replay and --capture exclude each other");
  if (options.replay) {
    return inventoryFrom(snapshotSource(options.replay), options.uri);
  }
  if (options.capture) {
    checkOutputDirectory(options.capture, "--capture");
    fs.mkdirSync(options.capture, { recursive: true });
  }
  return probeLive({ libvirtUri: options.uri, captureDir: options.capture });
}

function yesNo(value: boolean | null): string {
  return value === null ? "?" : value ? "yes" : "no";
}

/** "yes", or "no -> yes" while a change waits for a GPU reset. */
function migModeText(mode: NonNullable<HostGpu["migMode"]>): string {
  const pending = mode.pending !== null && mode.pending !== mode.current ? ` -> ${yesNo(mode.pending)}` : "";
  return `${yesNo(mode.current)}${pending}`;
}

export function inventoryToText(inventory: HostInventory): string {
  const { source, cpu, memory, kvm, iommu, libvirt } = inventory;
  const sourcePath = source.path ? ` ${source.path}` : "";
  const cores = `${cpu.cores ?? "?"} cores / ${cpu.threads ?? "?"} threads`;
  const iommuState =
    iommu.enabled === null ? "unknown" : iommu.enabled ? `enabled, ${iommu.groups.length} groups` : "disabled";
  const lines = [
    `host ${inventory.hostname ?? "?"} (${source.kind}${sourcePath})`,
    `cpu    ${cpu.model ?? "?"}: ${cores}, virtualization ${cpu.virtualization ?? "none"}`,
    `memory ${memory.totalMiB === null ? "?" : `${Math.floor(memory.totalMiB / 1024)} GiB`}`,
    `kvm    ${kvm.device ? (kvm.accessible ? "ready" : "present, not accessible") : "missing"}`,
    `iommu  ${iommuState}`,
    `libvirt ${libvirt.reachable ? `${libvirt.version} at ${libvirt.uri}` : `not reachable at ${libvirt.uri}`}`,
  ];
  if (inventory.resetBlockers.length) lines.push(`reset blockers: ${inventory.resetBlockers.join(", ")}`);
  lines.push(
    "",
    inventory.gpus.length === 0
      ? "no NVIDIA GPUs found"
      : table(
          ["idx", "pci", "name", "mem GiB", "driver", "iommu", "mig", "instances", "vgpu"],
          inventory.gpus.map((gpu) => [
            gpu.index === null ? "-" : String(gpu.index),
            gpu.pciAddress,
            gpu.name,
            gpu.memoryMiB === null ? "?" : String(Math.round(gpu.memoryMiB / 1024)),
            gpu.boundDriver ?? "none",
            gpu.iommuGroup === null ? "?" : `${gpu.iommuGroup}${gpu.iommuIsolated === false ? " (shared)" : ""}`,
            gpu.migCapable === false ? "n/a" : gpu.migMode ? migModeText(gpu.migMode) : "?",
            gpu.migInstances.map((i) => `${i.profile}@${i.start ?? "?"}`).join(" ") || "-",
            gpu.vgpu.framework ? `${gpu.vgpu.framework} (${gpu.vgpu.types.length} types)` : "-",
          ]),
        ),
  );
  return lines.join("\n");
}

export async function runProbe(options: ProbeOptions, io: CliIO): Promise<number> {
  const inventory = await probe(options);
  io.out(options.json ? JSON.stringify(inventory, null, 2) : inventoryToText(inventory));
  if (options.capture) io.err(`probe: snapshot written to ${options.capture}`);
  return EXIT.ok;
}

export interface DoctorOptions {
  readonly json?: boolean;
  readonly replay?: string;
  readonly spec?: string;
  readonly uri?: string;
}

export async function runDoctorCommand(options: DoctorOptions, io: CliIO): Promise<number> {
  let spec;
  if (options.spec) {
    const loaded = loadSpecFile(options.spec);
    if (!loaded.ok) {
      if (loaded.io)
        throw new UsageError(
          `${options.spec}: ${loaded.errors[0].message}${loaded.errors[0].hint ? ` (${loaded.errors[0].hint})` : ""}`,
        );
      for (const error of loaded.errors) io.err(formatHuman(error, loaded.lines?.[error.line - 1]));
      return EXIT.failed;
    }
    spec = loaded.spec;
  }
  const inventory = await probe({ replay: options.replay, uri: options.uri ?? spec?.host.libvirt_uri });
  const checks = runDoctor(inventory, spec);
  if (options.json) {
    io.out(JSON.stringify({ checks }, null, 2));
  } else {
    for (const check of checks) {
      const fix = check.remediation ? `\n      fix: ${check.remediation}` : "";
      io.out(`${check.status.padEnd(4)}  ${check.id.padEnd(28)}  ${check.message}${fix}`);
    }
    const count = (status: string): number => checks.filter((c) => c.status === status).length;
    io.err(`doctor: ${count("PASS")} pass, ${count("WARN")} warn, ${count("FAIL")} fail`);
  }
  return checks.some((c) => c.status === "FAIL") ? EXIT.failed : EXIT.ok;
}
