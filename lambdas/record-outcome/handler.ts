/**
 * RecordOutcome: the final per-beacon status and audit event, derived from everything the workflow did. The
 * row becomes final and the request's counters move in one transaction, only if the row is not final yet:
 * a retried step counts nothing twice. A beacon that ended ok adds its release to what the pin ledger knows
 * deployed (the request-level pin never approves an older one). The change trail: one audit record per value
 * changed (a plan: would change; a rollback: put back), with its value before and after; and, when the beacon
 * ends configured and verified, its drift baseline (a separate write).
 */
import { baselineAfterRun } from '../core/baseline.js';
import { isReleaseVersion } from '../core/fnms/pin.js';
import type { BaselineStore, BeaconState, Clock, PinLedger, RequestStore, RolloutStore } from '../core/ports.js';
import { isErrorBeaconState } from '../core/rollout.js';
import { beaconChanges, changeAuditEvents } from '../workflow/changes.js';
import { type OutcomeOptions, describeOutcome } from '../workflow/outcome.js';
import type { RecordedOutcome, WorkflowState } from '../workflow/state.js';
import * as awsDynamo from '../aws/clients/dynamo.js';
import * as awsSdk from '../aws/clients/sdk.js';
import { ENV, METRICS, METRIC_DIMENSIONS } from '../aws/env-names.js';
import { countMetric, lambdaEntry, optionalEnv } from '../aws/runtime.js';

export interface RecordOutcomeDeps extends OutcomeOptions {
  store: RequestStore;
  rollouts: RolloutStore;
  ledger: PinLedger;
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
    const recorded = describeOutcome(state, deps);
    const at = deps.clock.now().toISOString();
    const verdict = state.poll?.verdict;
    const commandId = state.poll?.commandId ?? state.command?.commandId;
    const changes = beaconChanges(state);
    const version = verdict?.beaconVersion ?? null;
    const written = await deps.rollouts.recordBeaconFinal(
      {
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
        ...(state.rollout ? { seq: state.rollout.seq } : {}),
      },
      {
        error: isErrorBeaconState(recorded.state),
        canary: state.rollout?.canary ?? false,
        ...(recorded.state === 'ok' ? { okVersion: version !== null && isReleaseVersion(version) ? version : null } : {}),
      },
    );
    if (written === 'recorded') {
      if (recorded.state === 'ok' && version !== null && isReleaseVersion(version)) await deps.ledger.noteConfiguredVersion(version);
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
    }
    // The change trail and the baseline are idempotent writes: a retry after the row became final still completes them.
    // A few at a time: each is one small conditional put (a repeat is a no-op).
    const trail = changeAuditEvents(state, changes, at);
    for (let i = 0; i < trail.length; i += AUDIT_WRITES_AT_ONCE) {
      await Promise.all(trail.slice(i, i + AUDIT_WRITES_AT_ONCE).map((event) => deps.store.appendAudit(event)));
    }
    const baseline = baselineAfterRun(state, recorded.state, at);
    if (baseline && deps.baselines) await deps.baselines.recordBaseline(baseline);
    return recorded;
  };
}

export const handler = lambdaEntry(() =>
  createRecordOutcomeHandler({
    store: awsDynamo.requestStore(),
    rollouts: awsDynamo.rolloutStore(),
    ledger: awsDynamo.pinLedger(),
    clock: awsSdk.clock,
    baselines: awsDynamo.baselineStore(),
    pinMode: optionalEnv(ENV.pinMode) as OutcomeOptions['pinMode'],
    countOutcome: (state) => countMetric(METRICS.beaconOutcomes, 1, { [METRIC_DIMENSIONS.outcome]: state }),
  }),
);
