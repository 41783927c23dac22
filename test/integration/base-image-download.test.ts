// Base images by URL: downloaded from a loopback HTTP server, verified against the SHA512SUMS file
// published beside them (as Debian does), uploaded into a real libvirt pool; a wrong sum is refused.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeBaseImageProvider, makePoolProvider } from "../../src/providers/libvirt";
import { renderPoolXml } from "../../src/render/libvirt/storage";
import { joinedPattern, ROOT, tempDir } from "../helpers";
import { leftovers, makeLab, scrub, URI, virsh, type Lab } from "./libvirt-lab";

describe("base image download", () => {
  let lab: Lab;
  let server: http.Server;
  let base = "";
  let sums = "";
  let pool: { id: string; outs: unknown };

  beforeAll(async () => {
    lab = makeLab(tempDir("hs-dl-"), fs.readFileSync(path.join(ROOT, "config/dev.yaml"), "utf8"));
    const image = fs.readFileSync(lab.baseFile);
    sums =
      `${createHash("sha512").update(image).digest("hex")}  debian-12-generic-amd64.qcow2\n${"0".repeat(128)}  ` +
      `other.raw\n`;
    server = http.createServer((req, res) => {
      if (req.url === "/bookworm/latest/debian-12-generic-amd64.qcow2") return res.end(image);
      if (req.url === "/bookworm/latest/SHA512SUMS") return res.end(sums);
      res.statusCode = 404;
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}/bookworm/latest`;
    const created = await makePoolProvider().create({
      uri: URI,
      name: lab.poolName,
      xml: renderPoolXml(lab.poolName, lab.poolPath),
      path: lab.poolPath,
    });
    pool = { id: created.id, outs: created.outs };
  });
  afterAll(() => {
    server?.close();
    if (lab) scrub(lab.prefix);
  });

  const inputs = () => ({
    uri: URI,
    pool: lab.poolName,
    name: "debian-12-base.qcow2",
    source: `${base}/debian-12-generic-amd64.qcow2`,
    checksum: "",
    checksumUrl: `${base}/SHA512SUMS`,
    format: "qcow2" as const,
  });

  it("downloads, verifies against SHA512SUMS and uploads into the pool", async () => {
    const provider = makeBaseImageProvider();
    const created = await provider.create(inputs());
    expect(created.outs.verified).toBe(`sha512:${sums.slice(0, 128)}`);
    expect(virsh("vol-list", "--pool", lab.poolName).stdout).toContain("debian-12-base.qcow2");
    await provider.delete!(created.id, created.outs);
  });

  it("refuses an image whose sum does not match, and an image the sums file does not list", async () => {
    const provider = makeBaseImageProvider();
    const good = sums;
    sums = `${"f".repeat(128)}  debian-12-generic-amd64.qcow2\n`;
    await expect(provider.create(inputs())).rejects.toThrow(
      joinedPattern(
        /base image .*debian-12-base\.qcow2: sha512 mismatch for /,
        /http:\/\/127\.0\.0\.1:\d+\/bookworm\/latest\/debian-12-generic-amd64\.qcow2/,
      ),
    );
    sums = "abc  something-else.qcow2\n";
    await expect(provider.create(inputs())).rejects.toThrow(/SHA512SUMS does not list debian-12-generic-amd64\.qcow2/);
    sums = good;
    await expect(provider.create({ ...inputs(), source: `${base}/missing.qcow2` })).rejects.toThrow(
      /download of .*missing\.qcow2 failed: HTTP 404/,
    );
    expect(virsh("vol-list", "--pool", lab.poolName).stdout.trim()).toBe("");
    await makePoolProvider().delete!(pool.id, pool.outs);
    expect(leftovers(lab.prefix)).toEqual([]);
  });
});
