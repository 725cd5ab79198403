/** Shared by the request workflow's steps: the first rollout record and continuing as a new execution. */
import { type Clock, type RequestExecutionInput, type RequestWorkflowStarter, type RolloutRecord, type RolloutStore, requestExecutionName } from '../core/ports.js';
import type { RolloutSpec } from '../core/rollout.js';
import type { RequestTiming } from '../core/timing.js';
import type { LoopState } from './state.js';

/** The rollout of a request whose workflow just started: nothing expanded, nothing started. */
export function initialRollout(event: RequestExecutionInput & { execution: { name: string } }, spec: RolloutSpec, at: string): RolloutRecord {
  return {
    requestId: event.requestId,
    phase: 'expanding',
    spec,
    dryRun: event.dryRun,
    generation: event.generation,
    execution: event.execution.name,
    expansion: { pages: 0, total: 0, nextToken: null, done: false },
    canary: 0,
    started: 0,
    pendingStart: null,
    finished: 0,
    failed: 0,
    canaryFailed: 0,
    counts: {},
    okVersions: {},
    unknownVersions: 0,
    go: null,
    goTimedOut: false,
    cancel: null,
    halt: null,
    notStartedFrom: 0,
    goToken: null,
    pin: null,
    outcome: null,
    replyTo: event.replyTo,
    ...(event.caller ? { caller: event.caller } : {}),
    createdAt: at,
    updatedAt: at,
  };
}

/**
 * After `iterationsPerExecution` loop iterations the execution hands over to a new one (generation + 1,
 * named deterministically) and ends: Step Functions ends an execution whose history reaches 25,000 events.
 * The new execution resumes from the rollout record. Null when it is not time yet.
 */
export async function continueAsNew(
  deps: { rollouts: RolloutStore; requests: RequestWorkflowStarter; clock: Clock; timing: Pick<RequestTiming, 'iterationsPerExecution'> },
  event: RequestExecutionInput,
  rollout: RolloutRecord,
  iteration: number,
): Promise<LoopState | null> {
  if (iteration < deps.timing.iterationsPerExecution) return null;
  const generation = event.generation + 1;
  const name = requestExecutionName(event.requestId, generation);
  // A retried step finds the generation already moved: it starts the same (already started) execution again, a no-op.
  await deps.rollouts.patchRollout(event.requestId, { generation, execution: name, updatedAt: deps.clock.now().toISOString() }, { generationEquals: event.generation });
  await deps.requests.startRequestWorkflow({
    requestId: event.requestId,
    request: event.request,
    source: event.source,
    dryRun: event.dryRun,
    replyTo: event.replyTo,
    receivedAt: event.receivedAt,
    generation,
  });
  return { status: 'continued', iteration, waitSeconds: 0, finished: rollout.finished };
}

/**
 * Gives every beacon that never started (positions from the cursor on) its final row: cancelled when an
 * operator cancelled the request, not-started otherwise. Works until `deadline` (epoch ms) and remembers
 * where it stopped; true once every such row is final.
 */
export async function finalizeNeverStarted(
  deps: { rollouts: RolloutStore; clock: Clock; timing: Pick<RequestTiming, 'targetPageSize'> },
  rollout: RolloutRecord,
  reasons: { cancelled: string[]; notStarted: string[] },
  deadline: number | WorkBudget,
): Promise<boolean> {
  const total = rollout.expansion.total;
  let from = Math.max(rollout.notStartedFrom, rollout.started);
  const state = rollout.cancel ? 'cancelled' : 'not-started';
  const budget = deadline instanceof WorkBudget ? deadline : new WorkBudget(deadline);
  while (from < total) {
    if (!budget.fits()) return false;
    const to = Math.min(total, from + 100);
    await budget.measure(async () => {
      const targets = await deps.rollouts.targetsAt(rollout.requestId, from, to, deps.timing.targetPageSize);
      const at = deps.clock.now().toISOString();
      await deps.rollouts.finalizeNotStarted(rollout.requestId, targets, state, state === 'cancelled' ? reasons.cancelled : reasons.notStarted, at);
      await deps.rollouts.patchRollout(rollout.requestId, { notStartedFrom: to, updatedAt: at });
    });
    from = to;
  }
  return true;
}

/**
 * A step's time budget (epoch ms deadline) measured in units of work (a page, a batch of starts): a unit is
 * taken on only when the slowest one so far still fits before the deadline, so a slow store or API ends
 * the step with an answer instead of the function being stopped mid-unit (the first unit always runs: the
 * checkpoint moves on every invocation).
 */
export class WorkBudget {
  private slowestMs = 0;
  private units = 0;
  constructor(readonly deadline: number) {}

  /** Whether another unit fits. */
  fits(): boolean {
    return this.units === 0 || Date.now() + this.slowestMs <= this.deadline;
  }

  async measure<T>(unit: () => Promise<T>): Promise<T> {
    const started = Date.now();
    try {
      return await unit();
    } finally {
      this.units += 1;
      this.slowestMs = Math.max(this.slowestMs, Date.now() - started);
    }
  }
}
