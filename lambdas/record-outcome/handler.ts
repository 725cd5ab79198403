/**
 * RecordOutcome: the final per-beacon status and audit event, derived from everything the workflow did. The
 * row becomes final and the request's counters move in one transaction, only if the row is not final yet:
 * a retried step counts nothing twice. A beacon that ended ok adds its release to what the pin ledger knows
 * deployed (the request-level pin never approves an older one).
 */
import { isReleaseVersion } from '../core/fnms/pin.js';
import type { BeaconState, Clock, PinLedger, RequestStore, RolloutStore } from '../core/ports.js';
import { isErrorBeaconState } from '../core/rollout.js';
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
}

export function createRecordOutcomeHandler(deps: RecordOutcomeDeps) {
  return async function recordOutcome(state: WorkflowState): Promise<RecordedOutcome> {
    const recorded = describeOutcome(state, deps);
    const at = deps.clock.now().toISOString();
    const verdict = state.poll?.verdict;
    const commandId = state.poll?.commandId ?? state.command?.commandId;
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
        detail: { summary: recorded.summary, reasons: recorded.reasons, ...(recorded.warnings.length > 0 ? { warnings: recorded.warnings } : {}) },
      });
      deps.countOutcome?.(recorded.state);
    }
    return recorded;
  };
}

export const handler = lambdaEntry(() =>
  createRecordOutcomeHandler({
    store: awsDynamo.requestStore(),
    rollouts: awsDynamo.rolloutStore(),
    ledger: awsDynamo.pinLedger(),
    clock: awsSdk.clock,
    pinMode: optionalEnv(ENV.pinMode) as OutcomeOptions['pinMode'],
    countOutcome: (state) => countMetric(METRICS.beaconOutcomes, 1, { [METRIC_DIMENSIONS.outcome]: state }),
  }),
);
