// Semantic rules over a schema-valid, defaults-filled spec.
import type { Finding } from "../diagnostics";
import type { ClusterSpec } from "../types";
import { checkAddresses } from "./addresses";
import { RuleContext } from "./context";
import { checkGpus } from "./gpus";
import { checkImages } from "./images";
import { checkIsolation } from "./isolation";
import { checkKubernetes } from "./kubernetes";
import { checkPaths } from "./paths";
import { checkServices } from "./services";
import { checkSlurm } from "./slurm";
import { checkText } from "./text";

export function checkRules(spec: ClusterSpec): { errors: Finding[]; warnings: Finding[] } {
  const ctx = new RuleContext(spec);
  checkAddresses(ctx);
  checkGpus(ctx);
  checkSlurm(ctx);
  checkServices(ctx);
  checkIsolation(ctx);
  checkKubernetes(ctx);
  checkPaths(ctx);
  checkText(ctx);
  checkImages(ctx);
  return { errors: ctx.errors, warnings: ctx.warnings };
}
