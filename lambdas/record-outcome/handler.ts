/**
 * RecordOutcome: the final per-beacon status and audit event, derived from everything the workflow did; the
 * change trail: one audit record per value changed (a plan: would change; a rollback: put back), with its
 * value before and after; and, when the beacon ends configured and verified, its drift baseline (a separate
 * write).
 */
import { baselineAfterRun } from '../core/baseline.js';
import type { BaselineStore, BeaconState, Clock, RequestStore } from '../core/ports.js';
import { beaconChanges, changeAuditEvents } from '../workflow/changes.js';
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

/** Change records written in parallel by the record step. */
export const AUDIT_WRITES_AT_ONCE = 8;

export function createRecordOutcomeHandler(deps: RecordOutcomeDeps) {
  return async function recordOutcome(state: WorkflowState): Promise<RecordedOutcome> {
    const recorded = describeOutcome(state);
    const at = deps.clock.now().toISOString();
    const verdict = state.poll?.verdict;
    const commandId = state.poll?.commandId ?? state.command?.commandId;
    const changes = beaconChanges(state);
    await deps.store.putBeaconStatus({
      requestId: state.requestId,
      instanceId: state.instanceId,
      state: recorded.state,
      updatedAt: at,
      reasons: recorded.reasons,
      ...(recorded.warnings.length > 0 ? { warnings: recorded.warnings } : {}),
      ...(verdict ? { changed: verdict.changed, checks: verdict.checks, beaconVersion: verdict.beaconVersion } : {}),
      ...(verdict || changes.restored.length > 0 ? { diff: changes.diff, restored: changes.restored } : {}),
      ...(changes.omitted > 0 ? { diffOmitted: changes.omitted } : {}),
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
    // A few at a time: each is one small conditional put (a repeat is a no-op).
    const trail = changeAuditEvents(state, changes, at);
    for (let i = 0; i < trail.length; i += AUDIT_WRITES_AT_ONCE) {
      await Promise.all(trail.slice(i, i + AUDIT_WRITES_AT_ONCE).map((event) => deps.store.appendAudit(event)));
    }
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
