/** One fleet run in its own process (memory figures of this run only): options as JSON in argv, result as JSON on the last stdout line. */
import { type FleetRunOptions, runFleet } from './fleet.js';

const options = JSON.parse(process.argv[2] ?? '{}') as FleetRunOptions;
const result = await runFleet(options);
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
