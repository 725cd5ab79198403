/**
 * Issue 10.3 at fleet scale: a drift pass over 10,000 beacons in the twin (synthetic verify document) runs
 * tick by tick under the drift function's template timeout, continues from its checkpoint, verifies every
 * beacon once against its own baseline and re-applies exactly the drifted ones with their own content.
 * The timing is reported by `npm run bench`; here only the rules are checked.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { type DriftScaleResult, runDriftScale } from '../../bench/drift-pass.js';

const BEACONS = 10_000;
let result: DriftScaleResult;

beforeAll(async () => {
  result = await runDriftScale({ beacons: BEACONS, driftEvery: 97 });
}, 600_000);

describe(`a drift pass over ${BEACONS.toLocaleString('en')} beacons`, () => {
  it('is worked through over several invocations, each within the function timeout, to the end', () => {
    expect(result.report.phase).toBe('done');
    expect(result.ticks.length).toBeGreaterThan(1);
    expect(result.ticks.every((tick) => tick.action === 'worked')).toBe(true);
    expect(result.ticks.filter((tick) => tick.started)).toHaveLength(1);
    expect(result.report.totals.beacons).toBe(BEACONS);
  });

  it('verifies every beacon exactly once, each against its own baseline (or the default profile when never configured)', () => {
    expect(result.verifiedOnce).toBe(BEACONS);
    expect(result.verifiedTwice).toBe(0);
    expect(result.verifiedAgainstOther).toEqual([]);
    // One verify per page and distinct baseline: three kinds of beacon, pages of 50.
    expect(result.verifyCommands).toBe(3 * Math.ceil(BEACONS / 50));
  });

  it('re-applies exactly the drifted beacons, each with its own content', () => {
    expect([...result.reapplyContent.keys()].sort()).toEqual([...result.drifted].sort());
    for (const id of result.drifted) expect(result.reapplyContent.get(id), id).toEqual(result.expectedContent.get(id));
    expect(result.report.totals).toMatchObject({ inSync: BEACONS - result.drifted.length, reapplied: result.drifted.length, unknown: 0, gated: 0 });
  });
});
