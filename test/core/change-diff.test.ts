import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { boundDiffLists, type DiffEntry, fairCap, formatDiffLine, trimText, trimmedCharacters } from '../../lambdas/core/change-diff.js';
import { judgeCommand, trimVerdict, VERDICT_LIMITS, type CommandVerdict } from '../../lambdas/core/command-result.js';
import { RESULT_LINE } from '../../lambdas/core/document-contract.js';
import { judgeResult } from '../../lambdas/core/result.js';

const change = (id: string, before: string, after: string): DiffEntry => ({ id, before, after });

const line = (value: Record<string, unknown>) =>
  JSON.stringify({ ok: true, document: 'configure', requestId: 'r1', changed: [], checks: [], beaconVersion: '13.2.0', captureId: 'r1', error: null, rollback: null, ...value });

describe('a change, before -> after', () => {
  it('reads as one line: id: before -> after', () => {
    expect(formatDiffLine(change('service:logon', 'NT AUTHORITY\\SYSTEM', 'CORP\\svc-beacon'))).toBe('service:logon: NT AUTHORITY\\SYSTEM -> CORP\\svc-beacon');
  });

  it('a trimmed value keeps its start and says how many characters were cut', () => {
    const value = `REG_SZ ${'a'.repeat(200)}`;
    const trimmed = trimText(value, RESULT_LINE.minValueLength);
    expect(trimmed).toBe(`${value.slice(0, RESULT_LINE.minValueLength)}${RESULT_LINE.trimMarker.before}${value.length - RESULT_LINE.minValueLength}${RESULT_LINE.trimMarker.after}`);
    expect(trimmedCharacters(trimmed)).toBe(value.length - RESULT_LINE.minValueLength);
    expect(trimText('short', 48)).toBe('short');
    expect(trimmedCharacters('short')).toBe(0);
  });

  it('a fair cap fits the budget: short values stay whole, the long ones share what is left', () => {
    expect(fairCap([10, 20, 1000], 2000, 8)).toBe(1000);
    expect(fairCap([10, 20, 1000, 1000], 530, 8)).toBe(250);
    fc.assert(
      fc.property(fc.array(fc.nat(5000), { maxLength: 80 }), fc.integer({ min: 100, max: 20_000 }), (lengths, budget) => {
        const cap = fairCap(lengths, budget, 32);
        const used = lengths.reduce((sum, length) => sum + Math.min(length, cap), 0);
        // Within the budget unless the floor itself does not fit; and no bigger cap would fit.
        if (cap > 32) expect(used).toBeLessThanOrEqual(budget);
        const bigger = lengths.reduce((sum, length) => sum + Math.min(length, cap + 1), 0);
        if (lengths.some((length) => length > cap)) expect(bigger > budget || cap === 32).toBe(true);
      }),
    );
  });

  it('bounded lists keep every entry up to the limit, count the rest, and mark every cut value', () => {
    const long = Array.from({ length: 70 }, (_, i) => change(`registry:Value${i}`, 'x'.repeat(2000), 'absent'));
    const [bounded] = boundDiffLists([long], { maxEntries: 64, valueBudget: 6000, minValue: 32, idLength: 120 });
    expect(bounded!.entries).toHaveLength(64);
    expect(bounded!.omitted).toBe(6);
    for (const entry of bounded!.entries) {
      expect(entry.after).toBe('absent');
      expect(trimmedCharacters(entry.before)).toBeGreaterThan(0);
      expect(entry.before.startsWith('x'.repeat(32))).toBe(true);
    }
  });
});

describe('the verdict carries the diff, bounded', () => {
  it('a configure result: its diff; a self-rollback: what was restored as well; the Rollback document: what it put back', () => {
    const applied = [change('registry:Common\\https_proxy', 'absent', 'REG_SZ https://p:8080')];
    const ok = judgeResult(line({ changed: ['registry:Common\\https_proxy'], diff: applied }));
    expect(ok.status === 'ok' && ok.diff).toEqual(applied);

    const restored = [change('registry:Common\\https_proxy', 'REG_SZ https://p:8080', 'absent')];
    const rolledBack = judgeCommand('configure', {
      status: 'Failed',
      stdout: line({ ok: false, diff: applied, error: { code: 'SERVICE_START_FAILED', message: 'x', step: 'service' }, rollback: { attempted: true, ok: true, restored: ['registry:Common\\https_proxy'], error: null, diff: restored } }),
      stderr: '',
    });
    expect(rolledBack).toMatchObject({ status: 'rolled-back', diff: applied, restoredDiff: restored });

    const rollbackDocument = judgeCommand('rollback', {
      status: 'Success',
      stdout: line({ document: 'rollback', diff: [], rollback: { attempted: true, ok: true, restored: ['registry:Common\\https_proxy'], error: null, diff: restored } }),
      stderr: '',
    });
    expect(rollbackDocument).toMatchObject({ status: 'ok', diff: [], restoredDiff: restored });
  });

  it('a result line of a document before issue 15 (no diff) still parses: no changes listed', () => {
    const verdict = judgeCommand('configure', { status: 'Success', stdout: line({ changed: ['x'] }), stderr: '' });
    expect(verdict).toMatchObject({ status: 'ok', changed: ['x'], diff: [], restoredDiff: [] });
  });

  it('a diff that breaks the contract (too many entries, an empty id) makes the line unparseable, not half-believed', () => {
    const many = Array.from({ length: RESULT_LINE.maxDiffEntries + 1 }, (_, i) => change(`x${i}`, 'a', 'b'));
    expect(judgeResult(line({ diff: many })).status).toBe('unparseable');
    expect(judgeResult(line({ diff: [change('', 'a', 'b')] })).status).toBe('unparseable');
    expect(judgeResult(line({ diff: [{ id: 'x', before: 1, after: 'b' }] })).status).toBe('unparseable');
  });

  it('however much a document printed, the verdict keeps at most the limit of entries and about its value budget', () => {
    const huge = Array.from({ length: 100 }, (_, i) => change(`registry:${'k'.repeat(400)}${i}`, 'v'.repeat(10_000), 'w'.repeat(10_000)));
    const verdict: CommandVerdict = { status: 'ok', notRun: null, reasons: [], changed: [], checks: [], beaconVersion: null, captureId: null, diff: huge, restoredDiff: huge };
    const trimmed = trimVerdict(verdict);
    expect(trimmed.diff).toHaveLength(VERDICT_LIMITS.diffEntries);
    expect(trimmed.restoredDiff).toHaveLength(VERDICT_LIMITS.diffEntries);
    expect(trimmed.diffOmitted).toEqual({ diff: 36, restoredDiff: 36 });
    const values = [...trimmed.diff!, ...trimmed.restoredDiff!].reduce((sum, entry) => sum + entry.before.length + entry.after.length, 0);
    // The budget plus the markers (and the floor per value when the budget is smaller than the entries need).
    expect(values).toBeLessThanOrEqual(Math.max(VERDICT_LIMITS.diffValueBudget, 4 * VERDICT_LIMITS.diffEntries * VERDICT_LIMITS.diffValueMin) + 4 * VERDICT_LIMITS.diffEntries * 16);
    for (const entry of trimmed.diff!) expect(entry.id.length).toBeLessThanOrEqual(VERDICT_LIMITS.diffIdLength + 16);
    // Trimming again changes nothing (the poll step's verdict is stable).
    expect(trimVerdict(trimmed)).toEqual(trimmed);
  });
});
