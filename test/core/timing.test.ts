/**
 * The timing model as the operator reads it (README, "The per-beacon workflow and its timing model"): the
 * documented defaults, and every value set that does not nest refused at synth with the field to change,
 * right at its boundary. The state machine tests (test/infra) check that the template uses these figures.
 */
import { describe, expect, it } from 'vitest';
import {
  REQUEST_CONSTANTS,
  SEND_THROTTLE_DESIGN,
  TimingConfigError,
  WORKFLOW_CONSTANTS,
  deriveRequestTiming,
  deriveWorkflowTiming,
  maxPollFailures,
  parseRequestTiming,
  parseWorkflowTiming,
  pollFailureWaitSeconds,
  pollWaitSeconds,
  retryWaitSeconds,
  stepBudgetSeconds,
  workBudgetMs,
} from '../../lambdas/core/timing.js';

function refusal(derive: () => unknown): TimingConfigError {
  try {
    derive();
  } catch (error) {
    expect(error).toBeInstanceOf(TimingConfigError);
    return error as TimingConfigError;
  }
  throw new Error('expected a TimingConfigError');
}

describe('the per-beacon workflow timing with the defaults (the README table)', () => {
  it('every figure of the table', () => {
    expect(deriveWorkflowTiming()).toEqual({
      deliveryTimeoutSeconds: 600,
      executionTimeoutSeconds: { configure: 900, verify: 300, rollback: 900 },
      pollMarginSeconds: 120,
      pollDeadlineSeconds: { configure: 1620, verify: 1020, rollback: 1620 },
      cancelWaitSeconds: 300,
      locateDeadlineSeconds: 720,
      rollbackAttempts: 2,
      firstPollSeconds: 5,
      maxPollSeconds: 60,
      lockPollSeconds: 30,
      maxLockPollSeconds: 300,
      worstHoldSeconds: 26_739,
      lockTtlSeconds: 27_300,
      busyWaitSeconds: 27_300,
      stateMachineTimeoutSeconds: 55_800,
      functionTimeoutSeconds: 30,
      pinFunctionTimeoutSeconds: 60,
      taskTimeoutSeconds: 90,
    });
  });

  it('the deadlines follow the inputs: delivery, margin, cancel wait and rollback attempts each move the worst hold', () => {
    const base = deriveWorkflowTiming();
    const later = deriveWorkflowTiming({ deliveryTimeoutSeconds: 900 });
    expect(later.pollDeadlineSeconds).toEqual({ configure: 1920, verify: 1320, rollback: 1920 });
    expect(later.locateDeadlineSeconds).toBe(1020);
    expect(later.worstHoldSeconds).toBeGreaterThan(base.worstHoldSeconds);
    expect(deriveWorkflowTiming({ pollMarginSeconds: 180 }).pollDeadlineSeconds.configure).toBe(1680);
    expect(deriveWorkflowTiming({ cancelWaitSeconds: 600 }).worstHoldSeconds).toBeGreaterThan(base.worstHoldSeconds);
    const one = deriveWorkflowTiming({ rollbackAttempts: 1 });
    const three = deriveWorkflowTiming({ rollbackAttempts: 3 });
    expect(one.worstHoldSeconds).toBeLessThan(base.worstHoldSeconds);
    expect(three.worstHoldSeconds - base.worstHoldSeconds).toBe(base.worstHoldSeconds - one.worstHoldSeconds);
    expect(three.lockTtlSeconds % 300).toBe(0);
    expect(three.lockTtlSeconds).toBeGreaterThanOrEqual(three.worstHoldSeconds + 300);
    expect(three.stateMachineTimeoutSeconds % 900).toBe(0);
  });

  it('the retriers as the workflow declares them: their waits without jitter, capped', () => {
    expect(retryWaitSeconds(WORKFLOW_CONSTANTS.generalRetry)).toBe(5 + 10 + 20 + 40 + 60);
    expect(retryWaitSeconds(WORKFLOW_CONSTANTS.lambdaServiceRetry)).toBe(2 + 4 + 8 + 16 + 32 + 60);
    expect(retryWaitSeconds(WORKFLOW_CONSTANTS.pollRetry)).toBe(2 + 4);
    expect(retryWaitSeconds({ intervalSeconds: 1, backoffRate: 2, maxAttempts: 0, maxDelaySeconds: 10 })).toBe(0);
    // A step: the first attempt, each retried attempt at its cost, and the retrier's waits.
    expect(stepBudgetSeconds([{ policy: WORKFLOW_CONSTANTS.pollRetry, attemptSeconds: 30 }], 30)).toBe(30 + 2 * 30 + 6);
    expect(stepBudgetSeconds([], 30)).toBe(30);
  });

  it('a throttled SendCommand keeps trying long enough that a beacon 40 s deep in the SSM queue runs out of attempts less than once in a million', () => {
    // Each wait is drawn between 0 and its series value (JitterStrategy FULL): on average half the series.
    // With the queue Q seconds deep (beacons waiting / SSM's rate), an attempt wins a token about as often as
    // the rate allows, so a beacon still waiting after an expected window W ran out with probability e^(-W/Q).
    const expectedWindow = retryWaitSeconds(WORKFLOW_CONSTANTS.sendThrottleRetry) / 2;
    expect(SEND_THROTTLE_DESIGN.queueSeconds).toBe(40);
    expect(Math.exp(-expectedWindow / SEND_THROTTLE_DESIGN.queueSeconds)).toBeLessThan(SEND_THROTTLE_DESIGN.runOutProbability);
    expect(SEND_THROTTLE_DESIGN.runOutProbability).toBeLessThanOrEqual(1e-6);
  });

  it('polls: 5 s doubling to 60 s; after a failed poll 120 s; failed polls allowed cover the command window', () => {
    const timing = deriveWorkflowTiming();
    expect([0, 1, 2, 3, 4, 5, 40].map((attempt) => pollWaitSeconds(timing, attempt))).toEqual([5, 10, 20, 40, 60, 60, 60]);
    expect(pollWaitSeconds(timing, -3)).toBe(5);
    expect(pollFailureWaitSeconds(60)).toBe(120);
    expect(maxPollFailures(1620, 300, 60)).toBe(17);
    expect(maxPollFailures(1620, 300, 61)).toBe(17);
    expect(maxPollFailures(1560, 0, 60)).toBe(14);
  });
});

describe('a timing set that does not nest is refused with the field to change', () => {
  it('values outside their bounds name the field', () => {
    expect(refusal(() => deriveWorkflowTiming({ deliveryTimeoutSeconds: 29 }))).toMatchObject({ field: 'deliveryTimeoutSeconds', code: 'TIMING_DOES_NOT_NEST', name: 'TimingConfigError' });
    expect(refusal(() => deriveWorkflowTiming({ deliveryTimeoutSeconds: 29 })).message).toMatch(/^invalid timing value deliveryTimeoutSeconds: /);
    expect(refusal(() => deriveWorkflowTiming({ rollbackAttempts: 6 })).field).toBe('rollbackAttempts');
  });

  it('the poll cap is at least the first poll; the margin at least one poll interval; the cancel wait two', () => {
    expect(() => deriveWorkflowTiming({ firstPollSeconds: 60, maxPollSeconds: 60 })).not.toThrow();
    expect(refusal(() => deriveWorkflowTiming({ firstPollSeconds: 61, maxPollSeconds: 60 }))).toMatchObject({ field: 'maxPollSeconds', message: 'maxPollSeconds (60) must be at least firstPollSeconds (61)' });
    expect(() => deriveWorkflowTiming({ pollMarginSeconds: 60 })).not.toThrow();
    expect(refusal(() => deriveWorkflowTiming({ pollMarginSeconds: 59 })).field).toBe('pollMarginSeconds');
    expect(() => deriveWorkflowTiming({ cancelWaitSeconds: 120 })).not.toThrow();
    expect(refusal(() => deriveWorkflowTiming({ cancelWaitSeconds: 119 })).field).toBe('cancelWaitSeconds');
    expect(() => deriveWorkflowTiming({ lockPollSeconds: 300, maxLockPollSeconds: 300 })).not.toThrow();
    expect(refusal(() => deriveWorkflowTiming({ lockPollSeconds: 301, maxLockPollSeconds: 300 })).field).toBe('maxLockPollSeconds');
  });

  it('an explicit lock TTL covers the worst hold; the busy wait the lock TTL; the execution timeout the worst path', () => {
    expect(deriveWorkflowTiming({ lockTtlSeconds: 26_739 })).toMatchObject({ lockTtlSeconds: 26_739, busyWaitSeconds: 26_739 });
    expect(refusal(() => deriveWorkflowTiming({ lockTtlSeconds: 26_738 }))).toMatchObject({ field: 'lockTtlSeconds' });
    expect(deriveWorkflowTiming({ busyWaitSeconds: 27_300 }).busyWaitSeconds).toBe(27_300);
    expect(deriveWorkflowTiming({ busyWaitSeconds: 30_000 }).stateMachineTimeoutSeconds).toBeGreaterThan(55_800);
    expect(refusal(() => deriveWorkflowTiming({ busyWaitSeconds: 27_299 })).field).toBe('busyWaitSeconds');
    // resolve step (467 s) + busy wait + the longest lock poll + worst hold
    expect(deriveWorkflowTiming({ executionTimeoutSeconds: 467 + 27_300 + 300 + 26_739 }).stateMachineTimeoutSeconds).toBe(54_806);
    expect(refusal(() => deriveWorkflowTiming({ executionTimeoutSeconds: 54_805 })).field).toBe('executionTimeoutSeconds');
  });
});

describe('the request workflow timing', () => {
  it('the defaults: a day for the go and the reminder, three days for the pin, the worst path and its timeout', () => {
    expect(deriveRequestTiming()).toEqual({
      goWaitSeconds: 86_400,
      pinReminderSeconds: 86_400,
      pinConfirmationSeconds: 259_200,
      rolloutFunctionTimeoutSeconds: 60,
      budgetReserveSeconds: 10,
      firstLoopWaitSeconds: 5,
      maxLoopWaitSeconds: 60,
      targetPageSize: 50,
      startBatchSize: 25,
      pinLockRetrySeconds: 15,
      pinLockWaitSeconds: 900,
      pinLockTtlSeconds: 900,
      iterationsPerExecution: 2000,
      worstHistoryEvents: 21_583,
      worstExecutionSeconds: 1_801_835,
      stateMachineTimeoutSeconds: 1_807_200,
    });
    expect(deriveRequestTiming().worstHistoryEvents).toBeLessThanOrEqual(REQUEST_CONSTANTS.historyEventLimit);
  });

  it('the waits move the worst path one for one', () => {
    expect(deriveRequestTiming({ goWaitSeconds: 86_460 }).worstExecutionSeconds).toBe(1_801_895);
    expect(deriveRequestTiming({ pinConfirmationSeconds: 259_260 }).worstExecutionSeconds).toBe(1_801_895);
  });

  it('the reminder comes before the deadline; the timeout covers the worst path and fits a Standard execution', () => {
    expect(refusal(() => deriveRequestTiming({ pinReminderSeconds: 259_200 })).field).toBe('pinReminderSeconds');
    expect(() => deriveRequestTiming({ pinReminderSeconds: 259_199 })).not.toThrow();
    expect(deriveRequestTiming({ requestTimeoutSeconds: 1_801_835 }).stateMachineTimeoutSeconds).toBe(1_801_835);
    expect(refusal(() => deriveRequestTiming({ requestTimeoutSeconds: 1_801_834 })).field).toBe('requestTimeoutSeconds');
    expect(deriveRequestTiming({ requestTimeoutSeconds: REQUEST_CONSTANTS.maxExecutionSeconds }).stateMachineTimeoutSeconds).toBe(31_536_000);
    expect(refusal(() => deriveRequestTiming({ requestTimeoutSeconds: REQUEST_CONSTANTS.maxExecutionSeconds + 1 })).field).toBe('requestTimeoutSeconds');
    expect(refusal(() => deriveRequestTiming({ goWaitSeconds: 59 })).message).toMatch(/^invalid request timing value goWaitSeconds: /);
  });
});

describe('timing travels to the functions as JSON', () => {
  it('read back as derived; a negative or missing value is refused', () => {
    const workflow = deriveWorkflowTiming();
    expect(parseWorkflowTiming(JSON.stringify(workflow))).toEqual(workflow);
    expect(() => parseWorkflowTiming(JSON.stringify({ ...workflow, cancelWaitSeconds: -1 }))).toThrow();
    const request = deriveRequestTiming();
    expect(parseRequestTiming(JSON.stringify(request))).toEqual(request);
    expect(() => parseRequestTiming(JSON.stringify({ ...request, targetPageSize: 1.5 }))).toThrow();
  });
});

describe('a step working within a budget keeps back the reserve (or a tenth of what is left)', () => {
  it('reserve, a tenth, never negative', () => {
    expect(workBudgetMs(100_000, 10)).toBe(90_000);
    expect(workBudgetMs(50_000, 10)).toBe(45_000);
    expect(workBudgetMs(100_000)).toBe(90_000);
    expect(workBudgetMs(-5)).toBe(0);
  });
});

describe('each refusal says what to change', () => {
  it('in words, with the values', () => {
    expect(refusal(() => deriveWorkflowTiming({ pollMarginSeconds: 59 })).message).toBe(
      'pollMarginSeconds (59) must be at least one poll interval (maxPollSeconds 60), or a command that ends just before the deadline is never seen',
    );
    expect(refusal(() => deriveWorkflowTiming({ cancelWaitSeconds: 119 })).message).toBe('cancelWaitSeconds (119) must cover two poll intervals (2 x 60 s) so Cancelling can be seen turning into Cancelled');
    expect(refusal(() => deriveWorkflowTiming({ lockPollSeconds: 301, maxLockPollSeconds: 300 })).message).toBe('maxLockPollSeconds (300) must be at least lockPollSeconds (301)');
    expect(refusal(() => deriveWorkflowTiming({ lockTtlSeconds: 26_738 })).message).toBe(
      'lockTtlSeconds (26738) is shorter than the longest time a workflow holds the beacon (26739 s): a holder\'s lock could expire while its command runs',
    );
    expect(refusal(() => deriveWorkflowTiming({ busyWaitSeconds: 27_299 })).message).toBe(
      'busyWaitSeconds (27299) is shorter than the lock TTL (27300 s): a second request would give up before the first one\'s lock is released or expires',
    );
    expect(refusal(() => deriveWorkflowTiming({ executionTimeoutSeconds: 54_805 })).message).toBe(
      'executionTimeoutSeconds (54805) is shorter than the worst path (54806 s: resolve, busy wait 27300 s, hold 26739 s); it would end executions before their finally',
    );
    expect(refusal(() => deriveRequestTiming({ pinReminderSeconds: 259_200 })).message).toBe("the pin reminder (259200 s) must come before the pin's deadline (pinConfirmationSeconds 259200 s)");
    expect(refusal(() => deriveRequestTiming({ requestTimeoutSeconds: 1_801_834 })).message).toBe(
      'the request workflow timeout (1801834 s) is shorter than its worst path (1801835 s: the rollout loop, the go wait 86400 s, the pin confirmation 259200 s)',
    );
    expect(refusal(() => deriveRequestTiming({ requestTimeoutSeconds: 31_536_001 })).message).toBe(
      'the request workflow timeout (31536001 s) is longer than a Standard execution may run (31536000 s); shorten the go or pin waits',
    );
  });

  it('a value of the wrong type names its field; a set that is not an object names timing', () => {
    expect(refusal(() => deriveWorkflowTiming({ deliveryTimeoutSeconds: 'x' as never })).field).toBe('deliveryTimeoutSeconds');
    expect(refusal(() => deriveWorkflowTiming('x' as never))).toMatchObject({ field: 'timing', message: expect.stringMatching(/^invalid timing value : /) });
    expect(refusal(() => deriveRequestTiming('x' as never))).toMatchObject({ field: 'timing', message: expect.stringMatching(/^invalid request timing value : /) });
    expect(refusal(() => deriveRequestTiming({ goWaitSeconds: 59 })).field).toBe('goWaitSeconds');
  });
});
