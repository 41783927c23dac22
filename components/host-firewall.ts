// HostFirewall: the stack's nftables table on the libvirt host (render/firewall.ts says what it holds,
// providers/firewall.ts how it is applied). The networks depend on it, so libvirt never routes a VM
// network before the table that filters and NATs it exists.
import * as pulumi from "@pulumi/pulumi";
import type { Plan } from "../src/plan/types";
import { makeFirewallProvider, nftInvocation } from "../src/providers/firewall";
import { firewallMarker, firewallTableName, renderFirewall } from "../src/render/firewall";
import type { ClusterSpec } from "../src/spec/types";
import { refuseArgs } from "./args-error";

const provider = makeFirewallProvider();

type In<T> = { [K in keyof T]: pulumi.Input<T[K]> };

/** One nftables table (family inet) owned by the stack. */
export class NftTable extends pulumi.dynamic.Resource {
  declare readonly appliedDigest: pulumi.Output<string>;
  constructor(
    name: string,
    args: In<{ uri: string; table: string; marker: string; ruleset: string }>,
    opts?: pulumi.CustomResourceOptions,
  ) {
    super(
      provider,
      name,
      { ...args, appliedDigest: undefined, liveDigest: undefined },
      opts,
      "hyperscaler",
      "NftTable",
    );
  }
}

export interface HostFirewallArgs {
  /** The spec's security settings: allowed CIDRs, cross-cluster flows (what the ruleset lets through). */
  readonly spec: Pick<ClusterSpec, "security">;
  /** The stack name (table name, ownership marker) and the planned networks the table filters and NATs. */
  readonly plan: Pick<Plan, "stack" | "networks">;
  /** libvirt connection URI of the host; it must give a shell there to run nft (local, or qemu+ssh). */
  readonly uri: string;
}

function validate(name: string, args: HostFirewallArgs): void {
  refuseArgs("HostFirewall", name, [
    args.plan.networks.length === 0 && {
      problem: "plan.networks is empty",
      found: [],
      expected: "the networks the table filters",
      fix: "pass the plan's networks, or leave the firewall out (render/stack-inputs.ts#hostFirewallOn)",
    },
    !args.spec.security.network_isolation && {
      problem: "security.network_isolation is off",
      found: false,
      expected: "true",
      fix: "leave the firewall out when isolation is off (render/stack-inputs.ts#hostFirewallOn)",
    },
  ]);
}

export class HostFirewall extends pulumi.ComponentResource {
  readonly table: NftTable;
  readonly tableName: string;

  constructor(name: string, args: HostFirewallArgs, opts?: pulumi.ComponentResourceOptions) {
    validate(name, args);
    // The stack's libvirtUri config can name a host the spec's rule never saw: refuse before any resource.
    const how = nftInvocation(args.uri);
    if ("refused" in how) throw new pulumi.RunError(`host firewall: ${how.refused}`);
    super("hyperscaler:index:HostFirewall", name, {}, opts);
    this.tableName = firewallTableName(args.plan);
    this.table = new NftTable(
      `${name}-table`,
      {
        uri: args.uri,
        table: this.tableName,
        marker: firewallMarker(args.plan),
        ruleset: renderFirewall(args.spec, args.plan),
      },
      { parent: this },
    );
    this.registerOutputs({ table: this.tableName });
  }
}
