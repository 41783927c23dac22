// What libvirt holds for a domain: its persistent definition and running state, whether the seed is still in
// its drive, and whether cloud-init in the guest has finished (through the QEMU guest agent).
import { diskFact, hostdevFact, interfaceFact, SEED_TARGET } from "../../render/libvirt/domain-facts";
import type { Runner } from "./runner";
import { isNotFound, keyValues, virshMaybe } from "./virsh";
import { xpathAttributes, xpathText } from "./xpath";

export interface DomainState {
  /** Memory and vCPUs of the persistent definition: what the VM gets at its next boot. */
  readonly memoryMiB: number | null;
  readonly vcpus: number | null;
  /** What the running VM has now (null when shut off). */
  readonly liveMemoryMiB: number | null;
  readonly liveVcpus: number | null;
  readonly running: boolean;
  /** libvirt's id of the running domain: a new one after every start (a restart made outside the stack too). */
  readonly bootId: number | null;
  /** Whether the running VM has its seed (cloud-init data, with secrets) in its drive now. */
  readonly seedInserted: boolean;
  readonly disks: string[];
  readonly hostdevs: string[];
  readonly interfaces: string[];
}

/** Whether the running domain has media in its seed cdrom now (domblklist shows "-" once ejected). */
export function seedInsertedLive(run: Runner, uri: string, name: string): boolean {
  const list = virshMaybe(run, uri, ["domblklist", name]);
  if (list.code !== 0) return false;
  const line = list.stdout
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .find((cols) => cols[0] === SEED_TARGET);
  return Boolean(line && line[1] && line[1] !== "-");
}

/**
 * Whether cloud-init inside the guest has finished (`cloud-init status` says done or error), asked through
 * the QEMU guest agent; null when the agent does not answer (not installed yet, still booting).
 */
export function cloudInitFinished(run: Runner, uri: string, name: string): boolean | null {
  const agent = (command: object): Record<string, unknown> | null => {
    const result = run("virsh", [
      "-q",
      "-c",
      uri,
      "qemu-agent-command",
      name,
      "--timeout",
      "2",
      JSON.stringify(command),
    ]);
    if (result.code !== 0) return null;
    try {
      return (JSON.parse(result.stdout) as { return?: Record<string, unknown> }).return ?? null;
    } catch {
      return null;
    }
  };
  const started = agent({
    execute: "guest-exec",
    arguments: { path: "/usr/bin/cloud-init", arg: ["status"], "capture-output": true },
  });
  if (!started || typeof started.pid !== "number") return null;
  for (let attempt = 0; attempt < 50; attempt++) {
    const status = agent({ execute: "guest-exec-status", arguments: { pid: started.pid } });
    if (!status) return null;
    if (status.exited) {
      // The agent returns the captured output base64-encoded; without it there is nothing to read.
      const data = status["out-data"];
      const out = typeof data === "string" ? Buffer.from(data, "base64").toString("utf8") : "";
      return /status:\s*(done|error)/.test(out);
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
  }
  return null;
}

/** What libvirt really holds, for refresh: sizes, disks, GPU hostdevs and NICs. */
export function readDomain(run: Runner, uri: string, name: string): DomainState | null {
  const info = virshMaybe(run, uri, ["dominfo", name]);
  if (info.code !== 0) {
    if (isNotFound(info)) return null;
    throw new Error(`libvirt domain ${name}: virsh dominfo failed: ${info.stderr.trim()}`);
  }
  const fields = keyValues(info.stdout);
  const running = fields["State"] === "running";
  const liveKiB = /([0-9]+) KiB/.exec(fields["Max memory"] ?? "")?.[1];
  const args = ["dumpxml", name, "--inactive"];
  // The persistent definition (libvirt stores memory in KiB), not the running VM's values.
  const memoryKiB = Number(xpathText(run, uri, args, "/domain/memory/text()")[0] ?? NaN);
  const vcpus = Number(xpathText(run, uri, args, "/domain/vcpu/text()")[0] ?? NaN);
  const disks = xpathAttributes(run, uri, args, "//devices/disk/source").map(diskFact).filter(Boolean);
  const hostdevs = xpathAttributes(run, uri, args, "//devices/hostdev/source/address").map(hostdevFact);
  const macs = xpathAttributes(run, uri, args, "//devices/interface/mac");
  const networks = xpathAttributes(run, uri, args, "//devices/interface/source");
  return {
    memoryMiB: Number.isFinite(memoryKiB) ? Math.round(memoryKiB / 1024) : null,
    vcpus: Number.isFinite(vcpus) ? vcpus : null,
    liveMemoryMiB: running && liveKiB ? Math.round(Number(liveKiB) / 1024) : null,
    liveVcpus: running && fields["CPU(s)"] ? Number(fields["CPU(s)"]) : null,
    running,
    bootId: running && /^[0-9]+$/.test(fields["Id"] ?? "") ? Number(fields["Id"]) : null,
    seedInserted: running && seedInsertedLive(run, uri, name),
    disks,
    hostdevs,
    interfaces: macs.map((m, i) => interfaceFact(m.address, networks[i]?.network ?? networks[i]?.bridge ?? "?")),
  };
}
