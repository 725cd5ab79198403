/**
 * Rollout rules at their edges (lambdas/core/rollout.ts): amounts refused at their bounds, a dry run's
 * rollout, when a canary pauses for a go, how a halt is named and told, and the reconciler's decision when
 * the canary finished, the wait for a go, the last wave.
 */
import { describe, expect, it } from 'vitest';
import { ROLLOUT_DEFAULTS, decideRolloutStep, isErrorBeaconState, describeHalt, outcomeOfHalt, parseRollout, planRollout, rolloutSpecFor } from '../../lambdas/core/rollout.js';

const progress = (changes: Partial<Parameters<typeof decideRolloutStep>[1]> = {}) => ({ started: 0, finished: 0, failed: 0, canaryFailed: 0, goAfterCanary: false, cancelRequested: false, ...changes });

describe('amounts', () => {
  it('counts up to 1,000,000; percentages from 1 % (or the minimum) to 100 %, written as digits and %', () => {
    expect(parseRollout({ maxConcurrency: 1_000_000 }, 'tag').maxConcurrency).toEqual({ count: 1_000_000 });
    expect(() => parseRollout({ maxConcurrency: 1_000_001 }, 'tag')).toThrow('rollout.maxConcurrency must be a whole number from 1 to 1000000, or a percentage such as "10%"');
    expect(parseRollout({ canary: '1%' }, 'tag').canary).toEqual({ percent: 1 });
    expect(() => parseRollout({ canary: '0%' }, 'tag')).toThrow('rollout.canary must be a percentage from 1% to 100%, or a whole number');
    expect(() => parseRollout({ waveSize: '0%' }, 'tag')).toThrow('rollout.waveSize must be a percentage from 1% to 100%, or a whole number');
    for (const text of ['x10%', '10%x', '10 %', '1000%']) expect(() => parseRollout({ canary: text }, 'tag'), text).toThrow(/must be a percentage/);
  });
});

describe('a dry run changes nothing, so it has no canary and never halts; it keeps the concurrency limit', () => {
  it('its spec', () => {
    const rollout = { ...ROLLOUT_DEFAULTS.tag, maxConcurrency: { count: 7 }, pauseAfterCanary: true };
    expect(rolloutSpecFor({ rollout, dryRun: true })).toEqual({ canary: { count: 0 }, waveSize: { percent: 100 }, maxConcurrency: { count: 7 }, maxErrors: { percent: 100 }, pauseAfterCanary: false });
    expect(rolloutSpecFor({ rollout, dryRun: false })).toBe(rollout);
  });
});

describe('the plan', () => {
  it('pauses after the canary only when there is one and beacons after it', () => {
    const spec = { ...ROLLOUT_DEFAULTS.tag, pauseAfterCanary: true };
    expect(planRollout(spec, 10).pauseAfterCanary).toBe(true);
    expect(planRollout({ ...spec, canary: { count: 0 } }, 10).pauseAfterCanary).toBe(false);
    expect(planRollout({ ...spec, canary: { count: 5 } }, 5).pauseAfterCanary).toBe(false);
    expect(planRollout(spec, 1).pauseAfterCanary).toBe(false);
  });

  it('maxErrors is rounded down: 5 % of 39 beacons allows 1 failure, of 19 none', () => {
    expect(planRollout(ROLLOUT_DEFAULTS.tag, 39).maxErrors).toBe(1);
    expect(planRollout(ROLLOUT_DEFAULTS.tag, 19).maxErrors).toBe(0);
  });
});

describe('error states', () => {
  it('rolled back, failed and error count as errors; others do not', () => {
    expect(['rolled-back', 'failed', 'error', 'ok', 'skipped', 'pin-failed'].map(isErrorBeaconState)).toEqual([true, true, true, false, false, false]);
  });
});

describe('halts', () => {
  it('their outcome: none completed, a cancel cancelled, anything else halted', () => {
    expect(outcomeOfHalt(null)).toBe('completed');
    expect(outcomeOfHalt('cancelled')).toBe('cancelled');
    expect(outcomeOfHalt('max-errors')).toBe('halted');
    expect(outcomeOfHalt('canary-failed')).toBe('halted');
    expect(outcomeOfHalt('no-go')).toBe('halted');
  });

  it('in words, with how many beacons were not started', () => {
    const plan = { maxErrors: 1, canary: 2, total: 10 };
    const done = { failed: 3, canaryFailed: 1, started: 4 };
    expect(describeHalt('max-errors', plan, done)).toBe('3 beacon(s) failed, more than maxErrors (1): 6 beacon(s) were not started');
    expect(describeHalt('canary-failed', plan, done)).toBe('the canary failed (1 of 2 beacon(s)): 6 beacon(s) were not started');
    expect(describeHalt('cancelled', plan, done)).toBe('cancelled by an operator: 6 beacon(s) were not started');
    expect(describeHalt('no-go', plan, done)).toBe('no operator gave the go after the canary in time: 6 beacon(s) were not started');
  });
});

describe('the reconciler at the canary', () => {
  const spec = { ...ROLLOUT_DEFAULTS.tag, canary: { count: 2 }, waveSize: { count: 4 }, maxConcurrency: { count: 10 }, maxErrors: { count: 10 }, pauseAfterCanary: true };
  const plan = planRollout(spec, 10);

  it('starts the canary, waits for it, then asks for a go; the go starts the next wave', () => {
    expect(decideRolloutStep(plan, progress())).toEqual({ action: 'start', from: 0, to: 2, wave: 0 });
    expect(decideRolloutStep(plan, progress({ started: 2, finished: 1 }))).toEqual({ action: 'wait', running: 1, wave: 1 });
    expect(decideRolloutStep(plan, progress({ started: 2, finished: 2 }))).toEqual({ action: 'await-go', wave: 1 });
    expect(decideRolloutStep(plan, progress({ started: 2, finished: 2, goAfterCanary: true }))).toEqual({ action: 'start', from: 2, to: 6, wave: 1 });
  });

  it('no go in time halts; a failed canary halts even without a pause', () => {
    expect(decideRolloutStep(plan, progress({ started: 2, finished: 2, goTimedOut: true }))).toEqual({ action: 'done', reason: 'no-go', notStarted: 8 });
    const noPause = planRollout({ ...spec, pauseAfterCanary: false }, 10);
    expect(decideRolloutStep(noPause, progress({ started: 2, finished: 2 }))).toEqual({ action: 'start', from: 2, to: 6, wave: 1 });
    expect(decideRolloutStep(noPause, progress({ started: 2, finished: 2, failed: 1, canaryFailed: 1 }))).toEqual({ action: 'done', reason: 'canary-failed', notStarted: 8 });
  });

  it('without a canary, a later wave never waits for a go; the second wave waits for the first to finish', () => {
    const plain = planRollout({ ...spec, canary: { count: 0 } }, 10);
    expect(decideRolloutStep(plain, progress({ started: 4, finished: 3 }))).toEqual({ action: 'wait', running: 1, wave: 1 });
    expect(decideRolloutStep(plain, progress({ started: 4, finished: 4 }))).toEqual({ action: 'start', from: 4, to: 8, wave: 1 });
    expect(decideRolloutStep(plain, progress({ started: 5, finished: 4 }))).toEqual({ action: 'start', from: 5, to: 8, wave: 1 });
  });

  it('all started: waits on the last wave, then completed', () => {
    expect(decideRolloutStep(plan, progress({ started: 10, finished: 8, goAfterCanary: true }))).toEqual({ action: 'wait', running: 2, wave: plan.waves.length - 1 });
    expect(decideRolloutStep(plan, progress({ started: 10, finished: 10, goAfterCanary: true }))).toEqual({ action: 'done', reason: 'completed', notStarted: 0 });
  });
});
