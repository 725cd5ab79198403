import { type RecordedOutcome, type WorkflowState, describeStepError, isPinSkipped } from './state.js';

const SUMMARIES: Record<string, string> = {
  ok: 'configured and verified',
  'pin-failed': 'configured and verified, but the FNMS beacon version was not pinned',
  'dry-run': 'dry run: read-only check of the beacon; any failed check is what a run would change',
  skipped: 'skipped',
  busy: 'gave up: another request kept the beacon locked',
  'rolled-back': 'failed and rolled back',
  failed: 'failed; the rollback did not confirm',
  error: 'the workflow failed before the beacon reported a result',
};

/** The outcome in words: what the branch that ended the workflow knows. */
export function describeOutcome(state: WorkflowState): RecordedOutcome {
  const outcome = state.outcome?.state ?? 'error';
  const reasons: string[] = [];
  const stepError = describeStepError(state.error);
  if (outcome === 'skipped' && state.target?.reason) reasons.push(state.target.reason);
  if (state.verdict && state.verdict.status !== 'ok') reasons.push(...state.verdict.reasons);
  if (state.poll?.timedOut) reasons.push(`no result within the command timeout (last status ${state.poll.status})`);
  if (state.rollbackVerdict && state.rollbackVerdict.status !== 'ok') reasons.push(...state.rollbackVerdict.reasons.map((r) => `rollback: ${r}`));
  if (state.rollbackPoll?.timedOut) reasons.push('rollback: no result within the command timeout');
  const warnings: string[] = [];
  if (isPinSkipped(state.pin)) warnings.push(state.pin.warning);
  else if (state.pin && !state.pin.pinned) reasons.push(`${state.pin.code}: ${state.pin.reason}`);
  if (stepError) reasons.push(stepError);
  const summary = outcome === 'ok' && isPinSkipped(state.pin) ? 'configured and verified; FNMS beacon version not pinned (pinMode none)' : SUMMARIES[outcome] ?? outcome;
  return { state: outcome, summary, reasons, warnings };
}
