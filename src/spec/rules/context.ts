// Shared state of one rules pass: the spec being checked and the findings so far.
import type { Finding } from "../diagnostics";
import type { ClusterSpec } from "../types";

export class RuleContext {
  readonly errors: Finding[] = [];
  readonly warnings: Finding[] = [];
  constructor(readonly spec: ClusterSpec) {}

  error(finding: Finding): void {
    this.errors.push(finding);
  }

  warn(finding: Finding): void {
    this.warnings.push(finding);
  }
}
