// The libvirt providers' diff as a table: property changed -> no-op / update / replace / restart. Diff reads
// no host state, so the real providers run here as they are; "restart" marks an update a running VM only
// sees at its next boot (the domain then reports restartRequired). UNKNOWN is the engine's preview marker.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  makeBaseImageProvider,
  makeDomainProvider,
  makeNetworkProvider,
  makePoolProvider,
  makeSeedIsoProvider,
  makeVolumeProvider,
  seedDigest,
  type Runner,
} from "../../src/providers/libvirt";

const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
/** No host: a diff that asks libvirt (the domain's seed check on a running VM) hears that nothing is there. */
const noHost: Runner = () => ({ code: 1, stdout: "", stderr: "error: no host in a unit test" });
type Outcome = "no-op" | "update" | "restart" | `replace:${string}`;

const facts = {
  memoryMiB: 4096,
  vcpus: 2,
  disks: ["p/vm.qcow2", "p/vm-seed.iso"],
  hostdevs: ["mdev:u1"],
  interfaces: ["52:54:00:00:00:01@net"],
};
const domain = {
  uri: "qemu:///system",
  name: "vm",
  xml: "<domain/>",
  facts,
  networks: ["net"],
  disk: "/p/vm.qcow2",
  devices: ["u1"],
  start: true,
  seedSha256: "a",
};
const domainState = { ...domain, ...facts, running: true };
const pool = { uri: "qemu:///system", name: "p", xml: "<pool/>", path: "/p" };
const network = {
  uri: "qemu:///system",
  name: "net",
  xml: "<network/>",
  bridge: "br0",
  ip: "10.0.0.1/255.255.255.0",
  dhcpHosts: ["<host/>"],
  start: false,
};

const volume = {
  uri: "qemu:///system",
  pool: "p",
  name: "v",
  xml: "<volume/>",
  capacityGiB: 20,
  backingPath: "/p/base",
};
const image = {
  uri: "qemu:///system",
  pool: "p",
  name: "b",
  source: "/img",
  checksum: "sha256:00",
  checksumUrl: "",
  format: "qcow2",
};
const seedFilesA = { "user-data": "a", "meta-data": "b", "network-config": "c" };
const seed = { uri: "qemu:///system", pool: "p", name: "s", files: seedFilesA };
const seedState = { uri: "qemu:///system", pool: "p", name: "s", contentSha256: seedDigest(seedFilesA) };

async function outcome(
  provider: { diff?: (id: string, olds: never, news: never) => Promise<{ changes?: boolean; replaces?: string[] }> },
  olds: object,
  news: object,
  restartOn?: (olds: never, news: never) => boolean,
): Promise<Outcome> {
  const diff = await provider.diff!("id", olds as never, news as never);
  if (diff.replaces?.length) return `replace:${diff.replaces.join(",")}`;
  if (!diff.changes) return "no-op";
  return restartOn?.(olds as never, news as never) ? "restart" : "update";
}

const memoryOrCpus = (olds: typeof domainState, news: typeof domain) =>
  olds.memoryMiB !== news.facts.memoryMiB || olds.vcpus !== news.facts.vcpus;

describe("libvirt providers' diff", () => {
  it.each<[string, object, Outcome]>([
    ["same inputs", {}, "no-op"],
    ["memory", { facts: { ...facts, memoryMiB: 8192 } }, "restart"],
    ["vCPUs", { facts: { ...facts, vcpus: 4 } }, "restart"],
    ["XML only (e.g. a description)", { xml: "<domain><description/></domain>" }, "update"],
    ["start flag", { start: false }, "update"],
    ["seed digest (new cloud-init; waits for the next boot, domain untouched)", { seedSha256: "b" }, "no-op"],
    ["disks", { facts: { ...facts, disks: ["p/other.qcow2", "p/vm-seed.iso"] } }, "replace:disks"],
    ["GPU hostdevs", { facts: { ...facts, hostdevs: ["mdev:u2"] } }, "replace:hostdevs"],
    ["NIC", { facts: { ...facts, interfaces: ["52:54:00:00:00:02@net"] } }, "replace:interfaces"],
    ["name", { name: "vm2" }, "replace:name"],
    ["libvirt URI", { uri: "qemu+ssh://h/system" }, "replace:uri"],
    ["facts unknown in preview", { facts: UNKNOWN, xml: UNKNOWN }, "restart"],
    ["network replaced (its name output unknown)", { networks: [UNKNOWN] }, "replace:networks"],
    ["disk replaced (its path output unknown)", { disk: UNKNOWN }, "replace:disk"],
    ["vGPU device replaced (its UUID output unknown)", { devices: [UNKNOWN] }, "replace:devices"],
  ])("domain: %s -> %s", async (_label, change, expected) => {
    expect(
      await outcome(makeDomainProvider(noHost), domainState, { ...domain, ...change }, memoryOrCpus as never),
    ).toBe(expected);
  });

  it.each<[string, object, Outcome]>([
    ["same inputs", {}, "no-op"],
    ["path", { path: "/q" }, "replace:path"],
    ["name", { name: "q" }, "replace:name"],
  ])("pool: %s -> %s", async (_label, change, expected) => {
    expect(await outcome(makePoolProvider(noHost), pool, { ...pool, ...change })).toBe(expected);
  });

  it.each<[string, object, Outcome]>([
    ["same inputs", {}, "no-op"],
    ["DHCP hosts (applied live)", { dhcpHosts: ["<host/>", "<host2/>"] }, "update"],
    ["XML (DNS names)", { xml: "<network><dns/></network>" }, "update"],
    ["start flag", { start: true }, "update"],
    ["gateway/subnet", { ip: "10.0.1.1/255.255.255.0" }, "replace:ip"],
    ["bridge", { bridge: "br1" }, "replace:bridge"],
  ])("network: %s -> %s", async (_label, change, expected) => {
    const olds = { ...network, xmlSha256: createHash("sha256").update(network.xml).digest("hex") };
    expect(await outcome(makeNetworkProvider(noHost), olds, { ...network, ...change })).toBe(expected);
  });

  it.each<[string, object, Outcome]>([
    ["same inputs", {}, "no-op"],
    ["grow", { capacityGiB: 40 }, "update"],
    ["shrink", { capacityGiB: 10 }, "replace:capacityGiB"],
    ["base image (backing file)", { backingPath: "/p/base2" }, "replace:backingPath"],
    ["pool unknown (pool replaced)", { pool: UNKNOWN }, "replace:pool"],
  ])("disk volume: %s -> %s", async (_label, change, expected) => {
    expect(await outcome(makeVolumeProvider(noHost), volume, { ...volume, ...change })).toBe(expected);
  });

  it.each<[string, object, Outcome]>([
    ["same inputs", {}, "no-op"],
    ["source", { source: "/img2" }, "replace:source"],
    ["checksum", { checksum: "sha256:11" }, "replace:checksum"],
  ])("base image: %s -> %s", async (_label, change, expected) => {
    expect(await outcome(makeBaseImageProvider(noHost), image, { ...image, ...change })).toBe(expected);
  });

  it.each<[string, object, Outcome]>([
    ["same files", {}, "no-op"],
    ["files", { files: { ...seedFilesA, "user-data": "changed" } }, "replace:files"],
    ["pool", { pool: "q" }, "replace:pool"],
  ])("seed ISO: %s -> %s", async (_label, change, expected) => {
    expect(await outcome(makeSeedIsoProvider(noHost), seedState, { ...seed, ...change })).toBe(expected);
  });
});
