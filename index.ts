// The Pulumi stack program: wiring only. Everything it does is the package's buildStack (src/program/stack.ts).
import { buildStack, settingsFromConfig } from "./src";

export = async () => buildStack(settingsFromConfig());
