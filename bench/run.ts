// Runs every benchmark and prints its figures. `npm run bench`.
import { run as validate } from "./validate.bench";

validate();
