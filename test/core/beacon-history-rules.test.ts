/**
 * Per-beacon day-2 decisions (lambdas/core/beacon-history.ts): which capture a rollback restores, which
 * request a retry runs, what is refused with which code and words, and the linked run both start.
 */
import { describe, expect, it } from 'vitest';
import {
  type BeaconHistoryEntry,
  BeaconCommandError,
  appliedSettings,
  decideRetry,
  decideRollback,
  linkedRun,
  linkedRunId,
  parsePageSize,
  requestKind,
  historyRequestedBy,
} from '../../lambdas/core/beacon-history.js';

const I = 'i-0123456789abcdef0';
const entry = (requestId: string, changes: Partial<BeaconHistoryEntry>): BeaconHistoryEntry => ({
  requestId,
  instanceId: I,
  kind: 'configure',
  source: 'api',
  requestedBy: null,
  receivedAt: null,
  state: 'ok',
  updatedAt: '2026-01-01T00:00:00.000Z',
  applied: {},
  reasons: [],
  diff: [{ id: 'x', before: 'a', after: 'b' }],
  restored: [],
  commandId: 'cmd',
  linkedTo: null,
  ...changes,
});
function refused(decide: () => unknown): BeaconCommandError {
  try {
    decide();
  } catch (error) {
    expect(error).toBeInstanceOf(BeaconCommandError);
    return error as BeaconCommandError;
  }
  throw new Error('not refused');
}


const ALICE = { kind: 'iam' as const, arn: 'arn:aws:iam::123456789012:user/alice' };

describe('page sizes', () => {
  it('1 to 100, digits only; 20 when not given', () => {
    expect(parsePageSize(undefined)).toBe(20);
    expect(parsePageSize('1')).toBe(1);
    expect(parsePageSize('100')).toBe(100);
    for (const value of ['0', '101', '1000', 'x', '', '5.5']) expect(refused(() => parsePageSize(value)), value).toMatchObject({ code: 'INVALID_REQUEST', field: 'limit', status: 400, message: 'limit is a whole number from 1 to 100' });
  });
});

describe('a request as the history shows it', () => {
  const record = (changes: Record<string, unknown>) => ({ requestId: 'r1', state: 'accepted', source: 'api', receivedAt: 'x', request: { requestId: 'r1', target: { instanceIds: [I] }, protocol: 'https' }, ...changes }) as never;
  it('rollback, plan or configure; its settings without target and id, a rollback its capture', () => {
    expect(requestKind(null)).toBe('unknown');
    expect(requestKind(record({ request: undefined }))).toBe('unknown');
    expect(requestKind(record({ action: { kind: 'rollback', captureId: 'c1' } }))).toBe('rollback');
    expect(requestKind(record({ request: { dryRun: true } }))).toBe('plan');
    expect(requestKind(record({ request: { dryRun: 'yes' } }))).toBe('configure');
    expect(requestKind(record({}))).toBe('configure');
    expect(appliedSettings(record({}))).toEqual({ protocol: 'https' });
    expect(appliedSettings(record({ action: { kind: 'rollback', captureId: 'c1' } }))).toEqual({ kind: 'rollback', captureId: 'c1' });
    expect(appliedSettings(null)).toBeNull();
  });
});

describe('which capture a rollback restores', () => {
  it('the newest configure still in effect (ok, pin-failed, or failed unconfirmed)', () => {
    expect(decideRollback([entry('r3', { kind: 'plan' }), entry('r2', { state: 'pin-failed' }), entry('r1', {})], I)).toEqual({ captureId: 'r2' });
    expect(decideRollback([entry('r2', { state: 'failed', diff: [] }), entry('r1', {})], I)).toEqual({ captureId: 'r2' });
    expect(decideRollback([entry('r2', { state: 'rolled-back' }), entry('r1', {})], I)).toEqual({ captureId: 'r1' });
    expect(decideRollback([entry('r2', { commandId: null }), entry('r1', {})], I)).toEqual({ captureId: 'r1' });
  });

  it('a run that changed nothing is passed over; only such runs: NO_CAPTURE naming them', () => {
    expect(decideRollback([entry('r2', { diff: [] }), entry('r1', {})], I)).toEqual({ captureId: 'r1' });
    expect(decideRollback([entry('r2', { diff: [], diffOmitted: 2 }), entry('r1', {})], I)).toEqual({ captureId: 'r2' });
    expect(decideRollback([entry('r2', { state: 'pin-failed', diff: [] }), entry('r1', {})], I)).toEqual({ captureId: 'r1' });
    expect(refused(() => decideRollback([entry('r2', { diff: [] }), entry('r1', { diff: [] })], I))).toMatchObject({
      code: 'NO_CAPTURE',
      field: 'instanceId',
      status: 409,
      message: `beacon-proxy's runs on ${I} (r2, r1) found it already as requested and changed nothing, so there is nothing to restore; nothing was changed`,
    });
    expect(refused(() => decideRollback([], I)).message).toBe(`beacon-proxy never changed ${I} (no configure run in its history), so there is no capture to restore; nothing was changed`);
  });

  it('refused while a request runs, and when the last change was already rolled back (naming the capture)', () => {
    expect(refused(() => decideRollback([entry('r2', { state: 'sent' }), entry('r1', {})], I))).toMatchObject({
      code: 'BEACON_BUSY',
      field: 'instanceId',
      status: 409,
      message: `request r2 is still running on ${I} (sent); roll back once it ended`,
    });
    expect(refused(() => decideRollback([entry('rb', { kind: 'rollback', state: 'rolled-back', applied: { kind: 'rollback', captureId: 'r1' } }), entry('r1', {})], I))).toMatchObject({
      code: 'ALREADY_ROLLED_BACK',
      field: 'instanceId',
      message: `${I}'s last change (request r1) was already rolled back by rb at 2026-01-01T00:00:00.000Z; nothing to restore`,
    });
    expect(refused(() => decideRollback([entry('rb', { kind: 'rollback', state: 'rolled-back', applied: null })], I)).message).toMatch(/last change \(request rb\)/);
    expect(decideRollback([entry('rb', { kind: 'rollback', state: 'failed' }), entry('r1', {})], I)).toEqual({ captureId: 'r1' });
  });
});

describe('which request a retry runs', () => {
  it('the newest configure or plan; never a rollback; refused while one runs or when there is none', () => {
    expect(decideRetry([entry('rb', { kind: 'rollback', state: 'rolled-back' }), entry('p1', { kind: 'plan' })], I).requestId).toBe('p1');
    expect(decideRetry([entry('r1', { state: 'failed' })], I).requestId).toBe('r1');
    expect(refused(() => decideRetry([entry('r2', { state: 'locked' })], I))).toMatchObject({ name: 'BeaconCommandError', code: 'BEACON_BUSY', field: 'instanceId', status: 409, message: `request r2 is still running on ${I} (locked); retry once it ended` });
    expect(refused(() => decideRetry([entry('rb', { kind: 'rollback', state: 'rolled-back' })], I))).toMatchObject({
      code: 'NOTHING_TO_RETRY',
      field: 'instanceId',
      status: 409,
      message: `no request of ${I} to run again (its history has no configure or plan)`,
    });
  });
});

describe('the linked run', () => {
  it('its id: kind, beacon and time', () => {
    expect(linkedRunId('rollback', I, new Date('2026-03-04T05:06:07.890Z'))).toBe(`rollback-${I}-20260304T050607890`);
  });

  it('a rollback: the record names the capture, the input carries the action; both sides are audited', () => {
    const run = linkedRun({ requestId: 'rb1', instanceId: I, link: { kind: 'rollback', requestId: 'r1' }, action: { kind: 'rollback', captureId: 'r1' }, caller: ALICE, source: 'api', at: 'T', replyTo: null });
    expect(run.record).toEqual({ requestId: 'rb1', state: 'accepted', source: 'api', receivedAt: 'T', request: { requestId: 'rb1', target: { instanceIds: [I] } }, instanceIds: [I], linkedTo: { kind: 'rollback', requestId: 'r1' }, action: { kind: 'rollback', captureId: 'r1' }, requestedBy: ALICE.arn, caller: ALICE });
    expect(run.input).toEqual({ requestId: 'rb1', instanceId: I, request: { requestId: 'rb1', target: { instanceIds: [I] } }, source: 'api', dryRun: false, replyTo: null, receivedAt: 'T', action: { kind: 'rollback', captureId: 'r1' } });
    expect(run.audit).toEqual([
      { requestId: 'rb1', at: 'T', event: 'request.accepted', instanceId: I, detail: { source: 'api', instanceIds: [I], linkedTo: { kind: 'rollback', requestId: 'r1' }, requestedBy: ALICE.arn } },
      { requestId: 'r1', at: 'T', event: 'request.rolled-back', instanceId: I, detail: { by: 'rb1', requestedBy: ALICE.arn } },
    ]);
  });

  it('a retry of a plan stays a dry run and answers the chat thread; both sides name the caller', () => {
    const replyTo = { kind: 'slack' as const, responseUrl: 'https://hooks.slack.com/x' };
    const slack = { kind: 'slack' as const, teamId: 'T1', userId: 'U1', userName: 'bob' };
    const run = linkedRun({ requestId: 'rt1', instanceId: I, link: { kind: 'retry', requestId: 'p1' }, request: { requestId: 'rt1', dryRun: true }, caller: slack, source: 'chatops', at: 'T', replyTo });
    expect(run.input).toMatchObject({ dryRun: true, replyTo });
    expect('action' in run.input).toBe(false);
    expect(run.record).toMatchObject({ caller: slack, requestedBy: 'Slack T1/U1 (bob)' });
    expect(run.audit[1]).toEqual({ requestId: 'p1', at: 'T', event: 'request.retried', instanceId: I, detail: { by: 'rt1', requestedBy: 'Slack T1/U1 (bob)' } });
  });
});

describe('who asked, as a beacon\'s history names it', () => {
  it('the recorded caller, described, over the older free-text field; that field when no caller was recorded; nothing for no request', () => {
    expect(historyRequestedBy({ caller: ALICE, requestedBy: 'typed by hand' })).toBe(ALICE.arn);
    expect(historyRequestedBy({ caller: ALICE })).toBe(ALICE.arn);
    expect(historyRequestedBy({ caller: undefined, requestedBy: 'ops team' })).toBe('ops team');
    expect(historyRequestedBy({})).toBeNull();
    expect(historyRequestedBy(null)).toBeNull();
  });
});
