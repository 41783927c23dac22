// The network provider: defines (and starts) a libvirt network; DHCP hosts update in place on the running network.
import type * as dynamic from "@pulumi/pulumi/dynamic";
import { diffKeys } from "./engine-values";
import { claimName } from "./ownership";
import { localRunner, sha256, withTempFile, type Runner } from "./runner";
import { isNotFound, keyValues, remove, virsh, virshMaybe } from "./virsh";
import { xpathAttributes } from "./xpath";

export interface NetworkInputs {
  readonly uri: string;
  readonly name: string;
  readonly xml: string;
  readonly bridge: string;
  /** "address/netmask" of the gateway: fixed once defined. */
  readonly ip: string;
  /** DHCP host entries as libvirt writes them (<host mac=.. name=.. ip=../>), updated in place. */
  readonly dhcpHosts: readonly string[];
  /** Start the network (and autostart it). Tests define without starting. */
  readonly start: boolean;
}

/** A network's outputs: its inputs and the digest of the XML it was defined with. */
export function networkOutputs(inputs: NetworkInputs): Record<string, unknown> {
  return { ...inputs, xmlSha256: sha256(inputs.xml) };
}

export function makeNetworkProvider(run: Runner = localRunner): dynamic.ResourceProvider {
  const what = (name: string): string => `libvirt network ${name}`;
  return {
    async create(inputs: NetworkInputs) {
      const existed = claimName(
        run,
        inputs.uri,
        what(inputs.name),
        "net-uuid",
        inputs.name,
        inputs.xml,
        "Rename the stack (metadata.name in cluster.yaml) " +
          "or remove the old network (virsh net-destroy/net-undefine) if it is stale.",
      );
      withTempFile(inputs.xml, ".xml", (file) => virsh(run, inputs.uri, what(inputs.name), ["net-define", file]));
      try {
        const active =
          keyValues(virsh(run, inputs.uri, what(inputs.name), ["net-info", inputs.name]))["Active"] === "yes";
        if (inputs.start && !active) virsh(run, inputs.uri, what(inputs.name), ["net-start", inputs.name]);
        if (inputs.start) virsh(run, inputs.uri, what(inputs.name), ["net-autostart", inputs.name]);
      } catch (error) {
        // Only this create's work: a network that existed (our own leftover) stays for the retry.
        if (!existed) {
          virshMaybe(run, inputs.uri, ["net-destroy", inputs.name]);
          virshMaybe(run, inputs.uri, ["net-undefine", inputs.name]);
        }
        throw error;
      }
      return { id: inputs.name, outs: networkOutputs(inputs) };
    },
    async read(id: string, props: NetworkInputs) {
      const info = virshMaybe(run, props.uri, ["net-info", id]);
      if (info.code !== 0) {
        if (isNotFound(info)) return { id: "", props: {} };
        throw new Error(`${what(id)}: virsh net-info failed: ${info.stderr.trim()}`);
      }
      const fields = keyValues(info.stdout);
      const args = ["net-dumpxml", id, "--inactive"];
      const hosts = xpathAttributes(run, props.uri, args, "//ip/dhcp/host").map(
        (h) => `<host mac="${h.mac}" name="${h.name}" ip="${h.ip}"/>`,
      );
      const ip = xpathAttributes(run, props.uri, args, "//ip")[0];
      return {
        id,
        props: {
          ...props,
          name: id,
          bridge: fields["Bridge"] ?? props.bridge,
          ip: ip ? `${ip.address}/${ip.netmask}` : props.ip,
          active: fields["Active"] === "yes",
          dhcpHosts: hosts,
        },
      };
    },
    async diff(_id: string, olds: NetworkInputs & { xmlSha256?: string }, news: NetworkInputs) {
      // The bridge and the addresses are fixed at definition; DHCP hosts and DNS names update in place.
      const replaces = diffKeys(olds as never, news as never, ["uri", "name", "bridge", "ip"]);
      const changes =
        replaces.length > 0 ||
        olds.xmlSha256 !== sha256(news.xml) ||
        olds.start !== news.start ||
        JSON.stringify(olds.dhcpHosts) !== JSON.stringify(news.dhcpHosts);
      return { changes, replaces, deleteBeforeReplace: true };
    },
    async update(_id: string, olds: NetworkInputs, news: NetworkInputs) {
      withTempFile(news.xml, ".xml", (file) => virsh(run, news.uri, what(news.name), ["net-define", file]));
      const active = keyValues(virsh(run, news.uri, what(news.name), ["net-info", news.name]))["Active"] === "yes";
      if (active) {
        // Apply DHCP host changes to the running network without restarting it (VMs stay connected).
        const before = olds.dhcpHosts ?? [];
        const after = news.dhcpHosts;
        for (const host of before.filter((h) => !after.includes(h)))
          virsh(run, news.uri, what(news.name), ["net-update", news.name, "delete", "ip-dhcp-host", host, "--live"]);
        for (const host of after.filter((h) => !before.includes(h)))
          virsh(run, news.uri, what(news.name), ["net-update", news.name, "add-last", "ip-dhcp-host", host, "--live"]);
      } else if (news.start) {
        virsh(run, news.uri, what(news.name), ["net-start", news.name]);
        virsh(run, news.uri, what(news.name), ["net-autostart", news.name]);
      }
      return { outs: networkOutputs(news) };
    },
    async delete(id: string, props: NetworkInputs) {
      virshMaybe(run, props.uri, ["net-destroy", id]);
      remove(run, props.uri, what(id), ["net-undefine", id]);
    },
  };
}
