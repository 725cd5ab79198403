import { PIN_MODE_NONE_WARNING, type RecordedOutcome, type WorkflowState, describeStepError, isPinSkipped } from './state.js';

const SUMMARIES: Record<string, string> = {
  ok: 'configured and verified',
  'pin-failed': 'configured and verified, but the FNMS beacon version was not pinned',
  'dry-run': 'dry run: read-only check of the beacon; any failed check is what a run would change',
  skipped: 'skipped',
  busy: 'gave up: another request kept the beacon locked',
  superseded: 'not applied: a newer request for this beacon came first, and its result stands',
  'not-run': 'nothing changed: the configure document did not run on the beacon',
  'rolled-back': 'failed and rolled back',
  failed: 'failed; the rollback did not confirm',
  error: 'the workflow failed before the beacon reported a result',
  cancelled: 'not changed: the request was cancelled before this beacon was configured',
  'not-started': 'not started: the rollout halted before this beacon\'s turn',
};

/** A per-beacon rollback (POST /beacons/{id}/rollback) in words. */
const ROLLBACK_SUMMARIES: Record<string, (captureId: string) => string> = {
  'rolled-back': (captureId) => `rolled back: the capture of request ${captureId} restored; the drift check leaves the beacon as it is until its next configure`,
  failed: (captureId) => `the rollback to the capture of request ${captureId} did not confirm; see the reasons`,
  'not-run': (captureId) => `nothing changed: the rollback to the capture of request ${captureId} did not run`,
};

export interface OutcomeOptions {
  /** The stack's pinMode: with `none`, a configured beacon's outcome carries the warning that nothing is pinned. */
  pinMode?: 'gateway' | 'operator' | 'none';
}

/** The outcome in words: what the branch that ended the workflow knows. */
export function describeOutcome(state: WorkflowState, options: OutcomeOptions = {}): RecordedOutcome {
  const outcome = state.outcome?.state ?? 'error';
  const reasons: string[] = [];
  const cancel = state.cancelCheck?.cancelled ? state.cancelCheck : null;
  if (cancel && outcome === 'cancelled') reasons.push(`the request was cancelled by ${cancel.by} at ${cancel.at}`);
  if (cancel?.rollback && outcome !== 'cancelled') reasons.push(`the request was cancelled with rollback by ${cancel.by} at ${cancel.at}: the configured beacon was rolled back`);
  const stepError = describeStepError(state.error);
  if (outcome === 'skipped' && state.target?.reason) reasons.push(state.target.reason);
  if (outcome === 'busy' && state.lock?.holder) reasons.push(`the beacon stayed locked by ${state.lock.holder} (lock until ${state.lock.expiresAt ?? 'unknown'})`);
  if (outcome === 'superseded' && state.lock?.newer) reasons.push(`newer request: ${state.lock.newer.split('#').slice(1).join('#')} (received ${state.lock.newer.split('#')[0]})`);
  const sendError = describeStepError(state.sendError);
  if (sendError) reasons.push(`send: ${sendError}`);
  const verdict = state.poll?.verdict;
  if (verdict && verdict.status !== 'ok') reasons.push(...verdict.reasons);
  if (state.poll && !state.poll.done && state.poll.failures.count > 0) reasons.push(`the command's status could not be read (${state.poll.failures.count} failed polls)`);
  const rollback = state.rollbackPoll?.verdict;
  if (rollback && rollback.status !== 'ok') reasons.push(...rollback.reasons.map((r) => `rollback: ${r}`));
  if (rollback?.status === 'ok' && rollback.reasons.length > 0) reasons.push(...rollback.reasons.map((r) => `rollback: ${r}`));
  const rollbackSendError = describeStepError(state.rollbackSendError);
  if (rollbackSendError) reasons.push(`rollback send: ${rollbackSendError}`);
  if (state.rollbackPoll && !state.rollbackPoll.done && state.rollbackPoll.failures.count > 0) reasons.push(`rollback: its status could not be read (${state.rollbackPoll.failures.count} failed polls)`);
  const warnings: string[] = [];
  const notPinned = isPinSkipped(state.pin) || (options.pinMode === 'none' && outcome === 'ok');
  if (notPinned) warnings.push(isPinSkipped(state.pin) ? state.pin.warning : PIN_MODE_NONE_WARNING);
  else if (state.pin && !state.pin.pinned) reasons.push(`${state.pin.code}: ${state.pin.reason}`);
  if (stepError) reasons.push(stepError);
  const summary =
    state.action?.kind === 'rollback'
      ? (ROLLBACK_SUMMARIES[outcome]?.(state.action.captureId) ?? SUMMARIES[outcome] ?? outcome)
      : outcome === 'ok' && notPinned
        ? 'configured and verified; FNMS beacon version not pinned (pinMode none)'
        : (SUMMARIES[outcome] ?? outcome);
  return { state: outcome, summary, reasons: [...new Set(reasons)], warnings };
}
