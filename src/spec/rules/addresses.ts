// Network and address rules: CIDR syntax, overlaps, node addresses inside their subnet and unique.
import {
  broadcastOf,
  cidrContains,
  cidrsOverlap,
  formatIPv4,
  gatewayOf,
  parseCidr,
  parseIPv4,
  parseRange,
  type Cidr,
} from "../../util/ipv4";
import type { NodePoolSpec, SingleNodeSpec } from "../types";
import type { RuleContext } from "./context";

const MIN_PREFIX = 8;
const MAX_PREFIX = 29;

export function checkAddresses(ctx: RuleContext): void {
  const subnets = checkNetworks(ctx);
  const taken = new Map<number, string>();
  const { hpc, cloud } = ctx.spec.clusters;
  if (hpc) {
    const subnet = clusterSubnet(ctx, "hpc", hpc.network, subnets);
    checkSingle(ctx, "/clusters/hpc/controller", hpc.controller, subnet, taken);
    checkPool(ctx, "/clusters/hpc/compute_nodes", hpc.compute_nodes, subnet, taken);
  }
  if (cloud) {
    const subnet = clusterSubnet(ctx, "cloud", cloud.network, subnets);
    checkSingle(ctx, "/clusters/cloud/control_plane", cloud.control_plane, subnet, taken);
    for (const pool of ["cpu_workers", "gpu_workers"] as const) {
      const spec = cloud.worker_nodes[pool];
      if (spec) checkPool(ctx, `/clusters/cloud/worker_nodes/${pool}`, spec, subnet, taken);
    }
    checkKubernetesCidrs(ctx, subnets);
  }
  ctx.spec.security.allowed_cidrs.forEach((text, index) => {
    const parsed = parseCidr(text);
    if (!parsed.ok)
      ctx.error({
        path: `/security/allowed_cidrs/${index}`,
        message: `allowed CIDR ${JSON.stringify(text)} is invalid: ${parsed.reason}`,
        found: text,
        expected: "an IPv4 network such as 203.0.113.0/24",
      });
  });
}

function checkNetworks(ctx: RuleContext): Map<string, Cidr> {
  const subnets = new Map<string, Cidr>();
  const bridges = new Map<string, string>();
  for (const [name, network] of Object.entries(ctx.spec.global.networks)) {
    const path = `/global/networks/${name}`;
    const parsed = parseCidr(network.subnet);
    if (!parsed.ok) {
      ctx.error({
        path: `${path}/subnet`,
        message: `subnet ${JSON.stringify(network.subnet)} of network ${name} is invalid: ${parsed.reason}`,
        found: network.subnet,
        expected: "an IPv4 network such as 192.168.100.0/24",
        hint: fixCidrHint(network.subnet),
      });
    } else if (parsed.cidr.prefix < MIN_PREFIX || parsed.cidr.prefix > MAX_PREFIX) {
      ctx.error({
        path: `${path}/subnet`,
        message:
          `subnet ${network.subnet} of network ${name} has prefix /${parsed.cidr.prefix}; ` +
          `VM networks use /${MIN_PREFIX} to /${MAX_PREFIX}`,
        found: network.subnet,
        expected: `a prefix from /${MIN_PREFIX} to /${MAX_PREFIX}`,
        hint: "a /24 holds 253 VMs",
      });
    } else {
      for (const [otherName, other] of subnets) {
        if (cidrsOverlap(parsed.cidr, other)) {
          ctx.error({
            path: `${path}/subnet`,
            message: `subnet ${network.subnet} of network ${name} overlaps ${other.text} of network ${otherName}`,
            found: network.subnet,
            expected: `a subnet disjoint from ${other.text}`,
            hint: "give each network its own range, e.g. 192.168.100.0/24 and 192.168.200.0/24",
          });
        }
      }
      subnets.set(name, parsed.cidr);
    }
    const bridgeOwner = bridges.get(network.bridge);
    if (bridgeOwner) {
      ctx.error({
        path: `${path}/bridge`,
        message: `bridge ${network.bridge} is used by networks ${bridgeOwner} and ${name}`,
        found: network.bridge,
        expected: "a bridge name used once",
        hint: "give each network its own bridge, e.g. virbr100 and virbr200",
      });
    } else {
      bridges.set(network.bridge, name);
    }
  }
  return subnets;
}

function fixCidrHint(text: string): string | undefined {
  const [address, prefix] = text.split("/");
  const value = parseIPv4(address ?? "");
  const bits = Number(prefix);
  if (value === null || !Number.isInteger(bits) || bits > 32)
    return "write the network address and prefix, e.g. 192.168.100.0/24";
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return `write ${formatIPv4((value & mask) >>> 0)}/${bits}`;
}

function clusterSubnet(
  ctx: RuleContext,
  cluster: string,
  network: string,
  subnets: Map<string, Cidr>,
): Cidr | undefined {
  if (!(network in ctx.spec.global.networks)) {
    const names = Object.keys(ctx.spec.global.networks);
    ctx.error({
      path: `/clusters/${cluster}/network`,
      message: `cluster ${cluster} uses network ${JSON.stringify(network)}, which global.networks does not define`,
      found: network,
      expected: names.length ? `one of ${names.join(", ")}` : "a network under global.networks",
      hint: names.length
        ? `set clusters.${cluster}.network to one of ${names.join(", ")}, or add global.networks.${network}`
        : `add global.networks.${network} with subnet and bridge`,
    });
    return undefined;
  }
  return subnets.get(network);
}

function checkAddress(
  ctx: RuleContext,
  path: string,
  label: string,
  address: number,
  subnet: Cidr | undefined,
  taken: Map<number, string>,
): void {
  const text = formatIPv4(address);
  if (subnet) {
    if (!cidrContains(subnet, address)) {
      ctx.error({
        path,
        message: `${label} ${text} is outside its cluster's subnet ${subnet.text}`,
        found: text,
        expected: `an address in ${subnet.text}`,
        hint: `use an address from ${formatIPv4(gatewayOf(subnet) + 1)} to ${formatIPv4(broadcastOf(subnet) - 1)}`,
      });
    } else if (address === subnet.network) {
      ctx.error({
        path,
        message: `${label} ${text} is the network address of ${subnet.text}`,
        found: text,
        expected: "a host address",
        hint: `use ${formatIPv4(gatewayOf(subnet) + 1)} or higher`,
      });
    } else if (address === broadcastOf(subnet)) {
      ctx.error({
        path,
        message: `${label} ${text} is the broadcast address of ${subnet.text}`,
        found: text,
        expected: "a host address",
        hint: `use ${formatIPv4(broadcastOf(subnet) - 1)} or lower`,
      });
    } else if (address === gatewayOf(subnet)) {
      ctx.error({
        path,
        message: `${label} ${text} is the gateway of ${subnet.text} (libvirt's bridge takes it)`,
        found: text,
        expected: "a host address other than the gateway",
        hint: `use ${formatIPv4(gatewayOf(subnet) + 1)} or higher`,
      });
    }
  }
  const owner = taken.get(address);
  if (owner !== undefined) {
    ctx.error({
      path,
      message: `${label} ${text} is already used by ${owner}`,
      found: text,
      expected: "an address no other node uses",
      hint: "give every node its own address",
    });
  } else {
    taken.set(address, label);
  }
}

function checkSingle(
  ctx: RuleContext,
  path: string,
  node: SingleNodeSpec,
  subnet: Cidr | undefined,
  taken: Map<number, string>,
): void {
  const address = parseIPv4(node.ip_address);
  if (address === null) {
    ctx.error({
      path: `${path}/ip_address`,
      message: `ip_address ${JSON.stringify(node.ip_address)} is not a valid IPv4 address`,
      found: node.ip_address,
      expected: "four numbers 0-255 without leading zeros, e.g. 192.168.100.10",
    });
    return;
  }
  checkAddress(ctx, `${path}/ip_address`, `${path.split("/").slice(2).join(".")} address`, address, subnet, taken);
}

function checkPool(
  ctx: RuleContext,
  path: string,
  pool: NodePoolSpec,
  subnet: Cidr | undefined,
  taken: Map<number, string>,
): void {
  if (pool.count === 0) return;
  const label = path.split("/").slice(2).join(".");
  if (pool.ip_range === undefined) {
    ctx.error({
      path,
      atKey: true,
      message: `${label} has ${pool.count} node(s) but no ip_range`,
      expected: `ip_range with ${pool.count} address(es)`,
      hint: suggestRange(subnet, taken, pool.count),
    });
    return;
  }
  const parsed = parseRange(pool.ip_range);
  if (!parsed.ok) {
    ctx.error({
      path: `${path}/ip_range`,
      message: `ip_range ${JSON.stringify(pool.ip_range)} is invalid: ${parsed.reason}`,
      found: pool.ip_range,
      expected: "an address or range such as 192.168.100.11-14",
    });
    return;
  }
  const size = parsed.last - parsed.first + 1;
  if (size !== pool.count) {
    ctx.error({
      path: `${path}/ip_range`,
      message: `ip_range ${pool.ip_range} holds ${size} address(es) but count is ${pool.count}`,
      found: pool.ip_range,
      expected: `a range of exactly ${pool.count} address(es)`,
      hint: `write ${rangeText(parsed.first, parsed.first + pool.count - 1)} or set count: ${size}`,
    });
    return;
  }
  const before = ctx.errors.length;
  for (let address = parsed.first; address <= parsed.last; address++) {
    checkAddress(ctx, `${path}/ip_range`, `${label} address`, address, subnet, taken);
    if (ctx.errors.length - before >= 3) break; // one broken range should not bury the other findings
  }
}

function rangeText(first: number, last: number): string {
  if (first === last) return formatIPv4(first);
  return (first & 0xffffff00) === (last & 0xffffff00)
    ? `${formatIPv4(first)}-${last & 255}`
    : `${formatIPv4(first)}-${formatIPv4(last)}`;
}

function suggestRange(subnet: Cidr | undefined, taken: Map<number, string>, count: number): string | undefined {
  if (!subnet) return undefined;
  const lastHost = broadcastOf(subnet) - 1;
  // Prefer the addresses right after the ones already used (how people number nodes), else the first gap.
  const used = [...taken.keys()].filter((address) => cidrContains(subnet, address));
  const after = (used.length ? Math.max(...used) : gatewayOf(subnet)) + 1;
  if (after + count - 1 <= lastHost) return `add ip_range: "${rangeText(after, after + count - 1)}"`;
  let start = gatewayOf(subnet) + 1;
  for (let address = start; address <= lastHost; address++) {
    if (taken.has(address)) start = address + 1;
    else if (address - start + 1 === count) return `add ip_range: "${rangeText(start, address)}"`;
  }
  return `the subnet ${subnet.text} has no ${count} free consecutive addresses; use a larger subnet`;
}

function checkKubernetesCidrs(ctx: RuleContext, subnets: Map<string, Cidr>): void {
  const config = ctx.spec.clusters.cloud!.kubernetes_config;
  const parsedK8s: { key: string; cidr: Cidr }[] = [];
  for (const key of ["pod_cidr", "service_cidr"] as const) {
    const path = `/clusters/cloud/kubernetes_config/${key}`;
    const parsed = parseCidr(config[key]);
    if (!parsed.ok) {
      ctx.error({
        path,
        message: `${key} ${JSON.stringify(config[key])} is invalid: ${parsed.reason}`,
        found: config[key],
        expected: "an IPv4 network such as 10.244.0.0/16",
        hint: fixCidrHint(config[key]),
      });
      continue;
    }
    for (const [name, subnet] of subnets) {
      if (cidrsOverlap(parsed.cidr, subnet)) {
        ctx.error({
          path,
          message: `${key} ${config[key]} overlaps network ${name} (${subnet.text})`,
          found: config[key],
          expected: `a range disjoint from ${subnet.text}`,
          hint: `pick a range no VM network uses, e.g. ${key === "pod_cidr" ? "10.244.0.0/16" : "10.96.0.0/12"}`,
        });
      }
    }
    for (const other of parsedK8s) {
      if (cidrsOverlap(parsed.cidr, other.cidr)) {
        ctx.error({
          path,
          message: `${key} ${config[key]} overlaps ${other.key} ${other.cidr.text}`,
          found: config[key],
          expected: `a range disjoint from ${other.cidr.text}`,
          hint: "the defaults 10.244.0.0/16 (pods) and 10.96.0.0/12 (services) do not overlap",
        });
      }
    }
    parsedK8s.push({ key, cidr: parsed.cidr });
  }
}
