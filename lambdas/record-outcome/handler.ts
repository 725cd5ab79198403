/**
 * RecordOutcome: the final per-beacon status and audit event, derived from everything the workflow did; and,
 * when the beacon ends configured and verified, its drift baseline (a separate write).
 */
import { baselineAfterRun } from '../core/baseline.js';
import type { BaselineStore, BeaconState, Clock, RequestStore } from '../core/ports.js';
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
  /** The beacons' drift baselines; written only for a run that ends configured and verified (never a dry run). */
  baselines?: BaselineStore;
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
      detail: { summary: recorded.summary, reasons: recorded.reasons, ...(recorded.warnings.length > 0 ? { warnings: recorded.warnings } : {}) },
    });
    deps.countOutcome?.(recorded.state);
    const baseline = baselineAfterRun(state, recorded.state, at);
    if (baseline && deps.baselines) await deps.baselines.recordBaseline(baseline);
    return recorded;
  };
}

export const handler = lambdaEntry(() =>
  createRecordOutcomeHandler({
    store: awsDynamo.requestStore(),
    clock: awsSdk.clock,
    baselines: awsDynamo.baselineStore(),
    countOutcome: (state) => countMetric(METRICS.beaconOutcomes, 1, { [METRIC_DIMENSIONS.outcome]: state }),
  }),
);
