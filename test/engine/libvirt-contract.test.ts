// Contract tests of the libvirt resource types through the SDK's provider host against the real libvirtd:
// pool, base image volume, disk volume, seed ISO, network (defined, not started: no addresses in the root
// namespace), and domain both defined-only (GPU VM) and started (emulated type='qemu', no NIC, so nothing
// carries traffic). Providers are serialized from the built package (dist).
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type * as Libvirt from "../../src/providers/libvirt";
import { seedFiles } from "../../src/render/cloud-init/nocloud";
import { renderDomain } from "../../src/render/libvirt/domain";
import { diskVolumeName, networkName, seedVolumeName } from "../../src/render/libvirt/names";
import { dhcpHostEntries, renderNetworkXml } from "../../src/render/libvirt/network";
import { renderOverlayVolumeXml, renderPoolXml } from "../../src/render/libvirt/storage";
import { ROOT } from "../helpers";
import { leftovers, libvirtReachable, makeLab, scrub, URI, virsh, type Lab } from "../integration/libvirt-lab";
import { requireBuilt } from "./built-package";
import { runContract } from "./contract";
import { EngineResource } from "./engine-resource";
import { ProviderHost, secret, serializeProvider, UNKNOWN, type Props } from "./provider-host";

const reachable = libvirtReachable();
const figures: Record<string, string[]> = {};

describe.skipIf(!reachable)("libvirt resource contracts through the provider host", () => {
  let host: ProviderHost;
  let lab: Lab;
  let dir: string;
  let lib: typeof Libvirt;
  let storage: EngineResource;
  const started = performance.now();

  const resource = async (type: string, name: string, make: keyof typeof Libvirt): Promise<EngineResource> =>
    new EngineResource(host, type, `${lab.prefix}-${name}`, await serializeProvider((lib[make] as () => never)()));

  beforeAll(async () => {
    lib = requireBuilt<typeof Libvirt>("src/providers/libvirt/index.js");
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "hs-contract-"));
    lab = makeLab(dir, fs.readFileSync(path.join(ROOT, "config/dev.yaml"), "utf8"));
    host = await ProviderHost.start();
    expect(await host.getPluginInfo()).toMatch(/^\d+\.\d+\.\d+/);
    await host.configure();
    storage = await resource("LibvirtPool", "storage", "makePoolProvider");
    expect(
      (
        await storage.up({
          uri: URI,
          name: lab.poolName,
          xml: renderPoolXml(lab.poolName, lab.poolPath),
          path: lab.poolPath,
        })
      ).kind,
    ).toBe("create");
  });

  afterAll(async () => {
    if (!reachable) return;
    await storage?.destroy();
    await host?.stop();
    scrub(lab.prefix);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(path.dirname(lab.baseFile), { recursive: true, force: true });
    const total = Object.values(figures).reduce((n, t) => n + t.length, 0);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const lines = Object.entries(figures).map(([type, t]) => `  ${type}: ${t.length} (${t.join(", ")})`);
    const types = Object.keys(figures).length;
    console.log(
      `provider-host contracts: ${types} resource types, ${total} transitions in ${seconds} s\n${lines.join("\n")}`,
    );
  });

  it("pool: create, read, replace on a new path, delete twice", async () => {
    const name = `${lab.prefix}-p2`;
    const pathA = fs.mkdtempSync(path.join(dir, "pa-"));
    const pathB = fs.mkdtempSync(path.join(dir, "pb-"));
    const inputs = (p: string) => ({ uri: URI, name, xml: renderPoolXml(name, p), path: p });
    const pool = await resource("LibvirtPool", "pool", "makePoolProvider");
    figures.pool = await runContract({
      resource: pool,
      inputs: inputs(pathA),
      updates: [],
      replaces: [{ property: "path", inputs: inputs(pathB) }],
      verify: (outputs) => expect(virsh("pool-dumpxml", name).stdout).toContain(`<path>${String(outputs.path)}</path>`),
      gone: () => virsh("pool-info", name).code !== 0,
    });
  });

  it("base image volume: create, read, replace on a new source, delete twice", async () => {
    const other = path.join(path.dirname(lab.baseFile), "other.qcow2");
    spawnSync("qemu-img", ["create", "-q", "-f", "qcow2", other, "2G"]);
    const sha = (file: string) => `sha256:${crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex")}`;
    const inputs = (source: string, name = "base.qcow2") => ({
      uri: URI,
      pool: lab.poolName,
      name,
      source,
      checksum: sha(source),
      checksumUrl: "",
      format: "qcow2",
    });
    const image = await resource("BaseImageVolume", "image", "makeBaseImageProvider");
    figures["base image"] = await runContract({
      resource: image,
      inputs: inputs(lab.baseFile),
      updates: [],
      replaces: [
        { property: "source+checksum", inputs: inputs(other) },
        { property: "name", inputs: inputs(other, "base2.qcow2") },
      ],
      verify: (outputs, i) => expect(outputs.verified).toBe(i.checksum),
      gone: () => !virsh("vol-list", "--pool", lab.poolName).stdout.includes("base"),
    });
  });

  it("disk volume: create, grow in place, replace on shrink and on a new backing file, delete twice", async () => {
    const vm = lab.plan.vms[0];
    const other = path.join(path.dirname(lab.baseFile), "backing2.qcow2");
    spawnSync("qemu-img", ["create", "-q", "-f", "qcow2", other, "1G"]);
    const name = diskVolumeName(vm);
    const inputs = (capacityGiB: number, backingPath = lab.baseFile) => ({
      uri: URI,
      pool: lab.poolName,
      name,
      xml: renderOverlayVolumeXml({ name, capacityGiB, backingPath }),
      capacityGiB,
      backingPath,
    });
    const volume = await resource("LibvirtVolume", "disk", "makeVolumeProvider");
    figures.volume = await runContract({
      resource: volume,
      inputs: inputs(2),
      updates: [{ property: "capacityGiB (grow)", inputs: inputs(3) }],
      replaces: [
        { property: "capacityGiB (shrink)", inputs: inputs(2) },
        { property: "backingPath", inputs: inputs(2, other) },
      ],
      verify: (outputs, i) => expect(outputs).toMatchObject({ capacityGiB: i.capacityGiB, backingPath: i.backingPath }),
      gone: () => !virsh("vol-list", "--pool", lab.poolName).stdout.includes(name),
    });
  });

  it("seed ISO: secret files in, no file content out; replace on new content, delete twice", async () => {
    const vm = lab.plan.vms[0];
    const files: Record<string, string> = { ...seedFiles(lab.spec, lab.plan, vm) };
    const changed = { ...files, "user-data": `${files["user-data"]}\n# changed\n` };
    const inputs = (f: Record<string, string>) => ({
      uri: URI,
      pool: lab.poolName,
      name: seedVolumeName(vm),
      files: secret(f),
    });
    const seed = await resource("SeedIso", "seed", "makeSeedIsoProvider");
    figures["seed ISO"] = await runContract({
      resource: seed,
      inputs: inputs(files),
      updates: [],
      replaces: [{ property: "files", inputs: inputs(changed) }],
      verify: (outputs) => {
        expect(outputs.contentSha256).toMatch(/^[0-9a-f]{64}$/);
        // Outputs carry a digest, never the files (which hold keys and tokens).
        expect(JSON.stringify(outputs)).not.toContain("#cloud-config");
      },
      gone: () => !virsh("vol-list", "--pool", lab.poolName).stdout.includes(seedVolumeName(vm)),
    });
  });

  it("network (defined, not started): update DHCP hosts in place, replace on a new address, delete twice", async () => {
    const network = lab.plan.networks[0];
    const name = networkName(lab.plan, network);
    const base = {
      uri: URI,
      name,
      xml: renderNetworkXml(lab.plan, network),
      bridge: network.bridge,
      ip: `${network.gateway}/${network.netmask}`,
      dhcpHosts: dhcpHostEntries(network),
      start: false,
    };
    const fewer = { ...network, hosts: network.hosts.slice(1) };
    const moved = { ...network, gateway: network.gateway.replace(/\.1$/, ".254") };
    const net = await resource("LibvirtNetwork", "net", "makeNetworkProvider");
    figures.network = await runContract({
      resource: net,
      inputs: base,
      updates: [
        {
          property: "dhcpHosts",
          inputs: { ...base, xml: renderNetworkXml(lab.plan, fewer), dhcpHosts: dhcpHostEntries(fewer) },
        },
      ],
      replaces: [
        {
          property: "ip",
          inputs: {
            ...base,
            xml: renderNetworkXml(lab.plan, moved),
            dhcpHosts: dhcpHostEntries(moved),
            ip: `${moved.gateway}/${network.netmask}`,
          },
        },
      ],
      verify: (outputs, i) => expect(outputs).toMatchObject({ active: false, dhcpHosts: i.dhcpHosts, ip: i.ip }),
      gone: () => virsh("net-info", name).code !== 0,
    });
  });

  it(
    "domain (defined only, GPU VM): update memory and " + "vCPUs, replace on disks, hostdevs, NIC; delete twice",
    async () => {
      const vm = lab.plan.vms.find((v) => v.gpus.length > 0)!;
      const inputs = (v: typeof vm, pool = lab.poolName) => {
        const { xml, facts } = renderDomain(lab.plan, v, { pool });
        return { uri: URI, name: vm.name, xml, facts, start: false, seedSha256: "a".repeat(64) };
      };
      const bigger = { ...vm, memoryMiB: vm.memoryMiB * 2, vcpus: vm.vcpus + 1 };
      const otherGpu = {
        ...vm,
        gpus: vm.gpus.map((g) => ({
          ...g,
          deviceUuid: g.deviceUuid ? g.deviceUuid.replace(/^./, (c) => (c === "f" ? "e" : "f")) : g.deviceUuid,
          pciAddress: g.pciAddress.replace(/\.0$/, ".1"),
        })),
      };
      const otherNic = { ...bigger, mac: "52:54:00:aa:bb:cc" };
      const domain = await resource("LibvirtDomain", "gpu-vm", "makeDomainProvider");
      figures["domain (defined)"] = await runContract({
        resource: domain,
        inputs: inputs(vm),
        updates: [{ property: "memory+vcpus", inputs: inputs(bigger) }],
        replaces: [
          { property: "disks", inputs: inputs(bigger, `${lab.poolName}x`) },
          {
            property: "hostdevs",
            inputs: inputs({ ...otherGpu, memoryMiB: bigger.memoryMiB, vcpus: bigger.vcpus }, `${lab.poolName}x`),
          },
          {
            property: "interfaces",
            inputs: inputs(
              { ...otherGpu, memoryMiB: bigger.memoryMiB, vcpus: bigger.vcpus, mac: otherNic.mac },
              `${lab.poolName}x`,
            ),
          },
        ],
        verify: (outputs, i) =>
          expect(outputs).toMatchObject({
            memoryMiB: (i.facts as Props).memoryMiB,
            vcpus: (i.facts as Props).vcpus,
            hostdevs: (i.facts as Props).hostdevs,
            running: false,
          }),
        gone: () => virsh("dominfo", vm.name).code !== 0,
      });
    },
  );

  it(
    "domain (started, emulated, no NIC): create running, update memory asks for a restart, replace on disks; " +
      "delete twice",
    async () => {
      const vm = { ...lab.plan.vms.find((v) => v.gpus.length === 0)!, memoryMiB: 128, vcpus: 1 };
      // Volumes the domain boots from (an empty overlay: the firmware finds nothing to boot, QEMU runs on).
      const volumes = lib.makeVolumeProvider();
      const disk = {
        uri: URI,
        pool: lab.poolName,
        name: diskVolumeName(vm),
        xml: renderOverlayVolumeXml({ name: diskVolumeName(vm), capacityGiB: 1, backingPath: lab.baseFile }),
        capacityGiB: 1,
        backingPath: lab.baseFile,
      };
      await volumes.create(disk);
      const seed = await lib
        .makeSeedIsoProvider()
        .create({ uri: URI, pool: lab.poolName, name: seedVolumeName(vm), files: seedFiles(lab.spec, lab.plan, vm) });
      const inputs = (v: typeof vm, seedSha256: string) => {
        const { xml, facts } = renderDomain(lab.plan, v, { pool: lab.poolName, domainType: "qemu" });
        // No NIC: a started VM carries no traffic; TCG has no host-passthrough CPU.
        const bare = xml
          .replace(/<interface[\s\S]*?<\/interface>\s*/, "")
          .replace(/<cpu [^>]*\/>/, `<cpu mode="maximum"/>`);
        return { uri: URI, name: v.name, xml: bare, facts: { ...facts, interfaces: [] }, start: true, seedSha256 };
      };
      const domain = await resource("LibvirtDomain", "run-vm", "makeDomainProvider");
      const digest = String(seed.outs.contentSha256);
      const second = {
        ...disk,
        name: `${vm.name}-2.qcow2`,
        xml: renderOverlayVolumeXml({ name: `${vm.name}-2.qcow2`, capacityGiB: 1, backingPath: lab.baseFile }),
      };
      await volumes.create(second);
      const restarts: boolean[] = [];
      try {
        figures["domain (started)"] = await runContract({
          resource: domain,
          inputs: inputs(vm, digest),
          updates: [
            { property: "memory", inputs: inputs({ ...vm, memoryMiB: 192 }, digest) },
            // An unrelated change later must not forget that the memory change still waits for a restart.
            {
              property: "xml (description)",
              inputs: (() => {
                const i = inputs({ ...vm, memoryMiB: 192 }, digest);
                return { ...i, xml: i.xml.replace("</name>", "</name>\n  <description>contract test</description>") };
              })(),
            },
          ],
          replaces: [
            {
              property: "disks",
              inputs: (() => {
                const i = inputs({ ...vm, memoryMiB: 192 }, digest);
                return {
                  ...i,
                  xml: i.xml.replace(`volume="${diskVolumeName(vm)}"`, `volume="${second.name}"`),
                  facts: { ...i.facts, disks: [`${lab.poolName}/${second.name}`, i.facts.disks[1]] },
                };
              })(),
            },
          ],
          verify: (outputs) => {
            expect(outputs.running).toBe(true);
            restarts.push(outputs.restartRequired as boolean);
          },
          gone: () => virsh("dominfo", vm.name).code !== 0,
        });
        // Booted with 128 MiB: 192 MiB waits for a restart, through the unrelated update too; the
        // replacement boots with 192.
        expect(restarts).toEqual([false, true, true, false]);
      } finally {
        virsh("destroy", vm.name);
        virsh("undefine", vm.name);
        for (const name of [disk.name, second.name, seedVolumeName(vm)])
          virsh("vol-delete", "--pool", lab.poolName, name);
      }
    },
  );

  it(
    "preview with unknown inputs (values computed from " + "other resources' outputs) proposes no replacement",
    async () => {
      const vm = lab.plan.vms.find((v) => v.gpus.length > 0)!;
      const { xml, facts } = renderDomain(lab.plan, vm, { pool: lab.poolName });
      const domain = await resource("LibvirtDomain", "preview-vm", "makeDomainProvider");
      const inputs = { uri: URI, name: vm.name, xml, facts, start: false, seedSha256: "b".repeat(64) };
      await domain.up(inputs);
      try {
        // The XML and facts come from an apply over GPU device outputs: unknown while a device is replaced.
        const step = await domain.preview({ ...inputs, xml: UNKNOWN, facts: UNKNOWN, seedSha256: UNKNOWN });
        expect(step.diff!.replaces).toEqual([]);
        expect(step.kind).toBe("update");
      } finally {
        await domain.destroy();
      }
    },
  );

  it("leaves nothing behind but the shared pool", () => {
    expect(leftovers(lab.prefix).filter((l) => l !== `pool ${lab.poolName}`)).toEqual([]);
  });
});

describe.skipIf(reachable)("libvirt resource contracts", () => {
  it.skip("skipped: libvirtd (qemu:///system) is not reachable; run scripts/start-services.sh", () => undefined);
});
