#!/usr/bin/env node
// Entry point for `npx hyperscaler`: runs the compiled CLI (built by `npm ci` through the prepare script).
"use strict";
const path = require("node:path");
const fs = require("node:fs");
const main = path.join(__dirname, "..", "dist", "src", "cli", "main.js");
if (!fs.existsSync(main)) {
  process.stderr.write(
    "hyperscaler: the CLI is not built yet (missing dist/). Run `npm install` or `npm run build` first.\n",
  );
  process.exit(2);
}
require(main)
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
