/**
 * The timing model of the per-beacon workflow, defined once. A handful of input values (the delivery
 * deadline, the poll margin, the cancel wait, how often a rollback is tried) and the documents' own
 * execution timeouts give every other deadline: how long a command is polled, how long the lock is held at
 * worst, how long a second request waits for a busy beacon, the state machine timeout. `deriveWorkflowTiming`
 * computes them and refuses a set that does not nest, so a deployment can never configure a workflow that
 * gives up on a command (and rolls back) while that command may still start or run on the beacon.
 *
 *   SendCommand TimeoutSeconds = delivery deadline: a command not started by then never runs (DeliveryTimedOut)
 *   document step timeoutSeconds = execution limit: the agent stops a script that runs longer (ExecutionTimedOut)
 *   poll deadline(kind)        = delivery + execution(kind) + margin: after it the command cannot be running
 *   cancel wait                = after CancelCommand, how long to wait for a terminal status (Cancelling is not one)
 */
import * as z from 'zod/mini';
import type { BeaconDocumentKind } from './document-contract.js';

/** Each document's step `timeoutSeconds` (the execution limit the SSM Agent enforces); written into the generated documents. */
export const DOCUMENT_EXECUTION_TIMEOUT_SECONDS: Record<BeaconDocumentKind, number> = {
  configure: 900,
  verify: 300,
  rollback: 900,
};

/**
 * What the SendCommand throttle retry is sized for. Every throttled attempt waits a draw between 0 and its
 * series value (JitterStrategy FULL), so attempts win SSM's tokens like a lottery, not a queue: a beacon
 * behind `queueSeconds` of SSM's rate (beacons waiting to send / the SendCommand rate, across requests) runs
 * out of attempts with probability about e^(-W/queueSeconds), W the retrier's expected window (half its
 * series). The retrier keeps that under `runOutProbability` at this depth; deeper queues raise it (README).
 */
export const SEND_THROTTLE_DESIGN = { queueSeconds: 40, runOutProbability: 1e-6 } as const;

/** SendCommand accepts TimeoutSeconds between 30 s and 30 days. */
export const SSM_DELIVERY_TIMEOUT_RANGE = { min: 30, max: 2_592_000 } as const;

/** A Step Functions retrier as the workflow declares it (seconds). */
export interface RetryPolicy {
  intervalSeconds: number;
  backoffRate: number;
  maxAttempts: number;
  maxDelaySeconds: number;
}

/** Fixed parts of the workflow (not deployment settings): retriers, function and task timeouts. */
export const WORKFLOW_CONSTANTS = {
  /** Lambda service errors (`Lambda.ServiceException` ...) on every Task state. */
  lambdaServiceRetry: { intervalSeconds: 2, backoffRate: 2, maxAttempts: 6, maxDelaySeconds: 60 },
  /** ThrottledError, TransientError, a task timeout and a Lambda killed at its timeout (Sandbox.Timedout). */
  generalRetry: { intervalSeconds: 5, backoffRate: 2, maxAttempts: 5, maxDelaySeconds: 60 },
  /**
   * SendCommand throttling across a large fleet: SSM has no published rate, so every workflow of a big tag
   * target competes for it. Short, jittered, capped waits keep the rate in use (a long backoff leaves it
   * idle); enough attempts make running out of them as unlikely as SEND_THROTTLE_DESIGN says.
   */
  sendThrottleRetry: { intervalSeconds: 1, backoffRate: 1.5, maxAttempts: 80, maxDelaySeconds: 15 },
  /** Poll steps: the loop itself tries again, so a failed poll is retried only briefly. */
  pollRetry: { intervalSeconds: 2, backoffRate: 2, maxAttempts: 2, maxDelaySeconds: 10 },
  /** Every workflow function's Lambda timeout, except the pin step's. */
  functionTimeoutSeconds: 30,
  /** The pin step talks to FNMS: its client budgets every call from the time the Lambda has left. */
  pinFunctionTimeoutSeconds: 60,
  /** The cleanup function of executions that ended without their finally. */
  cleanupFunctionTimeoutSeconds: 60,
  /** TimeoutSeconds of every Task state: above every function timeout, so the Lambda's own timeout fires first. */
  taskTimeoutSeconds: 90,
  /** How long the pin step keeps back from its Lambda timeout to answer with a retryable error. */
  pinReserveSeconds: 5,
} as const satisfies Record<string, RetryPolicy | number>;

export const TimingInputSchema = z.object({
  /** SendCommand TimeoutSeconds: a command the beacon has not picked up by then never runs. */
  deliveryTimeoutSeconds: z._default(z.int().check(z.minimum(SSM_DELIVERY_TIMEOUT_RANGE.min), z.maximum(3600)), 600),
  /** Added to delivery + execution before the workflow stops waiting for a command (agent and API lag). */
  pollMarginSeconds: z._default(z.int().check(z.minimum(0), z.maximum(3600)), 120),
  /** After CancelCommand, how long the workflow waits for the command to reach a terminal status. */
  cancelWaitSeconds: z._default(z.int().check(z.minimum(0), z.maximum(3600)), 300),
  /** How many times the rollback document is sent when a rollback did not run or did not confirm. */
  rollbackAttempts: z._default(z.int().check(z.minimum(1), z.maximum(5)), 2),
  firstPollSeconds: z._default(z.int().check(z.minimum(1), z.maximum(300)), 5),
  maxPollSeconds: z._default(z.int().check(z.minimum(1), z.maximum(900)), 60),
  /** Polling a busy beacon's lock: first wait and cap. */
  lockPollSeconds: z._default(z.int().check(z.minimum(1), z.maximum(900)), 30),
  maxLockPollSeconds: z._default(z.int().check(z.minimum(1), z.maximum(3600)), 300),
  /** Optional explicit values; when given they must cover what the other values require. */
  lockTtlSeconds: z.optional(z.int().check(z.minimum(60))),
  busyWaitSeconds: z.optional(z.int().check(z.minimum(0))),
  executionTimeoutSeconds: z.optional(z.int().check(z.minimum(60), z.maximum(31_536_000))),
});
export type TimingInput = z.input<typeof TimingInputSchema>;

/** Everything the workflow, its handlers and the twin need, in seconds. Travels to the functions as JSON. */
export interface WorkflowTiming {
  deliveryTimeoutSeconds: number;
  executionTimeoutSeconds: Record<BeaconDocumentKind, number>;
  pollMarginSeconds: number;
  /** delivery + execution(kind) + margin: after this the command cannot start or run any more. */
  pollDeadlineSeconds: Record<BeaconDocumentKind, number>;
  cancelWaitSeconds: number;
  /** How long a poll step keeps looking for a command whose id the send step could not return. */
  locateDeadlineSeconds: number;
  rollbackAttempts: number;
  firstPollSeconds: number;
  maxPollSeconds: number;
  lockPollSeconds: number;
  maxLockPollSeconds: number;
  /** The longest a workflow holds a beacon's lock (send, poll, cancel, rollback attempts, finally). */
  worstHoldSeconds: number;
  lockTtlSeconds: number;
  /** How long a second request waits for a busy beacon before it gives up: at least the lock TTL. */
  busyWaitSeconds: number;
  /** The state machine timeout: resolve + busy wait + worst hold + finally. */
  stateMachineTimeoutSeconds: number;
  functionTimeoutSeconds: number;
  pinFunctionTimeoutSeconds: number;
  taskTimeoutSeconds: number;
}

/** A timing set that does not nest: refused at synth with the value to change. */
export class TimingConfigError extends Error {
  override readonly name = 'TimingConfigError';
  readonly code = 'TIMING_DOES_NOT_NEST';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** The waits of a retrier without jitter: interval x rate^n, capped (what it can add at most). */
export function retryWaitSeconds(policy: RetryPolicy): number {
  let total = 0;
  for (let attempt = 0; attempt < policy.maxAttempts; attempt += 1) total += Math.min(policy.maxDelaySeconds, policy.intervalSeconds * policy.backoffRate ** attempt);
  return total;
}

/**
 * The worst time one Task state can take: the first attempt up to the function timeout, each retried attempt
 * up to what its error costs (a throttled or refused call answers within seconds; a timeout takes the whole
 * function timeout), and every retrier's waits.
 */
export function stepBudgetSeconds(retries: Array<{ policy: RetryPolicy; attemptSeconds: number }>, functionTimeoutSeconds: number): number {
  return retries.reduce((sum, { policy, attemptSeconds }) => sum + policy.maxAttempts * attemptSeconds + retryWaitSeconds(policy), functionTimeoutSeconds);
}

/** What a failed attempt costs at most, per retrier: SDK-level retries of a throttled or refused call, or a whole function timeout. */
const QUICK_FAILURE_SECONDS = 5;

const roundUp = (seconds: number, step: number) => Math.ceil(seconds / step) * step;

/** After a poll step failed (past its retries) the loop waits this long before the next poll. */
export function pollFailureWaitSeconds(maxPollSeconds: number): number {
  return 2 * maxPollSeconds;
}

/**
 * The poll loops' failure bound: polls that fail (after their retries) before the loop stops waiting. Each
 * failed poll is followed by a wait of `pollFailureWaitSeconds`, so this many failures alone cover the whole
 * command window (poll deadline + cancel wait): by then the command can neither start nor still run.
 */
export function maxPollFailures(pollDeadlineSeconds: number, cancelWaitSeconds: number, maxPollSeconds: number): number {
  return Math.ceil((pollDeadlineSeconds + cancelWaitSeconds) / pollFailureWaitSeconds(maxPollSeconds)) + 1;
}

/**
 * Derives every deadline from the input values and checks that they nest:
 * poll deadline >= delivery + execution + margin; margin and cancel wait >= one poll interval;
 * lock TTL >= worst hold; busy wait >= lock TTL (a waiter outlasts a crashed holder's lock);
 * state machine timeout >= resolve + busy wait + worst hold + finally; task timeout > every function timeout.
 */
export function deriveWorkflowTiming(input: TimingInput = {}): WorkflowTiming {
  const parsed = TimingInputSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new TimingConfigError(issue.path.join('.') || 'timing', `invalid timing value ${issue.path.join('.')}: ${issue.message}`);
  }
  const v = parsed.data;
  const c = WORKFLOW_CONSTANTS;
  const refuse = (field: string, message: string): never => {
    throw new TimingConfigError(field, message);
  };
  if (v.maxPollSeconds < v.firstPollSeconds) refuse('maxPollSeconds', `maxPollSeconds (${v.maxPollSeconds}) must be at least firstPollSeconds (${v.firstPollSeconds})`);
  if (v.pollMarginSeconds < v.maxPollSeconds) {
    refuse('pollMarginSeconds', `pollMarginSeconds (${v.pollMarginSeconds}) must be at least one poll interval (maxPollSeconds ${v.maxPollSeconds}), or a command that ends just before the deadline is never seen`);
  }
  if (v.cancelWaitSeconds < 2 * v.maxPollSeconds) {
    refuse('cancelWaitSeconds', `cancelWaitSeconds (${v.cancelWaitSeconds}) must cover two poll intervals (2 x ${v.maxPollSeconds} s) so Cancelling can be seen turning into Cancelled`);
  }
  if (v.maxLockPollSeconds < v.lockPollSeconds) refuse('maxLockPollSeconds', `maxLockPollSeconds (${v.maxLockPollSeconds}) must be at least lockPollSeconds (${v.lockPollSeconds})`);
  for (const [name, seconds] of [
    ['functionTimeoutSeconds', c.functionTimeoutSeconds],
    ['pinFunctionTimeoutSeconds', c.pinFunctionTimeoutSeconds],
  ] as const) {
    if (seconds >= c.taskTimeoutSeconds) refuse(name, `${name} (${seconds}) must be below the Task timeout (${c.taskTimeoutSeconds}) so the Lambda timeout fires first`);
  }

  const execution = { ...DOCUMENT_EXECUTION_TIMEOUT_SECONDS };
  const pollDeadline = Object.fromEntries(
    (Object.keys(execution) as BeaconDocumentKind[]).map((kind) => [kind, v.deliveryTimeoutSeconds + execution[kind] + v.pollMarginSeconds]),
  ) as Record<BeaconDocumentKind, number>;
  const lambdaService = { policy: c.lambdaServiceRetry, attemptSeconds: QUICK_FAILURE_SECONDS };
  const general = { policy: c.generalRetry, attemptSeconds: c.functionTimeoutSeconds };
  const step = stepBudgetSeconds([lambdaService, general], c.functionTimeoutSeconds);
  const sendStep = stepBudgetSeconds([lambdaService, { policy: c.sendThrottleRetry, attemptSeconds: QUICK_FAILURE_SECONDS }, general], c.functionTimeoutSeconds);
  const pollStep = stepBudgetSeconds([lambdaService, { policy: c.pollRetry, attemptSeconds: c.functionTimeoutSeconds }], c.functionTimeoutSeconds);
  // A command watched to its end: send, then poll until the deadline, cancel and wait for its terminal
  // status; or, when every poll fails, the bounded number of failed polls and their waits.
  const watch = (kind: BeaconDocumentKind) => {
    const polled = pollDeadline[kind] + v.cancelWaitSeconds + v.maxPollSeconds + pollStep;
    const failing = maxPollFailures(pollDeadline[kind], v.cancelWaitSeconds, v.maxPollSeconds) * (pollFailureWaitSeconds(v.maxPollSeconds) + pollStep);
    return sendStep + Math.max(polled, failing);
  };
  const finallySteps = 3 * step;
  const pinStep = stepBudgetSeconds([lambdaService, { policy: c.generalRetry, attemptSeconds: c.pinFunctionTimeoutSeconds }], c.pinFunctionTimeoutSeconds);
  const afterConfigure = Math.max(pinStep, v.rollbackAttempts * (watch('rollback') + v.maxPollSeconds));
  const worstHold = Math.ceil(step /* acquire */ + watch('configure') + afterConfigure + finallySteps);
  const lockTtl = v.lockTtlSeconds ?? roundUp(worstHold + 300, 300);
  if (lockTtl < worstHold) refuse('lockTtlSeconds', `lockTtlSeconds (${lockTtl}) is shorter than the longest time a workflow holds the beacon (${worstHold} s): a holder's lock could expire while its command runs`);
  const busyWait = v.busyWaitSeconds ?? lockTtl;
  if (busyWait < lockTtl) {
    refuse('busyWaitSeconds', `busyWaitSeconds (${busyWait}) is shorter than the lock TTL (${lockTtl} s): a second request would give up before the first one's lock is released or expires`);
  }
  const needed = step /* resolve */ + busyWait + v.maxLockPollSeconds + worstHold;
  const stateMachineTimeout = v.executionTimeoutSeconds ?? roundUp(needed + 600, 900);
  if (stateMachineTimeout < needed) {
    refuse('executionTimeoutSeconds', `executionTimeoutSeconds (${stateMachineTimeout}) is shorter than the worst path (${needed} s: resolve, busy wait ${busyWait} s, hold ${worstHold} s); it would end executions before their finally`);
  }
  return {
    deliveryTimeoutSeconds: v.deliveryTimeoutSeconds,
    executionTimeoutSeconds: execution,
    pollMarginSeconds: v.pollMarginSeconds,
    pollDeadlineSeconds: pollDeadline,
    cancelWaitSeconds: v.cancelWaitSeconds,
    locateDeadlineSeconds: v.deliveryTimeoutSeconds + v.pollMarginSeconds,
    rollbackAttempts: v.rollbackAttempts,
    firstPollSeconds: v.firstPollSeconds,
    maxPollSeconds: v.maxPollSeconds,
    lockPollSeconds: v.lockPollSeconds,
    maxLockPollSeconds: v.maxLockPollSeconds,
    worstHoldSeconds: worstHold,
    lockTtlSeconds: lockTtl,
    busyWaitSeconds: busyWait,
    stateMachineTimeoutSeconds: stateMachineTimeout,
    functionTimeoutSeconds: c.functionTimeoutSeconds,
    pinFunctionTimeoutSeconds: c.pinFunctionTimeoutSeconds,
    taskTimeoutSeconds: c.taskTimeoutSeconds,
  };
}

const seconds = z.number().check(z.nonnegative());
const perKind = z.object({ configure: seconds, verify: seconds, rollback: seconds });
const WorkflowTimingSchema = z.object({
  deliveryTimeoutSeconds: seconds,
  executionTimeoutSeconds: perKind,
  pollMarginSeconds: seconds,
  pollDeadlineSeconds: perKind,
  cancelWaitSeconds: seconds,
  locateDeadlineSeconds: seconds,
  rollbackAttempts: z.int(),
  firstPollSeconds: seconds,
  maxPollSeconds: seconds,
  lockPollSeconds: seconds,
  maxLockPollSeconds: seconds,
  worstHoldSeconds: seconds,
  lockTtlSeconds: seconds,
  busyWaitSeconds: seconds,
  stateMachineTimeoutSeconds: seconds,
  functionTimeoutSeconds: seconds,
  pinFunctionTimeoutSeconds: seconds,
  taskTimeoutSeconds: seconds,
});

/** Reads the timing a function got from the stack (JSON in its environment). */
export function parseWorkflowTiming(json: string): WorkflowTiming {
  return WorkflowTimingSchema.parse(JSON.parse(json)) as WorkflowTiming;
}

/** The poll interval for a given attempt: doubling from the first, capped. */
export function pollWaitSeconds(timing: Pick<WorkflowTiming, 'firstPollSeconds' | 'maxPollSeconds'>, attempt: number): number {
  return Math.min(timing.maxPollSeconds, timing.firstPollSeconds * 2 ** Math.min(Math.max(0, attempt), 16));
}

/**
 * The request-level workflow (one execution per request: expand the target, start the beacons in waves,
 * wait for an operator's go, decide the pin, wait for its confirmation, summarize). Fixed parts.
 */
export const REQUEST_CONSTANTS = {
  /** Function timeout of the steps that work within a budget: expanding the target, advancing the rollout. */
  rolloutFunctionTimeoutSeconds: 60,
  /** What those steps keep back from their remaining time: they stop taking on work and answer before the Lambda is killed. */
  budgetReserveSeconds: 10,
  /** Loop waits of the reconciler: short after it started something or a beacon finished, doubling to the cap when nothing moves. */
  firstLoopWaitSeconds: 5,
  maxLoopWaitSeconds: 60,
  /** DescribeInstanceInformation's largest page: the unit of the expansion checkpoint. */
  targetPageSize: 50,
  /** StartExecution calls made at once by the reconciler; the cursor moves after each batch. */
  startBatchSize: 25,
  /** A request waiting for another request's pin decision (the lock on the FNMS setting) retries this often, at most pinLockWaitSeconds. */
  pinLockRetrySeconds: 15,
  pinLockWaitSeconds: 900,
  /** The lock on the FNMS setting expires this long after a holder took it (above the pin step's worst). */
  pinLockTtlSeconds: 900,
  /** Step Functions ends an execution whose history reaches 25,000 events (platform facts). */
  historyEventLimit: 25_000,
  /** History events of one loop iteration: a Lambda Task (5), the Choice (2) and the Wait (2). */
  eventsPerIteration: 9,
  /** Loop iterations (expanding and advancing) before the execution continues as a new one. */
  iterationsPerExecution: 2000,
  /** Events kept for the states outside the loop and for retried attempts (3 events each). */
  historyReserveEvents: 3000,
  /** Step Functions' longest Standard execution. */
  maxExecutionSeconds: 31_536_000,
} as const;

export const RequestTimingInputSchema = z.object({
  /** How long a rollout with pauseAfterCanary waits for an operator's go; then it halts (no-go). */
  goWaitSeconds: z._default(z.int().check(z.minimum(60), z.maximum(30 * 86_400)), 86_400),
  /** When the operator is reminded of a pin not yet confirmed (once). */
  pinReminderSeconds: z._default(z.int().check(z.minimum(60), z.maximum(30 * 86_400)), 86_400),
  /** When an unconfirmed pin ends the request `pin-unconfirmed`. */
  pinConfirmationSeconds: z._default(z.int().check(z.minimum(120), z.maximum(60 * 86_400)), 259_200),
  /** Optional explicit request workflow timeout; it must cover the worst path. */
  requestTimeoutSeconds: z.optional(z.int().check(z.minimum(3600))),
});
export type RequestTimingInput = z.input<typeof RequestTimingInputSchema>;

/** Every deadline of the request workflow, in seconds (travels to its functions as JSON). */
export interface RequestTiming {
  goWaitSeconds: number;
  pinReminderSeconds: number;
  pinConfirmationSeconds: number;
  rolloutFunctionTimeoutSeconds: number;
  budgetReserveSeconds: number;
  firstLoopWaitSeconds: number;
  maxLoopWaitSeconds: number;
  targetPageSize: number;
  startBatchSize: number;
  pinLockRetrySeconds: number;
  pinLockWaitSeconds: number;
  pinLockTtlSeconds: number;
  iterationsPerExecution: number;
  /** The worst history of one execution (loop at its bound, the waits, the pin, retries reserved). */
  worstHistoryEvents: number;
  /** The worst time one execution takes: its loop iterations, the go wait, the pin phase, the summary. */
  worstExecutionSeconds: number;
  /** The request workflow's timeout (>= worstExecutionSeconds). */
  stateMachineTimeoutSeconds: number;
}

/**
 * Derives the request workflow's deadlines and checks that they nest: the reminder comes before the pin's
 * deadline; one execution's worst history stays under Step Functions' 25,000 events (the loop continues as
 * a new execution after `iterationsPerExecution`); the state machine timeout covers the worst path (every
 * loop iteration at its longest wait and slowest step, the go wait, the wait for the pin lock, the pin
 * decision and its confirmation with the reminder, the summary) and is within a year.
 */
export function deriveRequestTiming(input: RequestTimingInput = {}): RequestTiming {
  const parsed = RequestTimingInputSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new TimingConfigError(issue.path.join('.') || 'timing', `invalid request timing value ${issue.path.join('.')}: ${issue.message}`);
  }
  const v = parsed.data;
  const r = REQUEST_CONSTANTS;
  const c = WORKFLOW_CONSTANTS;
  if (v.pinReminderSeconds >= v.pinConfirmationSeconds) {
    throw new TimingConfigError('pinReminderSeconds', `the pin reminder (${v.pinReminderSeconds} s) must come before the pin's deadline (pinConfirmationSeconds ${v.pinConfirmationSeconds} s)`);
  }
  const lambdaService = { policy: c.lambdaServiceRetry, attemptSeconds: QUICK_FAILURE_SECONDS };
  const loopStep = stepBudgetSeconds([lambdaService, { policy: c.generalRetry, attemptSeconds: r.rolloutFunctionTimeoutSeconds }], r.rolloutFunctionTimeoutSeconds);
  const step = stepBudgetSeconds([lambdaService, { policy: c.generalRetry, attemptSeconds: c.functionTimeoutSeconds }], c.functionTimeoutSeconds);
  const pinStep = stepBudgetSeconds([lambdaService, { policy: c.generalRetry, attemptSeconds: c.pinFunctionTimeoutSeconds }], c.pinFunctionTimeoutSeconds);
  const loop = r.iterationsPerExecution * (r.maxLoopWaitSeconds + loopStep);
  const go = v.goWaitSeconds + step;
  const pinLockRetries = Math.ceil(r.pinLockWaitSeconds / r.pinLockRetrySeconds);
  const pin = pinLockRetries * (r.pinLockRetrySeconds + pinStep) + pinStep + v.pinConfirmationSeconds + 2 * step;
  const worst = Math.ceil(loop + go + pin + step /* summary */);
  // Outside the loop: start and end (2), the first Pass (2), the go wait (6) and its return (Task 5 + Choice 2),
  // the pin lock retries (9 each), the pin step and its Choice (7), both confirmation waits (6 each), the summary (5), the end state (2).
  const fixedEvents = 2 + 2 + 6 + 7 + pinLockRetries * r.eventsPerIteration + 7 + 12 + 5 + 2;
  const worstHistoryEvents = r.iterationsPerExecution * r.eventsPerIteration + fixedEvents + r.historyReserveEvents;
  if (worstHistoryEvents > r.historyEventLimit) {
    throw new TimingConfigError('iterationsPerExecution', `one request execution could reach ${worstHistoryEvents} history events, over Step Functions' ${r.historyEventLimit}`);
  }
  const timeout = v.requestTimeoutSeconds ?? roundUp(worst + 3600, 3600);
  if (timeout < worst) {
    throw new TimingConfigError('requestTimeoutSeconds', `the request workflow timeout (${timeout} s) is shorter than its worst path (${worst} s: the rollout loop, the go wait ${v.goWaitSeconds} s, the pin confirmation ${v.pinConfirmationSeconds} s)`);
  }
  if (timeout > r.maxExecutionSeconds) {
    throw new TimingConfigError('requestTimeoutSeconds', `the request workflow timeout (${timeout} s) is longer than a Standard execution may run (${r.maxExecutionSeconds} s); shorten the go or pin waits`);
  }
  return {
    goWaitSeconds: v.goWaitSeconds,
    pinReminderSeconds: v.pinReminderSeconds,
    pinConfirmationSeconds: v.pinConfirmationSeconds,
    rolloutFunctionTimeoutSeconds: r.rolloutFunctionTimeoutSeconds,
    budgetReserveSeconds: r.budgetReserveSeconds,
    firstLoopWaitSeconds: r.firstLoopWaitSeconds,
    maxLoopWaitSeconds: r.maxLoopWaitSeconds,
    targetPageSize: r.targetPageSize,
    startBatchSize: r.startBatchSize,
    pinLockRetrySeconds: r.pinLockRetrySeconds,
    pinLockWaitSeconds: r.pinLockWaitSeconds,
    pinLockTtlSeconds: r.pinLockTtlSeconds,
    iterationsPerExecution: r.iterationsPerExecution,
    worstHistoryEvents,
    worstExecutionSeconds: worst,
    stateMachineTimeoutSeconds: timeout,
  };
}

const RequestTimingSchema = z.object({
  goWaitSeconds: seconds,
  pinReminderSeconds: seconds,
  pinConfirmationSeconds: seconds,
  rolloutFunctionTimeoutSeconds: seconds,
  budgetReserveSeconds: seconds,
  firstLoopWaitSeconds: seconds,
  maxLoopWaitSeconds: seconds,
  targetPageSize: z.int(),
  startBatchSize: z.int(),
  pinLockRetrySeconds: seconds,
  pinLockWaitSeconds: seconds,
  pinLockTtlSeconds: seconds,
  iterationsPerExecution: z.int(),
  worstHistoryEvents: z.int(),
  worstExecutionSeconds: seconds,
  stateMachineTimeoutSeconds: seconds,
});

/** Reads the request timing a function got from the stack (JSON in its environment). */
export function parseRequestTiming(json: string): RequestTiming {
  return RequestTimingSchema.parse(JSON.parse(json)) as RequestTiming;
}

/** How long a step that works within a budget may still take on work: its remaining time minus the reserve (or a tenth of it, whichever is smaller). */
export function workBudgetMs(remainingMs: number, reserveSeconds: number = REQUEST_CONSTANTS.budgetReserveSeconds): number {
  return Math.max(0, remainingMs - Math.min(reserveSeconds * 1000, remainingMs / 10));
}
