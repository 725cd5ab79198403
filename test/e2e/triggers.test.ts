import { afterEach, describe, expect, it } from 'vitest';
import { renderDesiredState } from '../../lambdas/core/desired-state.js';
import { parseRequest } from '../../lambdas/core/request.js';
import { basename, dirname } from 'node:path';
import { type BeaconModel, beaconState, configuredBeacon, flexnetRoot, freshBeacon, registryValue, writeBeaconModel } from '../../local/beacon-model.js';
import { BUILTIN_BEACON_VERSION, builtinFnmsState } from '../../local/builtin-fleet.js';
import { runBeaconDocument } from '../../local/run-document.js';
import type { DocumentExecutor } from '../../local/ssm-shim.js';
import { loadProfiles } from '../../local/profiles.js';
import { DEFAULT_PROFILE } from '../../local/twin.js';
import { example } from '../support/requests.js';
import { type Harness, startTwin } from './twin-harness.js';

const INTERRUPTED = 'i-0e2e00000000000c1';
const UPGRADED = 'i-0e2e00000000000c2';
const IN_SYNC = 'i-0e2e00000000000c3';
const NEW_BEACON = 'i-0e2e00000000000c4';
const SPLIT = 'i-0e2e00000000000d1';
const GMSA_CRL = 'i-0e2e00000000000d2';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.twin.stop();
  harness = undefined;
});

async function defaultProfileRequest(instanceId: string, requestId: string): Promise<Record<string, unknown>> {
  const profile = (await loadProfiles())[DEFAULT_PROFILE]!;
  return { ...profile, requestId, target: { instanceIds: [instanceId] } };
}

/** What an upgrade does to a configured beacon: service and tasks back to LocalSystem. */
function upgraded(model: BeaconModel): BeaconModel {
  model.services[0]!.startName = 'LocalSystem';
  model.services[0]!.passwordSha256 = null;
  for (const task of model.tasks) Object.assign(task, { userId: 'SYSTEM', logonType: 'ServiceAccount', passwordSha256: null });
  return model;
}

function fullyConfigured(model: BeaconModel): void {
  const root = flexnetRoot('64');
  expect(registryValue(model.registry, `${root}\\Launcher\\CurrentVersion`, 'https_proxy')?.data).toBe('http://proxy.corp.example:8080');
  expect(model.services[0]).toMatchObject({ startName: 'CORP\\svc-beacon', state: 'Running' });
  expect(model.tasks.every((task) => task.userId === 'CORP\\svc-beacon')).toBe(true);
}

describe('the scheduled drift check (triggerMode apply)', () => {
  it('a run interrupted after the command was sent, and a beacon reset by an upgrade, are found by the next verify pass and re-applied', async () => {
    const state = renderDesiredState(parseRequest(await defaultProfileRequest(INTERRUPTED, 'x')));
    // The agent died half way: registry partly written, the service still LocalSystem.
    const halfDone = upgraded(configuredBeacon(state, { computerName: 'E2E-C1', beaconVersion: BUILTIN_BEACON_VERSION }));
    delete halfDone.registry[`${flexnetRoot('64')}\\Launcher\\CurrentVersion`]!.https_proxy;
    let interruptedRuns = 0;
    const executor: DocumentExecutor = async (beacon, kind, parameters) => {
      if (beacon.instanceId === INTERRUPTED && kind === 'configure' && interruptedRuns++ === 0) {
        return { stdout: '', stderr: 'SSM Agent stopped (instance rebooted)', exitCode: -1 };
      }
      return runBeaconDocument({ document: kind, parameters, modelPath: beacon.modelPath });
    };
    harness = await startTwin(
      [
        { instanceId: INTERRUPTED, computerName: 'E2E-C1', model: freshBeacon({ computerName: 'E2E-C1', beaconVersion: BUILTIN_BEACON_VERSION }) },
        { instanceId: UPGRADED, computerName: 'E2E-C2', model: upgraded(configuredBeacon(state, { computerName: 'E2E-C2', beaconVersion: BUILTIN_BEACON_VERSION })) },
        { instanceId: IN_SYNC, computerName: 'E2E-C3', model: configuredBeacon(state, { computerName: 'E2E-C3', beaconVersion: BUILTIN_BEACON_VERSION }) },
      ],
      { executor, interruptAfter: { state: 'SendConfigure', instanceId: INTERRUPTED }, triggerMode: 'apply' },
    );
    writeBeaconModel(dirname(harness.modelPath(INTERRUPTED)), basename(harness.modelPath(INTERRUPTED)), halfDone);

    harness.twin.submit(await defaultProfileRequest(INTERRUPTED, 'e2e-interrupted'));
    await harness.twin.drain();
    // The stopped execution never reached its finally: the cleanup rule released the lock, recorded and notified.
    const [stopped] = [...harness.twin.results.values()];
    expect(stopped).toMatchObject({ status: 'ABORTED', cleanup: { action: 'cleaned', lock: 'released', recorded: true, notified: true } });
    expect((await harness.twin.store.getRequestStatus('e2e-interrupted'))!.beacons[0]!.state).toBe('error');
    // An error leaves no baseline: these beacons were never configured through beacon-proxy (the default profile applies).
    expect((await harness.twin.baselines.getBaselines([INTERRUPTED, UPGRADED, IN_SYNC])).size).toBe(0);

    const { ticks, report } = await harness.twin.runDriftPass();
    expect(ticks.at(-1)!.phase).toBe('done');
    expect(report!.findings.map((f) => [f.instanceId, f.action, f.against.kind]).sort()).toEqual([
      [INTERRUPTED, 'reapplied', 'default-profile'],
      [UPGRADED, 'reapplied', 'default-profile'],
    ]);
    expect(report!.inSync).toEqual([IN_SYNC]);
    await harness.twin.drain();

    for (const id of [INTERRUPTED, UPGRADED]) {
      const requestId = `drift-${report!.passId}-${id}`;
      expect((await harness.twin.store.getRequestStatus(requestId))!.beacons[0]!.state, id).toBe('ok');
      fullyConfigured(harness.model(id));
    }
    // The beacon that was in sync was only read: one verify, no configure.
    expect(harness.twin.ssm.sent.filter((s) => s.kind === 'configure' && s.instanceIds.includes(IN_SYNC))).toEqual([]);
    // Configured now: each has a baseline, and the next pass verifies against it.
    expect([...(await harness.twin.baselines.getBaselines([INTERRUPTED, UPGRADED])).values()].map((b) => b.source)).toEqual(['drift', 'drift']);
  }, 300_000);

  it('a beacon configured through the API with split endpoints, a gMSA or a CRL exception keeps its own state: the drift pass verifies it against its baseline and re-applies that, never the default profile', async () => {
    const split = { ...(example('split-endpoints') as Record<string, unknown>), requestId: 'api-split', target: { instanceIds: [SPLIT] } } as unknown as Record<string, unknown> & { endpoints: Record<string, string> };
    const gmsaCrl = {
      ...(example('gmsa') as Record<string, unknown>),
      requestId: 'api-gmsa-crl',
      target: { instanceIds: [GMSA_CRL] },
      checkCertificateRevocation: { disable: true, acknowledgeRisk: true, reason: 'CA CRL endpoint unreachable, CHG-1234' },
    };
    const splitState = renderDesiredState(parseRequest(split));
    const gmsaState = renderDesiredState(parseRequest(gmsaCrl));
    harness = await startTwin(
      [
        { instanceId: SPLIT, computerName: 'E2E-D1', model: configuredBeacon(splitState, { computerName: 'E2E-D1', beaconVersion: BUILTIN_BEACON_VERSION, account: { kind: 'domain', name: 'svc-beacon@corp.example' } }) },
        { instanceId: GMSA_CRL, computerName: 'E2E-D2', model: configuredBeacon(gmsaState, { computerName: 'E2E-D2', beaconVersion: BUILTIN_BEACON_VERSION, account: { kind: 'gmsa', name: 'CORP\\gmsa-beacon$', profile: 'missing' } }) },
      ],
      // A pass every 36 s of workflow time: the second pass below is due as soon as the first is done.
      { triggerMode: 'apply', driftIntervalHours: 0.01 },
    );
    harness.twin.submit(split, { source: 'api' });
    harness.twin.submit(gmsaCrl, { source: 'api' });
    await harness.twin.drain();
    for (const id of ['api-split', 'api-gmsa-crl']) expect((await harness.twin.store.getRequestStatus(id))!.beacons[0]!.state, id).toBe('ok');
    const stored = await harness.twin.baselines.getBaselines([SPLIT, GMSA_CRL]);
    expect(stored.get(SPLIT)).toMatchObject({ requestId: 'api-split', source: 'api', content: { endpoints: split.endpoints } });
    expect(stored.get(GMSA_CRL)).toMatchObject({ requestId: 'api-gmsa-crl', content: { account: { kind: 'gmsa' }, checkCertificateRevocation: { disable: true } } });

    // An upgrade resets the split-endpoint beacon's service account; the gMSA beacon stays as configured.
    writeBeaconModel(dirname(harness.modelPath(SPLIT)), basename(harness.modelPath(SPLIT)), upgraded(harness.model(SPLIT)));
    const gmsaBefore = JSON.stringify(beaconState(harness.model(GMSA_CRL)));

    const { report } = await harness.twin.runDriftPass();
    expect(report!.inSync).toEqual([GMSA_CRL]);
    expect(report!.findings).toEqual([expect.objectContaining({ instanceId: SPLIT, action: 'reapplied', against: expect.objectContaining({ kind: 'baseline', requestId: 'api-split' }) })]);
    await harness.twin.drain();

    // Each beacon was verified against its own desired state.
    const verifies = harness.twin.ssm.sent.filter((s) => s.kind === 'verify');
    expect(verifies.map((s) => s.instanceIds).sort()).toEqual([[SPLIT], [GMSA_CRL]]);
    // The re-apply was the API request's content again: split endpoints kept, service account restored.
    const reapplied = await harness.twin.store.getRequestStatus(`drift-${report!.passId}-${SPLIT}`);
    expect(reapplied!.beacons[0]!.state).toBe('ok');
    expect(reapplied!.request.request).toMatchObject({ endpoints: split.endpoints, account: { name: 'svc-beacon@corp.example' } });
    const splitModel = harness.model(SPLIT);
    expect(JSON.stringify(splitModel.registry)).toContain('dl-proxy.corp.example:8080');
    expect(JSON.stringify(splitModel.registry)).toContain('ul-proxy.corp.example:8443');
    expect(splitModel.services[0]!.startName).not.toBe('LocalSystem');
    // The gMSA / CRL beacon was only read: not a byte of its state changed.
    expect(JSON.stringify(beaconState(harness.model(GMSA_CRL)))).toBe(gmsaBefore);
    expect(harness.twin.ssm.sent.filter((s) => s.kind === 'configure' && s.instanceIds.includes(GMSA_CRL))).toHaveLength(1);
    // The baseline still names the API request the content came from.
    expect((await harness.twin.baselines.getBaselines([SPLIT])).get(SPLIT)).toMatchObject({ requestId: 'api-split', lastAppliedBy: `drift-${report!.passId}-${SPLIT}` });

    // The next pass, once due (the interval is 0.01 h of twin time; on a fast machine the first pass ends
    // before it has passed, and a tick then finds nothing due), finds both in sync.
    let next = await harness.twin.runDriftPass();
    for (let wait = 0; next.report!.passId === report!.passId && wait < 240; wait += 1) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      next = await harness.twin.runDriftPass();
    }
    expect(next.report!.passId).not.toBe(report!.passId);
    expect(next.report!.inSync.sort()).toEqual([SPLIT, GMSA_CRL]);
    expect(next.report!.findings).toEqual([]);
  }, 300_000);
});

describe('the new-beacon trigger (triggerMode apply)', () => {
  it('a beacon newly listed in FNMS and matched to a tagged SSM instance gets the default profile, once', async () => {
    harness = await startTwin(
      [{ instanceId: NEW_BEACON, computerName: 'E2E-NEW', model: freshBeacon({ computerName: 'E2E-NEW', beaconVersion: BUILTIN_BEACON_VERSION }) }],
      { fnms: { state: { ...builtinFnmsState(['e2e-new.corp.example']) } }, triggerMode: 'apply' },
    );
    const first = await harness.twin.newBeaconPoll();
    expect(first.enqueued).toEqual([NEW_BEACON]);
    // The beacon list came from the saved report through Flexera One's report execute API (token, then the report).
    const fnms = harness.twin.fnms;
    expect(fnms.requestsTo(fnms.paths.token).length).toBeGreaterThan(0);
    expect(fnms.requestsTo(fnms.paths.report).map((r) => r.status)).toEqual([200]);
    expect(fnms.requests.map((r) => r.path)).not.toContain('/api/beacons');
    await harness.twin.drain();
    const status = await harness.twin.store.getRequestStatus(`new-beacon-${NEW_BEACON}`);
    expect(status!.request.source).toBe('new-beacon');
    expect(status!.beacons[0]!.state).toBe('ok');
    fullyConfigured(harness.model(NEW_BEACON));
    const second = await harness.twin.newBeaconPoll();
    // Configured and verified now: it has a baseline, and the default profile is not for it any more.
    expect(second).toMatchObject({ enqueued: [], alreadyConfigured: [NEW_BEACON] });
    expect((await harness.twin.baselines.getBaselines([NEW_BEACON])).get(NEW_BEACON)).toMatchObject({ requestId: `new-beacon-${NEW_BEACON}`, source: 'new-beacon' });
  }, 300_000);
});
