// IPv4 address math on unsigned 32-bit integers. Pure; property-tested.

export interface Cidr {
  readonly network: number; // first address, host bits zeroed
  readonly prefix: number;
  readonly text: string;
}

/** Parses a dotted quad; returns null when it is not one (leading zeros are refused: libvirt reads them as octal). */
export function parseIPv4(text: string): number | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return null;
    const octet = Number(part);
    if (octet > 255) return null;
    value = value * 256 + octet;
  }
  return value >>> 0;
}

export function formatIPv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join(".");
}

export function prefixMask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export type CidrParse = { ok: true; cidr: Cidr } | { ok: false; reason: string };

/** Parses `a.b.c.d/n`; host bits must be zero so the user's intent is unambiguous. */
export function parseCidr(text: string): CidrParse {
  const match = /^([^/]+)\/([0-9]{1,2})$/.exec(text);
  if (!match) return { ok: false, reason: "not in address/prefix form" };
  const address = parseIPv4(match[1]);
  if (address === null) return { ok: false, reason: `"${match[1]}" is not an IPv4 address` };
  const prefix = Number(match[2]);
  if (prefix > 32) return { ok: false, reason: `prefix /${prefix} is larger than /32` };
  const network = (address & prefixMask(prefix)) >>> 0;
  if (network !== address) {
    return { ok: false, reason: `host bits are set; the network address is ${formatIPv4(network)}/${prefix}` };
  }
  return { ok: true, cidr: { network, prefix, text } };
}

export function cidrSize(cidr: Cidr): number {
  return 2 ** (32 - cidr.prefix);
}

export function broadcastOf(cidr: Cidr): number {
  return (cidr.network + cidrSize(cidr) - 1) >>> 0;
}

export function cidrContains(cidr: Cidr, address: number): boolean {
  return (address & prefixMask(cidr.prefix)) >>> 0 === cidr.network;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  const prefix = Math.min(a.prefix, b.prefix);
  const mask = prefixMask(prefix);
  return (a.network & mask) >>> 0 === (b.network & mask) >>> 0;
}

/** The conventional gateway (first usable address), which libvirt's NAT network takes. */
export function gatewayOf(cidr: Cidr): number {
  return (cidr.network + 1) >>> 0;
}

export type RangeParse = { ok: true; first: number; last: number } | { ok: false; reason: string };

/**
 * Parses a node address range: `a.b.c.d`, `a.b.c.d-e` (last octet) or `a.b.c.d-e.f.g.h`.
 * The range is inclusive and must not run backwards.
 */
export function parseRange(text: string): RangeParse {
  const [startText, endText, ...rest] = text.split("-");
  if (rest.length > 0) return { ok: false, reason: "more than one '-'" };
  const first = parseIPv4(startText);
  if (first === null) return { ok: false, reason: `"${startText}" is not an IPv4 address` };
  if (endText === undefined) return { ok: true, first, last: first };
  let last: number | null;
  if (/^[0-9]{1,3}$/.test(endText)) {
    const octet = Number(endText);
    if (octet > 255) return { ok: false, reason: `last octet ${octet} is larger than 255` };
    last = ((first & 0xffffff00) | octet) >>> 0;
  } else {
    last = parseIPv4(endText);
    if (last === null) return { ok: false, reason: `"${endText}" is not an IPv4 address` };
  }
  if (last < first) return { ok: false, reason: `it runs backwards (${formatIPv4(first)} to ${formatIPv4(last)})` };
  return { ok: true, first, last };
}
