/**
 * The drift pass's small decisions (lambdas/core/drift-pass.ts): when a pass is due, how beacons are paged,
 * what a verify means for a beacon, how findings are counted and bounded, and how the baseline is named.
 */
import { describe, expect, it } from 'vitest';
import {
  DRIFT_LEASE_SECONDS,
  DRIFT_PAGE_SIZE,
  DRIFT_PAGE_TTL_SECONDS,
  type DriftCheckpoint,
  addFinding,
  boundedChanges,
  describeAgainst,
  driftPassId,
  emptyTotals,
  isPassDue,
  judgeVerify,
  pageTargets,
} from '../../lambdas/core/drift-pass.js';

const checkpoint = (changes: Partial<DriftCheckpoint>): DriftCheckpoint => ({
  version: 1,
  passId: '20260101T000000',
  startedAt: '2026-01-01T00:00:00.000Z',
  phase: 'done',
  pages: 1,
  nextPage: 1,
  totals: emptyTotals(),
  finishedAt: null,
  lease: null,
  ...changes,
});

describe('the pass', () => {
  it('constants: pages of 50 (one SendCommand), a 15-minute lease, pages kept 30 days', () => {
    expect([DRIFT_PAGE_SIZE, DRIFT_LEASE_SECONDS, DRIFT_PAGE_TTL_SECONDS]).toEqual([50, 900, 2_592_000]);
  });

  it('its id is its start time, compact and sortable', () => {
    expect(driftPassId(new Date('2026-03-04T05:06:07.890Z'))).toBe('20260304T050607');
  });

  it('is due when none ran, or the last is done and started at least the interval ago; never while one runs', () => {
    const now = new Date('2026-01-01T06:00:00.000Z');
    expect(isPassDue(null, now, 3600)).toBe(true);
    expect(isPassDue(checkpoint({}), now, 6 * 3600)).toBe(true);
    expect(isPassDue(checkpoint({}), now, 6 * 3600 + 1)).toBe(false);
    expect(isPassDue(checkpoint({ phase: 'sending' }), now, 60)).toBe(false);
    expect(isPassDue(checkpoint({ phase: 'reviewing' }), now, 60)).toBe(false);
  });

  it('beacons are cut into pages of at most the page size, in order', () => {
    const targets = Array.from({ length: 7 }, (_, n) => ({ instanceId: `i-${n}`, computerName: null }));
    expect(pageTargets(targets, 3).map((page) => page.map((t) => t.instanceId))).toEqual([['i-0', 'i-1', 'i-2'], ['i-3', 'i-4', 'i-5'], ['i-6']]);
    expect(pageTargets(targets, 7)).toHaveLength(1);
    expect(pageTargets([], 3)).toEqual([]);
    expect(pageTargets(Array.from({ length: 51 }, (_, n) => ({ instanceId: `i-${n}`, computerName: null })))).toHaveLength(2);
  });
});

describe('what a verify says about a beacon', () => {
  const verdict = (status: string, reasons: string[] = []) => ({ status, reasons }) as never;
  it('ok: in sync; failed checks: drifted with what differs; no judgement when it did not run or printed nothing', () => {
    expect(judgeVerify('Success', verdict('ok'))).toEqual({ kind: 'in-sync' });
    expect(judgeVerify('Failed', verdict('failed', ['Common\\https_proxy: expected a, found b']))).toEqual({ kind: 'drifted', changes: ['Common\\https_proxy: expected a, found b'] });
    expect(judgeVerify('Failed', verdict('rolled-back', ['x']))).toEqual({ kind: 'drifted', changes: ['x'] });
    expect(judgeVerify('TimedOut', verdict('unparseable', ['no result line', 'stderr: boom']))).toEqual({ kind: 'unknown', reason: 'TimedOut: no result line; stderr: boom' });
    expect(judgeVerify('Success', verdict('not-run', ['BEACON_BUSY']))).toEqual({ kind: 'unknown', reason: 'Success: BEACON_BUSY' });
  });
});

describe('findings', () => {
  it('each action counts under its own total', () => {
    const totals = emptyTotals();
    for (const action of ['reapplied', 'planned', 'planned', 'gated', 'unknown', 'superseded', 'invalid-baseline', 'held'] as const) addFinding(totals, action);
    expect(totals).toEqual({ beacons: 0, inSync: 0, reapplied: 1, planned: 2, gated: 1, unknown: 1, superseded: 1, invalidBaseline: 1, held: 1 });
  });

  it('at most 8 differences of at most 300 characters are kept, the rest counted', () => {
    expect(boundedChanges(['a', 'b'])).toEqual(['a', 'b']);
    const many = Array.from({ length: 10 }, (_, n) => `c${n}`);
    expect(boundedChanges(many)).toEqual([...many.slice(0, 8), 'and 2 more']);
    expect(boundedChanges(many.slice(0, 8))).toEqual(many.slice(0, 8));
    const long = boundedChanges(['x'.repeat(301), 'y'.repeat(300)]);
    expect(long[0]).toBe(`${'x'.repeat(299)}…`);
    expect(long[1]).toBe('y'.repeat(300));
  });

  it('the baseline a beacon was verified against, in words', () => {
    expect(describeAgainst({ kind: 'baseline', requestId: 'chg-1', digest: 'd' })).toBe('its baseline from request chg-1');
    expect(describeAgainst({ kind: 'default-profile', profile: 'standard' })).toBe('the default profile "standard" (never configured through beacon-proxy)');
  });
});
