import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RequestError } from '../../lambdas/core/errors.js';
import { ROLLOUT_DEFAULTS, type RolloutProgress, type RolloutStep, decideRolloutStep, parseRollout, planRollout } from '../../lambdas/core/rollout.js';

const fresh: RolloutProgress = { started: 0, finished: 0, failed: 0, canaryFailed: 0, goAfterCanary: false, cancelRequested: false };

function refusal(fn: () => unknown): { code: string; field: string; message: string } {
  try {
    fn();
  } catch (error) {
    if (error instanceof RequestError) return { code: error.code, field: error.field, message: error.message };
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('rollout plan', () => {
  it('a tag target starts with one canary beacon, then waves of a quarter of the fleet', () => {
    const plan = planRollout(parseRollout(undefined, 'tag'), 300);
    expect(plan.canary).toBe(1);
    expect(plan.waves[0]).toEqual({ from: 0, to: 1 });
    expect(plan.waves.slice(1).map((wave) => wave.to - wave.from)).toEqual([75, 75, 75, 74]);
    expect(plan.maxConcurrency).toBe(50);
    // 5 % of 300, rounded down: the 16th failure halts the rest.
    expect(plan.maxErrors).toBe(15);
  });

  it('named instances run as one wave and a failure does not stop the others (the behaviour before rollouts)', () => {
    const plan = planRollout(parseRollout(undefined, 'instances'), 7);
    expect(plan.waves).toEqual([{ from: 0, to: 7 }]);
    expect(plan.canary).toBe(0);
    expect(plan.maxErrors).toBe(7);
  });

  it('percentages of the fleet: wave size and concurrency round up, the error budget rounds down', () => {
    const plan = planRollout(parseRollout({ canary: '1%', waveSize: '10%', maxConcurrency: '3%', maxErrors: '2%' }, 'tag'), 101);
    expect(plan.canary).toBe(2);
    expect(plan.waves[1]).toEqual({ from: 2, to: 13 });
    expect(plan.maxConcurrency).toBe(4);
    expect(plan.maxErrors).toBe(2);
  });

  it('waves cover every beacon exactly once, in order, whatever the sizes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: 60 }), fc.integer({ min: 1, max: 100 }), (total, canary, percent) => {
        const plan = planRollout(parseRollout({ canary, waveSize: `${percent}%` }, 'tag'), total);
        let next = 0;
        for (const wave of plan.waves) {
          expect(wave.from).toBe(next);
          expect(wave.to).toBeGreaterThan(wave.from);
          next = wave.to;
        }
        expect(next).toBe(total);
      }),
    );
  });

  it('a single beacon has no canary: there is nothing to protect behind it', () => {
    expect(planRollout(parseRollout(undefined, 'tag'), 1)).toMatchObject({ canary: 0, waves: [{ from: 0, to: 1 }], pauseAfterCanary: false });
  });

  it('bad amounts are refused with the field and what to write instead', () => {
    expect(refusal(() => parseRollout({ waveSize: 0 }, 'tag'))).toMatchObject({ code: 'INVALID_REQUEST', field: 'rollout.waveSize' });
    expect(refusal(() => parseRollout({ maxConcurrency: '0%' }, 'tag'))).toMatchObject({ code: 'INVALID_REQUEST', field: 'rollout.maxConcurrency' });
    expect(refusal(() => parseRollout({ canary: '150%' }, 'tag'))).toMatchObject({ field: 'rollout.canary' });
    expect(refusal(() => parseRollout({ maxErrors: 1.5 }, 'tag'))).toMatchObject({ field: 'rollout.maxErrors' });
    expect(refusal(() => parseRollout({ maxErrors: 'ten' }, 'tag')).message).toContain('percentage');
    expect(parseRollout({ maxErrors: 0, canary: 0 }, 'tag')).toMatchObject({ maxErrors: { count: 0 }, canary: { count: 0 } });
  });
});

describe('rollout decisions', () => {
  const plan = planRollout(parseRollout({ canary: 1, waveSize: 4, maxConcurrency: 3, maxErrors: 1 }, 'tag'), 9);

  it('starts the canary alone, and the first wave only after the canary finished', () => {
    expect(decideRolloutStep(plan, fresh)).toEqual({ action: 'start', from: 0, to: 1, wave: 0 });
    expect(decideRolloutStep(plan, { ...fresh, started: 1 })).toEqual({ action: 'wait', running: 1, wave: 1 });
    expect(decideRolloutStep(plan, { ...fresh, started: 1, finished: 1 })).toEqual({ action: 'start', from: 1, to: 4, wave: 1 });
  });

  it('a failed canary halts the rest: nothing more starts', () => {
    expect(decideRolloutStep(plan, { ...fresh, started: 1, finished: 1, failed: 1, canaryFailed: 1 })).toEqual({ action: 'done', reason: 'canary-failed', notStarted: 8 });
  });

  it('never more beacons running than maxConcurrency', () => {
    expect(decideRolloutStep(plan, { ...fresh, started: 4, finished: 1 })).toEqual({ action: 'wait', running: 3, wave: 1 });
    expect(decideRolloutStep(plan, { ...fresh, started: 4, finished: 2 })).toEqual({ action: 'start', from: 4, to: 5, wave: 1 });
  });

  it('when failures pass maxErrors, running beacons finish and the request then ends halted with the beacons not started', () => {
    expect(decideRolloutStep(plan, { ...fresh, started: 5, finished: 3, failed: 2 })).toEqual({ action: 'stopping', reason: 'max-errors', running: 2, notStarted: 4 });
    expect(decideRolloutStep(plan, { ...fresh, started: 5, finished: 5, failed: 2 })).toEqual({ action: 'done', reason: 'max-errors', notStarted: 4 });
  });

  it('a cancel stops new starts at once and ends when the running beacons are final', () => {
    expect(decideRolloutStep(plan, { ...fresh, started: 3, finished: 1, cancelRequested: true })).toMatchObject({ action: 'stopping', reason: 'cancelled', running: 2 });
    expect(decideRolloutStep(plan, { ...fresh, started: 3, finished: 3, cancelRequested: true })).toEqual({ action: 'done', reason: 'cancelled', notStarted: 6 });
  });

  it('pauseAfterCanary waits for an operator go once the canary is done, then goes on', () => {
    const paused = planRollout(parseRollout({ canary: 1, pauseAfterCanary: true }, 'tag'), 10);
    expect(decideRolloutStep(paused, { ...fresh, started: 1, finished: 1 })).toEqual({ action: 'await-go', wave: 1 });
    expect(decideRolloutStep(paused, { ...fresh, started: 1, finished: 1, goAfterCanary: true })).toMatchObject({ action: 'start', from: 1 });
  });

  it('completes when every beacon started and finished', () => {
    expect(decideRolloutStep(plan, { ...fresh, started: 9, finished: 8 })).toMatchObject({ action: 'wait', running: 1 });
    expect(decideRolloutStep(plan, { ...fresh, started: 9, finished: 9 })).toEqual({ action: 'done', reason: 'completed', notStarted: 0 });
  });

  it('an empty target is done at once', () => {
    expect(decideRolloutStep(planRollout(parseRollout(undefined, 'tag'), 0), fresh)).toEqual({ action: 'done', reason: 'completed', notStarted: 0 });
  });

  it('simulated rollouts keep every rule: start once each, in order, within concurrency and waves, and halt on errors', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 120 }),
        fc.record({ canary: fc.integer({ min: 0, max: 5 }), waveSize: fc.integer({ min: 1, max: 40 }), maxConcurrency: fc.integer({ min: 1, max: 20 }), maxErrors: fc.integer({ min: 0, max: 10 }) }),
        fc.infiniteStream(fc.double({ min: 0, max: 1, noNaN: true })),
        fc.double({ min: 0, max: 0.3, noNaN: true }),
        (total, input, randoms, failureRate) => {
          const plan = planRollout(parseRollout(input, 'tag'), total);
          const progress: RolloutProgress = { ...fresh };
          const running: number[] = [];
          const startedIds = new Set<number>();
          const random = randoms[Symbol.iterator]();
          let step: RolloutStep;
          for (let guard = 0; ; guard++) {
            expect(guard).toBeLessThan(10_000);
            step = decideRolloutStep(plan, progress);
            if (step.action === 'done') break;
            if (step.action === 'start') {
              expect(step.from).toBe(progress.started);
              for (let index = step.from; index < step.to; index++) {
                expect(startedIds.has(index)).toBe(false);
                startedIds.add(index);
                running.push(index);
              }
              progress.started = step.to;
              expect(running.length).toBeLessThanOrEqual(plan.maxConcurrency);
              // Every running beacon belongs to the same wave.
              expect(new Set(running.map((index) => plan.waves.findIndex((wave) => index >= wave.from && index < wave.to))).size).toBe(1);
              continue;
            }
            expect(step.action).not.toBe('await-go');
            // Some running beacon finishes.
            const position = Math.min(running.length - 1, Math.floor(random.next().value * running.length));
            const [finished] = running.splice(position, 1);
            expect(finished).toBeDefined();
            progress.finished += 1;
            if (random.next().value < failureRate) {
              progress.failed += 1;
              if (finished! < plan.canary) progress.canaryFailed += 1;
            }
          }
          expect(running).toHaveLength(0);
          if (step.reason === 'completed') {
            expect(startedIds.size).toBe(total);
            expect(progress.failed).toBeLessThanOrEqual(plan.maxErrors);
          } else {
            expect(startedIds.size + step.notStarted).toBe(total);
          }
        },
      ),
    );
  });
});

describe('the request carries its rollout', () => {
  it('a tag request without rollout gets the canary-then-waves default; named instances run at once', async () => {
    const { parseRequest } = await import('../../lambdas/core/request.js');
    const { validInput } = await import('../support/requests.js');
    expect(parseRequest(validInput({ target: { tag: { key: 'role', value: 'beacon' } } })).rollout).toEqual(ROLLOUT_DEFAULTS.tag);
    expect(parseRequest(validInput()).rollout).toEqual(ROLLOUT_DEFAULTS.instances);
  });

  it('a bad or unknown rollout field is refused at the boundary with its path', async () => {
    const { parseRequest } = await import('../../lambdas/core/request.js');
    const { validInput } = await import('../support/requests.js');
    expect(refusal(() => parseRequest(validInput({ rollout: { waveSize: '0%' } } as never)))).toMatchObject({ code: 'INVALID_REQUEST', field: 'rollout.waveSize' });
    expect(refusal(() => parseRequest(validInput({ rollout: { serial: 3 } } as never)))).toMatchObject({ code: 'INVALID_REQUEST', field: 'rollout.serial' });
  });
});
