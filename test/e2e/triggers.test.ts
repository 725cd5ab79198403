import { afterEach, describe, expect, it } from 'vitest';
import { renderDesiredState } from '../../lambdas/core/desired-state.js';
import { parseRequest } from '../../lambdas/core/request.js';
import { basename, dirname } from 'node:path';
import { type BeaconModel, configuredBeacon, flexnetRoot, freshBeacon, registryValue, writeBeaconModel } from '../../local/beacon-model.js';
import { BUILTIN_BEACON_VERSION, builtinFnmsState } from '../../local/builtin-fleet.js';
import { runBeaconDocument } from '../../local/run-document.js';
import type { DocumentExecutor } from '../../local/ssm-shim.js';
import { loadProfiles } from '../../local/profiles.js';
import { DEFAULT_PROFILE } from '../../local/twin.js';
import { type Harness, requestFor, startTwin } from './twin-harness.js';

const INTERRUPTED = 'i-0e2e00000000000c1';
const UPGRADED = 'i-0e2e00000000000c2';
const IN_SYNC = 'i-0e2e00000000000c3';
const NEW_BEACON = 'i-0e2e00000000000c4';

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

describe('the scheduled drift check', () => {
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
      { executor, interruptAfter: { state: 'SendConfigure', instanceId: INTERRUPTED } },
    );
    writeBeaconModel(dirname(harness.modelPath(INTERRUPTED)), basename(harness.modelPath(INTERRUPTED)), halfDone);

    harness.twin.submit(await defaultProfileRequest(INTERRUPTED, 'e2e-interrupted'));
    await harness.twin.drain();
    // The stopped execution never reached its finally: the cleanup rule released the lock, recorded and notified.
    const [stopped] = [...harness.twin.results.values()];
    expect(stopped).toMatchObject({ status: 'ABORTED', cleanup: { action: 'cleaned', lock: 'released', recorded: true, notified: true } });
    expect((await harness.twin.store.getRequestStatus('e2e-interrupted'))!.beacons[0]!.state).toBe('error');
    const first = await harness.twin.driftCheck();
    expect(first.reviewed).toBeNull();
    await harness.twin.ssm.settle();
    const second = await harness.twin.driftCheck();
    expect(second.reviewed!.reapplied.sort()).toEqual([INTERRUPTED, UPGRADED]);
    expect(second.reviewed!.inSync).toEqual([IN_SYNC]);
    await harness.twin.drain();

    for (const id of [INTERRUPTED, UPGRADED]) {
      const requestId = `drift-${first.sent.passId}-${id}`;
      expect((await harness.twin.store.getRequestStatus(requestId))!.beacons[0]!.state, id).toBe('ok');
      fullyConfigured(harness.model(id));
    }
    // The beacon that was in sync was only read: one verify, no configure.
    expect(harness.twin.ssm.sent.filter((s) => s.kind === 'configure' && s.instanceIds.includes(IN_SYNC))).toEqual([]);
  });
});

describe('the new-beacon trigger', () => {
  it('a beacon newly listed in FNMS and matched to a tagged SSM instance gets the default profile, once', async () => {
    harness = await startTwin(
      [{ instanceId: NEW_BEACON, computerName: 'E2E-NEW', model: freshBeacon({ computerName: 'E2E-NEW', beaconVersion: BUILTIN_BEACON_VERSION }) }],
      { fnms: { state: { ...builtinFnmsState(['e2e-new.corp.example']) } } },
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
    expect(second).toMatchObject({ enqueued: [], alreadySeen: [NEW_BEACON] });
  });
});
