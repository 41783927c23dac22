import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["test/setup.ts"],
    // A temporary directory per run; the run fails if tests leave anything in it (test/global-setup.ts).
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration tests share one libvirtd and one slurmctld: run files one at a time.
    fileParallelism: false,
    reporters: ["default"],
  },
});
