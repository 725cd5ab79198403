/**
 * SummarizeRequest: the request workflow's last step. Records how the request ended (completed, halted,
 * cancelled, pin-unconfirmed, pin-failed, failed, no-targets) with the pin's final state (who confirmed and
 * when, or that nobody did), counts it, and sends the one summary: counts by outcome, the failed beacons
 * with their reasons, the pin, where to follow it. Idempotent: a retried step records nothing twice and
 * posts to chat at most once.
 */
import { removeWaiter } from '../core/fnms/pin-ledger.js';
import type { Clock, FleetMemory, Log, Notifier, PinLedger, RequestPinRecord, RequestStore, RolloutRecord, RolloutStore } from '../core/ports.js';
import { silentLog } from '../core/ports.js';
import { ERROR_BEACON_STATES, type RequestOutcomeState, outcomeOfHalt, planRollout } from '../core/rollout.js';
import { SUMMARY_FAILED_BEACONS, describePin, requestSummary } from '../core/rollout-summary.js';
import { statusLinkFor, tellRequester } from '../rollout/messages.js';
import type { RequestWorkflowState } from '../rollout/state.js';
import { PIN_MODE_NONE_WARNING, describeStepError } from '../workflow/state.js';
import * as awsDynamo from '../aws/clients/dynamo.js';
import * as awsSdk from '../aws/clients/sdk.js';
import * as awsSns from '../aws/clients/sns.js';
import { ENV, METRICS, METRIC_DIMENSIONS } from '../aws/env-names.js';
import { countMetric, lambdaEntry, log, optionalEnv } from '../aws/runtime.js';

export interface SummarizeRequestDeps {
  rollouts: RolloutStore;
  store: RequestStore;
  ledger: PinLedger;
  notifier: Notifier;
  memory: FleetMemory;
  clock: Clock;
  statusUrl: (requestId: string) => string | null;
  /** Counts the request's outcome (RequestOutcomes) and an unconfirmed pin (PinUnconfirmed, alarmed). */
  countOutcome?: (outcome: RequestOutcomeState) => void;
  log?: Log;
}

const isTimeout = (error: { Error: string } | undefined) => error?.Error === 'States.Timeout';

/** The pin as it ended, from the pin step's record and the operator waits' answers. */
function finalPin(state: RequestWorkflowState, recorded: RequestPinRecord | null): RequestPinRecord | null {
  if (state.pinError) return { status: 'failed', mode: recorded?.mode ?? 'gateway', version: recorded?.version ?? null, code: state.pinError.Error, reason: describeStepError(state.pinError) };
  if (!recorded || recorded.status !== 'awaiting') return recorded;
  const answer = state.pinConfirmation;
  if (answer?.confirmed) return { ...recorded, status: 'confirmed', version: answer.version ?? recorded.version, pinId: answer.pinId ?? recorded.pinId, confirmedBy: answer.by ?? null, confirmedAt: answer.at ?? null };
  if (answer?.uncovered) return { ...recorded, status: 'failed', code: 'PIN_LOST', reason: 'the pending FNMS value this request waited for disappeared; send the request again to decide its pin' };
  if (isTimeout(state.pinRemindError) || isTimeout(state.pinAskError)) return { ...recorded, status: 'unconfirmed', reason: 'nobody confirmed the FNMS pin in time' };
  const waitError = state.pinRemindError ?? state.pinAskError;
  if (waitError) return { ...recorded, status: 'failed', code: waitError.Error, reason: describeStepError(waitError) };
  return recorded;
}

function outcomeOf(state: RequestWorkflowState, rollout: RolloutRecord, pin: RequestPinRecord | null): { state: RequestOutcomeState; reason: string } {
  if (state.loopError) return { state: 'failed', reason: `the rollout could not go on: ${describeStepError(state.loopError)}` };
  if (rollout.expansion.done && rollout.expansion.total === 0) return { state: 'no-targets', reason: 'no SSM managed instance carries the target tag; nothing to do' };
  const halted = outcomeOfHalt(rollout.halt?.reason ?? null);
  if (halted !== 'completed') return { state: halted, reason: rollout.halt?.detail ?? halted };
  if (pin?.status === 'unconfirmed') return { state: 'pin-unconfirmed', reason: describePin(pin) };
  if (pin?.status === 'failed' || pin?.status === 'refused') return { state: 'pin-failed', reason: describePin(pin) };
  return { state: 'completed', reason: 'every beacon finished' };
}

export function createSummarizeRequestHandler(deps: SummarizeRequestDeps) {
  const logger = deps.log ?? silentLog;
  return async function summarizeRequest(state: RequestWorkflowState): Promise<{ outcome: RequestOutcomeState }> {
    const at = deps.clock.now().toISOString();
    let rollout = await deps.rollouts.getRollout(state.requestId);
    if (!rollout) throw new Error(`request ${state.requestId} has no rollout record`);
    if (!rollout.outcome) {
      const pin = finalPin(state, rollout.pin);
      if (pin?.status === 'unconfirmed') {
        // Nobody waits on this request's token any more.
        for (let attempt = 0; attempt < 10; attempt += 1) {
          const ledger = await deps.ledger.get();
          const next = removeWaiter(ledger, state.requestId);
          if (!next || (await deps.ledger.update(next, ledger.revision))) break;
        }
      }
      const outcome = { ...outcomeOf(state, rollout, pin), at };
      if (await deps.rollouts.patchRollout(state.requestId, { outcome, pin, phase: 'ended', updatedAt: at }, { unset: ['outcome'] })) {
        await deps.store.appendAudit({ requestId: state.requestId, at, event: `request.${outcome.state}`, detail: { reason: outcome.reason, ...(pin ? { pin: { ...pin } } : {}) } });
        deps.countOutcome?.(outcome.state);
        logger.info('request ended', { requestId: state.requestId, outcome: outcome.state, reason: outcome.reason });
      }
      rollout = (await deps.rollouts.getRollout(state.requestId))!;
    }
    const plan = planRollout(rollout.spec, rollout.expansion.total);
    const failed = await deps.rollouts.beaconsInStates(state.requestId, ERROR_BEACON_STATES, SUMMARY_FAILED_BEACONS);
    const pinWarning = rollout.pin?.status === 'none' ? PIN_MODE_NONE_WARNING : null;
    const text = requestSummary({ rollout, plan, failed, statusUrl: deps.statusUrl(state.requestId), pinWarning });
    await tellRequester(deps, { requestId: state.requestId, event: 'summary', state: rollout.outcome!.state, text, replyTo: rollout.replyTo, caller: rollout.caller ?? null, ...(pinWarning ? { warnings: [pinWarning] } : {}) });
    return { outcome: rollout.outcome!.state };
  };
}

export const handler = lambdaEntry(() =>
  createSummarizeRequestHandler({
    rollouts: awsDynamo.rolloutStore(),
    store: awsDynamo.requestStore(),
    ledger: awsDynamo.pinLedger(),
    notifier: awsSns.notifier(),
    memory: awsDynamo.fleetMemory(),
    clock: awsSdk.clock,
    statusUrl: statusLinkFor(optionalEnv(ENV.apiUrl)),
    countOutcome: (outcome) => {
      countMetric(METRICS.requestOutcomes, 1, { [METRIC_DIMENSIONS.outcome]: outcome });
      if (outcome === 'pin-unconfirmed') countMetric(METRICS.pinUnconfirmed);
    },
    log,
  }),
);
