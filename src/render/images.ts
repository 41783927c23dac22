// The base image a spec asks for: a catalog entry (downloaded and verified) or a local file.
import * as fs from "node:fs";
import * as path from "node:path";
import type { ClusterSpec } from "../spec/types";

export interface ImageSource {
  readonly name: string;
  readonly source: string;
  readonly checksum: string;
  readonly checksumUrl: string;
  readonly format: "qcow2" | "raw";
}

interface CatalogEntry {
  readonly url: string;
  readonly checksumUrl: string;
  readonly checksum: string;
  readonly format: "qcow2" | "raw";
}

function catalog(): Record<string, CatalogEntry> {
  for (let dir = __dirname, i = 0; i < 5; i++, dir = path.dirname(dir)) {
    const file = path.join(dir, "images", "catalog.json");
    if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, CatalogEntry>;
  }
  throw new Error("images/catalog.json not found");
}

export function imageSource(spec: ClusterSpec): ImageSource {
  const entry = catalog()[spec.images.base];
  if (!entry) throw new Error(`image ${spec.images.base} is not in images/catalog.json`);
  if (spec.images.path) {
    return { name: spec.images.base, source: spec.images.path, checksum: spec.images.checksum ?? "", checksumUrl: spec.images.checksum ? "" : entry.checksumUrl, format: entry.format };
  }
  return { name: spec.images.base, source: entry.url, checksum: entry.checksum, checksumUrl: entry.checksumUrl, format: entry.format };
}
