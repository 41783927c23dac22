// Address math: table cases and properties (round trips, containment, overlap symmetry).
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  broadcastOf,
  cidrContains,
  cidrsOverlap,
  formatIPv4,
  parseCidr,
  parseIPv4,
  parseRange,
} from "../../src/util/ipv4";

const address = fc.integer({ min: 0, max: 0xffffffff });
const cidr = fc.tuple(address, fc.integer({ min: 0, max: 32 })).map(([a, prefix]) => {
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const parsed = parseCidr(`${formatIPv4((a & mask) >>> 0)}/${prefix}`);
  if (!parsed.ok) throw new Error("generator produced an invalid CIDR");
  return parsed.cidr;
});

describe("ipv4", () => {
  it("round-trips every address", () => fc.assert(fc.property(address, (a) => parseIPv4(formatIPv4(a)) === a)));

  it("refuses malformed addresses", () => {
    for (const text of ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.-1", "a.b.c.d", " 1.2.3.4"])
      expect(parseIPv4(text)).toBeNull();
  });

  it("a CIDR contains its network and broadcast and nothing past them", () =>
    fc.assert(
      fc.property(cidr, (c) => {
        expect(cidrContains(c, c.network)).toBe(true);
        expect(cidrContains(c, broadcastOf(c))).toBe(true);
        if (broadcastOf(c) < 0xffffffff) expect(cidrContains(c, broadcastOf(c) + 1)).toBe(false);
        if (c.network > 0) expect(cidrContains(c, c.network - 1)).toBe(false);
      }),
    ));

  it("overlap is symmetric and equals sharing an address", () =>
    fc.assert(
      fc.property(cidr, cidr, (a, b) => {
        expect(cidrsOverlap(a, b)).toBe(cidrsOverlap(b, a));
        const shares = cidrContains(a, b.network) || cidrContains(b, a.network);
        expect(cidrsOverlap(a, b)).toBe(shares);
      }),
    ));

  it("parses ranges in all three forms", () => {
    expect(parseRange("192.168.100.11")).toEqual({
      ok: true,
      first: parseIPv4("192.168.100.11"),
      last: parseIPv4("192.168.100.11"),
    });
    const short = parseRange("192.168.100.11-14");
    expect(short.ok && short.last - short.first).toBe(3);
    const long = parseRange("10.0.0.250-10.0.1.4");
    expect(long.ok && long.last - long.first).toBe(10);
    expect(parseRange("10.0.0.9-3").ok).toBe(false);
  });
});
