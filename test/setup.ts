// vitest setup: the Pulumi mock runtime (program tests read `recorded`), and a stable timezone.
import { installMocks } from "./mocks";

process.env.TZ = "UTC";
installMocks();
// Golden images the specs' roles boot by default: a fixture store of manifests (providers are mocked or
// given their own files; no test reads a user's image store).
process.env.HYPERSCALER_IMAGES_DIR = new URL("./fixtures/image-store", `file://${__dirname}/`).pathname;
