/**
 * NotifyRequester: the beacon's outcome to the notification topic (message attribute kind=beacon). The chat
 * that asked hears from the request instead (one progress reply, one summary): Slack's response_url takes 5
 * posts (a per-beacon day-2 command, outside any rollout, still answers its thread here). Marks the execution notified afterwards, so the cleanup of an execution that ended without its
 * finally knows whether the outcome still has to be published.
 */
import { type FleetMemory, type Notifier, workflowExecutionName } from '../core/ports.js';
import { type OutcomeOptions, describeOutcome } from '../workflow/outcome.js';
import type { WorkflowState } from '../workflow/state.js';
import * as awsDynamo from '../aws/clients/dynamo.js';
import * as awsSns from '../aws/clients/sns.js';
import { ENV } from '../aws/env-names.js';
import { lambdaEntry, optionalEnv } from '../aws/runtime.js';

export interface NotifyRequesterDeps extends OutcomeOptions {
  notifier: Notifier;
  memory: FleetMemory;
}

/** How long the "notified" mark of an execution is kept (longer than any execution). */
export const NOTIFIED_MARK_TTL_SECONDS = 30 * 24 * 60 * 60;

/** The mark NotifyRequester sets once the requester of this execution was told. */
export const notifiedMarkKey = (executionName: string) => `notified:${executionName}`;

export function createNotifyRequesterHandler(deps: NotifyRequesterDeps) {
  return async function notifyRequester(state: WorkflowState): Promise<{ notified: true }> {
    // RecordOutcome may have failed (its Catch leads here): the outcome is derived again.
    const recorded = state.recorded ?? describeOutcome(state, deps);
    await deps.notifier.notify(
      {
        requestId: state.requestId,
        instanceId: state.instanceId,
        kind: 'beacon',
        state: recorded.state,
        summary: `${state.instanceId}: ${recorded.summary}`,
        reasons: recorded.reasons,
        ...(recorded.warnings?.length ? { warnings: recorded.warnings } : {}),
        ...(state.caller ? { caller: state.caller } : {}),
      },
      // A per-beacon command (day 2 rollback/retry: no request rollout) answers its own thread; a rollout's
      // beacons leave chat to the request's one summary.
      state.rollout ? undefined : (state.replyTo ?? undefined),
    );
    await deps.memory.markOnce(notifiedMarkKey(workflowExecutionName(state.requestId, state.instanceId)), NOTIFIED_MARK_TTL_SECONDS);
    return { notified: true };
  };
}

export const handler = lambdaEntry(() =>
  createNotifyRequesterHandler({ notifier: awsSns.notifier(), memory: awsDynamo.fleetMemory(), pinMode: optionalEnv(ENV.pinMode) as OutcomeOptions['pinMode'] }),
);
