/**
 * AdvanceRollout: the request's reconciler. Reads the rollout (cursor, counters, operator actions), asks
 * the pure core (`decideRolloutStep`) what to do, and does it within the function's budget:
 *  - start the next beacons (deterministic execution names, so a repeated start is a no-op): the cursor
 *    moves first with a conditional write and the range is remembered (`pendingStart`) until every
 *    execution of it started, so a step that ends in between is finished by the next one;
 *  - wait (the loop comes back after a wait that shortens when beacons finish);
 *  - pause for an operator's go after the canary;
 *  - halt (failures past maxErrors, a failed canary, no go in time) or stop after a cancel: nothing new
 *    starts, beacons not started get their final row (not-started or cancelled), running ones finish;
 *  - done, once every started beacon is final.
 */
import type { Context } from 'aws-lambda';
import {
  type Clock,
  type FleetMemory,
  type Log,
  type Notifier,
  type RequestExecutionInput,
  type RequestStore,
  type RequestWorkflowStarter,
  type RolloutRecord,
  type RolloutStore,
  ThrottledError,
  type WorkflowStarter,
  silentLog,
} from '../core/ports.js';
import { type HaltReason, type RolloutPlan, type RolloutProgress, decideRolloutStep, describeHalt, planRollout } from '../core/rollout.js';
import { startedMessage } from '../core/rollout-summary.js';
import { type RequestTiming, workBudgetMs } from '../core/timing.js';
import { statusLinkFor, tellRequester } from '../rollout/messages.js';
import type { LoopState } from '../rollout/state.js';
import { WorkBudget, continueAsNew, finalizeNeverStarted } from '../rollout/steps.js';
import * as awsDynamo from '../aws/clients/dynamo.js';
import * as awsSdk from '../aws/clients/sdk.js';
import * as awsSfn from '../aws/clients/sfn.js';
import * as awsSns from '../aws/clients/sns.js';
import { requestTiming } from '../aws/clients/timing.js';
import { ENV } from '../aws/env-names.js';
import { lambdaEntry, log, optionalEnv } from '../aws/runtime.js';

export interface AdvanceRolloutDeps {
  rollouts: RolloutStore;
  store: RequestStore;
  workflows: WorkflowStarter;
  requests: RequestWorkflowStarter;
  notifier: Notifier;
  memory: FleetMemory;
  clock: Clock;
  timing: RequestTiming;
  /** The API's base URL for status links (null: none deployed, e.g. locally). */
  statusUrl: (requestId: string) => string | null;
  log?: Log;
}

export interface AdvanceRolloutEvent extends RequestExecutionInput {
  execution: { name: string };
  loop: LoopState;
  /** `go-timeout`: the wait for an operator's go ran out. */
  signal?: 'go-timeout';
}

export interface InvocationTime {
  getRemainingTimeInMillis(): number;
}

function progressOf(rollout: RolloutRecord): RolloutProgress {
  return {
    started: rollout.started,
    finished: rollout.finished,
    failed: rollout.failed,
    canaryFailed: rollout.canaryFailed,
    goAfterCanary: rollout.go !== null,
    cancelRequested: rollout.cancel !== null,
    goTimedOut: rollout.goTimedOut,
  };
}

/** Rows of the beacons never started are final too: cancelled (an operator stopped the request) or not-started (a halt). */
function notStartedState(rollout: RolloutRecord): { reasons: string[] } {
  if (rollout.cancel) return { reasons: [`the request was cancelled by ${rollout.cancel.by} at ${rollout.cancel.at} before this beacon started; nothing was changed`] };
  return { reasons: [`the rollout halted before this beacon's turn${rollout.halt ? ` (${rollout.halt.detail})` : ''}; nothing was changed`] };
}

export function createAdvanceRolloutHandler(deps: AdvanceRolloutDeps) {
  const logger = deps.log ?? silentLog;
  const timing = deps.timing;

  return async function advanceRollout(event: AdvanceRolloutEvent, context?: InvocationTime): Promise<LoopState> {
    const budget = new WorkBudget(Date.now() + workBudgetMs(context?.getRemainingTimeInMillis() ?? timing.rolloutFunctionTimeoutSeconds * 1000));
    const at = () => deps.clock.now().toISOString();
    const iteration = event.loop.iteration + 1;
    const load = async () => {
      const found = await deps.rollouts.getRollout(event.requestId);
      if (!found) throw new Error(`request ${event.requestId} has no rollout record`);
      return found;
    };
    let rollout = await load();
    let startedNow = false;
    const answer = async (status: LoopState['status']): Promise<LoopState> => {
      const moved = startedNow || rollout.finished !== event.loop.finished;
      const waitSeconds = moved ? timing.firstLoopWaitSeconds : Math.min(timing.maxLoopWaitSeconds, Math.max(timing.firstLoopWaitSeconds, event.loop.waitSeconds * 2));
      if (status === 'running') {
        const continued = await continueAsNew(deps, event, rollout, iteration);
        if (continued) return continued;
      }
      return { status, iteration, waitSeconds: status === 'running' ? waitSeconds : 0, finished: rollout.finished };
    };

    if (event.signal === 'go-timeout' && !rollout.go && !rollout.cancel) {
      await deps.rollouts.patchRollout(event.requestId, { goTimedOut: true, goToken: null, updatedAt: at() }, { phaseIn: ['awaiting-go'], unset: ['go', 'cancel'] });
      rollout = await load();
    }
    if (rollout.outcome || rollout.phase === 'pinning' || rollout.phase === 'awaiting-pin' || rollout.phase === 'ended') return answer('done');

    const plan = planRollout(rollout.spec, rollout.expansion.total);
    const workflowInput = (seq: number, instanceId: string) => ({
      requestId: event.requestId,
      instanceId,
      request: event.request,
      source: event.source,
      dryRun: event.dryRun,
      // Beacons report to the notification topic; the chat hears from the request (one summary).
      replyTo: null,
      receivedAt: event.receivedAt,
      rollout: { seq, canary: seq < plan.canary },
    });
    /** Starts the executions of positions [from, to), 25 at a time. */
    const startRange = async (range: { from: number; to: number }) => {
      const targets = await deps.rollouts.targetsAt(event.requestId, range.from, range.to, timing.targetPageSize);
      for (let index = 0; index < targets.length; index += timing.startBatchSize) {
        await Promise.all(targets.slice(index, index + timing.startBatchSize).map(({ seq, instanceId }) => deps.workflows.startBeaconWorkflow(workflowInput(seq, instanceId))));
      }
    };

    try {
      // A range claimed by a step that ended before starting all of it.
      if (rollout.pendingStart) {
        await startRange(rollout.pendingStart);
        await deps.rollouts.patchRollout(event.requestId, { pendingStart: null, updatedAt: at() });
        rollout = await load();
      }
      for (;;) {
        const step = decideRolloutStep(plan, progressOf(rollout));
        switch (step.action) {
          case 'start': {
            if (!budget.fits()) return await answer('running');
            const to = Math.min(step.to, step.from + timing.startBatchSize);
            const claimed = await deps.rollouts.patchRollout(
              event.requestId,
              { started: to, pendingStart: { from: step.from, to }, phase: 'running', updatedAt: at() },
              { startedEquals: step.from, unset: ['cancel', 'halt', 'outcome'] },
            );
            if (claimed) {
              await budget.measure(async () => {
                await startRange({ from: step.from, to });
                await deps.rollouts.patchRollout(event.requestId, { pendingStart: null, updatedAt: at() });
              });
              startedNow = true;
              if (step.from === 0) {
                await tellRequester(deps, { requestId: event.requestId, event: 'started', state: 'running', text: startedMessage(rollout, plan, deps.statusUrl(event.requestId)), replyTo: event.replyTo, caller: rollout.caller ?? event.caller ?? null });
              }
            }
            rollout = await load();
            continue;
          }
          case 'wait':
            if (rollout.phase !== 'running') await deps.rollouts.patchRollout(event.requestId, { phase: 'running', updatedAt: at() }, { phaseIn: ['expanding', 'awaiting-go'] });
            return await answer('running');
          case 'await-go':
            await deps.rollouts.patchRollout(event.requestId, { phase: 'awaiting-go', updatedAt: at() }, { phaseIn: ['expanding', 'running'] });
            return await answer('awaiting-go');
          case 'stopping':
          case 'done': {
            const reason = step.action === 'stopping' ? step.reason : step.reason === 'completed' ? null : step.reason;
            if (reason) rollout = await recordHalt(rollout, plan, reason);
            // Beacons never started get their final row, within the budget (the next step goes on).
            const finalized = await finalizeNotStarted(rollout, plan, budget);
            rollout = await load();
            if (step.action === 'stopping' || !finalized) {
              if (rollout.phase !== 'stopping') await deps.rollouts.patchRollout(event.requestId, { phase: 'stopping', updatedAt: at() }, { phaseIn: ['expanding', 'running', 'awaiting-go'] });
              return await answer('running');
            }
            await deps.rollouts.patchRollout(event.requestId, { phase: 'pinning', updatedAt: at() }, { phaseIn: ['expanding', 'running', 'awaiting-go', 'stopping'] });
            await deps.store.appendAudit({ requestId: event.requestId, at: at(), event: 'rollout.finished', detail: { started: rollout.started, finished: rollout.finished, failed: rollout.failed, halt: rollout.halt?.reason ?? null } });
            logger.info('rollout finished', { requestId: event.requestId, started: rollout.started, finished: rollout.finished, halt: rollout.halt?.reason ?? null });
            return await answer('done');
          }
        }
      }
    } catch (error) {
      // StartExecution throttled: the claimed range stays pending; the next iteration starts it.
      if (error instanceof ThrottledError) return answer('running');
      throw error;
    }

    async function recordHalt(current: RolloutRecord, rolloutPlan: RolloutPlan, reason: HaltReason): Promise<RolloutRecord> {
      if (current.halt) return current;
      const detail = describeHalt(reason, rolloutPlan, current);
      const written = await deps.rollouts.patchRollout(event.requestId, { halt: { reason, detail, at: at() }, notStartedFrom: Math.max(current.notStartedFrom, current.started), updatedAt: at() }, { unset: ['halt'] });
      if (written) {
        await deps.store.appendAudit({ requestId: event.requestId, at: at(), event: reason === 'cancelled' ? 'rollout.cancelled' : 'rollout.halted', detail: { reason, detail } });
        logger.warn('rollout halted', { requestId: event.requestId, reason, detail });
      }
      return load();
    }

    /** True when every never-started beacon has its final row. */
    async function finalizeNotStarted(current: RolloutRecord, _plan: RolloutPlan, until: WorkBudget): Promise<boolean> {
      const { reasons } = notStartedState(current);
      return finalizeNeverStarted(deps, current, { cancelled: reasons, notStarted: reasons }, until);
    }
  };
}

export const handler = lambdaEntry(() => {
  const apiUrl = optionalEnv(ENV.apiUrl);
  const run = createAdvanceRolloutHandler({
    rollouts: awsDynamo.rolloutStore(),
    store: awsDynamo.requestStore(),
    workflows: awsSfn.workflowStarter(),
    requests: awsSfn.requestStarter(),
    notifier: awsSns.notifier(),
    memory: awsDynamo.fleetMemory(),
    clock: awsSdk.clock,
    timing: requestTiming(),
    statusUrl: statusLinkFor(apiUrl),
    log,
  });
  return (event: AdvanceRolloutEvent, context: Context) => run(event, context);
});
