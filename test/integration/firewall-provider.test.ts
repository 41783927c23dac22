// The firewall provider against the real nft, inside a network namespace the test creates: one
// transaction per apply (a broken ruleset leaves the old table as it was), drift seen by read and
// repaired by update, a same-named table it did not create never touched, other tables never touched,
// idempotent delete, and the serialized provider working from a fresh process.
import * as pulumi from "@pulumi/pulumi";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPlan } from "../../src/plan";
import {
  makeFirewallProvider,
  type FirewallInputs,
  type FirewallOutputs,
  type NftRunner,
} from "../../src/providers/firewall";
import { firewallMarker, firewallTableName, renderFirewall } from "../../src/render/firewall";
import { loadSpecText } from "../../src/spec/load";
import { ROOT } from "../helpers";
import { NetnsLab, netnsUnavailable } from "./netns-lab";

const unavailable = netnsUnavailable();
if (unavailable) console.log(`firewall provider test skipped: ${unavailable}`);

function inputsFor(security: string): FirewallInputs {
  const loaded = loadSpecText(
    "dev.yaml",
    fs.readFileSync(path.join(ROOT, "config/dev.yaml"), "utf8") + `security:\n${security}`,
  );
  if (!loaded.ok) throw new Error(loaded.errors.map((e) => e.message).join("\n"));
  const plan = buildPlan({ spec: loaded.spec });
  return {
    uri: "qemu:///system",
    table: firewallTableName(plan),
    marker: firewallMarker(plan),
    ruleset: renderFirewall(loaded.spec, plan),
  };
}

describe.skipIf(unavailable !== null)("firewall provider with the real nft (in a namespace)", () => {
  const lab = new NetnsLab();
  let ns = "";
  let nft: NftRunner;
  const base = inputsFor("  admin_user: hyperscaler\n");
  const withFlow = inputsFor('  cross_cluster_flows:\n    - { from: hpc, to: cloud, ports: ["6443/tcp"] }\n');
  const list = (table: string) => lab.exec(ns, "nft", ["list", "table", "inet", table]);
  const OTHER =
    "table inet someone_else {\n\tchain forward {\n\t\ttype filter hook forward priority filter; policy " +
    "accept;\n\t\tip saddr 192.0.2.0/24 counter drop\n\t}\n}\n";

  beforeAll(() => {
    ns = lab.add("fw");
    nft = (command, args, input) => lab.exec(ns, command, args, input);
    expect(lab.exec(ns, "nft", ["-f", "-"], OTHER).code).toBe(0);
  });

  afterAll(() => {
    expect(lab.destroy()).toEqual([]);
  });

  it("create applies the table; a create after lost state adopts the stack's own table", async () => {
    const provider = makeFirewallProvider(nft);
    const created = await provider.create(base);
    expect(created.id).toBe("inet/hyperscaler_hs_dev");
    const outs = created.outs as FirewallOutputs;
    expect(outs.appliedDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(outs.liveDigest).toBe(outs.appliedDigest);
    expect(list(base.table).stdout).toContain(`comment "${base.marker}"`);
    const again = (await provider.create(base)).outs as FirewallOutputs;
    expect(again.appliedDigest).toBe(outs.appliedDigest);
    expect((await provider.read!(created.id, outs)).props).toEqual(outs);
  });

  it("drift: a rule added by hand shows in read, diff asks for an update, update restores the table", async () => {
    const provider = makeFirewallProvider(nft);
    const applied = (await provider.create(base)).outs as FirewallOutputs;
    expect(
      lab.exec(ns, "nft", ["add", "rule", "inet", base.table, "forward", "ip", "saddr", "192.0.2.1", "accept"]).code,
    ).toBe(0);
    const refreshed = (await provider.read!(`inet/${base.table}`, applied)).props as FirewallOutputs;
    expect(refreshed.liveDigest).not.toBe(refreshed.appliedDigest);
    expect(await provider.diff!(`inet/${base.table}`, refreshed, base)).toMatchObject({ changes: true, replaces: [] });
    const repaired = (await provider.update!(`inet/${base.table}`, refreshed, base)).outs as FirewallOutputs;
    expect(repaired.appliedDigest).toBe(applied.appliedDigest);
    expect(list(base.table).stdout).not.toContain("192.0.2.1");
    expect(await provider.diff!(`inet/${base.table}`, repaired, base)).toMatchObject({ changes: false });
  });

  it("update swaps rulesets in one transaction; a ruleset nft refuses leaves the old table as it was", async () => {
    const provider = makeFirewallProvider(nft);
    const before = (await provider.create(base)).outs as FirewallOutputs;
    expect(await provider.diff!(`inet/${base.table}`, before, withFlow)).toMatchObject({ changes: true, replaces: [] });
    const updated = (await provider.update!(`inet/${base.table}`, before, withFlow)).outs as FirewallOutputs;
    expect(list(base.table).stdout).toContain("tcp dport 6443 accept");
    const broken = { ...withFlow, ruleset: withFlow.ruleset.replace("tcp dport 6443 accept", "tcp dport 6443 acept") };
    const listed = list(base.table).stdout;
    await expect(provider.update!(`inet/${base.table}`, updated, broken)).rejects.toThrow(
      /host firewall table inet hyperscaler_hs_dev: nft -f - failed: .*syntax error/s,
    );
    expect(list(base.table).stdout).toBe(listed);
    await provider.update!(`inet/${base.table}`, updated, base);
  });

  it("a table of the same name that the stack did not create is never touched", async () => {
    const provider = makeFirewallProvider(nft);
    const ours = (await provider.create(base)).outs as FirewallOutputs;
    await provider.delete!(`inet/${base.table}`, ours);
    const foreign =
      `table inet ${base.table} {\n\tcomment "hand-made by ops"\n\tchain forward {\n\t\ttype filter hook forward ` +
      `priority filter; policy accept;\n\t}\n}\n`;
    expect(lab.exec(ns, "nft", ["-f", "-"], foreign).code).toBe(0);
    const listed = list(base.table).stdout;
    const refusal =
      'table inet hyperscaler_hs_dev exists and was not created by this stack (its comment is "hand-made by ops", ' +
      'expected "managed by hyperscaler stack hs-dev; do not edit"); it is left untouched';
    await expect(provider.create(base)).rejects.toThrow(refusal);
    await expect(provider.update!(`inet/${base.table}`, ours, withFlow)).rejects.toThrow(refusal);
    await expect(provider.delete!(`inet/${base.table}`, ours)).rejects.toThrow(refusal);
    expect(await provider.read!(`inet/${base.table}`, ours)).toEqual({ id: "", props: {} });
    expect(list(base.table).stdout).toBe(listed);
    expect(lab.exec(ns, "nft", ["delete", "table", "inet", base.table]).code).toBe(0);
  });

  it("delete is idempotent, and read then reports the table gone", async () => {
    const provider = makeFirewallProvider(nft);
    const outs = (await provider.create(base)).outs as FirewallOutputs;
    await provider.delete!(`inet/${base.table}`, outs);
    await provider.delete!(`inet/${base.table}`, outs);
    expect(list(base.table).code).not.toBe(0);
    expect(await provider.read!(`inet/${base.table}`, outs)).toEqual({ id: "", props: {} });
  });

  it("serialized as the engine does, the provider runs create/read/delete from a fresh process", async () => {
    const nsName = ns;
    // The runner is serialized too: like the provider, it loads built-ins at call time.
    const inNamespace: NftRunner = (command, args, input) => {
      const cp = (
        process as unknown as { getBuiltinModule(id: string): typeof import("node:child_process") }
      ).getBuiltinModule("node:child_process");
      const result = cp.spawnSync("ip", ["netns", "exec", nsName, command, ...args], { encoding: "utf8", input });
      return { code: result.status, stdout: result.stdout ?? "", stderr: result.stderr ?? "" };
    };
    const serialized = await pulumi.runtime.serializeFunction(() => makeFirewallProvider(inNamespace), {
      allowSecrets: true,
    });
    expect(serialized.text).not.toMatch(/require\(["'](?!node:)/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hs-fw-serialize-"));
    try {
      const file = path.join(dir, "provider.js");
      fs.writeFileSync(file, serialized.text);
      const script = `
        const provider = require(${JSON.stringify(file)}).handler();
        (async () => {
          const created = await provider.create(JSON.parse(process.argv[1]));
          const read = await provider.read(created.id, created.outs);
          await provider.delete(created.id, created.outs);
          const gone = await provider.read(created.id, created.outs);
          process.stdout.write(JSON.stringify({ created, read, gone }));
        })().catch((error) => { process.stderr.write(String(error && error.stack || error)); process.exit(1); });`;
      const result = spawnSync(process.execPath, ["-e", script, JSON.stringify(base)], {
        encoding: "utf8",
        cwd: os.tmpdir(),
      });
      expect(result.status, result.stderr).toBe(0);
      const { created, read, gone } = JSON.parse(result.stdout);
      expect(created.id).toBe(`inet/${base.table}`);
      expect(read.props.liveDigest).toBe(created.outs.appliedDigest);
      expect(gone).toEqual({ id: "", props: {} });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("never touched another table", () => {
    const other = lab.exec(ns, "nft", ["list", "table", "inet", "someone_else"]);
    expect(other.code).toBe(0);
    expect(other.stdout).toContain("ip saddr 192.0.2.0/24 counter packets 0 bytes 0 drop");
    expect(lab.exec(ns, "nft", ["list", "tables"]).stdout.trim()).toBe("table inet someone_else");
  });
});
