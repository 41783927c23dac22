import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["test/setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration tests share one libvirtd and one slurmctld: run files one at a time.
    fileParallelism: false,
    reporters: ["default"],
  },
});
