// Semantic rules over a schema-valid, defaults-filled spec.
import type { Finding } from "../diagnostics";
import type { ClusterSpec } from "../types";
import { checkAddresses } from "./addresses";
import { RuleContext } from "./context";
import { checkGpus } from "./gpus";
<<<<<<< HEAD
import { checkIsolation } from "./isolation";
=======
import { checkKubernetes } from "./kubernetes";
>>>>>>> k8s
import { checkServices } from "./services";
import { checkSlurm } from "./slurm";

export function checkRules(spec: ClusterSpec): { errors: Finding[]; warnings: Finding[] } {
  const ctx = new RuleContext(spec);
  checkAddresses(ctx);
  checkGpus(ctx);
  checkSlurm(ctx);
  checkServices(ctx);
<<<<<<< HEAD
  checkIsolation(ctx);
=======
  checkKubernetes(ctx);
>>>>>>> k8s
  return { errors: ctx.errors, warnings: ctx.warnings };
}
