// vitest setup: the Pulumi mock runtime (program tests read `recorded`), and a stable timezone.
import { installMocks } from "./mocks";

process.env.TZ = "UTC";
installMocks();
