/**
 * Tag targets of any size (issue 10.1), on the strict twin: the intake's 60 s function timeout and the
 * queue's redrive policy from the template, the synthesized state machines, dynalite. The beacon workflows
 * themselves are synthetic here (each ends ok at once): what is measured is the fan-out.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadFleet } from '../../local/fleet.js';
import { syntheticBeacons, syntheticExecutor, writeSyntheticFleet } from '../../local/synthetic-fleet.js';
import { LOCAL_BEACON_TAG, LocalTwin } from '../../local/twin.js';
import { SECRET_ARN } from '../support/requests.js';

const BEACONS = 1000;

describe('a tag target larger than one function invocation can start', () => {
  let twin: LocalTwin;
  const requestId = 'fanout-1000';

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'beacon-proxy-fanout-'));
    writeSyntheticFleet(dir, syntheticBeacons(BEACONS));
    twin = await LocalTwin.create({ fleet: await loadFleet(dir), workDir: join(dir, 'work'), msPerSecond: 20, executor: syntheticExecutor(10), syntheticBeaconWorkflows: true, minFunctionTimeoutMs: 2000 });
    twin.submit({
      requestId,
      target: { tag: { key: LOCAL_BEACON_TAG.key, value: LOCAL_BEACON_TAG.value } },
      protocol: 'https',
      proxy: 'proxy.corp.example:8080',
      account: { kind: 'domain', name: 'CORP\\svc-beacon', passwordSecretArn: SECRET_ARN },
      rollout: { canary: 0, waveSize: '100%', maxConcurrency: '100%' },
    });
    await twin.drain();
  }, 300_000);

  afterAll(async () => {
    await twin?.stop();
  });

  it('every beacon gets exactly one workflow and nothing reaches the dead-letter queue', async () => {
    expect(twin.deadLetters).toEqual([]);
    expect(twin.beaconStarts.size).toBe(BEACONS);
    expect([...twin.beaconStarts.values()].filter((count) => count !== 1)).toEqual([]);
    const status = await twin.store.getRequestStatus(requestId);
    expect(status!.beacons.filter((beacon) => beacon.state === 'ok')).toHaveLength(BEACONS);
  });
});

describe('a rollout longer than one execution continues as a new one (Step Functions\' 25,000-event history)', () => {
  let twin: LocalTwin;
  const requestId = 'continued-40';
  const BEACON_COUNT = 40;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'beacon-proxy-continue-'));
    writeSyntheticFleet(dir, syntheticBeacons(BEACON_COUNT));
    // Four loop iterations per execution instead of 2,000: a canary, then waves of 5 with 3 at once need many
    // more. Real beacon workflows (synthetic documents) so that beacons take loop iterations to finish; no pin
    // (the synthetic fleet is not in the FNMS stub's inventory), so the outcome is the rollout's.
    twin = await LocalTwin.create({ fleet: await loadFleet(dir), workDir: join(dir, 'work'), msPerSecond: 20, executor: syntheticExecutor(10), pinMode: 'none', requestTiming: { iterationsPerExecution: 4 } });
    twin.submit({
      requestId,
      target: { tag: { key: LOCAL_BEACON_TAG.key, value: LOCAL_BEACON_TAG.value } },
      protocol: 'https',
      proxy: 'proxy.corp.example:8080',
      account: { kind: 'domain', name: 'CORP\\svc-beacon', passwordSecretArn: SECRET_ARN },
      rollout: { canary: 1, waveSize: 5, maxConcurrency: 3 },
    });
    await twin.drain();
  }, 300_000);

  afterAll(async () => {
    await twin?.stop();
  });

  it('ends completed across several executions, every beacon started once, one summary', async () => {
    const rollout = await twin.rollouts.getRollout(requestId);
    expect(rollout!.outcome).toMatchObject({ state: 'completed' });
    expect(rollout!.generation).toBeGreaterThanOrEqual(2);
    expect(rollout!.execution).toBe(`${requestId}--g${rollout!.generation}`);
    // Each generation's execution started once and ended well; none is left running.
    const generations = [...twin.requestStarts.keys()].filter((name) => name === requestId || name.startsWith(`${requestId}--g`));
    expect(generations).toHaveLength(rollout!.generation + 1);
    expect([...twin.requestStarts.values()].filter((count) => count !== 1)).toEqual([]);
    for (const name of generations) expect(twin.results.get(name)?.status, name).toBe('SUCCEEDED');
    expect(twin.beaconStarts.size).toBe(BEACON_COUNT);
    expect([...twin.beaconStarts.values()].filter((count) => count !== 1)).toEqual([]);
    const status = await twin.store.getRequestStatus(requestId);
    expect(status!.beacons.filter((beacon) => beacon.state === 'ok')).toHaveLength(BEACON_COUNT);
    expect(rollout!.finished).toBe(BEACON_COUNT);
    // One summary for the request, whichever execution ended it.
    const request = twin.published.filter((message) => message.attributes.kind === 'request' && message.message.requestId === requestId);
    expect(request.map((message) => message.attributes.event)).toEqual(['started', 'summary']);
  });
});
