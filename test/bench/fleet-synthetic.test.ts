import { describe, expect, it } from 'vitest';
import { ResultLineSchema, judgeResult } from '../../lambdas/core/result.js';
import { packageOf } from '../../bench/bundles.js';
import { syntheticConfigureResult, syntheticExecutor, throttleRetryWindowSeconds } from '../../bench/fleet.js';
import type { FleetBeacon } from '../../local/fleet.js';

const beacon: FleetBeacon = { instanceId: 'i-00000000000000001', computerName: 'BEACON00001', platformType: 'Windows', pingStatus: 'Online', tags: {}, model: 'm.json', modelPath: '/m.json' };

describe('fleet benchmark beacons', () => {
  it('the synthetic configure result line meets the result contract and is judged ok with no change', async () => {
    expect(ResultLineSchema.safeParse(syntheticConfigureResult('req-1')).success).toBe(true);
    const run = await syntheticExecutor(0)(beacon, 'configure', {}, { signal: new AbortController().signal, timeoutMs: 1000 });
    expect(run.exitCode).toBe(0);
    const verdict = judgeResult(run.stdout);
    expect(verdict.status).toBe('ok');
    expect(verdict.status === 'ok' && verdict.changed).toEqual([]);
  });

  it('a synthetic beacon asked to roll back fails instead of pretending', async () => {
    const run = await syntheticExecutor(0)(beacon, 'rollback', {}, { signal: new AbortController().signal, timeoutMs: 1000 });
    expect(run.exitCode).not.toBe(0);
  });

  it('the throttle retry window is the sum of the ThrottledError retrier backoff series', () => {
    const definition = {
      States: {
        SendConfigure: {
          Retry: [
            { ErrorEquals: ['Lambda.ServiceException'], IntervalSeconds: 2, MaxAttempts: 6 },
            { ErrorEquals: ['ThrottledError', 'TransientError'], IntervalSeconds: 5, BackoffRate: 2, MaxAttempts: 5 },
          ],
        },
      },
    };
    expect(throttleRetryWindowSeconds(definition)).toBe(5 + 10 + 20 + 40 + 80);
  });
});

describe('bundle contributors', () => {
  it('groups esbuild inputs by package, scoped packages by scope and name', () => {
    expect(packageOf('node_modules/zod/v4/core/schemas.js')).toBe('zod');
    expect(packageOf('node_modules/@aws-lambda-powertools/logger/lib/esm/Logger.js')).toBe('@aws-lambda-powertools/logger');
    expect(packageOf('node_modules/a/node_modules/semver/index.js')).toBe('semver');
    expect(packageOf('lambdas/core/request.ts')).toBe('(own code)');
  });
});
