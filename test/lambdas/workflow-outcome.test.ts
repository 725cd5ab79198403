/**
 * Which outcome a result means, in the words the requester reads (lambdas/workflow/outcome.ts): the summary
 * of each final state, every reason the branch that ended the workflow knows, and the pinMode none warning.
 */
import { describe, expect, it } from 'vitest';
import type { CommandVerdict } from '../../lambdas/core/command-result.js';
import { describeOutcome } from '../../lambdas/workflow/outcome.js';
import { PIN_MODE_NONE_WARNING, type PollState, type WorkflowState, describeStepError } from '../../lambdas/workflow/state.js';
import { INSTANCE_A } from './fixtures.js';

const base = { requestId: 'r1', instanceId: INSTANCE_A, request: {}, source: 'api', dryRun: false, replyTo: null, receivedAt: '2026-01-01T00:00:00.000Z' };
const state = (changes: Partial<WorkflowState> & { outcome?: { state: string } }): WorkflowState => ({ ...base, ...changes }) as WorkflowState;
const ended = (outcome: string, changes: Partial<WorkflowState> = {}) => describeOutcome(state({ outcome: { state: outcome as never }, ...changes }));

const verdict = (status: CommandVerdict['status'], reasons: string[] = []): CommandVerdict => ({ status, notRun: null, reasons, changed: [], checks: [], beaconVersion: null, captureId: null });
const poll = (changes: Partial<PollState>): PollState => ({
  attempt: 1,
  waitSeconds: 5,
  done: true,
  commandId: 'cmd-1',
  status: 'Success',
  statusDetails: null,
  since: null,
  cancelRequestedAt: null,
  recorded: true,
  failures: { count: 0 },
  verdict: null,
  ...changes,
});

describe('the summary of each final state', () => {
  it('one sentence per state; an unknown state is named as it is', () => {
    const summaries = Object.fromEntries(
      ['ok', 'pin-failed', 'dry-run', 'skipped', 'busy', 'superseded', 'not-run', 'rolled-back', 'failed', 'error', 'cancelled', 'not-started', 'strange'].map((outcome) => [outcome, ended(outcome).summary]),
    );
    expect(summaries).toEqual({
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
      'not-started': "not started: the rollout halted before this beacon's turn",
      strange: 'strange',
    });
  });

  it('no outcome recorded (a step failed before any branch ended) is an error', () => {
    expect(describeOutcome(state({}))).toEqual({ state: 'error', summary: 'the workflow failed before the beacon reported a result', reasons: [], warnings: [] });
  });

  it('a per-beacon rollback names the capture it restored; states it has no words for read as a configure', () => {
    const action = { kind: 'rollback' as const, captureId: 'chg-7' };
    expect(ended('rolled-back', { action }).summary).toBe('rolled back: the capture of request chg-7 restored; the drift check leaves the beacon as it is until its next configure');
    expect(ended('failed', { action }).summary).toBe('the rollback to the capture of request chg-7 did not confirm; see the reasons');
    expect(ended('not-run', { action }).summary).toBe('nothing changed: the rollback to the capture of request chg-7 did not run');
    expect(ended('busy', { action }).summary).toBe('gave up: another request kept the beacon locked');
    expect(ended('odd', { action }).summary).toBe('odd');
  });
});

describe('the reasons', () => {
  it('cancelled: who cancelled and when; a cancel with rollback on a configured beacon says it was rolled back', () => {
    const cancelCheck = { cancelled: true, rollback: false, by: 'alice', at: '2026-01-01T01:00:00Z' };
    expect(ended('cancelled', { cancelCheck }).reasons).toEqual(['the request was cancelled by alice at 2026-01-01T01:00:00Z']);
    expect(ended('rolled-back', { cancelCheck: { ...cancelCheck, rollback: true } }).reasons).toEqual([
      'the request was cancelled with rollback by alice at 2026-01-01T01:00:00Z: the configured beacon was rolled back',
    ]);
    expect(ended('rolled-back', { cancelCheck }).reasons).toEqual([]);
    expect(ended('cancelled', { cancelCheck: { ...cancelCheck, rollback: true } }).reasons).toEqual(['the request was cancelled by alice at 2026-01-01T01:00:00Z']);
    expect(ended('cancelled', { cancelCheck: { ...cancelCheck, cancelled: false } }).reasons).toEqual([]);
    expect(ended('ok', { cancelCheck: { ...cancelCheck, cancelled: false, rollback: true } }).reasons).toEqual([]);
  });

  it('skipped: the resolve step\'s reason; busy: the holder and its lock expiry; superseded: the newer request and when it came', () => {
    const target = { instanceId: INSTANCE_A, eligible: false, computerName: null, reason: 'not managed by SSM' };
    expect(ended('skipped', { target }).reasons).toEqual(['not managed by SSM']);
    expect(ended('ok', { target }).reasons).toEqual([]);
    const lock = { acquired: false, superseded: false, giveUp: true, attempt: 3, firstTriedAt: null, waitSeconds: 30, owner: 'me', expiresAt: '2026-01-01T02:00:00Z', holder: 'exec-9', newer: null };
    expect(ended('busy', { lock }).reasons).toEqual(['the beacon stayed locked by exec-9 (lock until 2026-01-01T02:00:00Z)']);
    expect(ended('busy', { lock: { ...lock, expiresAt: null } }).reasons).toEqual(['the beacon stayed locked by exec-9 (lock until unknown)']);
    expect(ended('busy', { lock: { ...lock, holder: null } }).reasons).toEqual([]);
    expect(ended('failed', { lock }).reasons).toEqual([]);
    const newer = { ...lock, superseded: true, newer: '2026-01-01T00:05:00.000Z#chg#2' };
    expect(ended('superseded', { lock: newer }).reasons).toEqual(['newer request: chg#2 (received 2026-01-01T00:05:00.000Z)']);
    expect(ended('busy', { lock: { ...newer, holder: null } }).reasons).toEqual([]);
  });

  it('a failed send, the configure verdict (not when ok), polls that could not be read (only while not done)', () => {
    expect(ended('error', { sendError: { Error: 'ThrottlingException' } }).reasons).toEqual(['send: ThrottlingException']);
    expect(ended('failed', { poll: poll({ verdict: verdict('failed', ['Common\\https_proxy: expected x']) }) }).reasons).toEqual(['Common\\https_proxy: expected x']);
    expect(ended('ok', { poll: poll({ verdict: verdict('ok', ['note']) }) }).reasons).toEqual([]);
    expect(ended('error', { poll: poll({ done: false, failures: { count: 3 } }) }).reasons).toEqual(["the command's status could not be read (3 failed polls)"]);
    expect(ended('error', { poll: poll({ done: true, failures: { count: 3 } }) }).reasons).toEqual([]);
    expect(ended('error', { poll: poll({ done: false, failures: { count: 0 } }) }).reasons).toEqual([]);
  });

  it('the rollback: its reasons prefixed (also an ok rollback\'s notes), a failed rollback send, its unreadable polls', () => {
    expect(ended('failed', { rollbackPoll: poll({ verdict: verdict('failed', ['x']) }) }).reasons).toEqual(['rollback: x']);
    expect(ended('rolled-back', { rollbackPoll: poll({ verdict: verdict('ok', ['nothing to restore']) }) }).reasons).toEqual(['rollback: nothing to restore']);
    expect(ended('rolled-back', { rollbackPoll: poll({ verdict: verdict('ok') }) }).reasons).toEqual([]);
    expect(ended('failed', { rollbackSendError: { Error: 'States.Timeout' } }).reasons).toEqual(['rollback send: States.Timeout']);
    expect(ended('failed', { rollbackPoll: poll({ done: false, failures: { count: 2 } }) }).reasons).toEqual(['rollback: its status could not be read (2 failed polls)']);
    expect(ended('failed', { rollbackPoll: poll({ done: true, failures: { count: 2 } }) }).reasons).toEqual([]);
    expect(ended('failed', { rollbackPoll: poll({ done: false, failures: { count: 0 } }) }).reasons).toEqual([]);
  });

  it('in the order the workflow met them, each once, the step error last', () => {
    const recorded = ended('failed', {
      sendError: { Error: 'E1' },
      poll: poll({ verdict: verdict('failed', ['same', 'same', 'other']) }),
      rollbackPoll: poll({ verdict: verdict('failed', ['r']) }),
      error: { Error: 'States.TaskFailed', Cause: 'free text' },
    });
    expect(recorded.reasons).toEqual(['send: E1', 'same', 'other', 'rollback: r', 'States.TaskFailed: free text']);
  });
});

describe('the FNMS pin', () => {
  it('pinMode none: a configured beacon carries the warning and says so in its summary; other outcomes do not', () => {
    expect(describeOutcome(state({ outcome: { state: 'ok' } }), { pinMode: 'none' })).toEqual({
      state: 'ok',
      summary: 'configured and verified; FNMS beacon version not pinned (pinMode none)',
      reasons: [],
      warnings: [PIN_MODE_NONE_WARNING],
    });
    expect(describeOutcome(state({ outcome: { state: 'failed' } }), { pinMode: 'none' })).toMatchObject({ summary: 'failed; the rollback did not confirm', warnings: [] });
    expect(describeOutcome(state({ outcome: { state: 'ok' } }), { pinMode: 'gateway' })).toMatchObject({ summary: 'configured and verified', warnings: [] });
  });

  it('a pin step result of older executions: skipped carries its warning; not pinned is a reason with its code; pinned is nothing', () => {
    const skipped = { pinned: false as const, skipped: true as const, code: 'PIN_MODE_NONE' as const, reason: 'none', warning: 'the old warning' };
    expect(ended('ok', { pin: skipped })).toMatchObject({ warnings: ['the old warning'], reasons: [], summary: 'configured and verified; FNMS beacon version not pinned (pinMode none)' });
    expect(ended('rolled-back', { pin: skipped })).toMatchObject({ summary: 'failed and rolled back', warnings: ['the old warning'] });
    expect(ended('pin-failed', { pin: { pinned: false, code: 'FNMS_UNREACHABLE', reason: 'timeout' } })).toMatchObject({ warnings: [], reasons: ['FNMS_UNREACHABLE: timeout'] });
    expect(ended('ok', { pin: { pinned: true, version: '13.2.0', changed: true, from: null } })).toMatchObject({ warnings: [], reasons: [] });
  });
});

describe('the pinMode none warning', () => {
  it('says why it matters and where to set the version', () => {
    expect(PIN_MODE_NONE_WARNING).toBe(
      'FNMS beacon version not pinned (pinMode none): if "Beacon version approved for use" is "Always use the latest version", ' +
        'an automatic beacon upgrade resets the FlexNet Beacon Engine service and upload tasks to LocalSystem and the beacon stops ' +
        'using the proxy; set it to a release in FNMS (Discovery & Inventory > Settings > Beacon settings); the drift check re-applies the profile after an upgrade',
    );
  });
});

describe('a step error in words (describeStepError)', () => {
  it('the Lambda error message when Step Functions passed one, else the error and its cause', () => {
    expect(describeStepError(undefined)).toBeNull();
    expect(describeStepError({ Error: 'States.Timeout' })).toBe('States.Timeout');
    expect(describeStepError({ Error: 'Lambda.Unknown', Cause: JSON.stringify({ errorType: 'TypeError', errorMessage: 'x is undefined' }) })).toBe('TypeError: x is undefined');
    expect(describeStepError({ Error: 'TransientError', Cause: JSON.stringify({ errorMessage: 'try again' }) })).toBe('TransientError: try again');
    expect(describeStepError({ Error: 'States.TaskFailed', Cause: JSON.stringify({ errorType: 'X' }) })).toBe('States.TaskFailed: {"errorType":"X"}');
    expect(describeStepError({ Error: 'States.TaskFailed', Cause: 'not json' })).toBe('States.TaskFailed: not json');
    expect(describeStepError({ Error: 'E', Cause: '' })).toBe('E');
  });
});
