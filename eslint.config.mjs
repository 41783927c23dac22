// ESLint: typescript-eslint's type-checked rules (they see types, so they catch promises nobody awaits),
// then eslint-config-prettier, which turns off every rule Prettier owns. Run by `npm run lint`.
import js from "@eslint/js";
import prettier from "eslint-config-prettier";
import { defineConfig, globalIgnores } from "eslint/config";
import tseslint from "typescript-eslint";

export default defineConfig(
  globalIgnores(["dist/", "node_modules/", "examples/*/node_modules/", "examples/*/dist/", "test/fixtures/"]),
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      // Each file is checked with the tsconfig.json that includes it (the root one, or an example's own).
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      // The promise rules are the reason this config exists; recommendedTypeChecked has them, say so anyway.
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/await-thenable": "error",
      "@typescript-eslint/require-await": "error",
      "@typescript-eslint/return-await": ["error", "in-try-catch"],
      // The same convention tsc's noUnusedLocals/noUnusedParameters follow: a leading underscore marks a
      // binding kept on purpose (a property left out of a rest spread, a parameter an interface requires).
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none", ignoreRestSiblings: true },
      ],
    },
  },
  {
    // Tests and benchmarks read parsed JSON, YAML and recorded mock inputs (typed `any` by the libraries
    // that produce them) and assert on them with expect(): the assertion is the check, and the no-unsafe-*
    // rules there would ask for a cast before every expect. The library code (src/, components/) keeps them.
    files: ["test/**/*.ts", "bench/**/*.ts"],
    rules: {
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-return": "off",
    },
  },
  {
    // Dynamic providers implement the engine's Promise-returning interface (create/read/update/delete/diff)
    // with synchronous work (virsh, nvidia-smi, nft through spawnSync). `async` keeps every error they throw
    // a rejected promise, which is what the provider host expects; there is nothing for them to await.
    files: ["src/providers/**/*.ts"],
    rules: { "@typescript-eslint/require-await": "off" },
  },
  {
    // The examples import the packed package (`hyperscaler-workstation`), which resolves only where it is
    // installed: test/integration/examples-pack.test.ts type-checks them against the tarball. Here, syntax
    // rules only (type-aware rules would see every import as `any`).
    files: ["examples/**/*.ts"],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    // The JavaScript files (bin/hyperscaler.js, scripts/build-validator.js, this config) are outside the TypeScript
    // project: syntax rules only.
    files: ["**/*.js", "**/*.mjs", "**/*.cjs"],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: {
      sourceType: "commonjs",
      globals: {
        require: "readonly",
        module: "writable",
        __dirname: "readonly",
        process: "readonly",
        console: "readonly",
      },
    },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
  { files: ["**/*.mjs"], languageOptions: { sourceType: "module" } },
  prettier,
);
