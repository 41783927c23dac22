// vitest setup: the Pulumi mock runtime (program tests read `recorded`), a stable timezone, and removal of
// every directory a test file made with tempDir() once the file is done (its own afterAll hooks run first).
import { afterAll } from "vitest";
import { removeTempDirs } from "./helpers";
import { installMocks } from "./mocks";

process.env.TZ = "UTC";
installMocks();
afterAll(() => removeTempDirs());
// Golden images the specs' roles boot by default: a fixture store of manifests (providers are mocked or
// given their own files; no test reads a user's image store).
process.env.HYPERSCALER_IMAGES_DIR = new URL("./fixtures/image-store", `file://${__dirname}/`).pathname;
