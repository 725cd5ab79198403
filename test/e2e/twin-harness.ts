import { mkdtempSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BeaconModel, readBeaconModel, writeBeaconModel } from '../../local/beacon-model.js';
import { builtinFnmsState } from '../../local/builtin-fleet.js';
import type { FnmsStubOptions } from '../../local/fnms-stub.js';
import { FLEET_FILE, loadFleet } from '../../local/fleet.js';
import { LOCAL_BEACON_TAG, LocalTwin, type TwinOptions } from '../../local/twin.js';
import { SECRET_ARN } from '../support/requests.js';

export interface TestBeacon {
  instanceId: string;
  computerName: string;
  model: BeaconModel;
  pingStatus?: 'Online' | 'ConnectionLost';
}

export interface Harness {
  twin: LocalTwin;
  dir: string;
  modelPath: (instanceId: string) => string;
  model: (instanceId: string) => BeaconModel;
}

/** A twin over a fleet written to a fresh temporary directory. */
export async function startTwin(beacons: TestBeacon[], options: { fnms?: FnmsStubOptions } & Partial<TwinOptions> = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'beacon-proxy-e2e-'));
  const fleetDir = join(dir, 'fleet');
  const entries = beacons.map((beacon) => {
    const file = `${beacon.instanceId}.json`;
    writeBeaconModel(fleetDir, file, beacon.model);
    return {
      instanceId: beacon.instanceId,
      computerName: beacon.computerName,
      platformType: 'Windows',
      pingStatus: beacon.pingStatus ?? 'Online',
      tags: { [LOCAL_BEACON_TAG.key]: LOCAL_BEACON_TAG.value },
      model: file,
    };
  });
  await writeFile(join(fleetDir, FLEET_FILE), JSON.stringify({ beacons: entries }));
  const fleet = await loadFleet(fleetDir);
  const twin = await LocalTwin.create({
    msPerSecond: 20,
    limits: { maxConcurrentInvocations: 2 },
    ...options,
    fleet,
    workDir: join(dir, 'work'),
    fnms: options.fnms ?? { state: builtinFnmsState(beacons.map((b) => b.computerName)) },
  });
  const modelPath = (instanceId: string) => join(fleetDir, `${instanceId}.json`);
  return { twin, dir, modelPath, model: (instanceId) => readBeaconModel(modelPath(instanceId)) };
}

/** A request for the given instances with the default account of the modelled beacons. */
export function requestFor(instanceIds: string[], overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    requestId: 'e2e-request',
    target: { instanceIds },
    protocol: 'https',
    proxy: 'proxy.corp.example:8080',
    account: { kind: 'domain', name: 'CORP\\svc-beacon', passwordSecretArn: SECRET_ARN },
    ...overrides,
  };
}

/** The beacon's status records of a request, by instance id. */
export async function beaconStates(twin: LocalTwin, requestId: string): Promise<Record<string, string>> {
  const status = await twin.store.getRequestStatus(requestId);
  return Object.fromEntries((status?.beacons ?? []).map((b) => [b.instanceId, b.state]));
}
