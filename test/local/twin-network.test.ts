// The twin's beacons reach FNMS through a real proxy (local/http-proxy.ts): every configure run probes the
// FNMS stub through it after applying, and a beacon whose proxy does not let it through is rolled back.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freshBeacon } from '../../local/beacon-model.js';
import { BUILTIN_BEACON_VERSION } from '../../local/builtin-fleet.js';
import { type LocalHttpProxy, TWIN_PROBE_PATH, proxyHostMap, startHttpProxy } from '../../local/http-proxy.js';
import { type Harness, beaconStates, requestFor, startTwin } from '../e2e/twin-harness.js';

const THROUGH = 'i-0e2e0000000000a01';
const REFUSED = 'i-0e2e0000000000a02';

describe('the local twin puts a real proxy between the beacons and FNMS', () => {
  let proxy: LocalHttpProxy;
  let refusing: LocalHttpProxy;
  const harnesses: Harness[] = [];

  beforeAll(async () => {
    [proxy, refusing] = await Promise.all([startHttpProxy(), startHttpProxy({ refuse: true })]);
  });

  afterAll(async () => {
    for (const harness of harnesses) await harness.twin.stop();
    await Promise.all([proxy.stop(), refusing.stop()]);
  });

  async function run(instanceId: string, via: LocalHttpProxy): Promise<Harness> {
    const request = requestFor([instanceId], { requestId: `net-${instanceId.slice(-3)}` });
    const harness = await startTwin([{ instanceId, computerName: `NET-${instanceId.slice(-3)}`, model: freshBeacon({ computerName: `NET-${instanceId.slice(-3)}`, beaconVersion: BUILTIN_BEACON_VERSION }) }], {
      beaconNetwork: { env: { BEACON_PROXY_HOSTS: JSON.stringify(proxyHostMap([request], via.hostPort)) }, probePath: TWIN_PROBE_PATH },
    });
    harnesses.push(harness);
    harness.twin.submit(request);
    await harness.twin.drain();
    return harness;
  }

  test('configure probes FNMS through the proxy and the beacon is ok', async () => {
    const harness = await run(THROUGH, proxy);
    expect(await beaconStates(harness.twin, 'net-a01')).toEqual({ [THROUGH]: 'ok' });
    expect(proxy.requests).toContainEqual({ method: 'GET', target: `${harness.twin.fnms.url}${TWIN_PROBE_PATH}` });
  });

  test('a proxy that refuses the beacon rolls the beacon back (ENDPOINT_UNREACHABLE)', async () => {
    const harness = await run(REFUSED, refusing);
    expect(await beaconStates(harness.twin, 'net-a02')).toEqual({ [REFUSED]: 'rolled-back' });
    const status = (await harness.twin.dump()).beacons.find((entry) => entry.instanceId === REFUSED);
    expect(JSON.stringify(status)).toContain('ENDPOINT_UNREACHABLE');
    expect(harness.model(REFUSED).services[0]!.startName).toBe('LocalSystem');
  });
});
