/**
 * ExecutionCleanup: the finally of executions that never reached their own. A Step Functions execution that
 * times out, is stopped, or fails outside its Fail states (States.DataLimitExceeded, States.Runtime, a
 * finally step that failed) runs no Catch: EventBridge's "Step Functions Execution Status Change" event
 * brings it here. Releases the beacon's lock if this execution holds it (or keeps it until a command still
 * running must have ended), records a final status when the workflow did not, and tells the requester
 * unless NotifyRequester already did. Every action is conditional, so a redelivered event changes nothing.
 */
import type { EventBridgeEvent } from 'aws-lambda';
import * as z from 'zod/mini';
import { CallerSchema } from '../core/caller.js';
import { isTerminalCommandStatus } from '../core/command-result.js';
import {
  type BeaconCommands,
  type BeaconLock,
  type Clock,
  type FleetMemory,
  type Log,
  type Notifier,
  type RequestStore,
  TERMINAL_BEACON_STATES,
  silentLog,
} from '../core/ports.js';
import type { WorkflowTiming } from '../core/timing.js';
import { notifiedMarkKey, NOTIFIED_MARK_TTL_SECONDS } from '../notify-requester/handler.js';
import * as awsDynamo from '../aws/clients/dynamo.js';
import * as awsSdk from '../aws/clients/sdk.js';
import * as awsSns from '../aws/clients/sns.js';
import * as awsSsm from '../aws/clients/ssm.js';
import { workflowTiming } from '../aws/clients/timing.js';
import { lambdaEntry, log } from '../aws/runtime.js';

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
  replyTo: z.nullish(z.object({ kind: z.literal('slack'), responseUrl: z.string() })),
  caller: z.optional(z.unknown()),
});

export interface ExecutionCleanupDeps {
  store: RequestStore;
  lock: BeaconLock;
  commands: BeaconCommands;
  notifier: Notifier;
  memory: FleetMemory;
  clock: Clock;
  timing: Pick<WorkflowTiming, 'pollDeadlineSeconds' | 'cancelWaitSeconds'>;
  log?: Log;
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
  return async function cleanUp(event: ExecutionStatusEvent): Promise<CleanupResult> {
    const detail = event.detail;
    const parsed = InputSchema.safeParse(safeJson(detail.input));
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
      await deps.store.putBeaconStatus({ ...(beacon ?? {}), requestId, instanceId, state: 'error', updatedAt: at, reasons });
      await deps.store.appendAudit({
        requestId,
        instanceId,
        at,
        event: 'beacon.error',
        ...(caller.success ? { caller: caller.data } : {}),
        detail: { execution: owner, executionStatus: detail.status, error: detail.error ?? null, reasons },
      });
      recorded = true;
    }

    let notified = false;
    const mark = notifiedMarkKey(owner);
    if (!(await deps.memory.isMarked(mark))) {
      const summary = recorded ? 'the workflow ended before it finished; the beacon state is unknown' : `the workflow ended ${detail.status} after recording ${finalState}`;
      await deps.notifier.notify(
        { requestId, instanceId, state: finalState, summary: `${instanceId}: ${summary}`, reasons: recorded ? reasons : (beacon?.reasons ?? reasons), ...(caller.success ? { caller: caller.data } : {}) },
        parsed.data.replyTo ?? undefined,
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
    lock: awsDynamo.beaconLock(),
    commands: awsSsm.beaconCommands(),
    notifier: awsSns.notifier(),
    memory: awsDynamo.fleetMemory(),
    clock: awsSdk.clock,
    timing: workflowTiming(),
    log,
  }),
);
