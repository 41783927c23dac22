// Build step: emits dist/cluster-validator.js, the cluster.yaml validator compiled ahead of time
// (ajv standalone), so `hyperscaler` does not compile the schema on every start.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const standalone = require("ajv/dist/standalone").default;
const { compileWithAjv } = require("../dist/src/spec/schema.js");

const { validate, ajv } = compileWithAjv({ code: { source: true } });
const out = path.join(__dirname, "..", "dist", "cluster-validator.js");
fs.writeFileSync(out, standalone(ajv, validate));
console.log(`build-validator: wrote ${path.relative(process.cwd(), out)}`);
