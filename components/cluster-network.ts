// ClusterNetwork: one libvirt network of the plan (NAT or isolated, static DHCP hosts, DNS names).
import * as pulumi from "@pulumi/pulumi";
import type { Plan, PlannedNetwork } from "../src/plan/types";
import { LibvirtNetwork } from "../src/providers/resources";
import { networkName } from "../src/render/libvirt/names";
import { dhcpHostEntries, renderNetworkXml } from "../src/render/libvirt/network";

export interface ClusterNetworkArgs {
  readonly plan: Plan;
  readonly network: PlannedNetwork;
  readonly uri: string;
  /** The stack's identity: the network's UUID is unique to the stack (the provider's ownership mark). */
  readonly stackId: pulumi.Input<string>;
  /** Start (and autostart) the network. @default true */
  readonly start?: boolean;
  /** The stack's host firewall filters and NATs this network (libvirt routes it). @default false */
  readonly hostFirewall?: boolean;
}

export class ClusterNetwork extends pulumi.ComponentResource {
  readonly network: LibvirtNetwork;
  readonly libvirtName: string;

  constructor(name: string, args: ClusterNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super("hyperscaler:index:ClusterNetwork", name, {}, opts);
    this.libvirtName = networkName(args.plan, args.network);
    this.network = new LibvirtNetwork(`${name}-network`, {
      uri: args.uri,
      name: this.libvirtName,
      xml: pulumi.output(args.stackId).apply((stackId) => renderNetworkXml(args.plan, args.network, { hostFirewall: args.hostFirewall ?? false, stackId })),
      bridge: args.network.bridge,
      ip: `${args.network.gateway}/${args.network.netmask}`,
      dhcpHosts: dhcpHostEntries(args.network),
      start: args.start ?? true,
    }, { parent: this, dependsOn: opts?.dependsOn }); // a component's dependsOn does not reach its children
    this.registerOutputs({ name: this.libvirtName });
  }
}
