// libvirt network XML: NAT (or isolated), bridge from the spec, gateway .1, a DHCP range above the
// planned nodes, one static DHCP host and one DNS name per VM.
import { networkUuid } from "../../plan/ids";
import type { Plan, PlannedNetwork } from "../../plan/types";
import { broadcastOf, formatIPv4, parseCidr, parseIPv4 } from "../../util/ipv4";
import { libvirtForwardMode } from "../firewall";
import { networkName } from "./names";
import { toXml } from "./xml";

/** Dynamic range for ad-hoc guests: the upper half of the subnet, above every planned address. */
export function dhcpRange(network: PlannedNetwork): { start: string; end: string } | null {
  const parsed = parseCidr(network.subnet);
  if (!parsed.ok) return null;
  const highest = Math.max(parseIPv4(network.gateway) ?? 0, ...network.hosts.map((h) => parseIPv4(h.ip) ?? 0));
  const half = parsed.cidr.network + Math.floor((broadcastOf(parsed.cidr) - parsed.cidr.network) / 2);
  const start = Math.max(highest + 1, half);
  const end = broadcastOf(parsed.cidr) - 1;
  return start <= end ? { start: formatIPv4(start), end: formatIPv4(end) } : null;
}

/** DHCP host entries exactly as libvirt writes them back, for in-place updates and drift checks. */
export function dhcpHostEntries(network: PlannedNetwork): string[] {
  return network.hosts.map((h) => `<host mac="${h.mac}" name="${h.name}" ip="${h.ip}"/>`);
}

/**
 * `hostFirewall`: the stack's nftables table does NAT and filtering, libvirt only routes (render/firewall.ts).
 * `stackId`: the stack's identity, making the UUID unique per stack (plan/ids.ts networkUuid).
 */
export function renderNetworkXml(
  plan: Pick<Plan, "stack">,
  network: PlannedNetwork,
  options: { readonly hostFirewall?: boolean; readonly stackId?: string } = {},
): string {
  const { hostFirewall = false, stackId } = options;
  const range = dhcpRange(network);
  const forward = libvirtForwardMode(network, hostFirewall);
  return toXml({
    network: {
      name: networkName(plan, network),
      uuid: networkUuid(plan, network, stackId),
      forward: forward ? { "@mode": forward } : undefined,
      bridge: { "@name": network.bridge, "@stp": "on", "@delay": "0" },
      domain: { "@name": network.domain, "@localOnly": "yes" },
      dns: network.hosts.length ? { host: network.hosts.map((h) => ({ "@ip": h.ip, hostname: h.name })) } : undefined,
      ip: {
        "@address": network.gateway,
        "@netmask": network.netmask,
        dhcp: {
          range: range ? { "@start": range.start, "@end": range.end } : undefined,
          host: network.hosts.map((h) => ({ "@mac": h.mac, "@name": h.name, "@ip": h.ip })),
        },
      },
    },
  });
}
