// The previous plan (`plan --previous FILE`, the stack's hyperscaler:previousPlan): a plan JSON written by
// `hyperscaler plan --json` or `render`, checked against schemas/plan.schema.json, then for the references
// the schema cannot express, before the planner and the blast radius trust it.
import type { Finding } from "../spec/diagnostics";
import { readJsonInput } from "../spec/json-input";
import { repeatedIndexes } from "../util/duplicates";
import type { Plan } from "./types";

/** Throws InputError (positioned diagnostics, no stack) when the file is missing, not JSON or not a plan. */
export function loadPreviousPlan(file: string): Plan {
  return readJsonInput<Plan>({
    file,
    what: "previous plan",
    schema: "plan.schema.json",
    howToMake: "give a plan written by `hyperscaler plan --json` (planVersion 1) or render's plan.json",
    check: planReferences,
  });
}

/** Names in a plan that must refer to each other: each VM's network and GPUs, one of each name. */
export function planReferences(plan: Plan): Finding[] {
  const findings: Finding[] = [];
  const networks = plan.networks.map((network) => network.name);
  const gpus = plan.gpus.map((gpu) => gpu.id);
  const duplicate = (names: string[], path: (index: number) => string, what: string): void => {
    for (const index of repeatedIndexes(names))
      findings.push({
        path: path(index),
        message: `${what} ${names[index]} appears twice`,
        found: names[index],
        expected: "a unique name",
      });
  };
  duplicate(networks, (i) => `/networks/${i}/name`, "network");
  duplicate(gpus, (i) => `/gpus/${i}/id`, "GPU");
  duplicate(
    plan.vms.map((vm) => vm.name),
    (i) => `/vms/${i}/name`,
    "VM",
  );
  const networkNames = new Set(networks);
  const gpuIds = new Set(gpus);
  const hint = "give the plan JSON the tool wrote, unedited";
  plan.vms.forEach((vm, i) => {
    if (!networkNames.has(vm.network))
      findings.push({
        path: `/vms/${i}/network`,
        message: `VM ${vm.name} is on network ${vm.network}, which the plan does not define`,
        found: vm.network,
        expected: `one of ${networks.join(", ") || "(no networks)"}`,
        hint,
      });
    vm.gpus.forEach((gpu, j) => {
      if (!gpuIds.has(gpu.gpu))
        findings.push({
          path: `/vms/${i}/gpus/${j}/gpu`,
          message: `VM ${vm.name} has a share of GPU ${gpu.gpu}, which the plan does not define`,
          found: gpu.gpu,
          expected: `one of ${gpus.join(", ") || "(no GPUs)"}`,
          hint,
        });
    });
  });
  // Each cluster's VMs carry their cluster's roles, and exactly one controller / control plane.
  const heads = { hpc: "slurm-controller", cloud: "k8s-control-plane" } as const;
  const prefix = { hpc: "slurm-", cloud: "k8s-" } as const;
  for (const cluster of ["hpc", "cloud"] as const) {
    const members = plan.vms.map((vm, i) => ({ vm, i })).filter(({ vm }) => vm.cluster === cluster);
    members
      .filter(({ vm }) => !vm.role.startsWith(prefix[cluster]))
      .forEach(({ vm, i }) =>
        findings.push({
          path: `/vms/${i}/role`,
          message: `VM ${vm.name} of cluster ${cluster} has the role ${vm.role}`,
          found: vm.role,
          expected: `a ${prefix[cluster]}* role`,
          hint,
        }),
      );
    const count = members.filter(({ vm }) => vm.role === heads[cluster]).length;
    if (members.length > 0 && count !== 1)
      findings.push({
        path: "/vms",
        message: `the ${cluster} cluster's VMs have ${count} ${heads[cluster]} VMs`,
        found: count,
        expected: "exactly 1",
        hint,
      });
  }
  return findings;
}
