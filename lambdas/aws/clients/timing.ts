/** The workflow timing the stack derived and passed to every workflow function. */
import { parseWorkflowTiming, type WorkflowTiming } from '../../core/timing.js';
import { ENV } from '../env-names.js';
import { env } from '../runtime.js';

let timing: WorkflowTiming | undefined;
export const workflowTiming = (): WorkflowTiming => (timing ??= parseWorkflowTiming(env(ENV.workflowTiming)));
