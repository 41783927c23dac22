// libvirt XML builders: every domain, network, pool and volume XML of the shipped configs validates
// against libvirt's own schemas (virt-xml-validate), and the domain XML carries what the plan says.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { buildPlan } from "../../src/plan";
import type { Plan } from "../../src/plan/types";
import { renderDomain, renderDomainXml } from "../../src/render/libvirt/domain";
import { SEED_TARGET } from "../../src/render/libvirt/domain-facts";
import { dhcpRange, renderNetworkXml } from "../../src/render/libvirt/network";
import { renderOverlayVolumeXml, renderPoolXml } from "../../src/render/libvirt/storage";
import { loadSpecFile } from "../../src/spec/load";
import { ROOT, tempDir } from "../helpers";

function plan(file: string): Plan {
  const loaded = loadSpecFile(path.join(ROOT, file));
  if (!loaded.ok) throw new Error(file);
  return buildPlan({ spec: loaded.spec });
}

const dir = tempDir("hs-xml-");
function validate(name: string, xml: string, schema?: string): void {
  const file = path.join(dir, name);
  fs.writeFileSync(file, xml);
  const result = spawnSync("virt-xml-validate", schema ? [file, schema] : [file], { encoding: "utf8" });
  expect(result.status, `${name}: ${result.stdout}${result.stderr}`).toBe(0);
}

const CONFIGS = [
  "config/dev.yaml",
  "config/prod.yaml",
  ...fs.readdirSync(path.join(ROOT, "config/examples")).map((f) => `config/examples/${f}`),
];

describe("libvirt XML validates with virt-xml-validate", () => {
  it.each(CONFIGS)("%s: every domain and network", (file) => {
    const p = plan(file);
    const vfAddresses = Object.fromEntries(
      p.vms
        .flatMap((vm) => vm.gpus)
        .filter((g) => g.deviceUuid)
        .map((g, i) => [g.deviceUuid!, `0000:${(0x41 + i).toString(16)}:00.4`]),
    );
    for (const vm of p.vms) validate(`${vm.name}.xml`, renderDomainXml(p, vm, { pool: "hs", vfAddresses }), "domain");
    for (const network of p.networks) validate(`${network.name}.xml`, renderNetworkXml(p, network), "network");
  });

  it("pool, overlay volume, hugepages and CPU pinning", () => {
    validate("pool.xml", renderPoolXml("hs-prod", "/var/lib/libvirt/images/hs-prod"), "storagepool");
    validate(
      "volume.xml",
      renderOverlayVolumeXml({
        name: "vm.qcow2",
        capacityGiB: 200,
        backingPath: "/var/lib/libvirt/images/hs-prod/debian-12-base.qcow2",
      }),
      "storagevol",
    );
    const p = plan("config/dev.yaml");
    validate("pinned.xml", renderDomainXml(p, p.vms[0], { pool: "hs", hugepages: true, cpuPinning: [2, 3] }), "domain");
  });

  it("emulated domain with direct kernel boot (golden image)", () => {
    const p = plan("config/examples/e2e-cpu-emulated.yaml");
    const xml = renderDomainXml(p, p.vms[0], {
      pool: "hs",
      domainType: "qemu",
      directBoot: {
        kernel: "/pool/hpc-v-vmlinuz",
        initrd: "/pool/hpc-v-initrd",
        cmdline: "root=/dev/vda rw console=ttyS0",
      },
    });
    validate("emulated.xml", xml, "domain");
    expect(xml).toContain(`<domain type="qemu">`);
    expect(xml).toMatch(/<cpu mode="maximum" check="none"><\/cpu>|<cpu mode="maximum" check="none"\/>/);
    expect(xml).toMatch(/<tcg>\s*<tb-cache unit="MiB">256<\/tb-cache>\s*<\/tcg>/);
    expect(xml).toContain("<kernel>/pool/hpc-v-vmlinuz</kernel>");
    expect(xml).toContain("<initrd>/pool/hpc-v-initrd</initrd>");
    expect(xml).toContain("<cmdline>root=/dev/vda rw console=ttyS0</cmdline>");
    expect(xml).not.toContain("<boot ");
    expect(xml).not.toContain("host-passthrough");
    // KVM domains keep host-passthrough and no TCG settings.
    const kvm = renderDomainXml(p, p.vms[0], { pool: "hs" });
    expect(kvm).toContain(`<domain type="kvm">`);
    expect(kvm).toContain(`mode="host-passthrough"`);
    expect(kvm).not.toContain("<tcg>");
  });
});

describe("domain XML content", () => {
  const p = plan("config/prod.yaml");
  const byName = (name: string) => p.vms.find((vm) => vm.name === name)!;

  it("a MIG-backed vGPU VM gets an mdev hostdev with the planned UUID, no balloon", () => {
    const vm = byName("hs-prod-slurm-node-01");
    const xml = renderDomainXml(p, vm, { pool: "hs-prod" });
    expect(xml).toContain(`<hostdev mode="subsystem" type="mdev" model="vfio-pci" display="off">`);
    expect(xml).toContain(`<address uuid="${vm.gpus[0].deviceUuid}"/>`);
    expect(xml).toContain('<memballoon model="none"/>');
    expect(xml).toContain('<cpu mode="host-passthrough" check="none" migratable="off"/>');
    expect(xml).toContain(`<mac address="${vm.mac}"/>`);
    expect(xml).toContain('<source network="hs-prod-hpc-network"/>');
    expect(xml).toContain('<source pool="hs-prod" volume="hs-prod-slurm-node-01-seed.iso"/>');
  });

  it("a passthrough VM gets a managed PCI hostdev for the GPU", () => {
    const xml = renderDomainXml(p, byName("hs-prod-k8s-gpu-01"), { pool: "hs-prod" });
    expect(xml).toContain('<hostdev mode="subsystem" type="pci" managed="yes">');
    expect(xml).toContain('<address domain="0x0000" bus="0xca" slot="0x00" function="0x0"/>');
  });

  it("facts for the provider match the XML", () => {
    const vm = byName("hs-prod-k8s-gpu-02");
    const { facts } = renderDomain(p, vm, { pool: "hs-prod" });
    expect(facts).toEqual({
      memoryMiB: 16384,
      vcpus: 8,
      disks: ["hs-prod/hs-prod-k8s-gpu-02.qcow2", "hs-prod/hs-prod-k8s-gpu-02-seed.iso"],
      hostdevs: [`mdev:${vm.gpus[0].deviceUuid}`],
      interfaces: [`${vm.mac}@hs-prod-cloud-network`],
    });
  });

  it("an SR-IOV vGPU needs its VF address", () => {
    const h100 = plan("config/examples/h100-mig-vgpu.yaml");
    const vm = h100.vms.find((v) => v.gpus.length > 0)!;
    expect(() => renderDomainXml(h100, vm, { pool: "hs" })).toThrow(/SR-IOV VF whose address is not known yet/);
    const xml = renderDomainXml(h100, vm, { pool: "hs", vfAddresses: { [vm.gpus[0].deviceUuid!]: "0000:06:00.4" } });
    expect(xml).toContain('<address domain="0x0000" bus="0x06" slot="0x00" function="0x4"/>');
  });

  it(
    "the seed is the cdrom the domain provider ejects (same target), on virtio-scsi (the cloud kernel has no " +
      "AHCI)",
    () => {
      const xml = renderDomainXml(p, byName("hs-prod-slurm-node-01"), { pool: "hs-prod" });
      expect(xml).toContain(`<target dev="${SEED_TARGET}" bus="scsi"/>`);
      expect(xml).toContain('<controller type="scsi" index="0" model="virtio-scsi"/>');
    },
  );

  it("is stable: snapshot of one domain", () => {
    expect(renderDomainXml(p, byName("hs-prod-slurm-node-01"), { pool: "hs-prod" })).toMatchSnapshot();
  });
});

describe("network XML content", () => {
  it("NAT, bridge, gateway, a DHCP range above the nodes, a host entry and DNS name per VM", () => {
    const p = plan("config/prod.yaml");
    const network = p.networks.find((n) => n.name === "cloud_network")!;
    const xml = renderNetworkXml(p, network);
    expect(xml).toContain('<forward mode="nat"/>');
    expect(xml).toContain('<bridge name="virbr200" stp="on" delay="0"/>');
    expect(xml).toContain('<ip address="192.168.200.1" netmask="255.255.255.0">');
    expect(dhcpRange(network)).toEqual({ start: "192.168.200.127", end: "192.168.200.254" });
    for (const vm of p.vms.filter((v) => v.network === "cloud_network")) {
      expect(xml).toContain(`<host mac="${vm.mac}" name="${vm.name}" ip="${vm.ip}"/>`);
      expect(xml).toContain(`<hostname>${vm.name}</hostname>`);
    }
  });

  it("an isolated network has no forward element", () => {
    const p = plan("config/dev.yaml");
    const xml = renderNetworkXml(p, { ...p.networks[0], mode: "isolated" });
    expect(xml).not.toContain("<forward");
  });
});
