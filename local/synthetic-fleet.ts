/**
 * Synthetic beacons for scale runs and rollout tests: a fleet file of N tagged Windows instances that share
 * one unused model file, and a document executor that answers like a beacon would (a valid result line
 * after a modelled latency) without PowerShell. Each beacon's release and whether its configure run fails
 * are data, so tests can build mixed-version fleets and failing canaries.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BeaconDocumentKind } from '../lambdas/core/document-contract.js';
import { LIMITS } from '../lambdas/core/limits.js';
import type { ResultLine } from '../lambdas/core/result.js';
import { FLEET_FILE } from './fleet.js';
import type { FleetBeacon } from './fleet.js';
import type { DocumentExecutor } from './ssm-shim.js';
import type { StubBeacon } from './fnms-stub/report.js';

export const SYNTHETIC_BEACON_VERSION = '13.2.0';

/** The beacon tag of the stack's defaults (the twin's LOCAL_BEACON_TAG), repeated here to keep this module free of the twin. */
const BEACON_TAG = { 'beacon-proxy:role': 'flexnet-beacon' } as const;

export interface SyntheticBeaconSpec {
  instanceId: string;
  computerName: string;
  pingStatus?: 'Online' | 'ConnectionLost' | 'Inactive';
  tags?: Record<string, string>;
}

/** `i-` + 17 hex digits from a number: distinct, valid instance ids for large fleets. */
export function syntheticInstanceId(index: number): string {
  return `i-${index.toString(16).padStart(17, '0')}`;
}

/** N beacons BEACON00001... with ids from syntheticInstanceId(1...). */
export function syntheticBeacons(count: number, offset = 0): SyntheticBeaconSpec[] {
  return Array.from({ length: count }, (_, index) => ({
    instanceId: syntheticInstanceId(offset + index + 1),
    computerName: `BEACON${String(offset + index + 1).padStart(5, '0')}`,
  }));
}

/** Writes fleet.json for the beacons (tagged with the stack's beacon tag unless told otherwise) and their one shared, unused model. */
export function writeSyntheticFleet(dir: string, beacons: SyntheticBeaconSpec[]): void {
  writeFileSync(join(dir, 'unused-model.json'), '{}\n');
  const entries = beacons.map((beacon) => ({
    instanceId: beacon.instanceId,
    computerName: beacon.computerName,
    platformType: 'Windows',
    pingStatus: beacon.pingStatus ?? 'Online',
    tags: beacon.tags ?? { ...BEACON_TAG },
    model: 'unused-model.json',
  }));
  writeFileSync(join(dir, FLEET_FILE), JSON.stringify({ beacons: entries }));
}

/** The configure result line of a healthy beacon that already has the desired state. */
export function syntheticConfigureResult(requestId: string | null, beaconVersion = SYNTHETIC_BEACON_VERSION): ResultLine {
  return {
    ok: true,
    document: 'configure',
    requestId,
    changed: [],
    checks: [
      { name: 'Launcher https_proxy', expected: 'http://proxy.corp.example:8080', actual: 'http://proxy.corp.example:8080', ok: true },
      { name: 'BeaconEngine logon', expected: 'CORP\\svc-beacon', actual: 'CORP\\svc-beacon', ok: true },
    ],
    beaconVersion,
    captureId: requestId,
    error: null,
    rollback: null,
  };
}

/** A configure run whose service did not start: the document restored its capture by itself. */
export function syntheticFailedConfigureResult(requestId: string | null, beaconVersion = SYNTHETIC_BEACON_VERSION): ResultLine {
  return {
    ...syntheticConfigureResult(requestId, beaconVersion),
    ok: false,
    error: { code: 'SERVICE_START_FAILED', message: 'the service BeaconEngine did not start under the named account', step: 'service' },
    rollback: { attempted: true, ok: true, restored: ['Launcher https_proxy'] },
  };
}

/** The rollback document's result line: the capture restored. */
export function syntheticRollbackResult(requestId: string | null, beaconVersion = SYNTHETIC_BEACON_VERSION): ResultLine {
  return { ...syntheticConfigureResult(requestId, beaconVersion), document: 'rollback', changed: ['Launcher https_proxy'] };
}

export interface SyntheticExecutorOptions {
  /** How long a document runs on a beacon (ms), or per beacon and document. */
  latencyMs: number | ((beacon: FleetBeacon, kind: BeaconDocumentKind) => number);
  /** The release the beacon reports; default SYNTHETIC_BEACON_VERSION. */
  versionOf?: (beacon: FleetBeacon) => string;
  /** Beacons whose configure run fails (and rolls back by itself). */
  fails?: (beacon: FleetBeacon) => boolean;
  /** Called when a document starts and ends on a beacon (rollout tests watch concurrency with it). */
  onRun?: (beacon: FleetBeacon, kind: BeaconDocumentKind, event: 'start' | 'end') => void;
}

/** A document executor that answers like a beacon after its latency, without PowerShell: configure, rollback and verify. */
export function syntheticExecutor(options: SyntheticExecutorOptions | number): DocumentExecutor {
  const opts: SyntheticExecutorOptions = typeof options === 'number' ? { latencyMs: options } : options;
  return async (beacon, kind, parameters) => {
    opts.onRun?.(beacon, kind, 'start');
    const latency = typeof opts.latencyMs === 'number' ? opts.latencyMs : opts.latencyMs(beacon, kind);
    await new Promise((resolve) => setTimeout(resolve, latency));
    const version = opts.versionOf?.(beacon) ?? SYNTHETIC_BEACON_VERSION;
    const requestId = parameters.CaptureId ?? null;
    let line: ResultLine;
    if (kind === 'configure') line = opts.fails?.(beacon) ? syntheticFailedConfigureResult(requestId, version) : syntheticConfigureResult(requestId, version);
    else if (kind === 'rollback') line = syntheticRollbackResult(requestId, version);
    else line = { ...syntheticConfigureResult(requestId, version), document: 'verify' };
    const text = JSON.stringify(line);
    if (text.length > LIMITS.maxResultLineLength) throw new Error('the synthetic result line is over the limit');
    opts.onRun?.(beacon, kind, 'end');
    return { stdout: `${text}\n`, stderr: '', exitCode: line.ok ? 0 : 1 };
  };
}

/** The rows FNMS's beacon report lists for synthetic beacons (each at its release, active, seen recently). */
export function syntheticFnmsBeacons(beacons: SyntheticBeaconSpec[], version: (beacon: SyntheticBeaconSpec) => string = () => SYNTHETIC_BEACON_VERSION): StubBeacon[] {
  return beacons.map((beacon) => ({ name: beacon.computerName, computerName: beacon.computerName, version: version(beacon), status: 'Active', lastContact: '2026-11-27T08:00:00Z' }));
}
