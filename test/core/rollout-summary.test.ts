/**
 * What a request tells its requester (lambdas/core/rollout-summary.ts), word for word: the plan in one line,
 * the started message, the go question, the counts, the one summary (failed beacons, halt, cancel, pin,
 * warning, reason) and each pin line. These are the few messages chat ever gets.
 */
import { describe, expect, it } from 'vitest';
import type { BeaconStatusRecord, RequestPinRecord, RolloutRecord } from '../../lambdas/core/ports.js';
import { type RolloutPlan, ROLLOUT_DEFAULTS } from '../../lambdas/core/rollout.js';
import {
  SUMMARY_FAILED_BEACONS,
  describeCounts,
  describePin,
  describePlan,
  followLines,
  goRequestMessage,
  messageText,
  requestDisplayState,
  requestSummary,
  rolloutStatusLines,
  startedMessage,
} from '../../lambdas/core/rollout-summary.js';
import { initialRollout } from '../../lambdas/rollout/steps.js';

const plan = (changes: Partial<RolloutPlan> = {}): RolloutPlan => ({ total: 10, waves: [{ from: 0, to: 10 }] as never, canary: 0, maxConcurrency: 5, maxErrors: 10, pauseAfterCanary: false, ...changes });
const AT = '2026-01-01T00:00:00.000Z';
const rollout = (changes: Partial<RolloutRecord> = {}): RolloutRecord => ({
  ...initialRollout({ requestId: 'chg-1', request: {}, source: 'api', dryRun: false, replyTo: null, receivedAt: AT, generation: 0, execution: { name: 'chg-1' } }, ROLLOUT_DEFAULTS.tag, AT),
  ...changes,
});
const FOLLOW = 'Follow it: status chg-1 (chat), beacon-proxy status chg-1 --stack <name>';

describe('the plan in one line', () => {
  it('one beacon, no canary, no stop', () => {
    expect(describePlan(plan({ total: 1, waves: [{ from: 0, to: 1 }] as never, maxConcurrency: 1, maxErrors: 1 }))).toBe('1 beacon, at most 1 at once, no stop on failures');
  });

  it('a canary with a go, waves after it (the largest named), and the failure that stops it', () => {
    const waves = [{ from: 0, to: 2 }, { from: 2, to: 12 }, { from: 12, to: 32 }, { from: 32, to: 40 }];
    expect(describePlan(plan({ total: 40, waves: waves as never, canary: 2, pauseAfterCanary: true, maxConcurrency: 10, maxErrors: 0 }))).toBe(
      '40 beacons, canary of 2, then a go from an operator, 3 waves of up to 20, at most 10 at once, stops after 1 failure',
    );
    expect(describePlan(plan({ total: 40, waves: waves as never, canary: 2, maxErrors: 39 }))).toBe('40 beacons, canary of 2, 3 waves of up to 20, at most 5 at once, stops after 40 failures');
  });

  it('one wave after the canary is not called waves; without a canary every wave counts', () => {
    expect(describePlan(plan({ total: 10, waves: [{ from: 0, to: 1 }, { from: 1, to: 10 }] as never, canary: 1 }))).toBe('10 beacons, canary of 1, at most 5 at once, no stop on failures');
    expect(describePlan(plan({ total: 10, waves: [{ from: 0, to: 4 }, { from: 4, to: 10 }] as never }))).toBe('10 beacons, 2 waves of up to 6, at most 5 at once, no stop on failures');
  });
});

describe('messages while it runs', () => {
  it('started: the plan, what follows, where to follow it (with the status URL when there is one)', () => {
    expect(startedMessage({ requestId: 'chg-1', dryRun: false }, plan(), null)).toEqual({
      title: 'Request chg-1 started',
      lines: ['Rollout: 10 beacons, at most 5 at once, no stop on failures.', 'One summary follows here when every beacon is final.', FOLLOW],
    });
    expect(startedMessage({ requestId: 'chg-1', dryRun: true }, plan(), 'https://api/requests/chg-1')).toMatchObject({
      title: 'Request chg-1 started (dry run: read-only checks)',
      lines: [expect.any(String), expect.any(String), `${FOLLOW}, or https://api/requests/chg-1`],
    });
    expect(followLines('chg-1', null)).toEqual([FOLLOW]);
  });

  it('the go question: the canary counts, how to go, how to stop, the deadline', () => {
    expect(goRequestMessage({ requestId: 'chg-1', counts: { ok: 2 } }, plan({ canary: 2, total: 12 }), '2026-01-02T00:00:00Z', null)).toEqual({
      title: 'Request chg-1: the canary finished; waiting for your go',
      lines: [
        'The canary (2 beacons) ended: 2 ok.',
        'To start the other 10 beacons: go chg-1 (chat), POST /requests/chg-1/go, or beacon-proxy go chg-1 --stack <name>.',
        'To stop here: cancel chg-1. Without a go by 2026-01-02T00:00:00Z the request halts and the other beacons are not started.',
        FOLLOW,
      ],
    });
    expect(goRequestMessage({ requestId: 'chg-1', counts: {} }, plan({ canary: 1, total: 2 }), 'x', null).lines.slice(0, 2)).toEqual([
      'The canary (1 beacon) ended: none finished.',
      'To start the other 1 beacon: go chg-1 (chat), POST /requests/chg-1/go, or beacon-proxy go chg-1 --stack <name>.',
    ]);
  });

  it('counts: most frequent first, then by name; dashes read as spaces; zeros left out', () => {
    expect(describeCounts({ 'rolled-back': 1, ok: 3, 'not-run': 1, failed: 0, busy: 3 })).toBe('3 busy, 3 ok, 1 not run, 1 rolled back');
    expect(describeCounts({ ok: 0 })).toBe('none finished');
  });
});

describe('the one summary', () => {
  const failedBeacon = (n: number, reasons?: string[]): BeaconStatusRecord => ({ requestId: 'chg-1', instanceId: `i-${n}`, state: 'rolled-back', updatedAt: AT, ...(reasons ? { reasons } : {}) });

  it('a completed request: its title, the counts, where to follow it', () => {
    const summary = requestSummary({ rollout: rollout({ started: 10, counts: { ok: 10 }, outcome: { state: 'completed', reason: 'all done', at: AT } }), plan: plan(), failed: [], statusUrl: null });
    expect(summary).toEqual({ title: 'Request chg-1 completed', lines: ['10 beacons: 10 ok.', FOLLOW] });
    expect(messageText(summary)).toBe(`Request chg-1 completed\n10 beacons: 10 ok.\n${FOLLOW}`);
  });

  it('beacons never started are counted as not started, or cancelled after a cancel; the halt and the cancel are said', () => {
    const halted = requestSummary({
      rollout: rollout({ dryRun: true, started: 4, failed: 2, counts: { ok: 2, 'rolled-back': 2 }, halt: { reason: 'max-errors', detail: '', at: AT }, outcome: { state: 'pin-failed', reason: 'hidden by the halt', at: AT } }),
      plan: plan({ maxErrors: 1 }),
      failed: [],
      statusUrl: null,
    });
    expect(halted.title).toBe('Request chg-1 pin failed (dry run)');
    expect(halted.lines).toEqual(['10 beacons: 6 not started, 2 ok, 2 rolled back.', 'Stopped: 2 beacon(s) failed, more than maxErrors (1): 6 beacon(s) were not started.', FOLLOW]);
    const cancelled = requestSummary({
      rollout: rollout({ started: 3, counts: { ok: 3, cancelled: 1 }, cancel: { by: 'alice', at: AT, rollback: true }, outcome: { state: 'cancelled', reason: 'x', at: AT } }),
      plan: plan(),
      failed: [],
      statusUrl: null,
    });
    expect(cancelled.lines).toEqual(['10 beacons: 8 cancelled, 3 ok.', `Cancelled by alice at ${AT}, running beacons rolled back.`, FOLLOW]);
    expect(requestSummary({ rollout: rollout({ started: 10, cancel: { by: 'bob', at: AT, rollback: false } }), plan: plan(), failed: [], statusUrl: null }).lines[1]).toBe(`Cancelled by bob at ${AT}.`);
    // Rows already made final as not started add to the ones never reached.
    expect(requestSummary({ rollout: rollout({ started: 7, counts: { ok: 5, 'not-started': 2 } }), plan: plan(), failed: [], statusUrl: null }).lines[0]).toBe('10 beacons: 5 not started, 5 ok.');
  });

  it('no outcome yet reads finished; a failed request without halt or cancel gives its reason', () => {
    expect(requestSummary({ rollout: rollout({ started: 10 }), plan: plan(), failed: [], statusUrl: null }).title).toBe('Request chg-1 finished');
    const failed = requestSummary({ rollout: rollout({ started: 10, counts: { ok: 10 }, outcome: { state: 'pin-unconfirmed', reason: 'nobody confirmed the pin', at: AT } }), plan: plan(), failed: [], statusUrl: 'https://api/x' });
    expect(failed.lines).toEqual(['10 beacons: 10 ok.', 'nobody confirmed the pin', `${FOLLOW}, or https://api/x`]);
  });

  it(`failed beacons: the first ${SUMMARY_FAILED_BEACONS} by name with two reasons and their detail lines, the rest counted`, () => {
    const failed = Array.from({ length: 12 }, (_, n) => failedBeacon(n, n === 0 ? ['r1', 'r2', 'r3'] : n === 1 ? [] : ['one']));
    const summary = requestSummary({
      rollout: rollout({ started: 10, counts: { 'rolled-back': 8, failed: 3, error: 2 } }),
      plan: plan(),
      failed,
      statusUrl: null,
      describeFailedBeacon: (beacon) => (beacon.instanceId === 'i-0' ? ['Common\\https_proxy: a -> b'] : []),
    });
    expect(summary.lines.slice(0, 5)).toEqual(['10 beacons: 8 rolled back, 3 failed, 2 error.', 'Failed beacons:', '- i-0 rolled back: r1; r2', '    Common\\https_proxy: a -> b', '- i-1 rolled back: no reason recorded']);
    expect(summary.lines.filter((line) => line.startsWith('- i-'))).toHaveLength(SUMMARY_FAILED_BEACONS);
    expect(summary.lines).toContain('- and 3 more (status lists every beacon)');
    const few = requestSummary({ rollout: rollout({ started: 10, counts: { error: 10 } }), plan: plan(), failed: [failedBeacon(0)], statusUrl: null });
    expect(few.lines).toEqual(['10 beacons: 10 error.', 'Failed beacons:', '- i-0 rolled back: no reason recorded', FOLLOW]);
  });

  it('the pin line and the pinMode none warning', () => {
    const pin: RequestPinRecord = { status: 'none', mode: 'none', version: null };
    expect(requestSummary({ rollout: rollout({ started: 10, pin }), plan: plan(), failed: [], statusUrl: null, pinWarning: 'upgrades may reset it' }).lines).toEqual([
      '10 beacons: none finished.',
      'FNMS approved version: not pinned (pinMode none).',
      'Warning: upgrades may reset it',
      FOLLOW,
    ]);
  });
});

describe('the pin line of a summary', () => {
  const line = (pin: Partial<RequestPinRecord>) => describePin({ mode: 'gateway', version: '13.2.0', ...pin } as RequestPinRecord);
  it('every status in words', () => {
    expect(line({ status: 'pinned', from: '13.1.0' })).toBe('FNMS approved version: 13.2.0 (was 13.1.0), set through the pin gateway.');
    expect(line({ status: 'pinned' })).toBe('FNMS approved version: 13.2.0, set through the pin gateway.');
    expect(line({ status: 'unchanged' })).toBe('FNMS approved version: 13.2.0 (already approved; nothing to set).');
    expect(line({ status: 'confirmed', confirmedBy: 'alice', confirmedAt: AT, pinId: 'pin-1' })).toBe(`FNMS approved version: 13.2.0, confirmed by alice at ${AT} (pin-1).`);
    expect(line({ status: 'confirmed', confirmedBy: 'alice', confirmedAt: AT })).toBe(`FNMS approved version: 13.2.0, confirmed by alice at ${AT}.`);
    expect(line({ status: 'awaiting', pinId: 'pin-1' })).toBe('FNMS approved version: waiting for an operator to set 13.2.0 and confirm pin-1.');
    expect(line({ status: 'unconfirmed', pinId: 'pin-1' })).toBe(
      'FNMS approved version: NOT CONFIRMED. Nobody confirmed setting 13.2.0 (pin-1) in time; the beacons are configured, but an automatic upgrade may reset their service account until it is set.',
    );
    expect(line({ status: 'refused', code: 'DOWNGRADE_REFUSED', reason: 'older' })).toBe('FNMS approved version: not changed (DOWNGRADE_REFUSED: older).');
    expect(line({ status: 'failed', code: 'FNMS_UNREACHABLE', reason: 'timeout' })).toBe('FNMS approved version: NOT PINNED (FNMS_UNREACHABLE: timeout).');
    expect(line({ status: 'skipped', reason: 'dry run' })).toBe('FNMS approved version: not touched (dry run).');
    expect(line({ status: 'skipped' })).toBe('FNMS approved version: not touched (no beacon ended configured).');
  });
});

describe('the status answer: the rollout and its pin in a few lines (chat and the CLI)', () => {
  const counted = { started: 3, finished: 2, failed: 1, expansion: { pages: 1, total: 10, nextToken: null, done: true } };
  const pin = (changes: Partial<RequestPinRecord>): RequestPinRecord => ({ status: 'pinned', mode: 'gateway', version: '13.2.0', ...changes });

  it('the phase with the counters while it runs; the outcome and its reason once ended', () => {
    expect(rolloutStatusLines(rollout({ ...counted, phase: 'running' }), 'chat')).toEqual(['rollout: running; 3 of 10 started, 2 finished, 1 failed']);
    expect(rolloutStatusLines(rollout({ ...counted, phase: 'ended', outcome: { state: 'completed', reason: 'all done', at: AT } }), 'cli')).toEqual([
      'rollout: completed: all done; 3 of 10 started, 2 finished, 1 failed',
    ]);
  });

  it('a cancel (with or without rollback) names who and when; a halt says why; a cancel is said instead of a halt', () => {
    const halt = { reason: 'max-errors' as never, detail: '2 failures, more than maxErrors 1', at: AT };
    expect(rolloutStatusLines(rollout({ phase: 'stopping', cancel: { by: 'bob', at: AT, rollback: true } }), 'chat')[1]).toBe(`cancelled by bob at ${AT} (with rollback)`);
    expect(rolloutStatusLines(rollout({ phase: 'stopping', cancel: { by: 'bob', at: AT, rollback: false }, halt }), 'chat').slice(1)).toEqual([`cancelled by bob at ${AT}`]);
    expect(rolloutStatusLines(rollout({ phase: 'stopping', halt }), 'chat').slice(1)).toEqual(['halted: 2 failures, more than maxErrors 1']);
  });

  it('waiting for a go: the commands that answer it, spelled for chat or the CLI; not once the request ended', () => {
    expect(rolloutStatusLines(rollout({ phase: 'awaiting-go' }), 'chat').slice(1)).toEqual(['waiting for a go: go chg-1 (or cancel chg-1)']);
    expect(rolloutStatusLines(rollout({ phase: 'awaiting-go' }), 'cli').slice(1)).toEqual(['waiting for a go: beacon-proxy go chg-1 (or beacon-proxy cancel chg-1)']);
    expect(rolloutStatusLines(rollout({ phase: 'awaiting-go', outcome: { state: 'halted', reason: 'no go in time', at: AT } }), 'chat').slice(1)).toEqual([]);
    expect(rolloutStatusLines(rollout({ phase: 'running' }), 'chat').slice(1)).toEqual([]);
  });

  it('the pin: what an operator sets and the command that confirms it; who confirmed; otherwise its status, release, code and reason', () => {
    const pinLine = (record: RequestPinRecord, spelling: 'chat' | 'cli' = 'chat') => rolloutStatusLines(rollout({ phase: 'awaiting-pin', pin: record }), spelling).slice(1);
    expect(pinLine(pin({ status: 'awaiting', mode: 'operator', pinId: 'pin-chg-1' }))).toEqual(['FNMS pin (operator): awaiting an operator: set FNMS "Beacon version approved for use" to 13.2.0, then confirm-pin pin-chg-1']);
    expect(pinLine(pin({ status: 'awaiting', mode: 'operator', pinId: 'pin-chg-1' }), 'cli')).toEqual([
      'FNMS pin (operator): awaiting an operator: set FNMS "Beacon version approved for use" to 13.2.0, then beacon-proxy confirm-pin pin-chg-1',
    ]);
    expect(pinLine(pin({ status: 'confirmed', mode: 'operator', confirmedBy: 'alice', confirmedAt: AT }))).toEqual([`FNMS pin (operator): 13.2.0 confirmed by alice at ${AT}`]);
    expect(pinLine(pin({}))).toEqual(['FNMS pin (gateway): pinned 13.2.0']);
    expect(pinLine(pin({ status: 'refused', code: 'DOWNGRADE', reason: 'older than 13.3.0' }))).toEqual(['FNMS pin (gateway): refused 13.2.0 (DOWNGRADE: older than 13.3.0)']);
    expect(pinLine(pin({ status: 'failed', code: 'GATEWAY_DOWN' }))).toEqual(['FNMS pin (gateway): failed 13.2.0 (GATEWAY_DOWN)']);
    expect(pinLine(pin({ status: 'skipped', version: null, reason: 'dry run' }))).toEqual(['FNMS pin (gateway): skipped (dry run)']);
    expect(pinLine(pin({ status: 'none', mode: 'none', version: null }))).toEqual(['FNMS pin (none): none']);
  });

  it('the state a request shows: the outcome, else the phase, else the record state before a rollout exists', () => {
    expect(requestDisplayState('received', null)).toBe('received');
    expect(requestDisplayState('running', { phase: 'awaiting-go', outcome: null })).toBe('awaiting-go');
    expect(requestDisplayState('running', { phase: 'ended', outcome: { state: 'failed', reason: 'x', at: AT } })).toBe('failed');
  });
});
