import { cp, mkdir, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DEFAULT_REQUEST_FILE, builtinFnmsState, writeBuiltinFleet } from './builtin-fleet.js';
import { loadFleet } from './fleet.js';
import { TWIN_PROBE_PATH, proxyHostMap, startHttpProxy } from './http-proxy.js';
import type { AuditEvent, BeaconStatusRecord } from '../lambdas/core/ports.js';
import { Progress, type BeaconReport, type RunReport } from './report.js';
import { LocalTwin } from './twin.js';
import { describeCaller } from '../lambdas/core/caller.js';

export interface LocalRunOptions {
  /** Request files; default: the built-in fleet request. */
  requestFiles?: string[];
  /** A fleet directory of your own (copied first: your model files are never changed). */
  fleetDir?: string;
  dryRun?: boolean;
  /** Where the run keeps its copy of the fleet, captures and store. */
  workDir: string;
  /** Progress output; default stderr. */
  progressStream?: NodeJS.WriteStream;
  /** How many beacons run their document at once (each is a pwsh process). */
  concurrency?: number;
}

/** One beacon's line of the report, from its status record and the request's audit trail. */
export function beaconReport(status: BeaconStatusRecord, computerName: string | null, audit: AuditEvent[]): BeaconReport {
  const pin = audit.find((e) => e.requestId === status.requestId && e.instanceId === status.instanceId && e.event === 'fnms.pinned');
  return {
    instanceId: status.instanceId,
    computerName,
    requestId: status.requestId,
    outcome: status.state,
    changed: status.changed ?? [],
    failedChecks: (status.checks ?? []).filter((c) => !c.ok).map((c) => `${c.name}: expected ${JSON.stringify(c.expected)}, found ${JSON.stringify(c.actual)}`),
    failedCheckNames: (status.checks ?? []).filter((c) => !c.ok).map((c) => c.name),
    beaconVersion: status.beaconVersion ?? null,
    pinnedVersion: status.pinnedVersion ?? ((pin?.detail?.version as string | undefined) ?? null),
    reasons: status.reasons ?? [],
    warnings: status.warnings ?? [],
    diff: status.diff ?? [],
    restored: status.restored ?? [],
    diffOmitted: status.diffOmitted ?? 0,
  };
}

/** Runs requests through the local twin and reports per beacon. */
export async function runLocal(options: LocalRunOptions): Promise<RunReport> {
  const startedAt = new Date().toISOString();
  const workDir = resolve(options.workDir);
  const fleetDir = join(workDir, 'fleet');
  await rm(workDir, { recursive: true, force: true });
  await mkdir(workDir, { recursive: true });
  const requestFiles = options.requestFiles?.length ? options.requestFiles : [DEFAULT_REQUEST_FILE];
  const texts = await Promise.all(requestFiles.map((file) => readFile(file, 'utf8')));
  if (options.fleetDir) await cp(resolve(options.fleetDir), fleetDir, { recursive: true });
  else await writeBuiltinFleet(fleetDir, JSON.parse(await readFile(DEFAULT_REQUEST_FILE, 'utf8')));
  const fleet = await loadFleet(fleetDir);

  const progress = new Progress(options.progressStream);
  const fnmsState = builtinFnmsState(fleet.beacons.map((b) => b.computerName));
  // A real proxy between the beacons and FNMS: configure probes FNMS through it after applying.
  const proxy = await startHttpProxy();
  const twin = await LocalTwin.create({
    fleet,
    workDir,
    beaconNetwork: { env: { BEACON_PROXY_HOSTS: JSON.stringify(proxyHostMap(texts, proxy.hostPort)) }, probePath: TWIN_PROBE_PATH },
    limits: { maxConcurrentInvocations: options.concurrency ?? 2 },
    fnms: { state: fnmsState },
    onState: (instanceId, _requestId, state) => progress.event(instanceId, state),
    onExecution: (instanceId, _requestId, event) => {
      if (event === 'started') progress.started();
      else progress.finish(instanceId, event === 'SUCCEEDED' ? 'done' : event.toLowerCase());
    },
  });
  try {
    for (const text of texts) {
      let request: unknown = text;
      if (options.dryRun) {
        try {
          request = { ...(JSON.parse(text) as Record<string, unknown>), dryRun: true };
        } catch {
          // Not JSON: the intake refuses it and the report says why.
        }
      }
      twin.submit(request, { source: 'local' });
    }
    await twin.drain();
    await twin.saveStore();
  } catch (error) {
    await twin.stop();
    await proxy.stop();
    throw error;
  }
  const dump = await twin.dump();
  await twin.stop();
  await proxy.stop();

  const names = new Map(fleet.beacons.map((b) => [b.instanceId, b.computerName]));
  const beacons: BeaconReport[] = [];
  const refused: RunReport['refused'] = [];
  for (const record of dump.requests) {
    if (record.state === 'invalid' && record.error) refused.push({ requestId: record.requestId, source: record.source, error: record.error, requestedBy: describeCaller(record.caller) });
  }
  const callers = new Map(dump.requests.map((record) => [record.requestId, record.caller]));
  for (const status of dump.beacons) beacons.push({ ...beaconReport(status, names.get(status.instanceId) ?? null, dump.audit), requestedBy: describeCaller(callers.get(status.requestId)) });
  beacons.sort((a, b) => (a.computerName ?? a.instanceId).localeCompare(b.computerName ?? b.instanceId));
  return {
    tool: 'beacon-proxy local twin',
    startedAt,
    finishedAt: new Date().toISOString(),
    dryRun: options.dryRun ?? false,
    fleetDir,
    beacons,
    refused,
    fnms: { approvedVersion: twin.fnms.state.approvedVersion, approvedBefore: fnmsState.approvedVersion, writes: twin.fnms.requestsTo(twin.fnms.paths.approvedVersion, 'PUT').length },
  };
}

