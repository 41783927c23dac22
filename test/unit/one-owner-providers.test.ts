// One owner for each of these facts: the exec result type, the DomainFacts codec, `nvidia-smi mig -lgi`
// parsing and PCI address normalisation, and the libvirt identities (domain and network UUIDs). Each has a
// test that fails when a second copy comes back anywhere in the source tree, besides behaviour tests.
import * as fs from "node:fs";
import * as path from "node:path";
import { XMLParser } from "fast-xml-parser";
import { describe, expect, it } from "vitest";
import { buildPlan } from "../../src/plan";
import { domainUuid, networkUuid, uuidV5 } from "../../src/plan/ids";
import type { Plan } from "../../src/plan/types";
import { readDomain, type Runner } from "../../src/providers/libvirt";
import { renderDomain, renderDomainXml } from "../../src/render/libvirt/domain";
import { diskFact, hostdevFact, interfaceFact } from "../../src/render/libvirt/domain-facts";
import { renderNetworkXml } from "../../src/render/libvirt/network";
import { loadSpecFile } from "../../src/spec/load";
import { ROOT } from "../helpers";

const read = (relative: string): string => fs.readFileSync(path.join(ROOT, relative), "utf8");

/** Every TypeScript source of the package (what ships), with its path relative to the repository. */
function sources(): { file: string; text: string }[] {
  const out: { file: string; text: string }[] = [];
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const relative = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(relative);
      else if (entry.name.endsWith(".ts")) out.push({ file: relative, text: read(relative) });
    }
  };
  for (const dir of ["src", "components"]) walk(dir);
  out.push({ file: "index.ts", text: read("index.ts") });
  return out;
}

/** The source files whose text matches. */
function holders(pattern: RegExp): string[] {
  return sources()
    .filter(({ text }) => pattern.test(text))
    .map(({ file }) => file)
    .sort();
}

function plan(file: string): Plan {
  const loaded = loadSpecFile(path.join(ROOT, file));
  if (!loaded.ok) throw new Error(file);
  return buildPlan({ spec: loaded.spec });
}

describe("the exec result type has one owner (src/util/exec.ts)", () => {
  it("no other module declares a { code: number | null; stdout; stderr } shape", () => {
    expect(holders(/code\??: number \| null;?\s*(readonly )?stdout\??: string/)).toEqual(["src/util/exec.ts"]);
    expect(holders(/interface \w*(RunResult|CommandResult|ExecResult)\b/)).toEqual(["src/util/exec.ts"]);
  });

  it("the libvirt, GPU and firewall providers and the probe's executor all use it", () => {
    const users = holders(/import (type )?\{[^}]*\bExecResult \} from "(\.\.\/)+util\/exec"/);
    const runners = ["src/providers/libvirt/runner.ts", "src/providers/gpu.ts", "src/providers/firewall.ts"];
    for (const file of [...runners, "src/host/source.ts"]) expect(users, file).toContain(file);
  });

  it("one function runs commands and one loads built-ins at call time (the runners only choose limits)", () => {
    expect(holders(/\bspawnSync\(/)).toEqual(["src/util/exec.ts"]);
    expect(holders(/getBuiltinModule\(/)).toEqual(["src/util/builtin.ts"]);
  });
});

describe("the DomainFacts codec has one owner (src/render/libvirt/domain-facts.ts)", () => {
  it("one declaration of the type and of each encoding", () => {
    expect(holders(/interface DomainFacts\b/)).toEqual(["src/render/libvirt/domain-facts.ts"]);
    // The hostdev encodings ("mdev:<uuid>", "pci:d:b:s.f"); the others are checked by the round trip below.
    expect(holders(/`mdev:\$\{/)).toEqual(["src/render/libvirt/domain-facts.ts"]);
    expect(holders(/`pci:\$\{/)).toEqual(["src/render/libvirt/domain-facts.ts"]);
    // The seed's cdrom target: render places the seed there and the provider ejects it from there.
    expect(holders(/["']sda["']/)).toEqual(["src/render/libvirt/domain-facts.ts"]);
  });

  it("encodes what libvirt reports as render encodes what it writes", () => {
    expect(hostdevFact({ domain: "0x0000", bus: "0x65", slot: "0x00", function: "0x0" })).toBe("pci:0000:65:00.0");
    const uuid = "5c3b0a2e-0d3e-5b61-8d2c-51f3f7d2a9e1";
    expect(hostdevFact({ uuid })).toBe(`mdev:${uuid}`);
    expect(diskFact({ pool: "hs", volume: "vm.qcow2" })).toBe("hs/vm.qcow2");
    expect(diskFact({ file: "/var/lib/x.iso" })).toBe("/var/lib/x.iso");
    expect(interfaceFact("52:54:00:00:00:01", "hs-net")).toBe("52:54:00:00:00:01@hs-net");
  });

  // readDomain over a fake virsh that answers its XPath queries from the rendered XML (with libvirt's own
  // normalisation: memory in KiB): what the provider decodes is exactly what render derived.
  it.each(["config/prod.yaml", "config/dev.yaml"])(
    "%s: readDomain of the rendered XML gives render's facts",
    (file) => {
      const p = plan(file);
      const vgpus = p.vms.flatMap((vm) => vm.gpus).filter((g) => g.deviceUuid);
      const vfAddress = (i: number): string => `0000:${(0x41 + i).toString(16)}:00.4`;
      const vfAddresses = Object.fromEntries(vgpus.map((g, i) => [g.deviceUuid!, vfAddress(i)]));
      const lists = ["disk", "hostdev", "interface"];
      const isArray = (name: string): boolean => lists.includes(name);
      const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", isArray });
      type Attributes = Record<string, unknown>;
      /** One element as virsh --xpath prints it: its attributes (child elements left out). */
      const element = (attributes: Attributes): string => {
        const scalar = Object.entries(attributes).filter(([, value]) => typeof value !== "object");
        return `<x ${scalar.map(([key, value]) => `${key}='${String(value)}'`).join(" ")}/>`;
      };
      for (const vm of p.vms) {
        const options = { pool: "hs", vfAddresses };
        const { facts } = renderDomain(p, vm, options);
        const { devices, memory, vcpu } = parser.parse(renderDomainXml(p, vm, options)).domain;
        const nics: { mac: Attributes; source: Attributes }[] = devices.interface;
        const gpuDevices: { source: { address: Attributes } }[] = devices.hostdev ?? [];
        const answers: Record<string, string[]> = {
          "/domain/memory/text()": [String(Number(memory["#text"]) * 1024)],
          "/domain/vcpu/text()": [String(vcpu["#text"])],
          "//devices/disk/source": devices.disk.map((d: { source: Attributes }) => element(d.source)),
          "//devices/hostdev/source/address": gpuDevices.map((h) => element(h.source.address)),
          "//devices/interface/mac": nics.map((nic) => element(nic.mac)),
          "//devices/interface/source": nics.map((nic) => element(nic.source)),
        };
        const run: Runner = (_command, args) => {
          if (args.includes("dominfo"))
            return { code: 0, stdout: "State:          shut off\nMax memory:     1 KiB\n", stderr: "" };
          const xpath = args[args.indexOf("--xpath") + 1];
          if (!(xpath in answers)) return { code: 1, stdout: "", stderr: `unexpected ${args.join(" ")}` };
          return { code: 0, stdout: answers[xpath].join("\n"), stderr: "" };
        };
        const state = readDomain(run, "qemu:///system", vm.name)!;
        const { memoryMiB, vcpus, disks, hostdevs, interfaces } = state;
        expect({ memoryMiB, vcpus, disks, hostdevs, interfaces }, vm.name).toEqual(facts);
      }
      expect(
        p.vms.some((vm) => vm.gpus.length > 0),
        "the config has GPU VMs (hostdevs to compare)",
      ).toBe(true);
    },
  );
});

describe("`nvidia-smi mig` tables and PCI addresses are parsed in one place (host/parsers/nvidia-smi.ts)", () => {
  it("no other module holds a MIG table row pattern or a PCI address normalisation", () => {
    expect(holders(/MIG\\s\+\(\\S\+\)/)).toEqual(["src/host/parsers/nvidia-smi.ts"]);
    expect(holders(/function parseMigLgi\b/)).toEqual(["src/host/parsers/nvidia-smi.ts"]);
    expect(holders(/function normalisePci\w*\(/)).toEqual(["src/host/parsers/nvidia-smi.ts"]);
    expect(holders(/\.slice\(-4\)/)).toEqual(["src/host/parsers/nvidia-smi.ts"]);
  });

  it("the GPU provider uses the host parsers", () => {
    const importsParsers = /import \{ normalisePciAddress, parseMigLgi \} from "\.\.\/host\/parsers\/nvidia-smi"/;
    expect(holders(importsParsers)).toEqual(["src/providers/gpu.ts"]);
  });
});

describe("domain and network UUIDs are made in plan/ids.ts; render only places them", () => {
  it("no other module derives a UUIDv5", () => {
    expect(holders(/\buuidV5\(/)).toEqual(["src/plan/ids.ts"]);
  });

  it("the same values as before the move, and render places them", () => {
    const p = plan("config/dev.yaml");
    const stackId = "0f8c1c52-8f0e-4a55-9d7a-6a3c2f1e9b10";
    const vm = p.vms[0];
    const network = p.networks[0];
    expect(domainUuid(p, vm)).toBe(uuidV5(`${p.stack}/domain/${vm.name}`));
    expect(domainUuid(p, vm, stackId)).toBe(uuidV5(`${p.stack}/domain/${vm.name}`, stackId));
    expect(networkUuid(p, network)).toBe(uuidV5(`${p.stack}/network/${network.name}`));
    expect(networkUuid(p, network, stackId)).toBe(uuidV5(`${p.stack}/network/${network.name}`, stackId));
    expect(renderDomainXml(p, vm, { pool: "hs", stackId })).toContain(`<uuid>${domainUuid(p, vm, stackId)}</uuid>`);
    expect(renderNetworkXml(p, network, { stackId })).toContain(`<uuid>${networkUuid(p, network, stackId)}</uuid>`);
  });
});
