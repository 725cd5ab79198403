/**
 * ExecutionCleanup: the finally of executions that never reached their own. A Step Functions execution that
 * times out, is stopped, or fails outside its Fail states (States.DataLimitExceeded, States.Runtime, a
 * finally step that failed) runs no Catch: EventBridge's "Step Functions Execution Status Change" event
 * brings it here, for both state machines.
 *  - A beacon's workflow: releases the beacon's lock if this execution holds it (or keeps it until a
 *    command still running must have ended), records a final status when the workflow did not (moving its
 *    request's counters once), and publishes the outcome unless NotifyRequester already did.
 *  - A request's workflow (its current generation): nothing more starts; beacons never started get their
 *    final row (not-started), the request ends `failed` with the reason, its pin wait is dropped, and the
 *    requester gets the summary. Running beacons finish their own workflows.
 * Every action is conditional, so a redelivered event changes nothing; a cleanup out of time fails and
 * EventBridge's retry goes on from where it stopped.
 */
import type { EventBridgeEvent } from 'aws-lambda';
import * as z from 'zod/mini';
import { CallerSchema } from '../core/caller.js';
import { isTerminalCommandStatus } from '../core/command-result.js';
import { removeWaiter } from '../core/fnms/pin-ledger.js';
import {
  type BeaconCommands,
  type BeaconLock,
  type Clock,
  type FleetMemory,
  type Log,
  type Notifier,
  type PinLedger,
  type RequestStore,
  type RolloutStore,
  TERMINAL_BEACON_STATES,
  TransientError,
  silentLog,
} from '../core/ports.js';
import { ERROR_BEACON_STATES, planRollout } from '../core/rollout.js';
import { SUMMARY_FAILED_BEACONS, requestSummary } from '../core/rollout-summary.js';
import type { RequestTiming, WorkflowTiming } from '../core/timing.js';
import { statusLinkFor, tellRequester } from '../rollout/messages.js';
import { finalizeNeverStarted } from '../rollout/steps.js';
import { notifiedMarkKey, NOTIFIED_MARK_TTL_SECONDS } from '../notify-requester/handler.js';
import * as awsDynamo from '../aws/clients/dynamo.js';
import * as awsSdk from '../aws/clients/sdk.js';
import * as awsSns from '../aws/clients/sns.js';
import * as awsSsm from '../aws/clients/ssm.js';
import { requestTiming, workflowTiming } from '../aws/clients/timing.js';
import { ENV } from '../aws/env-names.js';
import { lambdaEntry, log, optionalEnv } from '../aws/runtime.js';

/** The Fail state errors the workflow ends with by design, after its own finally ran. */
export const DESIGNED_FAILURES = ['BeaconNotConfigured'] as const;

/** The statuses the rule forwards. */
export const CLEANUP_STATUSES = ['TIMED_OUT', 'ABORTED', 'FAILED'] as const;

export const EXECUTION_STATUS_CHANGE = 'Step Functions Execution Status Change';

export interface ExecutionStatusDetail {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: string;
  input?: string | null;
  error?: string | null;
  cause?: string | null;
  stopDate?: number | null;
}

export type ExecutionStatusEvent = EventBridgeEvent<typeof EXECUTION_STATUS_CHANGE, ExecutionStatusDetail>;

const InputSchema = z.looseObject({
  requestId: z.string().check(z.minLength(1)),
  instanceId: z.string().check(z.minLength(1)),
  replyTo: z.nullish(z.looseObject({ kind: z.literal('slack'), responseUrl: z.string() })),
  caller: z.optional(z.unknown()),
  rollout: z.optional(z.object({ seq: z.number(), canary: z.boolean() })),
});

/** The input of a request workflow execution (no instanceId). */
const RequestInputSchema = z.looseObject({
  requestId: z.string().check(z.minLength(1)),
  generation: z.number(),
});

export interface ExecutionCleanupDeps {
  store: RequestStore;
  rollouts: RolloutStore;
  ledger: PinLedger;
  lock: BeaconLock;
  commands: BeaconCommands;
  notifier: Notifier;
  memory: FleetMemory;
  clock: Clock;
  timing: Pick<WorkflowTiming, 'pollDeadlineSeconds' | 'cancelWaitSeconds'>;
  requestTiming: Pick<RequestTiming, 'targetPageSize'>;
  statusUrl?: (requestId: string) => string | null;
  log?: Log;
}

/** What the cleanup of a request workflow's execution did. */
export interface RequestCleanupResult {
  execution: string;
  action: 'none' | 'cleaned';
  /** Rows of never-started beacons made final. */
  finalized: boolean;
  recorded: boolean;
}

export interface CleanupResult {
  execution: string;
  action: 'none' | 'cleaned';
  lock: 'released' | 'not-held' | 'kept-for-running-command';
  recorded: boolean;
  notified: boolean;
}

export function createExecutionCleanupHandler(deps: ExecutionCleanupDeps) {
  const logger = deps.log ?? silentLog;
  async function cleanUpRequest(detail: ExecutionStatusDetail, requestId: string, remainingMs: number): Promise<RequestCleanupResult> {
    const owner = detail.name;
    const none = { execution: owner, action: 'none' as const, finalized: false, recorded: false };
    if (!(CLEANUP_STATUSES as readonly string[]).includes(detail.status)) return none;
    const rollout = await deps.rollouts.getRollout(requestId);
    // Another generation runs on (a continuation), or the request already ended: nothing to finish.
    if (!rollout || rollout.execution !== owner || rollout.outcome) return none;
    const at = deps.clock.now().toISOString();
    const why = `the request workflow execution ${owner} ended ${detail.status}${detail.error ? ` (${detail.error}${detail.cause ? `: ${detail.cause.slice(0, 300)}` : ''})` : ''}`;
    const reasons = [`${why} before this beacon's turn; nothing was changed`];
    const finalized = await finalizeNeverStarted({ rollouts: deps.rollouts, clock: deps.clock, timing: deps.requestTiming }, rollout, { cancelled: reasons, notStarted: reasons }, Date.now() + Math.max(0, remainingMs - 5000));
    // EventBridge retries a failed invocation: the next one goes on from where this one stopped.
    if (!finalized) throw new TransientError(`${requestId}: not every never-started beacon is final yet; the retry goes on`);
    for (let attempt = 0; attempt < 10; attempt += 1) {
      const ledger = await deps.ledger.get();
      const next = removeWaiter(ledger, requestId);
      if (!next || (await deps.ledger.update(next, ledger.revision))) break;
    }
    const pin = rollout.pin?.status === 'awaiting' ? { ...rollout.pin, status: 'unconfirmed' as const, reason: why } : rollout.pin;
    const recorded = await deps.rollouts.patchRollout(requestId, { outcome: { state: 'failed', reason: `${why}; beacons not started were not changed, running beacons finish their own workflows`, at }, pin, phase: 'ended', updatedAt: at }, { unset: ['outcome'] });
    if (recorded) {
      await deps.store.appendAudit({ requestId, at, event: 'request.failed', detail: { execution: owner, executionStatus: detail.status, error: detail.error ?? null } });
      const fresh = (await deps.rollouts.getRollout(requestId))!;
      const failed = await deps.rollouts.beaconsInStates(requestId, ERROR_BEACON_STATES, SUMMARY_FAILED_BEACONS);
      const text = requestSummary({ rollout: fresh, plan: planRollout(fresh.spec, fresh.expansion.total), failed, statusUrl: deps.statusUrl?.(requestId) ?? null });
      await tellRequester(deps, { requestId, event: 'summary', state: 'failed', text, replyTo: fresh.replyTo, caller: fresh.caller ?? null });
    }
    logger.warn('cleaned up a request workflow that ended without its summary', { execution: owner, status: detail.status });
    return { execution: owner, action: 'cleaned', finalized, recorded };
  }

  return async function cleanUp(event: ExecutionStatusEvent, context?: { getRemainingTimeInMillis(): number }): Promise<CleanupResult | RequestCleanupResult> {
    const detail = event.detail;
    const input = safeJson(detail.input);
    const request = RequestInputSchema.safeParse(input);
    if (request.success && (input as { instanceId?: unknown }).instanceId === undefined) {
      return cleanUpRequest(detail, request.data.requestId, context?.getRemainingTimeInMillis() ?? 60_000);
    }
    const parsed = InputSchema.safeParse(input);
    if (!parsed.success) {
      // Not one of ours, or the input was not included (over 256 KB): nothing to attach the cleanup to.
      logger.error('execution status change without a usable workflow input', { execution: detail.executionArn, status: detail.status });
      return { execution: detail.name, action: 'none', lock: 'not-held', recorded: false, notified: false };
    }
    const { requestId, instanceId } = parsed.data;
    const caller = CallerSchema.safeParse(parsed.data.caller);
    const owner = detail.name;
    const designed = detail.status === 'FAILED' && (DESIGNED_FAILURES as readonly string[]).includes(detail.error ?? '');
    if (designed || !(CLEANUP_STATUSES as readonly string[]).includes(detail.status)) {
      // The workflow ran its own finally; releasing again is a no-op when it did.
      const { released } = await deps.lock.release(instanceId, owner);
      return { execution: owner, action: 'none', lock: released ? 'released' : 'not-held', recorded: false, notified: false };
    }

    const now = deps.clock.now();
    const at = now.toISOString();
    const status = await deps.store.getRequestStatus(requestId);
    const beacon = status?.beacons.find((b) => b.instanceId === instanceId);
    const reasons = [`the workflow execution ended ${detail.status}${detail.error ? ` (${detail.error}${detail.cause ? `: ${detail.cause.slice(0, 300)}` : ''})` : ''} before it finished`];

    // A command of this execution still running keeps the beacon locked until it must have ended.
    let lock: CleanupResult['lock'];
    const invocation = beacon?.commandId ? await deps.commands.getInvocation(beacon.commandId, instanceId) : null;
    if (beacon?.commandId && invocation && !isTerminalCommandStatus(invocation.status)) {
      const worst = Math.max(...Object.values(deps.timing.pollDeadlineSeconds)) + deps.timing.cancelWaitSeconds;
      const until = new Date(now.getTime() + worst * 1000);
      const { held } = await deps.lock.holdUntil(instanceId, owner, until);
      lock = held ? 'kept-for-running-command' : 'not-held';
      if (held) reasons.push(`command ${beacon.commandId} was still ${invocation.status}; the beacon stays locked until ${until.toISOString()} at most`);
    } else {
      lock = (await deps.lock.release(instanceId, owner)).released ? 'released' : 'not-held';
    }

    let recorded = false;
    let finalState = beacon?.state ?? 'error';
    if (!beacon || !TERMINAL_BEACON_STATES.includes(beacon.state)) {
      finalState = 'error';
      reasons.push('what the beacon looks like now is not known: run a plan (dry run) for it');
      // The row becomes final and the request's counters move once (the request's rollout waits for it).
      const written = await deps.rollouts.recordBeaconFinal({ ...(beacon ?? {}), requestId, instanceId, state: 'error', updatedAt: at, reasons }, { error: true, canary: parsed.data.rollout?.canary ?? false });
      if (written === 'recorded') {
        await deps.store.appendAudit({
          requestId,
          instanceId,
          at,
          event: 'beacon.error',
          ...(caller.success ? { caller: caller.data } : {}),
          detail: { execution: owner, executionStatus: detail.status, error: detail.error ?? null, reasons },
        });
      }
      recorded = written === 'recorded';
    }

    let notified = false;
    const mark = notifiedMarkKey(owner);
    if (!(await deps.memory.isMarked(mark))) {
      const summary = recorded ? 'the workflow ended before it finished; the beacon state is unknown' : `the workflow ended ${detail.status} after recording ${finalState}`;
      // A per-beacon command (day 2: no request rollout) answers its thread itself; a rollout's beacons leave chat to the request's summary.
      await deps.notifier.notify(
        { requestId, instanceId, kind: 'beacon', state: finalState, summary: `${instanceId}: ${summary}`, reasons: recorded ? reasons : (beacon?.reasons ?? reasons), ...(caller.success ? { caller: caller.data } : {}) },
        parsed.data.rollout ? undefined : (parsed.data.replyTo ?? undefined),
      );
      await deps.memory.markOnce(mark, NOTIFIED_MARK_TTL_SECONDS);
      notified = true;
    }
    logger.warn('cleaned up an execution that ended without its finally', { execution: owner, status: detail.status, lock, recorded, notified });
    return { execution: owner, action: 'cleaned', lock, recorded, notified };
  };
}

function safeJson(text: string | null | undefined): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export const handler = lambdaEntry(() =>
  createExecutionCleanupHandler({
    store: awsDynamo.requestStore(),
    rollouts: awsDynamo.rolloutStore(),
    ledger: awsDynamo.pinLedger(),
    lock: awsDynamo.beaconLock(),
    commands: awsSsm.beaconCommands(),
    notifier: awsSns.notifier(),
    memory: awsDynamo.fleetMemory(),
    clock: awsSdk.clock,
    timing: workflowTiming(),
    requestTiming: requestTiming(),
    statusUrl: statusLinkFor(optionalEnv(ENV.apiUrl)),
    log,
  }),
);
