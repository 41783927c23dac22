// ClusterNetwork: one libvirt network of the plan (NAT or isolated, static DHCP hosts, DNS names).
import * as pulumi from "@pulumi/pulumi";
import type { Plan, PlannedNetwork } from "../src/plan/types";
import { LibvirtNetwork } from "../src/providers/resources";
import { networkName } from "../src/render/libvirt/names";
import { dhcpHostEntries, renderNetworkXml } from "../src/render/libvirt/network";
import { duplicateOf } from "../src/util/duplicates";
import { refuseArgs } from "./args-error";

export interface ClusterNetworkArgs {
  /** The plan's stack name (Plan.stack): libvirt names and UUIDs derive from it. */
  readonly plan: Pick<Plan, "stack">;
  /** The planned network: subnet, gateway, bridge, domain and the static DHCP hosts of its VMs. */
  readonly network: PlannedNetwork;
  /** libvirt connection URI of the host, e.g. `qemu:///system`. */
  readonly uri: string;
  /** The stack's identity: the network's UUID is unique to the stack (the provider's ownership mark). */
  readonly stackId: pulumi.Input<string>;
  /** Start (and autostart) the network. @default true */
  readonly start?: boolean;
  /** The stack's host firewall filters and NATs this network (libvirt routes it). @default false */
  readonly hostFirewall?: boolean;
}

/** The libvirt network a VM's NIC joins: a ClusterNetwork's `vmNetwork`, or a network that already exists. */
export interface VmNetwork {
  /** The plan's name of the network (PlannedNetwork.name); the VM's `network` must equal it. */
  readonly planName: string;
  /**
   * The libvirt network's name: the resource's output when a resource makes it, so the domain follows
   * its replacement.
   */
  readonly libvirtName: pulumi.Input<string>;
  /** The resource that makes the network: the domain is created after it. @default none (the network exists) */
  readonly resource?: pulumi.Resource;
}

function validate(name: string, args: ClusterNetworkArgs): void {
  const { network } = args;
  const macs = network.hosts.map((h) => h.mac);
  const ips = network.hosts.map((h) => h.ip);
  refuseArgs("ClusterNetwork", name, [
    !args.uri && {
      problem: "uri is empty",
      found: args.uri,
      expected: "a libvirt URI",
      fix: "pass host.libvirt_uri, e.g. qemu:///system",
    },
    !args.plan.stack && {
      problem: "plan.stack is empty",
      found: args.plan.stack,
      expected: "the stack name",
      fix: "pass the plan (buildPlan) or { stack: metadata.name }",
    },
    !network.name && {
      problem: "network.name is empty",
      found: network.name,
      expected: "the planned network's name",
      fix: "pass a network of plan.networks",
    },
    duplicateOf(macs) !== undefined && {
      problem: `network ${network.name} has two DHCP hosts with one MAC`,
      found: duplicateOf(macs),
      expected: "one MAC per VM",
      fix: "plan the network again (buildPlan assigns distinct MACs)",
    },
    duplicateOf(ips) !== undefined && {
      problem: `network ${network.name} has two DHCP hosts with one address`,
      found: duplicateOf(ips),
      expected: "one address per VM",
      fix: "give each VM its own ip_address in the spec",
    },
  ]);
}

export class ClusterNetwork extends pulumi.ComponentResource {
  readonly network: LibvirtNetwork;
  readonly libvirtName: string;
  /** This network as VMs take it (VirtualMachineArgs.network). */
  readonly vmNetwork: VmNetwork;

  constructor(name: string, args: ClusterNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    validate(name, args);
    super("hyperscaler:index:ClusterNetwork", name, {}, opts);
    this.libvirtName = networkName(args.plan, args.network);
    this.network = new LibvirtNetwork(
      `${name}-network`,
      {
        uri: args.uri,
        name: this.libvirtName,
        xml: pulumi
          .output(args.stackId)
          .apply((stackId) =>
            renderNetworkXml(args.plan, args.network, { hostFirewall: args.hostFirewall ?? false, stackId }),
          ),
        bridge: args.network.bridge,
        ip: `${args.network.gateway}/${args.network.netmask}`,
        dhcpHosts: dhcpHostEntries(args.network),
        start: args.start ?? true,
      },
      { parent: this, dependsOn: opts?.dependsOn },
    ); // a component's dependsOn does not reach its children
    this.vmNetwork = { planName: args.network.name, libvirtName: this.network.name, resource: this.network };
    this.registerOutputs({ name: this.libvirtName });
  }
}
