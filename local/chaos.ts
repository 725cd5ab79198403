/**
 * The crash-point matrix: every Task state of the workflow (plan, configure and rollback branches) x
 * {function error, function timeout, throttling beyond retries}, plus the SSM cells (a beacon offline
 * mid-configure and back after or before the delivery deadline, a command stuck past its execution limit,
 * an agent that answers Cancelling then Cancelled, and more). Each cell runs one request for one modelled
 * beacon on its own strict twin and checks what a user depends on: the beacon ends exactly as before or
 * fully configured; configure and rollback never overlapped on the box; the lock is released (or expires,
 * and a later request then succeeds); the request's status is final; the requester was notified.
 */
import { mkdtempSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { BeaconDocumentKind } from '../lambdas/core/document-contract.js';
import { TERMINAL_BEACON_STATES } from '../lambdas/core/ports.js';
import { STATES } from '../infra/workflow-states.js';
import { type BeaconModel, comparableState, freshBeacon, readBeaconModel, writeBeaconModel, DEFAULT_SECRET_ARN } from './beacon-model.js';
import { BUILTIN_BEACON_VERSION, builtinFnmsState } from './builtin-fleet.js';
import { FLEET_FILE, loadFleet } from './fleet.js';
import { runBeaconDocument } from './run-document.js';
import type { DocumentExecutor, ExecutionControl } from './ssm-shim.js';
import { LOCAL_BEACON_TAG, LocalTwin, type TaskFault } from './twin.js';

export const CHAOS_INSTANCE = 'i-0c4a05000000000c1';
const COMPUTER = 'CHAOS-01';

/** What a cell's beacon is asked to do. */
type Scenario = 'configure' | 'rollback' | 'plan';

export interface ChaosCell {
  id: string;
  description: string;
  scenario: Scenario;
  fault?: { state: string; fault: TaskFault };
  /** SSM behaviour of the cell (see `ssmCell`). */
  ssm?: SsmCellKind;
}

type SsmCellKind =
  | 'offline-after-delivery-deadline'
  | 'offline-back-before-deadline'
  | 'stuck-past-execution-timeout'
  | 'cancelling-then-cancelled'
  | 'self-rollback'
  | 'beacon-busy'
  | 'rollback-stuck-then-retried'
  | 'output-24000-characters';

const TASK_CELLS: Array<{ state: string; scenario: Scenario }> = [
  { state: STATES.resolveTarget, scenario: 'configure' },
  { state: STATES.sendPlan, scenario: 'plan' },
  { state: STATES.pollPlan, scenario: 'plan' },
  { state: STATES.acquireLock, scenario: 'configure' },
  { state: STATES.sendConfigure, scenario: 'configure' },
  { state: STATES.pollConfigure, scenario: 'configure' },
  { state: STATES.checkCancelledAfterConfigure, scenario: 'configure' },
  { state: STATES.sendRollback, scenario: 'rollback' },
  { state: STATES.pollRollback, scenario: 'rollback' },
  { state: STATES.releaseLock, scenario: 'configure' },
  { state: STATES.recordOutcome, scenario: 'configure' },
  { state: STATES.notifyRequester, scenario: 'configure' },
];

const SSM_CELLS: Array<{ kind: SsmCellKind; scenario: Scenario; description: string }> = [
  { kind: 'offline-after-delivery-deadline', scenario: 'configure', description: 'beacon offline mid-configure, back after the delivery deadline' },
  { kind: 'offline-back-before-deadline', scenario: 'configure', description: 'beacon offline mid-configure, back before the delivery deadline' },
  { kind: 'stuck-past-execution-timeout', scenario: 'configure', description: 'configure half applied, then stuck past its execution timeout' },
  { kind: 'cancelling-then-cancelled', scenario: 'configure', description: 'agent stuck: CancelCommand answers Cancelling, then Cancelled' },
  { kind: 'self-rollback', scenario: 'configure', description: 'the service does not start; configure rolls back by itself' },
  { kind: 'beacon-busy', scenario: 'configure', description: 'another document holds the beacon (BEACON_BUSY)' },
  { kind: 'rollback-stuck-then-retried', scenario: 'rollback', description: 'the first rollback is stuck past its timeout; the second restores' },
  { kind: 'output-24000-characters', scenario: 'rollback', description: '24,000-character stdout on configure and rollback polls' },
];

/** Every cell of the matrix, in a stable order. */
export function chaosCells(): ChaosCell[] {
  const faults: TaskFault[] = ['error', 'timeout', 'throttle'];
  const cells: ChaosCell[] = [];
  for (const { state, scenario } of TASK_CELLS) {
    for (const fault of faults) {
      const what = fault === 'error' ? 'function error' : fault === 'timeout' ? 'function timeout' : 'throttling beyond retries';
      cells.push({ id: `${state}/${fault}`, description: `${state}: ${what}`, scenario, fault: { state, fault } });
    }
  }
  for (const cell of SSM_CELLS) cells.push({ id: `ssm/${cell.kind}`, description: cell.description, scenario: cell.scenario, ssm: cell.kind });
  return cells;
}

/** The parts of a beacon model a run may change. */
const COMPARED = ['registry', 'hives', 'profiles', 'accounts', 'rights', 'groups', 'services', 'tasks'] as const;
/** What a user sees of those parts (WinINet blob change counters set aside: Windows counts every change, a restore included). */
const comparable = (model: BeaconModel) => {
  const state = comparableState(model) as Record<string, unknown>;
  return JSON.stringify(Object.fromEntries(COMPARED.map((key) => [key, state[key]])));
};

export type BeaconEnd = 'unchanged' | 'configured' | 'HALF-CONFIGURED';

export interface CellResult {
  cell: ChaosCell;
  held: boolean;
  failures: string[];
  outcome: string;
  /** The first reason the status gives (why that outcome). */
  reason: string;
  execution: string;
  beacon: BeaconEnd;
  seconds: number;
}

export interface ChaosOptions {
  /** Real ms per workflow second; default 15. */
  msPerSecond?: number;
  workDir?: string;
}

function request(requestId: string, scenario: Scenario): Record<string, unknown> {
  return {
    requestId,
    target: { instanceIds: [CHAOS_INSTANCE] },
    protocol: 'https',
    proxy: 'proxy.corp.example:8080',
    account: { kind: 'domain', name: 'CORP\\svc-beacon', passwordSecretArn: DEFAULT_SECRET_ARN },
    ...(scenario === 'plan' ? { dryRun: true } : {}),
  };
}

/** The model a full, verified configure run leaves on a fresh beacon: run once, the reference of "fully configured". */
export async function referenceConfigured(workDir: string): Promise<string> {
  const dir = join(workDir, 'reference');
  const modelPath = writeBeaconModel(dir, 'beacon.json', freshBeacon({ computerName: COMPUTER, beaconVersion: BUILTIN_BEACON_VERSION }));
  const { documentParameters, renderDesiredState } = await import('../lambdas/core/desired-state.js');
  const { parseRequest } = await import('../lambdas/core/request.js');
  const parameters = Object.fromEntries(Object.entries(documentParameters(renderDesiredState(parseRequest(request('chaos-reference', 'configure'))))).map(([k, v]) => [k, v.join(',')]));
  const run = await runBeaconDocument({ document: 'configure', parameters, modelPath, env: { BEACON_PROXY_CAPTURE_DIR: join(dir, 'captures') } });
  if (run.exitCode !== 0) throw new Error(`the reference configure run failed: ${run.stdout.slice(0, 500)} ${run.stderr.slice(0, 500)}`);
  return comparable(readBeaconModel(modelPath));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until the agent stops the script (cancel) or forever. */
const untilStopped = (control: ExecutionControl) => new Promise<void>((resolve) => control.signal.addEventListener('abort', () => resolve(), { once: true }));

/**
 * Half of a configure run: the real run, then everything but the registry put back (the script died before the
 * service step). The capture it wrote stays, with the file system's record of its owner and protection.
 */
async function halfConfigure(modelPath: string, run: () => Promise<unknown>): Promise<void> {
  const before = readBeaconModel(modelPath);
  await run();
  const after = readBeaconModel(modelPath);
  writeBeaconModel(dirname(modelPath), basename(modelPath), { ...before, registry: after.registry, ...(after.files ? { files: after.files } : {}) });
}

/** Runs one cell on its own twin and checks the invariants. */
export async function runChaosCell(cell: ChaosCell, reference: string, options: ChaosOptions = {}): Promise<CellResult> {
  const started = Date.now();
  const dir = mkdtempSync(join(options.workDir ?? tmpdir(), 'beacon-proxy-chaos-'));
  const fleetDir = join(dir, 'fleet');
  const model = freshBeacon({ computerName: COMPUTER, beaconVersion: BUILTIN_BEACON_VERSION, ...(cell.ssm === 'self-rollback' ? { faults: { serviceFailsToStart: true } } : {}) });
  const modelPath = writeBeaconModel(fleetDir, `${CHAOS_INSTANCE}.json`, model);
  await writeFile(
    join(fleetDir, FLEET_FILE),
    JSON.stringify({ beacons: [{ instanceId: CHAOS_INSTANCE, computerName: COMPUTER, platformType: 'Windows', pingStatus: 'Online', tags: { [LOCAL_BEACON_TAG.key]: LOCAL_BEACON_TAG.value }, model: `${CHAOS_INSTANCE}.json` }] }),
  );
  const before = comparable(model);
  const captureDir = join(dir, 'captures');
  await mkdir(captureDir, { recursive: true });
  const scale = options.msPerSecond ?? 15;
  const runs = new Map<BeaconDocumentKind, number>();
  const real = (kind: BeaconDocumentKind, parameters: Record<string, string>, control: ExecutionControl) =>
    runBeaconDocument({ document: kind, parameters, modelPath, timeoutMs: control.timeoutMs, env: { BEACON_PROXY_CAPTURE_DIR: captureDir } });
  const executor: DocumentExecutor = async (_beacon, kind, parameters, control) => {
    const n = (runs.get(kind) ?? 0) + 1;
    runs.set(kind, n);
    const executionLimitMs = (kind === 'rollback' || kind === 'configure' ? 900 : 300) * scale;
    switch (cell.ssm) {
      case 'stuck-past-execution-timeout':
        if (kind === 'configure') {
          await halfConfigure(modelPath, () => real(kind, parameters, control));
          await Promise.race([sleep(executionLimitMs), untilStopped(control)]);
          return { stdout: '', stderr: 'Restart-Service: waiting for service BeaconEngine to stop...', exitCode: -1, executionTimedOut: true };
        }
        break;
      case 'cancelling-then-cancelled':
        if (kind === 'configure') {
          await halfConfigure(modelPath, () => real(kind, parameters, control));
          await untilStopped(control);
          return { stdout: '', stderr: 'the agent stopped the script', exitCode: -1 };
        }
        break;
      case 'beacon-busy':
        return {
          stdout: `${JSON.stringify({ ok: false, document: kind, changed: [], checks: [], beaconVersion: BUILTIN_BEACON_VERSION, captureId: null, error: { code: 'BEACON_BUSY', message: 'another beacon-proxy document holds the beacon', step: 'start' } })}\n`,
          stderr: '',
          exitCode: 1,
        };
      case 'rollback-stuck-then-retried':
        if (kind === 'rollback' && n === 1) {
          await Promise.race([sleep(executionLimitMs), untilStopped(control)]);
          return { stdout: '', stderr: '', exitCode: -1, executionTimedOut: true };
        }
        break;
      default:
        break;
    }
    const result = await real(kind, parameters, control);
    // The rollback scenario: configure ran, but its answer was lost (the agent crashed after the script).
    if (cell.scenario === 'rollback' && kind === 'configure') {
      const noise = cell.ssm === 'output-24000-characters' ? `${'\u001b[33mWARNING: é "quoted" \\ noise\u001b[0m '.repeat(800)}`.slice(0, 24_000) : '';
      return { stdout: noise, stderr: 'SSM Agent: the plugin output was lost (agent restarted)', exitCode: -1 };
    }
    if (cell.ssm === 'output-24000-characters' && kind === 'rollback') {
      return { ...result, stdout: `${'\u001b[33mWARNING: é "quoted" \\ noise\u001b[0m '.repeat(800).slice(0, 24_000 - result.stdout.length - 1)}\n${result.stdout}` };
    }
    return result;
  };
  const fleet = await loadFleet(fleetDir);
  let disconnected = false;
  const twin: LocalTwin = await LocalTwin.create({
    fleet,
    workDir: join(dir, 'work'),
    msPerSecond: scale,
    executor,
    limits: { minExecutionMs: 60_000 },
    // Many cells share the machine with PowerShell: a healthy step must not hit a scaled timeout by load alone.
    minFunctionTimeoutMs: 3_000,
    fnms: { state: builtinFnmsState([COMPUTER]) },
    ...(cell.fault ? { faults: [{ ...cell.fault, instanceId: CHAOS_INSTANCE }] } : {}),
    // Offline mid-configure: the agent drops off as the configure command is sent (after ResolveTarget saw it online).
    onState: (_instanceId, _requestId, state) => {
      if (state !== STATES.sendConfigure || disconnected) return;
      disconnected = true;
      if (cell.ssm === 'offline-after-delivery-deadline') twin.ssm.reconnectAfter(CHAOS_INSTANCE, twin.workflow.timing.deliveryTimeoutSeconds + 60);
      if (cell.ssm === 'offline-back-before-deadline') twin.ssm.reconnectAfter(CHAOS_INSTANCE, twin.workflow.timing.deliveryTimeoutSeconds / 3);
    },
  });
  const failures: string[] = [];
  const requestId = `chaos-${cell.id.replace(/[^A-Za-z0-9]+/g, '-').toLowerCase()}`.slice(0, 64);
  let outcome = '?';
  let reason = '';
  let execution = '?';
  try {
    twin.submit(request(requestId, cell.scenario));
    await twin.drain();
    await twin.ssm.settle();
    const result = [...twin.results.values()][0];
    execution = result ? `${result.status}${result.error && result.status !== 'SUCCEEDED' ? ` ${result.error}` : ''}` : 'not started';
    const status = await twin.store.getRequestStatus(requestId);
    const beacon = status?.beacons.find((b) => b.instanceId === CHAOS_INSTANCE);
    outcome = beacon?.state ?? 'none';
    reason = beacon?.reasons?.[0] ?? '';
    if (!beacon || !TERMINAL_BEACON_STATES.includes(beacon.state)) failures.push(`the request's status is not final (${outcome})`);
    if (!twin.notifier.sent.some((n) => n.outcome.requestId === requestId && n.outcome.instanceId === CHAOS_INSTANCE)) failures.push('the requester was not notified');
    const overlaps = twin.ssm.overlaps(['configure', 'rollback']);
    if (overlaps.length > 0) failures.push(`configure and rollback overlapped on the box ${overlaps.length} time(s)`);
    const items = await twin.dynamo.scan(twin.dynamo.tables.state);
    const lockItem = items.find((item) => item.pk === `LOCK#${CHAOS_INSTANCE}`);
    if (lockItem?.owner) failures.push(`the lock is still held by ${String(lockItem.owner)} (until ${new Date(Number(lockItem.expiresAtMs)).toISOString()})`);
  } catch (error) {
    failures.push(`the cell could not run: ${(error as Error).message}`);
  } finally {
    await twin.stop().catch(() => undefined);
  }
  const after = comparable(readBeaconModel(modelPath));
  const end: BeaconEnd = after === before ? 'unchanged' : after === reference ? 'configured' : 'HALF-CONFIGURED';
  if (end === 'HALF-CONFIGURED') failures.push('the beacon is neither as before nor fully configured');
  if (cell.scenario === 'plan' && end !== 'unchanged') failures.push('a plan changed the beacon');
  return { cell, held: failures.length === 0, failures, outcome, reason, execution, beacon: end, seconds: (Date.now() - started) / 1000 };
}

/** Runs cells with at most `parallel` at once, in order of the list. */
export async function runChaosMatrix(cells: ChaosCell[], options: ChaosOptions & { parallel?: number; onResult?: (result: CellResult) => void } = {}): Promise<CellResult[]> {
  const workDir = options.workDir ?? mkdtempSync(join(tmpdir(), 'beacon-proxy-chaos-matrix-'));
  const reference = await referenceConfigured(workDir);
  const results: CellResult[] = new Array(cells.length);
  let next = 0;
  const worker = async () => {
    while (next < cells.length) {
      const index = next++;
      results[index] = await runChaosCell(cells[index]!, reference, { ...options, workDir });
      options.onResult?.(results[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.parallel ?? 6) }, worker));
  return results;
}

/** The table and its exact last line: `chaos: N cells, N held, 0 half-configured`. */
export function chaosReport(results: CellResult[]): string {
  const rows = results.map((r) => [
    r.cell.id,
    `${r.outcome} (${r.execution})`,
    r.beacon,
    `${r.seconds.toFixed(1)} s`,
    r.held ? 'held' : `FAILED: ${r.failures.join('; ')}`,
    r.reason.length > 90 ? `${r.reason.slice(0, 89)}…` : r.reason,
  ]);
  const header = ['CELL', 'OUTCOME (EXECUTION)', 'BEACON END STATE', 'TIME', 'INVARIANTS', 'WHY'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  const held = results.filter((r) => r.held).length;
  const half = results.filter((r) => r.beacon === 'HALF-CONFIGURED').length;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line), '', `chaos: ${results.length} cells, ${held} held, ${half} half-configured`].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const cells = chaosCells();
  const startedAt = Date.now();
  process.stderr.write(`chaos: ${cells.length} cells on the strict twin (real PowerShell, dynalite, scaled time)\n`);
  const results = await runChaosMatrix(cells, {
    parallel: Number(process.env.CHAOS_PARALLEL ?? 6),
    onResult: (r) => process.stderr.write(`  ${r.held ? 'held  ' : 'FAILED'} ${r.cell.id} (${r.seconds.toFixed(1)} s)\n`),
  });
  process.stderr.write(`chaos: matrix took ${((Date.now() - startedAt) / 1000).toFixed(0)} s\n`);
  process.stdout.write(`${chaosReport(results)}\n`);
  process.exit(results.every((r) => r.held) ? 0 : 1);
}

