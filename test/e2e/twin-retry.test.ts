/**
 * The twin retries a failed Task state as Step Functions does: each retrier's own series (IntervalSeconds,
 * times BackoffRate per attempt, capped at MaxDelaySeconds), scaled like every wait, and with
 * JitterStrategy FULL each wait drawn between 0 and the series value. A twin that waited the series' mean
 * every time made a throttled fleet retry slower at first and in lockstep later, unlike AWS; the fleet
 * bench's figures depend on this.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { retryDelaysSeconds } from '../../infra/workflow-definition.js';
import { STATES } from '../../infra/workflow-states.js';
import { WORKFLOW_CONSTANTS } from '../../lambdas/core/timing.js';
import { BUILTIN_BEACON_VERSION } from '../../local/builtin-fleet.js';
import { freshBeacon } from '../../local/beacon-model.js';
import { type Harness, requestFor, startTwin } from './twin-harness.js';

const BEACON = 'i-0e2e00000000000a1';
const MS_PER_SECOND = 5;
const policy = WORKFLOW_CONSTANTS.sendThrottleRetry;
/** The deployed series of waits, in real ms at the twin's scale. */
const series = retryDelaysSeconds({ ErrorEquals: ['ThrottledError'], IntervalSeconds: policy.intervalSeconds, BackoffRate: policy.backoffRate, MaxAttempts: policy.maxAttempts, MaxDelaySeconds: policy.maxDelaySeconds }).map(
  (seconds) => seconds * MS_PER_SECOND,
);
/** Slack for the event loop between a retry's timer and the next attempt reaching the handler. */
const SLACK_MS = 60;

async function throttledAttempts(retryJitter: boolean): Promise<{ harness: Harness; gaps: number[] }> {
  const times: number[] = [];
  const harness = await startTwin([{ instanceId: BEACON, computerName: 'RETRY-A', model: freshBeacon({ computerName: 'RETRY-A', beaconVersion: BUILTIN_BEACON_VERSION }) }], {
    msPerSecond: MS_PER_SECOND,
    retryJitter,
    faults: [{ state: STATES.sendConfigure, fault: 'throttle' }],
    onState: (_id, _request, state) => {
      if (state === STATES.sendConfigure) times.push(performance.now());
    },
  });
  harness.twin.submit(requestFor([BEACON], { requestId: `retry-${retryJitter}` }));
  await harness.twin.drain();
  return { harness, gaps: times.slice(1).map((t, i) => t - times[i]!) };
}

describe('the twin retries a throttled step on Step Functions own backoff series', () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.twin.stop();
    harness = undefined;
  });

  it('without jitter, waits each attempt its series value: short at first, growing to the cap', async () => {
    const run = await throttledAttempts(false);
    harness = run.harness;
    expect(run.gaps).toHaveLength(policy.maxAttempts);
    for (const [index, gap] of run.gaps.entries()) {
      expect(gap, `wait before retry ${index + 1}`).toBeGreaterThanOrEqual(series[index]! - 2);
      expect(gap, `wait before retry ${index + 1}`).toBeLessThanOrEqual(series[index]! + SLACK_MS);
    }
  }, 60_000);

  it('with FULL jitter (as deployed), draws each wait between 0 and its series value', async () => {
    const run = await throttledAttempts(true);
    harness = run.harness;
    expect(run.gaps).toHaveLength(policy.maxAttempts);
    for (const [index, gap] of run.gaps.entries()) expect(gap, `wait before retry ${index + 1}`).toBeLessThanOrEqual(series[index]! + SLACK_MS);
    // Uniform draws: the total is about half the series'; above 80 % of it is as good as impossible.
    const total = run.gaps.reduce((sum, gap) => sum + gap, 0);
    expect(total).toBeLessThan(0.8 * series.reduce((sum, wait) => sum + wait, 0));
  }, 60_000);
});
