// vitest setup: the Pulumi mock runtime (program tests read `recorded`), a stable timezone, and removal of
// every directory a test file made with tempDir() once the file is done (its own afterAll hooks run first).
import { afterAll, beforeAll } from "vitest";
import { removeTempDirs } from "./helpers";
import { installMocks } from "./mocks";

process.env.TZ = "UTC";
// Installed as this file loads (setMocks takes effect at once); awaited before the file's first test, so a
// failure to install fails the run instead of going unnoticed.
const mocksInstalled = installMocks();
beforeAll(() => mocksInstalled);
afterAll(() => removeTempDirs());
// Golden images the specs' roles boot by default: a fixture store of manifests (providers are mocked or
// given their own files; no test reads a user's image store).
process.env.HYPERSCALER_IMAGES_DIR = new URL("./fixtures/image-store", `file://${__dirname}/`).pathname;
