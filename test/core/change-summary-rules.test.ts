/**
 * How people read the changes of a request (lambdas/core/change-summary.ts), word for word: the outcome
 * group of every state, the counts line, and each beacon's lines for every group.
 */
import { describe, expect, it } from 'vitest';
import { countOutcomes, formatCounts, outcomeGroup, renderBeaconChanges } from '../../lambdas/core/change-summary.js';

const I = 'i-0123456789abcdef0';
const change = (id: string) => ({ id, before: 'a', after: 'b' });

describe('outcome groups and counts', () => {
  it('every state in its group', () => {
    const groups = Object.fromEntries(['ok', 'rolled-back', 'failed', 'error', 'pin-failed', 'skipped', 'busy', 'superseded', 'not-run', 'sent', 'queued'].map((state) => [state, outcomeGroup({ state })]));
    expect(groups).toEqual({ ok: 'ok', 'rolled-back': 'rolled back', failed: 'failed', error: 'failed', 'pin-failed': 'failed', skipped: 'skipped', busy: 'skipped', superseded: 'skipped', 'not-run': 'skipped', sent: 'running', queued: 'running' });
    expect(outcomeGroup({ state: 'dry-run', diff: [change('x')] })).toBe('would change');
    expect(outcomeGroup({ state: 'dry-run', diff: [] })).toBe('no change');
    expect(outcomeGroup({ state: 'dry-run' })).toBe('no change');
  });

  it('the counts line in group order, empty groups left out; none for nothing', () => {
    expect(formatCounts(countOutcomes([{ state: 'failed' }, { state: 'ok' }, { state: 'ok' }, { state: 'dry-run', diff: [change('x')] }]))).toBe('2 ok, 1 failed, 1 would change');
    expect(formatCounts(countOutcomes([]))).toBe('none');
  });
});

describe('one beacon in lines', () => {
  it('a plan: no change, or what would change (current -> wanted), the omitted counted', () => {
    expect(renderBeaconChanges({ instanceId: I, state: 'dry-run' })).toEqual([`${I}: no change (already as requested)`]);
    expect(renderBeaconChanges({ instanceId: I, name: 'BEACON-1', state: 'dry-run', diff: [change('x'), change('y'), change('z')], diffOmitted: 2 }, { maxChanges: 2 })).toEqual([
      `BEACON-1 (${I}): would change 5 value(s), current -> wanted:`,
      '  x: a -> b',
      '  y: a -> b',
      '  … and 3 more',
    ]);
  });

  it('ok: no change, or what changed', () => {
    expect(renderBeaconChanges({ instanceId: I, state: 'ok', diff: [] })).toEqual([`${I}: ok, no change (already as requested)`]);
    expect(renderBeaconChanges({ instanceId: I, state: 'ok', diff: [], diffOmitted: 1 })).toEqual([`${I}: ok, changed 1 value(s):`, '  … and 1 more']);
    expect(renderBeaconChanges({ instanceId: I, state: 'ok', diff: [change('x')] })).toEqual([`${I}: ok, changed 1 value(s):`, '  x: a -> b']);
    // Kept and omitted changes add up: as many omitted as kept is still a change.
    expect(renderBeaconChanges({ instanceId: I, state: 'ok', diff: [change('x')], diffOmitted: 1 })).toEqual([`${I}: ok, changed 2 value(s):`, '  x: a -> b', '  … and 1 more']);
  });

  it('skipped or running: the state, its first reason, nothing changed', () => {
    expect(renderBeaconChanges({ instanceId: I, state: 'busy', reasons: ['locked by exec-1', 'x'] })).toEqual([`${I}: busy (locked by exec-1); nothing changed`]);
    expect(renderBeaconChanges({ instanceId: I, state: 'sent' })).toEqual([`${I}: sent; nothing changed`]);
  });

  it('rolled back: what changed then undone, what the rollback restored', () => {
    expect(renderBeaconChanges({ instanceId: I, state: 'rolled-back', reasons: ['service did not start'], diff: [change('x')], restored: [change('x')] })).toEqual([
      `${I}: rolled-back: service did not start`,
      '  changed, then undone by the rollback:',
      '    x: a -> b',
      '  restored by the rollback:',
      '    x: a -> b',
    ]);
  });

  it('failed: changed and not confirmed undone, to check on the beacon; pin-failed: configured; nothing reported; omitted counted', () => {
    expect(renderBeaconChanges({ instanceId: I, state: 'failed', diff: [change('x')] })).toEqual([`${I}: failed`, '  changed (the rollback did not confirm: check these on the beacon):', '    x: a -> b']);
    expect(renderBeaconChanges({ instanceId: I, state: 'pin-failed', diff: [change('x')] })).toEqual([`${I}: pin-failed`, '  changed (the beacon is configured):', '    x: a -> b']);
    expect(renderBeaconChanges({ instanceId: I, state: 'error', reasons: ['boom'] })).toEqual([`${I}: error: boom`, '  no change reported by the beacon']);
    expect(renderBeaconChanges({ instanceId: I, state: 'failed', restored: [change('r')], diffOmitted: 3 })).toEqual([
      `${I}: failed`,
      '  restored by the rollback:',
      '    r: a -> b',
      '  (3 more change(s) not kept: see the command output)',
    ]);
  });
});
