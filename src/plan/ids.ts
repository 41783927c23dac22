// Deterministic identities: MAC addresses, vGPU device UUIDs and the libvirt domain and network UUIDs,
// derived from names, so a re-plan of the same spec yields byte-identical output and a preview shows no
// spurious changes. Render places these; it makes none.
import { createHash } from "node:crypto";
import type { Plan, PlannedNetwork, PlannedVm } from "./types";

/** Namespace of this product's UUIDv5s (itself a UUIDv5 of "hyperscaler.workstation" in the URL namespace). */
export const UUID_NAMESPACE = "6b8f8d2e-3c52-5a5b-9a57-3a0f1d2c4e61";

function uuidBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replace(/-/g, ""), "hex");
}

/** RFC 4122 version 5 (SHA-1, name-based) UUID. */
export function uuidV5(name: string, namespace: string = UUID_NAMESPACE): string {
  const hash = createHash("sha1").update(uuidBytes(namespace)).update(name, "utf8").digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = (bytes[6] & 0x0f) | 0x50;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** vGPU device UUID: stable for the same stack, VM and GPU slot. */
export function vgpuUuid(stack: string, vm: string, slot: number): string {
  return uuidV5(`${stack}/${vm}/gpu${slot}`);
}

/** A locally administered MAC in QEMU's 52:54:00 prefix, from the stack and VM name; `salt` resolves collisions. */
export function macFor(stack: string, vm: string, salt = 0): string {
  const hash = createHash("sha256").update(`${stack}/${vm}/${salt}`).digest();
  return ["52", "54", "00", ...[0, 1, 2].map((i) => hash[i].toString(16).padStart(2, "0"))].join(":");
}

/**
 * The domain's UUID: from the spec alone, or, given the stack's identity, unique to that stack, so a second
 * checkout of the same spec never takes (and the provider never redefines) the first one's domains.
 */
export function domainUuid(plan: Pick<Plan, "stack">, vm: Pick<PlannedVm, "name">, stackId?: string): string {
  return stackId ? uuidV5(`${plan.stack}/domain/${vm.name}`, stackId) : uuidV5(`${plan.stack}/domain/${vm.name}`);
}

/** The libvirt network's UUID, scoped like the domain's (see domainUuid). */
export function networkUuid(
  plan: Pick<Plan, "stack">,
  network: Pick<PlannedNetwork, "name">,
  stackId?: string,
): string {
  const name = `${plan.stack}/network/${network.name}`;
  return stackId ? uuidV5(name, stackId) : uuidV5(name);
}
