/** NotifyRequester: the outcome to the notification topic and, for a Slack command, to its response_url. */
import type { Notifier } from '../core/ports.js';
import { describeOutcome } from '../workflow/outcome.js';
import type { WorkflowState } from '../workflow/state.js';
import * as awsSns from '../aws/clients/sns.js';
import { lambdaEntry } from '../aws/runtime.js';

export interface NotifyRequesterDeps {
  notifier: Notifier;
}

export function createNotifyRequesterHandler(deps: NotifyRequesterDeps) {
  return async function notifyRequester(state: WorkflowState): Promise<{ notified: true }> {
    // RecordOutcome may have failed (its Catch leads here): the outcome is derived again.
    const recorded = state.recorded ?? describeOutcome(state);
    await deps.notifier.notify(
      {
        requestId: state.requestId,
        instanceId: state.instanceId,
        state: recorded.state,
        summary: `${state.instanceId}: ${recorded.summary}`,
        reasons: recorded.reasons,
        ...(recorded.warnings?.length ? { warnings: recorded.warnings } : {}),
      },
      state.replyTo ?? undefined,
    );
    return { notified: true };
  };
}

export const handler = lambdaEntry(() => createNotifyRequesterHandler({ notifier: awsSns.notifier() }));
