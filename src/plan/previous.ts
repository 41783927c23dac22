// The previous plan (`plan --previous FILE`, the stack's hyperscaler:previousPlan): a plan JSON written by
// `hyperscaler plan --json` or `render`, checked against schemas/plan.schema.json before the planner trusts it.
import { readJsonInput } from "../spec/json-input";
import type { Plan } from "./types";

/** Throws InputError (positioned diagnostics, no stack) when the file is missing, not JSON or not a plan. */
export function loadPreviousPlan(file: string): Plan {
  return readJsonInput<Plan>({
    file,
    what: "previous plan",
    schema: "plan.schema.json",
    howToMake: "give a plan written by `hyperscaler plan --json` (planVersion 1) or render's plan.json",
  });
}
