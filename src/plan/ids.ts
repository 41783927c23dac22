// Deterministic identities: MAC addresses and vGPU device UUIDs derived from names, so a re-plan of the
// same spec yields byte-identical output and a preview shows no spurious changes.
import { createHash } from "node:crypto";

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
