// Host firewall: rendering prod's ruleset, and applying it through the provider (ownership check, one
// nft transaction, listing for the drift digest) against a bare `nft -f` of the same transaction as the
// baseline. Runs inside a network namespace it creates and removes (needs root and nft).
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { buildPlan } from "../src/plan";
import { makeFirewallProvider, type FirewallOutputs } from "../src/providers/firewall";
import { firewallMarker, firewallTableName, renderFirewall } from "../src/render/firewall";
import { loadSpecText } from "../src/spec/load";
import { NetnsLab, netnsUnavailable } from "../test/integration/netns-lab";
import { report, ROOT, summarise, timeSync } from "./lib";

async function timeAsync(runs: number, fn: () => Promise<void>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    await fn();
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return samples;
}

export async function run(): Promise<void> {
  console.log("== host firewall (nft in a namespace) ==");
  const text =
    fs.readFileSync(path.join(ROOT, "config/prod.yaml"), "utf8") +
    'security:\n  allowed_cidrs: ["203.0.113.0/24"]\n  cross_cluster_flows:\n    - { from: hpc, to: cloud, ' +
    'ports: ["6443/tcp"] }\n';
  const loaded = loadSpecText("prod.yaml", text);
  if (!loaded.ok) throw new Error("prod.yaml with security does not load");
  const plan = buildPlan({ spec: loaded.spec });
  report(
    summarise(
      "render prod ruleset",
      timeSync(500, () => void renderFirewall(loaded.spec, plan)),
    ),
  );
  const unavailable = netnsUnavailable();
  if (unavailable) {
    console.log(`apply skipped: ${unavailable}`);
    return;
  }
  const lab = new NetnsLab();
  try {
    const ns = lab.add("bench");
    const inputs = {
      uri: "qemu:///system",
      table: firewallTableName(plan),
      marker: firewallMarker(plan),
      ruleset: renderFirewall(loaded.spec, plan),
    };
    const transaction = `add table inet ${inputs.table}\ndelete table inet ${inputs.table}\n${inputs.ruleset}`;
    const bare = summarise(
      "nft -f (bare transaction, baseline)",
      timeSync(30, () => {
        const result = spawnSync("ip", ["netns", "exec", ns, "nft", "-f", "-"], {
          input: transaction,
          encoding: "utf8",
        });
        if (result.status !== 0) throw new Error(result.stderr);
      }),
    );
    report(bare);
    const provider = makeFirewallProvider((command, args, input) => lab.exec(ns, command, args, input));
    let outs = (await provider.create(inputs)).outs as FirewallOutputs;
    report(
      summarise(
        "provider update (check owner, apply, digest)",
        await timeAsync(30, async () => {
          outs = (await provider.update!(`inet/${inputs.table}`, outs, inputs)).outs as FirewallOutputs;
        }),
      ),
      bare,
    );
    report(
      summarise(
        "provider read (drift digest)",
        await timeAsync(30, async () => void (await provider.read!(`inet/${inputs.table}`, outs))),
      ),
      bare,
    );
  } finally {
    const left = lab.destroy();
    if (left.length) console.log(`namespaces left: ${left.join(", ")}`);
  }
}
