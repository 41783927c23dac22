// The stack program under Pulumi's mock runtime: the resource graph for dev and prod, dependencies of
// GPU VMs on their GPU devices, MIG placements equal to the plan's, secrets never in plain text, spec
// errors failing the program with the validator's message.
import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";
import * as fs from "node:fs";
import { spawnSync } from "node:child_process";
import { parse as parseYaml } from "yaml";
import { beforeEach, describe, expect, it } from "vitest";
import { buildPlan } from "../../src/plan";
import { buildStack, StackInputError, type StackSettings } from "../../src/program/stack";
import { loadHost } from "../../src/host/load";
import { loadSpecFile } from "../../src/spec/load";
import { renderAll } from "../../src/render/files";
import { roleDirectBoot } from "../../src/render/images";
import { cloudInitLayers } from "../../src/render/layers";
import { fixture, joinedPattern, ROOT, tempDir } from "../helpers";
import { recorded, resetRecorded, settled, type Recorded } from "../mocks";

const HOST = path.join(ROOT, "test/fixtures/hosts/workstation.json");
const settings = (file: string, extra: Partial<StackSettings> = {}): StackSettings => ({
  stack: "test",
  clusterFile: path.join(ROOT, file),
  hostSnapshot: HOST,
  start: true,
  ...extra,
});

async function run(file: string, extra: Partial<StackSettings> = {}) {
  resetRecorded();
  const outputs = await buildStack(settings(file, extra));
  await settled();
  return { outputs, resources: [...recorded] };
}

function promiseOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) =>
    output.apply((value) => {
      resolve(value);
      return value;
    }),
  );
}

// How Pulumi marks a secret value on the wire: { [SIGNATURE_KEY]: SECRET_SIGNATURE, value }.
const SECRET_MARK = "4dabf18193072939515e22adb298388d";
const SECRET_SIGNATURE = "1b47061264138c4ac30d75fd1eb44270";
/** Inputs worth reviewing per type (big XML and serialized providers left out; secrets redacted). */
function keyInputs(resource: Recorded): Record<string, unknown> {
  const i = resource.inputs;
  const pick = (...keys: string[]) => Object.fromEntries(keys.filter((k) => k in i).map((k) => [k, i[k]]));
  switch (resource.type.split(":").pop()) {
    case "LibvirtPool":
      return pick("name", "path");
    case "BaseImageVolume":
      return pick("name", "pool", "source", "checksumUrl");
    case "LibvirtNetwork":
      return pick("name", "bridge", "ip", "start");
    case "LibvirtVolume":
      return pick("name", "capacityGiB", "backingPath");
    case "SeedIso":
      return {
        ...pick("name"),
        files: (i.files as Record<string, unknown>)?.[SECRET_MARK] === SECRET_SIGNATURE ? "[secret]" : "PLAINTEXT",
      };
    case "LibvirtDomain":
      return pick("name", "start", "facts");
    case "MigLayout":
      return pick("gpu", "pciAddress", "migEnabled", "instances", "force");
    case "VgpuDevice":
      return pick("gpu", "vgpuType", "path", "parentPciAddress");
    case "RandomBytes":
      return pick("length");
    case "Release":
      return pick("chart", "version", "namespace");
    default:
      return {};
  }
}

function graph(resources: Recorded[]): string[] {
  // Golden images come from the fixture store inside the checkout: its path is shown repo-relative.
  return resources
    .map(
      (r) =>
        `${r.type} ${r.name} <- ${r.parent ?? "stack"} ` +
        `${JSON.stringify(keyInputs(r)).split(`${process.cwd()}/`).join("")}`,
    )
    .sort();
}

describe("stack program under mocks", () => {
  beforeEach(() => resetRecorded());

  it.each(["config/dev.yaml", "config/prod.yaml"])(
    "%s: the resource graph matches the reviewed snapshot",
    async (file) => {
      const { resources } = await run(file);
      expect(graph(resources)).toMatchSnapshot();
    },
  );

  it("prod: every GPU VM's domain depends on its GPU devices, and those on the MIG layout", async () => {
    const { resources } = await run("config/prod.yaml");
    const loaded = loadSpecFile(path.join(ROOT, "config/prod.yaml"));
    if (!loaded.ok) throw new Error("prod.yaml invalid");
    const plan = buildPlan({ spec: loaded.spec, host: loadHost(HOST) });
    const byName = new Map(resources.map((r) => [r.name, r]));
    const vgpuFor = (uuid: string) =>
      resources.find((r) => r.type.endsWith(":VgpuDevice") && (r.inputs as { uuid: string }).uuid === uuid)!;
    let checked = 0;
    for (const vm of plan.vms.filter((v) => v.gpus.some((g) => g.deviceUuid))) {
      const domain = byName.get(`${vm.name}-domain`)!;
      for (const gpu of vm.gpus.filter((g) => g.deviceUuid)) {
        const device = vgpuFor(gpu.deviceUuid!);
        expect(domain.dependsOn, vm.name).toContain(device.name);
        expect(device.dependsOn).toContain("gpu-host-GPU-0-mig");
        checked++;
      }
    }
    expect(checked).toBe(7);
  });

  it("prod: MIG placements in the resource inputs equal the plan's", async () => {
    const { resources, outputs } = await run("config/prod.yaml");
    const layout = resources.find((r) => r.type.endsWith(":MigLayout"))!;
    const plan = JSON.parse(outputs.planJson);
    expect(layout.inputs.instances).toEqual(
      plan.gpus[0].instances.map((i: Record<string, unknown>) => ({
        profile: i.profile,
        profileId: i.profileId,
        start: i.start,
        size: i.size,
      })),
    );
    expect(layout.inputs).toMatchObject({ gpu: "GPU-0", pciAddress: "0000:65:00.0", migEnabled: true, force: false });
    expect(resources.filter((r) => r.type.endsWith(":VgpuDevice"))).toHaveLength(7);
  });

  it("no secret appears in plain text in any input or output", async () => {
    const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJq9dHsK7yYpXwqW5xB2rV0cTn8m7lQ3cZs9aE4d1f2g ops@laptop";
    const { resources, outputs } = await run("config/prod.yaml", { sshPublicKey: key });
    const seeds = resources.filter((r) => r.type.endsWith(":SeedIso"));
    expect(seeds).toHaveLength(11);
    for (const seed of seeds)
      expect((seed.inputs.files as Record<string, unknown>)[SECRET_MARK], seed.name).toBe(SECRET_SIGNATURE);
    const everything = JSON.stringify({
      inputs: resources.filter((r) => !r.type.endsWith(":SeedIso")).map((r) => r.inputs),
      outputs,
    });
    expect(everything).not.toContain("#cloud-config");
    expect(everything).not.toContain("munge.key");
    expect(outputs.slurm).toEqual({
      controllerAddress: "192.168.100.10",
      sinfo: "ssh hyperscaler@192.168.100.10 sinfo",
      nodes: ["hs-prod-slurm-node-01", "hs-prod-slurm-node-02", "hs-prod-slurm-node-03", "hs-prod-slurm-node-04"],
    });
    const { restartRequired, ...controller } = outputs.vms["hs-prod-slurm-ctl"];
    expect(controller).toEqual({
      ip: "192.168.100.10",
      ssh: "ssh hyperscaler@192.168.100.10",
      cluster: "hpc",
      role: "slurm-controller",
      gpus: [],
    });
    expect(await promiseOf(pulumi.output(restartRequired))).toBe(false);
  });

  it(
    "volumes and seed ISOs take the pool from the pool " + "resource: created after it, deleted before it (bug 5)",
    async () => {
      const { resources } = await run("config/prod.yaml");
      const inPool = resources.filter((r) => /:(LibvirtVolume|SeedIso|BaseImageVolume)$/.test(r.type));
      // Per VM a disk and a seed (22), and per golden image (hpc, k8s) its disk, kernel and initrd (6).
      expect(inPool).toHaveLength(28);
      for (const resource of inPool) expect(resource.dependsOn, resource.name).toContain("base-pool");
    },
  );

  it("each domain takes only its own GPU devices' outputs and its network's name output (bugs 4, 6)", async () => {
    const { resources } = await run("config/prod.yaml");
    const domains = resources.filter((r) => r.type.endsWith(":LibvirtDomain"));
    const devices = new Set(resources.filter((r) => r.type.endsWith(":VgpuDevice")).map((r) => r.name));
    for (const domain of domains) {
      const vm = domain.name.replace(/-domain$/, "");
      const own = resources.filter((r) => devices.has(r.name) && domain.dependsOn.includes(r.name));
      // A domain depends on a vGPU device only when the device is assigned to its VM.
      for (const device of own)
        expect(
          JSON.stringify(domain.inputs.xml) + JSON.stringify(domain.inputs.facts),
          `${vm} <- ${device.name}`,
        ).toContain(String(device.inputs.uuid));
      expect(
        domain.dependsOn.some((d) => d.startsWith("net-")),
        vm,
      ).toBe(true);
      expect(domain.inputs.networks, vm).toHaveLength(1);
    }
  });

  it(
    "hyperscaler render writes the instance-id the stack deploys, for every VM, and (given --stack-id) its " +
      "libvirt XML (bug 8)",
    async () => {
      const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJq9dHsK7yYpXwqW5xB2rV0cTn8m7lQ3cZs9aE4d1f2g ops@laptop";
      const { resources, outputs } = await run("config/prod.yaml", { sshPublicKey: key });
      const loaded = loadSpecFile(path.join(ROOT, "config/prod.yaml"));
      if (!loaded.ok) throw new Error("prod.yaml invalid");
      const plan = buildPlan({ spec: loaded.spec, host: loadHost(HOST) });
      const recordedId = resources.find((r) => r.name === "stack-identity")!.inputs.result as string | undefined;
      const stackId = recordedId ?? (await promiseOf(outputs.stackId));
      const rendered = renderAll(loaded.spec, plan, {
        layers: cloudInitLayers(loaded.spec, plan),
        extraKeys: [key],
        stackId,
        bootOf: (role) => roleDirectBoot(loaded.spec, role),
      });
      // With the stack's identity, render's libvirt XML is the deployed XML too.
      for (const domain of resources.filter((r) => r.type.endsWith(":LibvirtDomain"))) {
        expect(domain.inputs.xml, domain.name).toBe(rendered.get(`libvirt/domains/${String(domain.inputs.name)}.xml`));
      }
      for (const network of resources.filter((r) => r.type.endsWith(":LibvirtNetwork"))) {
        expect(network.inputs.xml, network.name).toBe(
          rendered.get(`libvirt/networks/${String(network.inputs.name)}.xml`),
        );
      }
      const seeds = resources.filter((r) => r.type.endsWith(":SeedIso"));
      expect(seeds).toHaveLength(11);
      for (const seed of seeds) {
        const vm = seed.name.replace(/-seed$/, "");
        const deployed = (seed.inputs.files as { value: Record<string, string> }).value["meta-data"];
        expect(deployed, vm).toBe(rendered.get(`cloud-init/${vm}/meta-data`));
      }
    },
  );

  it("a spec error fails the program with the validator's message", async () => {
    const file = path.join(tempDir(), "bad.yaml");
    fs.writeFileSync(
      file,
      fixture("user-example.yaml").replace(
        'cpu_cores: 4, memory_gb: 8, disk_gb: 100, ip_address: "192.168.100.10"',
        'cpu_core: 4, memory_gb: 8, disk_gb: 100, ip_address: "192.168.100.10"',
      ),
    );
    const failure = buildStack({ stack: "test", clusterFile: file, hostSnapshot: HOST, start: true });
    await expect(failure).rejects.toThrow(StackInputError);
    // Shown without a stack trace.
    await expect(failure).rejects.toSatisfy((error: unknown) => pulumi.RunError.isInstance(error));
    await expect(failure).rejects.toThrow(
      joinedPattern(
        /bad\.yaml:17:22: error: unknown key "cpu_core" in \/clusters\/hpc\/controller/,
        /[\s\S]*hint: did you mean "cpu_cores"\?/,
      ),
    );
  });

  it("an infeasible plan fails the program with the planner's reason and fix", async () => {
    const file = path.join(tempDir(), "user.yaml");
    fs.writeFileSync(file, fixture("user-example.yaml"));
    await expect(buildStack({ stack: "test", clusterFile: file, hostSnapshot: HOST, start: true })).rejects.toThrow(
      joinedPattern(
        /not feasible:\n\S*user\.yaml:25:29: error: cluster cloud: 1 whole GPU\(s\) have no node/,
        /[\s\S]*gpu_workers: \{ count: 3,[\s\S]*\^\n {2}/,
        /hint: raise clusters\.cloud\.worker_nodes\.gpu_workers\.count to 4/,
      ),
    );
  });

  it("the munge key reaches every Slurm VM's seed only inside the secret", async () => {
    const { resources } = await run("config/dev.yaml");
    const key = resources.find((r) => r.type === "random:index/randomBytes:RandomBytes")!;
    expect(key.inputs.length).toBe(1024);
    const seeds = resources.filter((r) => r.type.endsWith(":SeedIso") && r.name.includes("slurm"));
    expect(seeds).toHaveLength(2);
    for (const seed of seeds) {
      const files = seed.inputs.files as Record<string, unknown>;
      expect(files[SECRET_MARK]).toBe(SECRET_SIGNATURE);
      const userData = (files.value as Record<string, string>)["user-data"];
      expect(userData).toMatch(/path: \/etc\/munge\/munge\.key\n\s+encoding: b64\n\s+content: [A-Za-z0-9+/=]{1300,}/);
    }
  });

  it(
    "every VM's SSH host key is pinned: the seed has the private key only inside the secret, knownHosts the " +
      "matching public key",
    async () => {
      const { resources, outputs } = await run("config/dev.yaml");
      const knownHosts = new Map(
        (await promiseOf(outputs.knownHosts))
          .trim()
          .split("\n")
          .map((line) => [line.split(",")[0], line]),
      );
      const seeds = resources.filter((r) => r.type.endsWith(":SeedIso"));
      expect(seeds).toHaveLength(4);
      expect([...knownHosts.keys()].sort()).toEqual(Object.keys(outputs.vms).sort());
      const dir = tempDir();
      for (const seed of seeds) {
        const vm = (seed.inputs.name as string).replace(/-seed\.iso$/, "");
        const files = seed.inputs.files as Record<string, unknown>;
        expect(files[SECRET_MARK]).toBe(SECRET_SIGNATURE);
        const userData = parseYaml((files.value as Record<string, string>)["user-data"]) as {
          ssh_keys: Record<string, string>;
          ssh_deletekeys: boolean;
        };
        expect(userData.ssh_deletekeys).toBe(true);
        // ssh-keygen derives the public key from the private one the VM gets: it must be the one known_hosts pins.
        const keyFile = path.join(dir, vm);
        fs.writeFileSync(keyFile, userData.ssh_keys.ed25519_private, { mode: 0o600 });
        const derived = spawnSync("ssh-keygen", ["-y", "-f", keyFile], { encoding: "utf8" });
        expect(derived.status, derived.stderr).toBe(0);
        const [type, base64] = derived.stdout.trim().split(/\s+/);
        expect(knownHosts.get(vm)).toBe(
          `${vm},${vm}.${vm.includes("slurm") ? "hpc" : "cloud"}-network.hs-dev.internal,${outputs.vms[vm].ip} ` +
            `${type} ${base64}`,
        );
        expect(userData.ssh_keys.ed25519_public.split(/\s+/).slice(0, 2)).toEqual([type, base64]);
      }
      const host = resources.filter(
        (r) => r.type === "tls:index/privateKey:PrivateKey" && r.name.endsWith("-host-key"),
      );
      expect(host.map((r) => r.inputs.algorithm)).toEqual(["ED25519", "ED25519", "ED25519", "ED25519"]);
    },
  );

  it("resources carry their serialized providers (the engine would reject unserializable ones)", async () => {
    const { resources } = await run("config/dev.yaml");
    for (const resource of resources.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic"))) {
      expect(typeof resource.inputs.__provider, resource.name).toBe("string");
      expect(resource.inputs.__provider as string).toMatch(/exports\.handler/);
    }
  });
});
