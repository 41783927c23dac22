// The error every component throws when its props are wrong, before it creates any child resource. A
// RunError: the engine shows the message without a stack trace (bad input, not a bug in the program).
import * as pulumi from "@pulumi/pulumi";

/** What is wrong with a component's props: the value found, the value expected, and the fix. */
export interface ArgsProblem {
  readonly problem: string;
  readonly found: unknown;
  readonly expected: string;
  readonly fix: string;
}

export class ComponentArgsError extends pulumi.RunError {
  readonly component: string;
  readonly resourceName: string;

  constructor(component: string, resourceName: string, what: ArgsProblem) {
    const found =
      typeof what.found === "string" ? JSON.stringify(what.found) : (JSON.stringify(what.found) ?? String(what.found));
    super(
      `${component} "${resourceName}": ${what.problem}; found ${found}, expected ${what.expected}. Fix: ${what.fix}`,
    );
    this.component = component;
    this.resourceName = resourceName;
  }
}

/** Throws for the first problem, if any: components call it before their first child resource. */
export function refuseArgs(
  component: string,
  resourceName: string,
  problems: readonly (ArgsProblem | false | undefined)[],
): void {
  const first = problems.find((p): p is ArgsProblem => Boolean(p));
  if (first) throw new ComponentArgsError(component, resourceName, first);
}
