// The bring-up test builds the stack's resources itself (no Pulumi engine): its inputs must be the ones the
// components give the providers, in the stack's order, with the components' wiring of outputs into inputs.
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { resourceInputs, stackProviders, type StackContext } from "../e2e/cluster";
import { buildPlan } from "../../src/plan";
import { seedFiles } from "../../src/render/cloud-init/nocloud";
import { cloudInitLayers } from "../../src/render/layers";
import { domainUuid } from "../../src/plan/ids";
import { loadSpecFile } from "../../src/spec/load";
import type { ClusterSpec } from "../../src/spec/types";
import { ROOT } from "../helpers";

const STACK_ID = "0b7f6c9e-2f43-4c1e-9d59-3a0d2b7c8e11";
const ADMIN_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGd3Zp0kG7v3Z9m2m0wz3c5y0l1oXbq1mHq2a2b3c4d5 admin@e2e";

function context(isolation: boolean): StackContext {
  const loaded = loadSpecFile(path.join(ROOT, "config/examples/e2e-cpu-emulated.yaml"));
  if (!loaded.ok) throw new Error("the e2e spec does not load");
  // The fixture image store stands in for built golden images (only paths and checksums are read).
  const spec: ClusterSpec = {
    ...loaded.spec,
    images: { ...loaded.spec.images, golden_dir: path.join(ROOT, "test/fixtures/image-store") },
    security: { ...loaded.spec.security, network_isolation: isolation },
  };
  const plan = buildPlan({ spec });
  const hostKeys = new Map(
    plan.vms.map((vm) => [
      vm.name,
      {
        privateKey: `-----BEGIN OPENSSH PRIVATE KEY-----\n${vm.name}\n-----END OPENSSH PRIVATE KEY-----`,
        publicKey: `ssh-ed25519 AAAA${vm.name}`,
      },
    ]),
  );
  return {
    spec,
    plan,
    uri: "qemu:///system",
    stackId: STACK_ID,
    secrets: { mungeKeyBase64: "a2V5".repeat(20), hostKeys, adminPublicKey: ADMIN_KEY },
    providers: stackProviders([]),
  };
}

/** Outputs as the providers return them: each resource's name, path and digest, distinct per resource. */
const out = (kind: string, name: string): Record<string, unknown> => ({
  name,
  path: `/pool/${kind}/${name}`,
  contentSha256: `sha-${name}`,
  adopted: false,
});

describe("the bring-up test's resource inputs", () => {
  it("follow the stack's order and wiring, with the host firewall and route mode under network isolation", () => {
    const ctx = context(true);
    const resources = [...resourceInputs(ctx, out)];
    const kinds = resources.map((r) => r.kind);
    expect(kinds.slice(0, 6)).toEqual(["pool", "baseImage", "baseImage", "baseImage", "firewall", "network"]);
    expect(kinds.slice(6)).toEqual(ctx.plan.vms.flatMap(() => ["volume", "seedIso", "domain"]));
    const firewall = resources.find((r) => r.kind === "firewall")!;
    expect(firewall.inputs.ruleset).toContain(`table inet ${String(firewall.inputs.table)}`);
    expect(firewall.inputs.ruleset).toContain("masquerade");
    const network = resources.find((r) => r.kind === "network")!;
    expect(network.inputs.xml).toMatch(/<forward mode="route"\s*\/>/);
    for (const vm of ctx.plan.vms) {
      const domain = resources.find((r) => r.kind === "domain" && r.name === vm.name)!;
      expect(domain.inputs).toMatchObject({
        networks: [network.name],
        disk: expect.stringMatching(/^\/pool\/volume\//),
        devices: [],
        start: true,
        seedSha256: expect.stringMatching(/^sha-.*seed/),
      });
      expect(domain.inputs.xml).toContain(`<uuid>${domainUuid(ctx.plan, vm, STACK_ID)}</uuid>`);
      expect(domain.inputs.xml).toContain(`<parameter name="IP" value="${vm.ip}"`);
      for (const kind of ["volume", "seedIso"])
        expect(resources.find((r) => r.kind === kind && String(r.name).startsWith(vm.name))!.inputs.poolAdopted).toBe(
          false,
        );
    }
  });

  it("give each VM the seed `hyperscaler render` shows (same instance-id), with the real secrets inside", () => {
    const ctx = context(true);
    for (const seed of [...resourceInputs(ctx, out)].filter((r) => r.kind === "seedIso")) {
      const vm = ctx.plan.vms.find((v) => seed.name === `${v.name}-seed.iso`)!;
      const files = seed.inputs.files as Record<string, string>;
      // What `hyperscaler render --ssh-public-key` writes for the VM (its layers with secrets as placeholders).
      const rendered = seedFiles(ctx.spec, ctx.plan, vm, cloudInitLayers(ctx.spec, ctx.plan)(vm.name), [ADMIN_KEY]);
      expect(files["meta-data"]).toBe(rendered["meta-data"]);
      expect(files["network-config"]).toBe(rendered["network-config"]);
      expect(files["user-data"]).not.toBe(rendered["user-data"]);
      expect(files["user-data"]).toContain(ctx.secrets.mungeKeyBase64);
      expect(files["user-data"]).toContain(ctx.secrets.hostKeys.get(vm.name)!.publicKey);
    }
  });

  it("leave the firewall out and keep libvirt's NAT when network isolation is off", () => {
    const resources = [...resourceInputs(context(false), out)];
    expect(resources.some((r) => r.kind === "firewall")).toBe(false);
    expect(resources.find((r) => r.kind === "network")!.inputs.xml).toMatch(/<forward mode="nat"\s*\/>/);
  });
});
