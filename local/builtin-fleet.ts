import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderDesiredState } from '../lambdas/core/desired-state.js';
import { parseRequest } from '../lambdas/core/request.js';
import type { FnmsStubOptions } from './fnms-stub.js';
import { configuredBeacon, freshBeacon, writeBeaconModel } from './beacon-model.js';
import { FLEET_FILE } from './fleet.js';
import { LOCAL_BEACON_TAG } from './twin.js';

export const BUILTIN_BEACON_VERSION = '13.2.0';

/** The request `npm start` sends when none is given: one proxy for the whole tagged fleet. */
export const DEFAULT_REQUEST_FILE = join(import.meta.dirname, '..', 'examples', 'fleet-by-tag.json');

/**
 * Writes the built-in fleet: beacons in the states operators meet. A fresh install (LocalSystem, no proxy
 * values), one already configured (nothing to change), one offline (skipped), one whose service will not
 * start under the named account (rolled back), and an old 32-bit install that still spells "FlexNet".
 */
export async function writeBuiltinFleet(dir: string, defaultRequest: unknown): Promise<void> {
  await mkdir(dir, { recursive: true });
  const state = renderDesiredState(parseRequest(defaultRequest));
  const tag = { [LOCAL_BEACON_TAG.key]: LOCAL_BEACON_TAG.value };
  const beacons = [
    { instanceId: 'i-0a1b2c3d4e5f60001', computerName: 'BEACON-FRESH-01', model: freshBeacon({ computerName: 'BEACON-FRESH-01', beaconVersion: BUILTIN_BEACON_VERSION }) },
    {
      instanceId: 'i-0a1b2c3d4e5f60002',
      computerName: 'BEACON-DONE-02',
      model: configuredBeacon(state, { computerName: 'BEACON-DONE-02', beaconVersion: BUILTIN_BEACON_VERSION }),
    },
    {
      instanceId: 'i-0a1b2c3d4e5f60003',
      computerName: 'BEACON-OFFLINE-03',
      pingStatus: 'ConnectionLost' as const,
      model: freshBeacon({ computerName: 'BEACON-OFFLINE-03', beaconVersion: BUILTIN_BEACON_VERSION }),
    },
    {
      instanceId: 'i-0a1b2c3d4e5f60004',
      computerName: 'BEACON-BROKEN-04',
      model: freshBeacon({ computerName: 'BEACON-BROKEN-04', beaconVersion: BUILTIN_BEACON_VERSION, faults: { serviceFailsToStart: true } }),
    },
    {
      instanceId: 'i-0a1b2c3d4e5f60005',
      computerName: 'BEACON-OLD32-05',
      model: freshBeacon({
        computerName: 'BEACON-OLD32-05',
        root: '32',
        beaconVersion: BUILTIN_BEACON_VERSION,
        account: { profile: 'missing' },
        tasks: ['Upload third party inventory data', 'Upload FlexNet logs and inventories'],
      }),
    },
  ];
  const entries = beacons.map((beacon) => {
    const file = `${beacon.computerName.toLowerCase()}.json`;
    writeBeaconModel(dir, file, beacon.model);
    return {
      instanceId: beacon.instanceId,
      computerName: beacon.computerName,
      platformType: 'Windows',
      pingStatus: 'pingStatus' in beacon ? beacon.pingStatus : 'Online',
      tags: tag,
      model: file,
    };
  });
  await writeFile(join(dir, FLEET_FILE), `${JSON.stringify({ beacons: entries }, null, 2)}\n`);
}

/** FNMS as a fresh install leaves it: "Always use the latest version", which the pipeline must replace with a pin. */
export function builtinFnmsState(computerNames: string[]): NonNullable<FnmsStubOptions['state']> {
  return {
    approvedVersion: 'latest',
    availableVersions: ['13.1.0', '13.2.0', '13.3.0'],
    beacons: computerNames.map((name) => ({
      name,
      computerName: name,
      version: BUILTIN_BEACON_VERSION,
      status: 'Active',
      lastContact: '2026-11-27T08:00:00Z',
    })),
  };
}
