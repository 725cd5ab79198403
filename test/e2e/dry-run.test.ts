import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderDesiredState } from '../../lambdas/core/desired-state.js';
import { parseRequest } from '../../lambdas/core/request.js';
import { type BeaconModel, configuredBeacon, freshBeacon } from '../../local/beacon-model.js';
import { BUILTIN_BEACON_VERSION } from '../../local/builtin-fleet.js';
import { type Harness, requestFor, startTwin } from './twin-harness.js';

const FRESH = 'i-0e2e00000000000d1';
const DONE = 'i-0e2e00000000000d2';

/** The beacon as Windows has it: what the fake layer did (its journal) is not beacon state. */
const beaconState = ({ journal: _journal, ...state }: BeaconModel) => state;

describe('a dry run against the twin', () => {
  let harness: Harness;
  let before: Record<string, ReturnType<typeof beaconState>>;
  const request = requestFor([FRESH, DONE], { requestId: 'e2e-dry-run', dryRun: true });

  beforeAll(async () => {
    const state = renderDesiredState(parseRequest({ ...request, dryRun: false }));
    harness = await startTwin([
      { instanceId: FRESH, computerName: 'E2E-D1', model: freshBeacon({ computerName: 'E2E-D1', beaconVersion: BUILTIN_BEACON_VERSION }) },
      { instanceId: DONE, computerName: 'E2E-D2', model: configuredBeacon(state, { computerName: 'E2E-D2', beaconVersion: BUILTIN_BEACON_VERSION }) },
    ]);
    before = { [FRESH]: beaconState(harness.model(FRESH)), [DONE]: beaconState(harness.model(DONE)) };
    harness.twin.submit(request);
    await harness.twin.drain();
  }, 120_000);

  afterAll(async () => {
    await harness?.twin.stop();
  });

  it('reads each beacon with the verify document only: nothing is configured, locked or pinned', async () => {
    expect(harness.twin.ssm.sent.map((sent) => sent.kind)).toEqual(['verify', 'verify']);
    for (const id of [FRESH, DONE]) expect(beaconState(harness.model(id)), id).toEqual(before[id]);
    const items = await harness.twin.dynamo.scan(harness.twin.dynamo.tables.state);
    expect(items.filter((item) => String(item.pk).startsWith('LOCK#'))).toEqual([]);
    expect(harness.twin.fnms.requestsTo(harness.twin.fnms.paths.approvedVersion, 'PUT')).toEqual([]);
  });

  it('the plan of a fresh beacon lists what a run would change, read back from the beacon', async () => {
    const status = await harness.twin.store.getRequestStatus('e2e-dry-run');
    const fresh = status!.beacons.find((b) => b.instanceId === FRESH)!;
    expect(fresh.state).toBe('dry-run');
    const failed = fresh.checks!.filter((check) => !check.ok).map((check) => check.name);
    expect(failed.length).toBeGreaterThan(5);
    expect(failed.join(' ')).toMatch(/https_proxy/);
    expect(fresh.reasons!.join(' ')).toMatch(/LocalSystem|https_proxy/);
  });

  it('the plan of a configured beacon says nothing would change', async () => {
    const status = await harness.twin.store.getRequestStatus('e2e-dry-run');
    const done = status!.beacons.find((b) => b.instanceId === DONE)!;
    expect(done.state).toBe('dry-run');
    expect(done.checks!.length).toBeGreaterThan(10);
    expect(done.checks!.every((check) => check.ok)).toBe(true);
    expect(done.reasons).toEqual([]);
  });
});
