/**
 * The data that flows through the request-level workflow: the execution input, the loop state that the
 * expand and advance steps hand each other (its iteration count bounds one execution's history), the pin
 * step's result and the operator waits' answers. Small: counters and targets live in the rollout record.
 */
import type { RequestExecutionInput, RequestPinRecord } from '../core/ports.js';
import type { StepError } from '../workflow/state.js';

export type LoopStatus = 'expanding' | 'expanded' | 'running' | 'awaiting-go' | 'done' | 'continued';

export interface LoopState {
  status: LoopStatus;
  /** Loop iterations of this execution so far (expand and advance together). */
  iteration: number;
  /** How long to wait before the next iteration. */
  waitSeconds: number;
  /** Finished beacons seen at the last iteration (the wait shortens when more finish). */
  finished: number;
}

export const INITIAL_LOOP: LoopState = { status: 'expanding', iteration: 0, waitSeconds: 0, finished: 0 };

/** The pin step's answer: what was done, or what to wait for. */
export interface DecidePinResult {
  action: 'pending' | 'busy' | 'done' | 'await';
  /** The pin as recorded with the rollout (done, await). */
  pin?: RequestPinRecord;
  /** busy: when the step first found the FNMS setting locked by another request, and how long to wait. */
  busySince?: string | null;
  waitSeconds?: number;
}

export const INITIAL_PIN: DecidePinResult = { action: 'pending' };

/** What an operator wait answers (SendTaskSuccess output). */
export interface OperatorAnswer {
  go?: boolean;
  cancelled?: boolean;
  confirmed?: boolean;
  uncovered?: boolean;
  pinId?: string;
  version?: string;
  by?: string;
  at?: string;
}

export interface RequestWorkflowState extends RequestExecutionInput {
  execution: { name: string; startedAt: string };
  loop: LoopState;
  pin: DecidePinResult;
  go?: OperatorAnswer;
  pinConfirmation?: OperatorAnswer;
  /** Caught errors: a wait that timed out (States.Timeout) or a step that failed past its retries. */
  goError?: StepError;
  pinAskError?: StepError;
  pinRemindError?: StepError;
  pinError?: StepError;
  loopError?: StepError;
}
