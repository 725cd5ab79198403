/** RecordOutcome: the final per-beacon status and audit event, derived from everything the workflow did. */
import type { BeaconState, Clock, RequestStore } from '../core/ports.js';
import { describeOutcome } from '../workflow/outcome.js';
import type { RecordedOutcome, WorkflowState } from '../workflow/state.js';
import * as awsDynamo from '../aws/clients/dynamo.js';
import * as awsSdk from '../aws/clients/sdk.js';
import { METRICS, METRIC_DIMENSIONS } from '../aws/env-names.js';
import { countMetric, lambdaEntry } from '../aws/runtime.js';

export interface RecordOutcomeDeps {
  store: RequestStore;
  clock: Clock;
  /** Counts the beacon's final state (the dashboard's beacons ok / rolled back / failed). */
  countOutcome?: (state: BeaconState) => void;
}

export function createRecordOutcomeHandler(deps: RecordOutcomeDeps) {
  return async function recordOutcome(state: WorkflowState): Promise<RecordedOutcome> {
    const recorded = describeOutcome(state);
    const at = deps.clock.now().toISOString();
    const verdict = state.poll?.verdict;
    const commandId = state.poll?.commandId ?? state.command?.commandId;
    await deps.store.putBeaconStatus({
      requestId: state.requestId,
      instanceId: state.instanceId,
      state: recorded.state,
      updatedAt: at,
      reasons: recorded.reasons,
      ...(recorded.warnings.length > 0 ? { warnings: recorded.warnings } : {}),
      ...(verdict ? { changed: verdict.changed, checks: verdict.checks, beaconVersion: verdict.beaconVersion } : {}),
      ...(state.pin?.pinned ? { pinnedVersion: state.pin.version } : {}),
      ...(commandId ? { commandId } : {}),
    });
    await deps.store.appendAudit({
      requestId: state.requestId,
      instanceId: state.instanceId,
      at,
      event: `beacon.${recorded.state}`,
      // The beacon's final event names who asked for the request (the workflow input's caller).
      ...(state.caller ? { caller: state.caller } : {}),
      detail: { summary: recorded.summary, reasons: recorded.reasons, ...(recorded.warnings.length > 0 ? { warnings: recorded.warnings } : {}) },
    });
    deps.countOutcome?.(recorded.state);
    return recorded;
  };
}

export const handler = lambdaEntry(() =>
  createRecordOutcomeHandler({
    store: awsDynamo.requestStore(),
    clock: awsSdk.clock,
    countOutcome: (state) => countMetric(METRICS.beaconOutcomes, 1, { [METRIC_DIMENSIONS.outcome]: state }),
  }),
);
