/**
 * Diff values kept within their budget (lambdas/core/change-diff.ts) at the edges: a value exactly at its
 * length stays whole, the fair cap when everything fits or nothing is left, and values already trimmed.
 */
import { describe, expect, it } from 'vitest';
import { boundDiffLists, fairCap, trimText, trimmedCharacters } from '../../lambdas/core/change-diff.js';

describe('trimming a value', () => {
  it('at its length it stays whole; one more is cut with the marker', () => {
    expect(trimText('abc', 3)).toBe('abc');
    expect(trimText('abcd', 3)).toBe('abc...[+1 chars]');
    expect(trimmedCharacters('abc...[+1 chars]')).toBe(1);
    expect(trimmedCharacters('abc')).toBe(0);
    expect(trimText('abc...[+1 chars]', 2)).toBe('ab...[+2 chars]');
    expect(trimText('abc...[+1 chars]', 3)).toBe('abc...[+1 chars]');
  });
});

describe('the fair cap', () => {
  it('everything fits: the longest value (or the floor); exactly at the budget fits too', () => {
    expect(fairCap([10, 20], 30, 5)).toBe(20);
    expect(fairCap([10, 20], 100, 50)).toBe(50);
    expect(fairCap([], 10, 4)).toBe(4);
  });

  it('over the budget: short values stay whole, the long ones share the rest; a value equal to its share is whole', () => {
    expect(fairCap([10, 100, 100], 110, 1)).toBe(50);
    expect(fairCap([10, 50, 100], 110, 1)).toBe(50);
    expect(fairCap([10, 100], 20, 32)).toBe(32);
    // A value exactly at its share stays whole and leaves the rest to the longer ones: 50 + 51 = 101.
    expect(fairCap([50, 100], 101, 1)).toBe(51);
  });
});

describe('bounded lists', () => {
  it('long values are cut to the shared cap; an already trimmed value counts by what it shows', () => {
    const [list] = boundDiffLists([[{ id: 'x', before: 'a'.repeat(100), after: `${'b'.repeat(10)}...[+500 chars]` }]], { maxEntries: 5, valueBudget: 60, minValue: 4, idLength: 10 });
    expect(list!.entries[0]).toEqual({ id: 'x', before: `${'a'.repeat(50)}...[+50 chars]`, after: `${'b'.repeat(10)}...[+500 chars]` });
    expect(list!.omitted).toBe(0);
  });
});
