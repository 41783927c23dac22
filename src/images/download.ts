// Downloads a base image over HTTP(S) and finds the checksum it must have (pinned, or listed in a SHA*SUMS
// file). Called by the base image provider, which the engine serializes: Node built-ins are loaded at call
// time (util/builtin.ts), and that is all this module imports.
import { builtin } from "../util/builtin";

/** An image to verify: its name (for messages), where it comes from, and its pinned checksum or SUMS file. */
export interface ChecksumSource {
  readonly name: string;
  readonly source: string;
  /** "sha256:<hex>" or "sha512:<hex>"; or empty with checksumUrl. */
  readonly checksum: string;
  /** A SHA*SUMS file listing the image, used when no checksum is pinned. */
  readonly checksumUrl: string;
}

/** Streams `url` into `file` (mode 0600), honouring back-pressure. */
export async function downloadToFile(url: string, file: string): Promise<void> {
  const fs = builtin<typeof import("node:fs")>("node:fs");
  const response = await fetch(url);
  if (!response.ok || !response.body) throw new Error(`download of ${url} failed: HTTP ${response.status}`);
  const out = fs.createWriteStream(file, { mode: 0o600 });
  // A fetch body is a stream of bytes; the runtime's types leave its chunks `any`.
  const reader: ReadableStreamDefaultReader<Uint8Array> = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (!out.write(value)) await new Promise<void>((resolve) => out.once("drain", () => resolve()));
  }
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
}

/** A file's digest (hex), read as a stream: images are gigabytes. */
export async function fileDigest(file: string, algorithm: string): Promise<string> {
  const fs = builtin<typeof import("node:fs")>("node:fs");
  const crypto = builtin<typeof import("node:crypto")>("node:crypto");
  const hash = crypto.createHash(algorithm);
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** The checksum an image must have: the pinned one, else its line in the SUMS file. */
export async function expectedChecksum(inputs: ChecksumSource): Promise<{ algorithm: string; hex: string }> {
  if (inputs.checksum) {
    const [algorithm, hex] = inputs.checksum.split(":");
    return { algorithm, hex: hex.toLowerCase() };
  }
  if (!inputs.checksumUrl) throw new Error(`base image ${inputs.name}: no checksum and no checksumUrl; refusing an unverified image`);
  const response = await fetch(inputs.checksumUrl);
  if (!response.ok) throw new Error(`base image ${inputs.name}: cannot fetch ${inputs.checksumUrl}: HTTP ${response.status}`);
  const fileName = inputs.source.split("/").pop() ?? "";
  const line = (await response.text()).split("\n").find((l) => l.trim().endsWith(` ${fileName}`) || l.trim().endsWith(`*${fileName}`));
  if (!line) throw new Error(`base image ${inputs.name}: ${inputs.checksumUrl} does not list ${fileName}`);
  const hex = line.trim().split(/\s+/)[0].toLowerCase();
  return { algorithm: hex.length === 128 ? "sha512" : "sha256", hex };
}
