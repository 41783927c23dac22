// One owner decides which cloud-init layers a VM gets (render/layers.ts#vmLayers): the stack's components
// and `hyperscaler render` (renderAll) both take them from it. Under mocks, the stack is built for prod and
// dev; the secrets its resources made are read back, and renderAll with those same (fixed) secrets writes,
// for every VM, exactly the user-data the component deployed. No other module composes layers.
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, describe, expect, it } from "vitest";
import {
  buildPlan,
  buildStack,
  loadHost,
  loadSpecFile,
  renderAll,
  roleDirectBoot,
  vmLayers,
  type VmSecrets,
} from "../../src";
import { discoveryHash } from "../../src/render/kubernetes";
import { ROOT } from "../helpers";
import { computed, installMocks } from "../mocks";

const HOST = path.join(ROOT, "test/fixtures/hosts/workstation.json");
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJq9dHsK7yYpXwqW5xB2rV0cTn8m7lQ3cZs9aE4d1f2g ops@laptop";
const LAYER_FUNCTIONS = ["gpuDriverLayer", "slurmLayer", "kubernetesLayer", "sshHostKeyLayer"];

/** Every resource's state (inputs and the outputs the mock providers give), by resource name. */
const states = new Map<string, Record<string, unknown>>();

async function installRecordingMocks(): Promise<void> {
  await pulumi.runtime.setMocks(
    {
      newResource(args: pulumi.runtime.MockResourceArgs) {
        const state = { ...args.inputs, ...computed(args.type, args.name, args.inputs) };
        states.set(args.name, state);
        return { id: `${args.name}-id`, state };
      },
      call(args: pulumi.runtime.MockCallArgs) {
        throw new Error(`unexpected invoke ${args.token}`);
      },
    },
    "hyperscaler",
    "test",
    false,
  );
}

afterAll(() => installMocks());

const plain = (value: unknown): string =>
  String(typeof value === "object" && value !== null && "value" in value ? value.value : value);
const state = (name: string, key: string): string => {
  const found = states.get(name);
  if (!found) throw new Error(`no resource ${name}`);
  return plain(found[key]);
};

/** The secrets the stack's resources made for one VM, read back from their states. */
function secretsOf(vm: string): VmSecrets {
  const caCertPem = states.has("k8s-ca") ? state("k8s-ca", "certPem") : undefined;
  return {
    sshHostKey: {
      privateKey: state(`${vm}-host-key`, "privateKeyOpenssh"),
      publicKey: state(`${vm}-host-key`, "publicKeyOpenssh"),
    },
    mungeKeyBase64: states.has("slurm-munge-key") ? state("slurm-munge-key", "base64") : undefined,
    kubernetes: caCertPem
      ? {
          token: `${state("k8s-token-id", "result")}.${state("k8s-token-secret", "result")}`,
          caCertPem,
          caKeyPem: state("k8s-ca-key", "privateKeyPem"),
          caCertHash: discoveryHash(caCertPem),
        }
      : undefined,
  };
}

async function settledOutputs(outputs: { knownHosts: pulumi.Output<string> }): Promise<void> {
  await new Promise((resolve) => outputs.knownHosts.apply(resolve));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  await (require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> }).waitForRPCs();
}

describe("a VM's cloud-init layers have one owner (render/layers.ts#vmLayers)", () => {
  it.each(["config/prod.yaml", "config/dev.yaml"])(
    "%s: renderAll with the stack's secrets writes every VM's deployed user-data",
    async (file) => {
      states.clear();
      await installRecordingMocks();
      const outputs = await buildStack({
        stack: "test",
        clusterFile: path.join(ROOT, file),
        hostSnapshot: HOST,
        start: true,
        sshPublicKey: KEY,
      });
      await settledOutputs(outputs);
      const loaded = loadSpecFile(path.join(ROOT, file));
      if (!loaded.ok) throw new Error(`${file} does not load`);
      const { spec } = loaded;
      const plan = buildPlan({ spec, host: loadHost(HOST) });
      const rendered = renderAll(spec, plan, {
        layers: (name) =>
          vmLayers(
            spec,
            plan,
            plan.vms.find((vm) => vm.name === name)!,
            secretsOf(name),
          ),
        extraKeys: [KEY],
        bootOf: (role) => roleDirectBoot(spec, role),
      });
      expect(plan.vms.length).toBeGreaterThan(3);
      for (const vm of plan.vms) {
        const deployed = JSON.parse(JSON.stringify(states.get(`${vm.name}-seed`)!.files)) as {
          value?: Record<string, string>;
        } & Record<string, string>;
        const files = deployed.value ?? deployed;
        expect(files["user-data"], vm.name).toMatch(/^#cloud-config\n/);
        expect(files["user-data"], vm.name).toBe(rendered.get(`cloud-init/${vm.name}/user-data`));
        expect(files["network-config"], vm.name).toBe(rendered.get(`cloud-init/${vm.name}/network-config`));
      }
    },
  );

  it("no component or other module composes layers itself: only render/layers.ts calls the layer functions", () => {
    const sources = (dir: string): string[] =>
      fs
        .readdirSync(path.join(ROOT, dir), { recursive: true, encoding: "utf8" })
        .filter((f) => f.endsWith(".ts"))
        .map((f) => path.join(dir, f));
    const callers = [...sources("components"), ...sources("src")]
      .filter((file) => file !== path.join("src", "render", "layers.ts"))
      .flatMap((file) => {
        const text = fs.readFileSync(path.join(ROOT, file), "utf8");
        // A call, not the function's own definition (`export function slurmLayer(`).
        return LAYER_FUNCTIONS.filter((fn) => new RegExp(`(?<!function )\\b${fn}\\(`).test(text)).map(
          (fn) => `${file}: ${fn}`,
        );
      });
    expect(callers).toEqual([]);
  });
});
