// Every rendered user-data passes the real `cloud-init schema -c`.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { buildPlan } from "../../src/plan";
import { renderAll } from "../../src/render/files";
import { cloudInitLayers } from "../../src/render/layers";
import { loadSpecText } from "../../src/spec/load";
import { ROOT, tempDir } from "../helpers";

function schemaCheck(file: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn("cloud-init", ["schema", "-c", file]);
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("close", (code) => resolve({ code, output }));
  });
}

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJq9dHsK7yYpXwqW5xB2rV0cTn8m7lQ3cZs9aE4d1f2g admin@workstation";
const CONFIGS = [
  "config/dev.yaml",
  "config/prod.yaml",
  ...fs.readdirSync(path.join(ROOT, "config/examples")).map((f) => `config/examples/${f}`),
];

describe("cloud-init schema", () => {
  it.each(CONFIGS)("every user-data of %s is valid cloud-config", async (file) => {
    let text = fs.readFileSync(path.join(ROOT, file), "utf8");
    if (file.endsWith("dev.yaml")) text += `security:\n  ssh_authorized_keys: ["${KEY}"]\n`;
    const loaded = loadSpecText(file, text);
    if (!loaded.ok) throw new Error(file);
    const plan = buildPlan({ spec: loaded.spec });
    const dir = tempDir("hs-ci-");
    const userData = [...renderAll(loaded.spec, plan, { layers: cloudInitLayers(loaded.spec, plan) })].filter(
      ([name]) => name.endsWith("/user-data"),
    );
    expect(userData.length).toBe(plan.vms.length);
    const results = await Promise.all(
      userData.map(async ([name, content]) => {
        const target = path.join(dir, name.replace(/\//g, "_"));
        fs.writeFileSync(target, content);
        return { name, ...(await schemaCheck(target)) };
      }),
    );
    for (const result of results) expect(result.code, `${result.name}: ${result.output}`).toBe(0);
  });
});
