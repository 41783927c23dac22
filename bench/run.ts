// Runs every benchmark and prints its figures. `npm run bench` (build first: `npm run build`).
import { run as planner } from "./planner.bench";
import { run as probe } from "./probe.bench";
import { run as libvirt } from "./libvirt.bench";
import { run as validate } from "./validate.bench";

validate();
probe();
planner();
void libvirt();
