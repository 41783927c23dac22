// Regenerates the cluster.yaml reference inside README.md from schemas/cluster.schema.json.
import * as fs from "node:fs";
import * as path from "node:path";
import { spliceReference } from "../src/spec/reference";

const readme = path.join(__dirname, "..", "README.md");
fs.writeFileSync(readme, spliceReference(fs.readFileSync(readme, "utf8")));
console.log("README.md reference regenerated");
