/** The workflow timings the stack derived and passed to the functions. */
import { parseRequestTiming, parseWorkflowTiming, type RequestTiming, type WorkflowTiming } from '../../core/timing.js';
import { ENV } from '../env-names.js';
import { env } from '../runtime.js';

let timing: WorkflowTiming | undefined;
export const workflowTiming = (): WorkflowTiming => (timing ??= parseWorkflowTiming(env(ENV.workflowTiming)));

let request: RequestTiming | undefined;
export const requestTiming = (): RequestTiming => (request ??= parseRequestTiming(env(ENV.requestTiming)));
