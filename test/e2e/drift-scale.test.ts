/**
 * Issue 10.3 at fleet scale: a drift pass over 10,000 beacons in the twin (synthetic verify document) runs
 * tick by tick under the drift function's template timeout, continues from its checkpoint, verifies every
 * beacon once against its own baseline and re-applies exactly the drifted ones with their own content.
 * The timing is reported by `npm run bench`; here only the rules are checked.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { type DriftScaleResult, runDriftScale } from '../../bench/drift-pass.js';
import { DOCUMENT_EXECUTION_TIMEOUT_SECONDS } from '../../lambdas/core/timing.js';

const BEACONS = 10_000;
const MS_PER_SECOND = 20;
/**
 * Slow beacons, the worst case for the pass: every verify runs 30 s short of its execution limit, longer than
 * one drift invocation works (three quarters of its 300 s). However fast the machine, no page is reviewed in
 * the invocation that sent it, so the pass has to wait and go on from its checkpoint.
 */
const VERIFY_SECONDS = DOCUMENT_EXECUTION_TIMEOUT_SECONDS.verify - 30;
let result: DriftScaleResult;

beforeAll(async () => {
  result = await runDriftScale({ beacons: BEACONS, driftEvery: 97, msPerSecond: MS_PER_SECOND, verifySeconds: VERIFY_SECONDS });
}, 600_000);

describe(`a drift pass over ${BEACONS.toLocaleString('en')} beacons`, () => {
  it('waits for slow verifies and is worked through over several invocations, each within the function timeout, to the end', () => {
    expect(VERIFY_SECONDS * MS_PER_SECOND).toBeGreaterThan(result.driftFunctionTimeoutMs * 0.75);
    expect(result.report.phase).toBe('done');
    expect(result.ticks.length).toBeGreaterThan(1);
    expect(result.ticks.some((tick) => tick.waitingForVerify)).toBe(true);
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
