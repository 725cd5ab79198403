import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderDesiredState } from '../../lambdas/core/desired-state.js';
import { parseRequest } from '../../lambdas/core/request.js';
import { DEFAULT_PASSWORD, configuredBeacon, flexnetRoot, freshBeacon, registryValue } from '../../local/beacon-model.js';
import { BUILTIN_BEACON_VERSION } from '../../local/builtin-fleet.js';
import { comparableState } from '../ssm/helpers.js';
import { type Harness, beaconStates, requestFor, startTwin } from './twin-harness.js';

// One fleet in the states operators meet, one request through the whole local pipeline.
const FRESH_A = 'i-0e2e0000000000001';
const FRESH_B = 'i-0e2e0000000000002';
const DONE_C = 'i-0e2e0000000000003';
const OFFLINE_D = 'i-0e2e0000000000004';
const BROKEN_E = 'i-0e2e0000000000005';
const ALL = [FRESH_A, FRESH_B, DONE_C, OFFLINE_D, BROKEN_E];

describe('a request across a fleet, end to end in the local twin', () => {
  let harness: Harness;
  const request = requestFor(ALL, { requestId: 'e2e-fleet' });
  let brokenBefore: string;
  let offlineBefore: string;

  beforeAll(async () => {
    const state = renderDesiredState(parseRequest(request));
    harness = await startTwin([
      { instanceId: FRESH_A, computerName: 'E2E-A', model: freshBeacon({ computerName: 'E2E-A', beaconVersion: BUILTIN_BEACON_VERSION }) },
      { instanceId: FRESH_B, computerName: 'E2E-B', model: freshBeacon({ computerName: 'E2E-B', beaconVersion: BUILTIN_BEACON_VERSION, root: '32' }) },
      { instanceId: DONE_C, computerName: 'E2E-C', model: configuredBeacon(state, { computerName: 'E2E-C', beaconVersion: BUILTIN_BEACON_VERSION }) },
      { instanceId: OFFLINE_D, computerName: 'E2E-D', pingStatus: 'ConnectionLost', model: freshBeacon({ computerName: 'E2E-D' }) },
      {
        instanceId: BROKEN_E,
        computerName: 'E2E-E',
        model: freshBeacon({ computerName: 'E2E-E', beaconVersion: BUILTIN_BEACON_VERSION, faults: { serviceFailsToStart: true } }),
      },
    ]);
    brokenBefore = readFileSync(harness.modelPath(BROKEN_E), 'utf8');
    offlineBefore = readFileSync(harness.modelPath(OFFLINE_D), 'utf8');
    // FNMS is flaky: the first two answers to the settings read are 503.
    harness.twin.fnms.failNext(harness.twin.fnms.paths.beaconSettings, 503, 2);
    harness.twin.submit(request);
    await harness.twin.drain();
  }, 180_000);

  afterAll(async () => {
    await harness?.twin.stop();
  });

  it('configures every online healthy beacon and reports it ok', async () => {
    const states = await beaconStates(harness.twin, 'e2e-fleet');
    expect(states).toEqual({ [FRESH_A]: 'ok', [FRESH_B]: 'ok', [DONE_C]: 'ok', [OFFLINE_D]: 'skipped', [BROKEN_E]: 'rolled-back' });
  });

  it('leaves the registry exactly as the procedure says, on 64-bit and 32-bit installs', () => {
    for (const [id, root] of [
      [FRESH_A, flexnetRoot('64')],
      [FRESH_B, flexnetRoot('32')],
    ] as const) {
      const model = harness.model(id);
      expect(registryValue(model.registry, `${root}\\Common`, 'https_proxy')?.data).toBe('https://proxy.corp.example:8080');
      expect(registryValue(model.registry, `${root}\\Common`, 'http_proxy')).toBeUndefined();
      expect(registryValue(model.registry, `${root}\\Launcher\\CurrentVersion`, 'https_proxy')?.data).toBe('http://proxy.corp.example:8080');
      expect(registryValue(model.registry, `${root}\\Common\\DownloadSettings\\ReplicatorParent`, 'Proxy')?.data).toBe('https://proxy.corp.example:8080');
      expect(model.services[0]).toMatchObject({ startName: 'CORP\\svc-beacon', state: 'Running' });
      expect(model.tasks.every((task) => task.userId === 'CORP\\svc-beacon')).toBe(true);
    }
  });

  it('an already configured beacon is verified and nothing is changed', async () => {
    const status = await harness.twin.store.getRequestStatus('e2e-fleet');
    const done = status!.beacons.find((b) => b.instanceId === DONE_C)!;
    expect(done.changed).toEqual([]);
    expect(done.checks!.length).toBeGreaterThan(10);
    expect(done.checks!.every((check) => check.ok)).toBe(true);
  });

  it('an offline beacon is skipped with the reason, and never receives a command', async () => {
    const status = await harness.twin.store.getRequestStatus('e2e-fleet');
    expect(status!.beacons.find((b) => b.instanceId === OFFLINE_D)!.reasons?.join(' ')).toMatch(/offline|ConnectionLost/);
    expect(harness.twin.ssm.sent.some((s) => s.instanceIds.includes(OFFLINE_D))).toBe(false);
    expect(readFileSync(harness.modelPath(OFFLINE_D), 'utf8')).toBe(offlineBefore);
  });

  it('a beacon whose service fails is rolled back to exactly what it was, and says why', async () => {
    const status = await harness.twin.store.getRequestStatus('e2e-fleet');
    const broken = status!.beacons.find((b) => b.instanceId === BROKEN_E)!;
    expect(broken.reasons?.join(' ')).toMatch(/SERVICE_START_FAILED/);
    // WinINet blobs come back with counter + 1 (Windows counts every change): compared without it.
    const before = comparableState(JSON.parse(brokenBefore)) as Record<string, unknown>;
    const after = comparableState(harness.model(BROKEN_E)) as Record<string, unknown>;
    for (const key of ['registry', 'hives', 'profiles', 'rights', 'groups', 'services', 'tasks'] as const) {
      expect(after[key], key).toEqual(before[key]);
    }
  });

  it('FNMS answering 503 twice is retried, and "Always use the latest version" becomes the beacons\' release', () => {
    const fnms = harness.twin.fnms;
    expect(fnms.state.approvedVersion).toBe(BUILTIN_BEACON_VERSION);
    expect(fnms.requests.filter((r) => r.status === 503)).toHaveLength(2);
    // Three workflows pin at about the same time; FNMS offers no compare-and-set, so two may both write the same release.
    const writes = fnms.requestsTo(fnms.paths.approvedVersion, 'PUT');
    expect(writes.length).toBeGreaterThanOrEqual(1);
    expect(writes.length).toBeLessThanOrEqual(3);
  });

  it('every beacon outcome reaches the requester and the audit trail', async () => {
    // Each beacon's outcome once (kind=beacon), and the request's start and one summary (kind=request).
    const notified = harness.twin.notifier.sent.filter((o) => o.outcome.kind === 'beacon').map((o) => o.outcome.instanceId).sort();
    expect(notified).toEqual([...ALL].sort());
    expect(harness.twin.notifier.sent.filter((o) => o.outcome.kind === 'request').map((o) => o.outcome.event)).toEqual(['started', 'summary']);
    const status = await harness.twin.store.getRequestStatus('e2e-fleet');
    const events = status!.audit.map((e) => e.event);
    expect(events).toContain('request.accepted');
    expect(events.filter((e) => e === 'configure.sent')).toHaveLength(4);
  });

  it('the password appears in no status, audit entry, notification, command or beacon state', async () => {
    const status = await harness.twin.store.getRequestStatus('e2e-fleet');
    // The model's `secrets` stands in for Secrets Manager, the one place the password is meant to be.
    const beaconStates = ALL.map((id) => JSON.stringify({ ...harness.model(id), secrets: {} }));
    const everything = [JSON.stringify(status), JSON.stringify(harness.twin.notifier.sent), JSON.stringify(harness.twin.ssm.sent), ...beaconStates];
    expect(everything.join('').length).toBeGreaterThan(1000);
    for (const text of everything) expect(text).not.toContain(DEFAULT_PASSWORD);
  });
});
