import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { freshBeacon } from '../../local/beacon-model.js';
import { BUILTIN_BEACON_VERSION, builtinFnmsState } from '../../local/builtin-fleet.js';
import { PIN_MODE_NONE_WARNING } from '../../lambdas/workflow/state.js';
import { type Harness, beaconStates, requestFor, startTwin } from './twin-harness.js';

const BEACON = 'i-0e2e00000000000a1';
const OTHER = 'i-0e2e00000000000a2';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.twin.stop();
  harness = undefined;
});

function oneBeacon(id = BEACON) {
  return { instanceId: id, computerName: `E2E-${id.slice(-2).toUpperCase()}`, model: freshBeacon({ computerName: 'E2E', beaconVersion: BUILTIN_BEACON_VERSION }) };
}

describe('requests the pipeline refuses', () => {
  it('an authenticating proxy is refused with its code, recorded, and no beacon is touched', async () => {
    harness = await startTwin([oneBeacon()]);
    const before = readFileSync(harness.modelPath(BEACON), 'utf8');
    harness.twin.submit(requestFor([BEACON], { requestId: 'e2e-auth', proxy: 'http://alice:s3cret@proxy.corp.example:8080' }));
    await harness.twin.drain();
    const status = await harness.twin.store.getRequestStatus('e2e-auth');
    expect(status?.request).toMatchObject({ state: 'invalid', error: { code: 'PROXY_AUTH_UNSUPPORTED', field: 'proxy' } });
    expect(JSON.stringify(status)).not.toContain('s3cret');
    expect(harness.twin.ssm.sent).toEqual([]);
    expect(harness.twin.deadLetters).toEqual([]);
    expect(readFileSync(harness.modelPath(BEACON), 'utf8')).toBe(before);
    expect(harness.twin.notifier.sent[0]?.outcome).toMatchObject({ requestId: 'e2e-auth', state: 'invalid' });
  });

  it('a message that is not JSON is recorded with its reason and not retried', async () => {
    harness = await startTwin([oneBeacon()]);
    harness.twin.submit('{"target": ');
    await harness.twin.drain();
    const invalid = (await harness.twin.dump()).requests;
    expect(invalid).toHaveLength(1);
    expect(invalid[0]).toMatchObject({ state: 'invalid', error: { code: 'INVALID_REQUEST' } });
    expect(harness.twin.deadLetters).toEqual([]);
  });

  it('a downgrade of the approved version is refused unless allowed; the beacon itself is still configured', async () => {
    harness = await startTwin([oneBeacon()], { fnms: { state: { ...builtinFnmsState(['E2E-A1']), approvedVersion: '13.2.0' } } });
    harness.twin.submit(requestFor([BEACON], { requestId: 'e2e-downgrade', beaconVersion: { pin: '13.1.0' } }));
    await harness.twin.drain();
    const status = await harness.twin.store.getRequestStatus('e2e-downgrade');
    // The pin is the request's (decided once its beacons finished): the beacon is ok, the request ends pin-failed.
    expect(status!.beacons[0]).toMatchObject({ state: 'ok' });
    expect(status!.rollout).toMatchObject({ outcome: { state: 'pin-failed' }, pin: { status: 'refused', code: 'DOWNGRADE_REFUSED' } });
    expect(harness.twin.fnms.state.approvedVersion).toBe('13.2.0');
    expect(harness.twin.fnms.requestsTo(harness.twin.fnms.paths.approvedVersion, 'PUT')).toEqual([]);
  });
});

describe('the FNMS version pin', () => {
  it('FNMS answering 503 twice then 200 pins the version once; "latest" becomes the beacon\'s release', async () => {
    harness = await startTwin([oneBeacon()]);
    const fnms = harness.twin.fnms;
    fnms.failNext(fnms.paths.beaconSettings, 503, 2);
    harness.twin.submit(requestFor([BEACON], { requestId: 'e2e-flaky-fnms' }));
    await harness.twin.drain();
    expect(await beaconStates(harness.twin, 'e2e-flaky-fnms')).toEqual({ [BEACON]: 'ok' });
    expect(fnms.requests.filter((r) => r.status === 503)).toHaveLength(2);
    expect(fnms.requestsTo(fnms.paths.approvedVersion, 'PUT')).toHaveLength(1);
    expect(fnms.state.approvedVersion).toBe(BUILTIN_BEACON_VERSION);
    const status = await harness.twin.store.getRequestStatus('e2e-flaky-fnms');
    expect(status!.beacons[0]!.pinnedVersion ?? status!.audit.find((e) => e.event === 'fnms.pinned')?.detail?.version).toBe(BUILTIN_BEACON_VERSION);
  });
});

describe('the FNMS beacon inventory and pin modes, through the stub\'s real wire formats', () => {
  it('a beacon the FNMS report lists at a newer release: "current" never approves the older one, it keeps FNMS at the newer (read through Flexera One\'s report API)', async () => {
    const state = builtinFnmsState(['E2E-A1', 'OTHER-BEACON']);
    state.beacons![1]!.version = '13.3.0';
    harness = await startTwin([oneBeacon()], { fnms: { state, pageSize: 1 } });
    harness.twin.submit(requestFor([BEACON], { requestId: 'e2e-inventory-newer' }));
    await harness.twin.drain();
    const status = await harness.twin.store.getRequestStatus('e2e-inventory-newer');
    expect(status!.beacons[0]).toMatchObject({ state: 'ok' });
    expect(status!.rollout).toMatchObject({ outcome: { state: 'completed' }, pin: { status: 'pinned', version: '13.3.0', highestDeployed: '13.3.0' } });
    const fnms = harness.twin.fnms;
    expect(fnms.requestsTo(fnms.paths.report).map((r) => r.status)).toEqual([200, 200]);
    expect(fnms.state.approvedVersion).toBe('13.3.0');
  });

  it('a report saved without the version column: the pin fails naming the column; the beacon stays configured', async () => {
    harness = await startTwin([oneBeacon()]);
    harness.twin.fnms.omitColumns.add('version');
    harness.twin.submit(requestFor([BEACON], { requestId: 'e2e-inventory-column' }));
    await harness.twin.drain();
    const status = await harness.twin.store.getRequestStatus('e2e-inventory-column');
    expect(status!.beacons[0]).toMatchObject({ state: 'ok', changed: expect.any(Array) });
    expect(status!.rollout).toMatchObject({ outcome: { state: 'pin-failed' }, pin: { status: 'failed', code: 'INVENTORY_COLUMN_MISSING' } });
    expect(status!.rollout!.pin!.reason).toContain(`Flexera One report ${harness.twin.fnms.reportId} has no column "${harness.twin.fnms.reportColumns.version}"`);
  });

  it('pinMode none: configured and ok, nothing pinned or read, and the warning in the status and the notification', async () => {
    harness = await startTwin([oneBeacon()], { pinMode: 'none' });
    harness.twin.submit(requestFor([BEACON], { requestId: 'e2e-pin-none' }));
    await harness.twin.drain();
    const status = await harness.twin.store.getRequestStatus('e2e-pin-none');
    expect(status!.beacons[0]).toMatchObject({ state: 'ok', warnings: [PIN_MODE_NONE_WARNING] });
    expect(status!.beacons[0]!.pinnedVersion).toBeUndefined();
    expect(harness.twin.notifier.sent.map((n) => n.outcome).filter((outcome) => outcome.kind === 'beacon')).toEqual([expect.objectContaining({ state: 'ok', warnings: [PIN_MODE_NONE_WARNING] })]);
    expect(harness.twin.notifier.sent.find((n) => n.outcome.event === 'summary')?.outcome.warnings).toEqual([PIN_MODE_NONE_WARNING]);
    const fnms = harness.twin.fnms;
    expect(fnms.requests.filter((r) => r.path !== fnms.paths.token)).toEqual([]);
    expect(fnms.state.approvedVersion).toBe('latest');
  });
});

describe('idempotency and the per-beacon lock', () => {
  it('the same requestId sent twice is processed once', async () => {
    harness = await startTwin([oneBeacon()]);
    const request = requestFor([BEACON], { requestId: 'e2e-twice' });
    harness.twin.submit(request);
    harness.twin.submit(request);
    await harness.twin.drain();
    harness.twin.submit(request);
    await harness.twin.drain();
    expect(harness.twin.ssm.sent.filter((s) => s.kind === 'configure')).toHaveLength(1);
    expect(await beaconStates(harness.twin, 'e2e-twice')).toEqual({ [BEACON]: 'ok' });
    // One request workflow and one beacon workflow.
    expect(harness.twin.executions.size).toBe(2);
    expect([...harness.twin.requestStarts.values()]).toEqual([1]);
  });

  it('two requests for one beacon are serialized by the lock: both run, never at the same time', async () => {
    const lockAttempts: Record<string, number> = {};
    harness = await startTwin([oneBeacon(), oneBeacon(OTHER)], {
      // The busy retries (30 s doubling, 5 attempts) scaled to about 30 s: room for the first run even on a loaded machine.
      msPerSecond: 40,
      onState: (instanceId, requestId, state) => {
        if (state === 'AcquireLock' && instanceId === BEACON) lockAttempts[requestId] = (lockAttempts[requestId] ?? 0) + 1;
      },
    });
    harness.twin.submit(requestFor([BEACON, OTHER], { requestId: 'e2e-first' }));
    harness.twin.submit(requestFor([BEACON], { requestId: 'e2e-second', protocol: 'http' }));
    await harness.twin.drain();
    expect(await beaconStates(harness.twin, 'e2e-first')).toEqual({ [BEACON]: 'ok', [OTHER]: 'ok' });
    expect(await beaconStates(harness.twin, 'e2e-second')).toEqual({ [BEACON]: 'ok' });
    const runs = harness.twin.ssm.history.filter((h) => h.instanceId === BEACON).sort((a, b) => a.startedAt - b.startedAt);
    expect(runs).toHaveLength(2);
    expect(runs[1]!.startedAt).toBeGreaterThanOrEqual(runs[0]!.endedAt);
    // One of the two found the beacon locked and retried until the other released it.
    expect(Math.max(lockAttempts['e2e-first'] ?? 0, lockAttempts['e2e-second'] ?? 0)).toBeGreaterThan(1);
  });
});
