// The Pulumi stack program: wiring only. Everything it does is in src/program/stack.ts.
import { buildStack, settingsFromConfig } from "./src/program/stack";

export = async () => buildStack(settingsFromConfig());
