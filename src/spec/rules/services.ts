// Service rules: MLflow needs its backing stores, and image overrides are complete.
import type { RuleContext } from "./context";

export function checkServices(ctx: RuleContext): void {
  const { services, images } = ctx.spec;
  if (ctx.spec.clusters.cloud && services.mlflow.enabled) {
    for (const dependency of ["postgresql", "minio"] as const) {
      if (!services[dependency].enabled) {
        ctx.error({
          path: `/services/${dependency}/enabled`,
          message:
            `mlflow is enabled but ${dependency} is not; ` +
            `MLflow stores ${dependency === "postgresql" ? "runs in PostgreSQL" : "artifacts in MinIO"}`,
          found: false,
          expected: "true",
          hint: `enable ${dependency}, or set services.mlflow.enabled: false`,
        });
      }
    }
  }
  if (images.checksum !== undefined && images.path === undefined) {
    ctx.error({
      path: "/images/checksum",
      atKey: true,
      message: "images.checksum is set without images.path; catalog images carry their own checksum",
      found: images.checksum,
      expected: "checksum together with path",
      hint: "add images.path, or remove images.checksum",
    });
  }
}
