// The CI trust model (README: "Pull requests and secrets"), checked on the workflow files themselves so
// it cannot regress silently:
// - a job that runs pull-request code gets no secrets, no state passphrase and no self-hosted runner
//   (libvirt lives there), and installs dependencies with --ignore-scripts;
// - pull_request_target (PR code in a context with secrets) is never used;
// - a workflow_run job (trusted context) never checks out or runs code;
// - a job that holds secrets or runs on the workstation runs only for reviewed refs: triggered only by
//   push to main or workflow_dispatch, guarded by `if: github.ref == 'refs/heads/main'`, behind an
//   environment (required reviewers).
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ROOT } from "../helpers";

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, unknown>;
}
interface Job {
  "runs-on"?: unknown;
  if?: string;
  environment?: unknown;
  env?: Record<string, unknown>;
  steps?: Step[];
  needs?: unknown;
}
interface Workflow {
  on: unknown;
  env?: Record<string, unknown>;
  jobs: Record<string, Job>;
}

function triggers(workflow: Workflow): Record<string, unknown> {
  const on = workflow.on;
  if (typeof on === "string") return { [on]: null };
  if (Array.isArray(on)) return Object.fromEntries(on.map((name) => [name, null]));
  return (on ?? {}) as Record<string, unknown>;
}

const SECRET = /secrets\.(?!GITHUB_TOKEN\b)[A-Za-z_]+|PULUMI_CONFIG_PASSPHRASE|PULUMI_ACCESS_TOKEN|hyperscaler-state/;

function selfHosted(job: Job): boolean {
  return JSON.stringify(job["runs-on"] ?? "").includes("self-hosted");
}

function holdsSecrets(workflow: Workflow, job: Job): boolean {
  return SECRET.test(JSON.stringify({ workflowEnv: workflow.env ?? {}, job }));
}

/** Every violation of the model in one workflow file. */
export function violations(name: string, text: string): string[] {
  const workflow = parse(text) as Workflow;
  const on = triggers(workflow);
  const problems: string[] = [];
  if ("pull_request_target" in on)
    problems.push(`${name}: uses pull_request_target (PR code with the base repository's secrets)`);
  const runsPrCode = "pull_request" in on || "pull_request_target" in on;
  for (const [jobName, job] of Object.entries(workflow.jobs ?? {})) {
    const where = `${name}: job ${jobName}`;
    const steps = job.steps ?? [];
    if (runsPrCode) {
      if (holdsSecrets(workflow, job))
        problems.push(`${where} runs PR code and references a secret or the state passphrase`);
      if (selfHosted(job))
        problems.push(`${where} runs PR code on a self-hosted runner (the workstation's libvirt and state)`);
      for (const step of steps) {
        const run = step.run ?? "";
        if (/\bnpm (ci|install|i)\b/.test(run) && !/--ignore-scripts/.test(run))
          problems.push(`${where} installs dependencies without --ignore-scripts: ${run.trim().split("\n")[0]}`);
        if (/qemu:\/\/\/system|virsh|pulumi (preview|up)/.test(run) || /pulumi\/actions/.test(step.uses ?? ""))
          problems.push(`${where} touches libvirt or the Pulumi state`);
      }
    }
    if ("workflow_run" in on) {
      for (const step of steps) {
        if (/actions\/checkout/.test(step.uses ?? ""))
          problems.push(`${where} (workflow_run, trusted context) checks out code`);
        if (/\b(npm|npx|node|bash \S+\.sh)\b/.test(step.run ?? ""))
          problems.push(
            `${where} (workflow_run, trusted context) runs code: ${(step.run ?? "").trim().split("\n")[0]}`,
          );
      }
    }
    if (holdsSecrets(workflow, job) || selfHosted(job)) {
      const allowed = Object.keys(on).every((trigger) => trigger === "push" || trigger === "workflow_dispatch");
      const pushBranches = (on.push as { branches?: string[] } | null | undefined)?.branches;
      if (!allowed)
        problems.push(
          `${where} holds secrets or the workstation but its workflow is triggered by ${Object.keys(on).join(", ")}`,
        );
      if ("push" in on && JSON.stringify(pushBranches) !== JSON.stringify(["main"]))
        problems.push(`${where} holds secrets but runs on pushes to ${JSON.stringify(pushBranches ?? "any branch")}`);
      if (!/github\.ref == 'refs\/heads\/main'/.test(job.if ?? ""))
        problems.push(`${where} holds secrets without if: github.ref == 'refs/heads/main'`);
      if (!job.environment) problems.push(`${where} holds secrets without an environment (required reviewers)`);
    }
  }
  return problems;
}

const DIR = path.join(ROOT, ".github", "workflows");
const FILES = fs.readdirSync(DIR).filter((file) => /\.ya?ml$/.test(file));

describe("CI trust model", () => {
  it.each(FILES)("%s follows the model", (file) => {
    expect(violations(file, fs.readFileSync(path.join(DIR, file), "utf8"))).toEqual([]);
  });

  it("pull requests get a plan diff without secrets, and the secret-holding preview exists for main", () => {
    const pr = parse(fs.readFileSync(path.join(DIR, "pull-request.yml"), "utf8")) as Workflow;
    const diff = pr.jobs["plan-diff"];
    expect(diff.steps?.some((step) => /plan-diff\.sh/.test(step.run ?? ""))).toBe(true);
    expect(JSON.stringify(diff)).not.toMatch(/secrets\./);
    const preview = parse(fs.readFileSync(path.join(DIR, "preview.yml"), "utf8")) as Workflow;
    expect(Object.keys(triggers(preview)).sort()).toEqual(["push", "workflow_dispatch"]);
    expect(selfHosted(preview.jobs.preview)).toBe(true);
    expect(preview.jobs.preview.environment).toBe("workstation");
  });

  it("rejects the workflow issue 17 found (PR code with the passphrase on the workstation)", () => {
    const before = fs.readFileSync(path.join(ROOT, "test/fixtures/workflows/pull-request-issue17.yml"), "utf8");
    const found = violations("before.yml", before);
    expect(found).toEqual(
      expect.arrayContaining([
        "before.yml: job preview runs PR code and references a secret or the state passphrase",
        "before.yml: job preview runs PR code on a self-hosted runner (the workstation's libvirt and state)",
        "before.yml: job preview installs dependencies without --ignore-scripts: npm install --no-audit --no-fund",
        "before.yml: job preview touches libvirt or the Pulumi state",
        "before.yml: job preview holds secrets or the workstation but its workflow is triggered by pull_request",
      ]),
    );
  });

  it("rejects other ways around the model", () => {
    const target = "on: pull_request_target\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps: [{ run: echo }]\n";
    expect(violations("t.yml", target)).toContain(
      "t.yml: uses pull_request_target (PR code with the base repository's secrets)",
    );
    const comment =
      "on: { workflow_run: { workflows: [x] } }\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps: [{ uses: " +
      "actions/checkout@v4 }, { run: npm test }]\n";
    expect(violations("c.yml", comment)).toEqual([
      "c.yml: job a (workflow_run, trusted context) checks out code",
      "c.yml: job a (workflow_run, trusted context) runs code: npm test",
    ]);
    const anyBranch =
      "on: { push: {} }\njobs:\n  a:\n    runs-on: [self-hosted]\n    env: { K: '${{ secrets.KEY }}' }\n    " +
      "steps: [{ run: make }]\n";
    expect(violations("p.yml", anyBranch)).toEqual([
      'p.yml: job a holds secrets but runs on pushes to "any branch"',
      "p.yml: job a holds secrets without if: github.ref == 'refs/heads/main'",
      "p.yml: job a holds secrets without an environment (required reviewers)",
    ]);
  });
});
