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
