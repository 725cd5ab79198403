/**
 * Which outcome a finished Run Command invocation means (lambdas/core/command-result.ts), at the edges the
 * workflow-steps tests leave: every terminal status, delivery failures versus a script that started, the
 * words of each reason, and the limits a verdict is trimmed to (exactly at and one past each).
 */
import { describe, expect, it } from 'vitest';
import { type CommandVerdict, TERMINAL_COMMAND_STATUSES, VERDICT_LIMITS, isTerminalCommandStatus, judgeCommand, notRunVerdict, trimVerdict, unconfirmedVerdict } from '../../lambdas/core/command-result.js';
import { resultLine } from '../lambdas/fixtures.js';

const judge = (invocation: Record<string, unknown>, kind: 'configure' | 'verify' | 'rollback' = 'configure', delivery?: number) =>
  judgeCommand(kind, { stdout: '', stderr: '', ...invocation } as never, delivery);
const verdict = (changes: Partial<CommandVerdict>): CommandVerdict => ({ status: 'failed', notRun: null, reasons: [], changed: [], checks: [], beaconVersion: null, captureId: null, ...changes });

describe('terminal statuses', () => {
  it('Success, Failed, Cancelled, TimedOut and the detailed ones are terminal; Pending, InProgress, Delayed and Cancelling are not', () => {
    expect(TERMINAL_COMMAND_STATUSES).toEqual(['Success', 'Failed', 'Cancelled', 'TimedOut']);
    for (const status of ['Success', 'Failed', 'Cancelled', 'TimedOut', 'DeliveryTimedOut', 'ExecutionTimedOut', 'Undeliverable', 'Terminated', 'InvalidPlatform', 'AccessDenied', 'Canceled']) {
      expect(isTerminalCommandStatus(status), status).toBe(true);
    }
    for (const status of ['Pending', 'InProgress', 'Delayed', 'Cancelling', '']) expect(isTerminalCommandStatus(status), status).toBe(false);
  });
});

describe('a command that never started changed nothing', () => {
  it('not delivered in time: the deadline named when known', () => {
    expect(judge({ status: 'TimedOut', statusDetails: 'DeliveryTimedOut' }, 'configure', 600)).toEqual({
      status: 'not-run',
      notRun: 'undelivered',
      reasons: ['the beacon did not pick up the configure command within 600 s (SSM Agent offline?): Run Command TimedOut/DeliveryTimedOut; nothing changed'],
      changed: [],
      checks: [],
      beaconVersion: null,
      captureId: null,
      diff: [],
      restoredDiff: [],
    });
    expect(judge({ status: 'Failed', statusDetails: 'Undeliverable' }, 'verify').reasons).toEqual(['the beacon did not pick up the verify command (SSM Agent offline?): Run Command Failed/Undeliverable; nothing changed']);
  });

  it('TimedOut counts as undelivered only when SSM says the script never started; unknown start is judged by its output', () => {
    expect(judge({ status: 'TimedOut', executionStartedAt: null })).toMatchObject({ status: 'not-run', notRun: 'undelivered' });
    expect(judge({ status: 'TimedOut' })).toMatchObject({ status: 'unparseable', notRun: null });
    expect(judge({ status: 'TimedOut', executionStartedAt: '2026-01-01T00:00:00Z' })).toMatchObject({ status: 'unparseable' });
  });

  it('cancelled before it started (Cancelled or Canceled): not-run; cancelled while running: judged by its output', () => {
    expect(judge({ status: 'Cancelled', executionStartedAt: null }, 'rollback')).toMatchObject({ status: 'not-run', notRun: 'cancelled', reasons: ['the rollback command was cancelled before it started; nothing changed'] });
    expect(judge({ status: 'Failed', statusDetails: 'Canceled', executionStartedAt: null })).toMatchObject({ notRun: 'cancelled' });
    expect(judge({ status: 'Cancelled', executionStartedAt: 'x', stdout: 'no line' })).toMatchObject({
      status: 'unparseable',
      reasons: ['the configure document was cancelled while it ran, before it printed a result', 'Run Command status Cancelled'],
    });
    expect(judge({ status: 'Cancelled' })).toMatchObject({ status: 'unparseable' });
  });
});

describe('a script that ran', () => {
  it('stopped at its execution limit without a result line: unparseable, the status with its detail', () => {
    expect(judge({ status: 'TimedOut', statusDetails: 'ExecutionTimedOut', executionStartedAt: 'x', stderr: '\n' }, 'verify').reasons).toEqual([
      'the verify document was stopped at its execution limit before it printed a result',
      'Run Command status TimedOut/ExecutionTimedOut',
    ]);
  });

  it('a result line that says ok from a run SSM did not mark Success is not believed', () => {
    expect(judge({ status: 'Failed', statusDetails: 'Failed', stdout: resultLine() })).toMatchObject({ status: 'failed', reasons: ['Run Command status Failed although the result line says ok'], changed: ['Common\\https_proxy'] });
    expect(judge({ status: 'Success', stdout: resultLine() })).toMatchObject({ status: 'ok', reasons: [], changed: ['Common\\https_proxy'], beaconVersion: '13.2.0', captureId: 'req-test-1' });
  });

  it('a module the document refused to run did not run: module-refused', () => {
    const line = resultLine({ ok: false, changed: [], error: { code: 'MODULE_HASH_MISMATCH', message: 'hash differs', step: 'module' } });
    expect(judge({ status: 'Failed', stdout: line, executionStartedAt: 'x' })).toMatchObject({ status: 'not-run', notRun: 'module-refused', changed: [] });
  });

  it('a failed run: its reasons and what it changed; a configure without capture is a failure, only a rollback says nothing to restore', () => {
    const line = resultLine({ ok: false, changed: ['a'], error: { code: 'VERIFY_FAILED', message: 'check failed', step: 'verify' } });
    expect(judge({ status: 'Failed', stdout: line })).toMatchObject({ status: 'failed', changed: ['a'] });
    const noCapture = resultLine({ ok: false, changed: [], error: { code: 'CAPTURE_NOT_FOUND', message: 'no capture', step: 'rollback' } });
    expect(judge({ status: 'Failed', stdout: noCapture }, 'configure').status).toBe('failed');
    expect(judge({ status: 'Failed', stdout: noCapture }, 'rollback')).toMatchObject({ status: 'ok', reasons: ['nothing to restore: the configure run captured nothing, so it changed nothing'], changed: [] });
  });

  it('the last line of stderr, trimmed, is a reason of an unparseable run', () => {
    expect(judge({ status: 'Failed', stdout: 'x', stderr: 'first\r\nsecond\r\nlast line  \n\n' }).reasons.at(-1)).toBe('stderr: last line');
  });

  it('a failed run that printed no result line: the parser\'s reason, not a cancel', () => {
    const reasons = judge({ status: 'Failed', stdout: 'garbage', executionStartedAt: 'x' }).reasons;
    expect(reasons[0]).not.toMatch(/cancelled|execution limit/);
    expect(reasons.slice(1)).toEqual(['Run Command status Failed']);
  });

  it('a run that never started but failed otherwise (not a delivery timeout, not a cancel) is judged by its output', () => {
    expect(judge({ status: 'Failed', executionStartedAt: null, stdout: 'garbage' })).toMatchObject({ status: 'unparseable', notRun: null });
  });

  it('only a failed rollback that found no capture means nothing to restore', () => {
    const other = resultLine({ ok: false, changed: [], error: { code: 'ROLLBACK_FAILED', message: 'x', step: 'rollback' } });
    expect(judge({ status: 'Failed', stdout: other }, 'rollback').status).toBe('failed');
    const noError = resultLine({ ok: false, changed: [], error: null });
    expect(judge({ status: 'Failed', stdout: noError }, 'rollback').status).toBe('failed');
    const selfRolledBack = resultLine({ ok: false, changed: [], error: { code: 'CAPTURE_NOT_FOUND', message: 'x', step: 'rollback' }, rollback: { attempted: true, ok: true, restored: ['a'] } });
    expect(judge({ status: 'Failed', stdout: selfRolledBack }, 'rollback').status).toBe('rolled-back');
  });
});

describe('verdicts of commands that did not end', () => {
  it('not-run and unconfirmed carry one reason and nothing else', () => {
    expect(notRunVerdict('not-sent', 'm')).toEqual({ status: 'not-run', notRun: 'not-sent', reasons: ['m'], changed: [], checks: [], beaconVersion: null, captureId: null, diff: [], restoredDiff: [] });
    expect(unconfirmedVerdict('u')).toEqual({ status: 'unconfirmed', notRun: null, reasons: ['u'], changed: [], checks: [], beaconVersion: null, captureId: null, diff: [], restoredDiff: [] });
  });
});

describe('a verdict is trimmed to its limits, exactly', () => {
  it('the limits', () => {
    expect(VERDICT_LIMITS).toEqual({ reasons: 10, reasonLength: 300, changed: 60, changedLength: 200, checks: 64, checkValueLength: 160, nameLength: 200, diffEntries: 64, diffIdLength: 100, diffValueBudget: 6000, diffValueMin: 32 });
  });

  it('reasons: 10 kept, the rest counted; each up to 300 characters, longer ones cut with a marker', () => {
    expect(trimVerdict(verdict({ reasons: Array.from({ length: 10 }, (_, n) => `r${n}`) })).reasons).toHaveLength(10);
    const eleven = trimVerdict(verdict({ reasons: Array.from({ length: 12 }, (_, n) => `r${n}`) })).reasons;
    expect(eleven).toHaveLength(11);
    expect(eleven[10]).toBe('and 2 more (see the command transcript)');
    const [exact, over] = trimVerdict(verdict({ reasons: ['x'.repeat(300), 'y'.repeat(301)] })).reasons;
    expect(exact).toBe('x'.repeat(300));
    expect(over).toBe(`${'y'.repeat(299)}…`);
  });

  it('changed: 60 kept, each up to 200 characters', () => {
    const trimmed = trimVerdict(verdict({ changed: [...Array.from({ length: 60 }, () => 'c'.repeat(201)), 'dropped'] })).changed;
    expect(trimmed).toHaveLength(60);
    expect(trimmed[0]).toBe(`${'c'.repeat(199)}…`);
  });

  it('checks: failed first, 64 kept; names up to 200, values up to 160 characters; objects as JSON; null, booleans and numbers as they are', () => {
    const checks = [
      ...Array.from({ length: 70 }, (_, n) => ({ name: `ok${n}`, expected: 1, actual: 1, ok: true })),
      { name: 'n'.repeat(201), expected: { a: 'b' }, actual: 'v'.repeat(161), ok: false },
      { name: 'flags', expected: true, actual: null, ok: false },
    ];
    const trimmed = trimVerdict(verdict({ checks })).checks;
    expect(trimmed).toHaveLength(64);
    expect(trimmed[0]).toEqual({ name: `${'n'.repeat(199)}…`, expected: '{"a":"b"}', actual: `${'v'.repeat(159)}…`, ok: false });
    expect(trimmed[1]).toEqual({ name: 'flags', expected: true, actual: null, ok: false });
    expect(trimmed[2]).toEqual({ name: 'ok0', expected: 1, actual: 1, ok: true });
    expect(trimVerdict(verdict({ checks: [{ name: 'ok', expected: 1, actual: 1, ok: true }, { name: 'bad', expected: 1, actual: 2, ok: false }] })).checks.map((check) => check.name)).toEqual(['bad', 'ok']);
    expect(trimVerdict(verdict({ checks: [{ name: 'u', expected: undefined, actual: 'x'.repeat(160), ok: true }] })).checks[0]).toEqual({ name: 'u', expected: 'undefined', actual: 'x'.repeat(160), ok: true });
  });

  it('beacon version and capture id up to 64 characters; null stays null', () => {
    const trimmed = trimVerdict(verdict({ beaconVersion: 'v'.repeat(65), captureId: 'c'.repeat(64) }));
    expect(trimmed.beaconVersion).toBe(`${'v'.repeat(63)}…`);
    expect(trimmed.captureId).toBe('c'.repeat(64));
    expect(trimVerdict(verdict({})).beaconVersion).toBeNull();
    expect(trimVerdict(verdict({})).captureId).toBeNull();
  });

  it('diff entries past the limit are counted with what an earlier trim counted; none left out: no count', () => {
    const entries = Array.from({ length: 70 }, (_, n) => ({ id: `e${n}`, before: 'a', after: 'b' }));
    const trimmed = trimVerdict(verdict({ diff: entries, diffOmitted: { diff: 2, restoredDiff: 1 } }));
    expect(trimmed.diff!.length + trimmed.restoredDiff!.length).toBeLessThanOrEqual(64);
    expect(trimmed.diffOmitted).toEqual({ diff: 70 - trimmed.diff!.length + 2, restoredDiff: 1 });
    expect('diffOmitted' in trimVerdict(verdict({ diff: entries.slice(0, 3) }))).toBe(false);
    expect(trimVerdict(verdict({ diffOmitted: { diff: 0, restoredDiff: 4 } })).diffOmitted).toEqual({ diff: 0, restoredDiff: 4 });
  });
});
