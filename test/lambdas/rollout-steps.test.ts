/**
 * The request workflow's steps on in-memory ports: the pin decided once per request (DecidePin: gateway,
 * operator and none modes, the FNMS budget, the lock on the setting), the cancel check of the beacon
 * workflow, and the operator actions' refusals.
 */
import { createServer } from 'node:http';
import { beforeEach, describe, expect, it } from 'vitest';
import { createCheckCancelledHandler } from '../../lambdas/check-cancelled/handler.js';
import { BeaconInventoryError, createFnmsClient, createInMemoryFnms, createInMemoryInventory, FnmsError } from '../../lambdas/core/fnms/index.js';
import type { RolloutRecord } from '../../lambdas/core/ports.js';
import { ROLLOUT_DEFAULTS } from '../../lambdas/core/rollout.js';
import { cancelRollout, confirmOperatorPin, giveGo } from '../../lambdas/core/rollout-control.js';
import { deriveRequestTiming } from '../../lambdas/core/timing.js';
import { type DecidePinDeps, PIN_LOCK_ID, createDecidePinHandler } from '../../lambdas/decide-pin/handler.js';
import { EXECUTION_STATUS_CHANGE, createExecutionCleanupHandler } from '../../lambdas/execution-cleanup/handler.js';
import { FixedClock, MemoryBeaconCommands, MemoryBeaconLock, MemoryFleetMemory, MemoryNotifier, MemoryPinLedger, MemoryRequestStore, MemoryRolloutStore, MemoryTaskTokens } from '../../lambdas/memory/ports.js';
import { initialRollout } from '../../lambdas/rollout/steps.js';
import { PIN_MODE_NONE_WARNING } from '../../lambdas/workflow/state.js';
import { lambdaContext, validRequest } from './fixtures.js';

const TIMING = deriveRequestTiming();
let clock: FixedClock;
let store: MemoryRequestStore;
let rollouts: MemoryRolloutStore;
let ledger: MemoryPinLedger;
let lock: MemoryBeaconLock;

/** A rollout whose beacons finished: `ok` beacons at `version`. */
async function finished(requestId: string, ok: Record<string, number>, overrides: Partial<RolloutRecord> = {}): Promise<void> {
  const at = clock.now().toISOString();
  const base = initialRollout({ requestId, request: {}, source: 'api', dryRun: false, replyTo: null, receivedAt: at, generation: 0, execution: { name: requestId } }, ROLLOUT_DEFAULTS.instances, at);
  const total = Object.values(ok).reduce((sum, n) => sum + n, 0);
  await rollouts.createRollout({ ...base, phase: 'pinning', started: total, finished: total, counts: { ok: total }, okVersions: ok, expansion: { pages: 1, total, nextToken: null, done: true }, ...overrides });
}

const event = (requestId: string, overrides: Record<string, unknown> = {}) => ({ requestId, request: validRequest({ requestId, ...overrides }), execution: { name: requestId }, previous: { action: 'pending' as const } });
const inventoryBeacon = (name: string, version: string | null) => ({ name, computerName: name, version, status: 'Active', lastContact: null });

type PinMode =
  | { mode: 'gateway'; gateway: ReturnType<typeof createInMemoryFnms> | ReturnType<typeof createFnmsClient>; inventory: ReturnType<typeof createInMemoryInventory> | null; countFnmsError?: () => void }
  | { mode: 'operator'; inventory: ReturnType<typeof createInMemoryInventory> | null }
  | { mode: 'none' };

function decidePin(mode: PinMode) {
  return createDecidePinHandler({ rollouts, store, ledger, lock, clock, timing: TIMING, ...mode } as DecidePinDeps);
}

beforeEach(() => {
  clock = new FixedClock();
  store = new MemoryRequestStore();
  rollouts = new MemoryRolloutStore(store);
  ledger = new MemoryPinLedger();
  lock = new MemoryBeaconLock(clock);
});

describe('DecidePin (once per request, after its beacons finished)', () => {
  it('gateway: pins "current" to the highest release the request\'s beacons run, once; a retried step decides nothing again', async () => {
    await finished('r1', { '13.1.0': 2, '13.2.0': 1 });
    const fnms = createInMemoryFnms({ approvedVersion: 'latest', availableVersions: ['13.1.0', '13.2.0'] });
    const handler = decidePin({ mode: 'gateway', gateway: fnms, inventory: null });
    expect(await handler(event('r1'))).toMatchObject({ action: 'done', pin: { status: 'pinned', mode: 'gateway', version: '13.2.0', from: 'latest' } });
    expect(await handler(event('r1'))).toMatchObject({ action: 'done', pin: { status: 'pinned', version: '13.2.0' } });
    expect(fnms.writes).toEqual(['13.2.0']);
    expect((await ledger.get()).confirmed).toMatchObject({ version: '13.2.0' });
  });

  it('gateway: an explicit release older than a beacon the FNMS inventory lists is refused (DOWNGRADE_REFUSED), nothing written', async () => {
    await finished('r1', { '13.2.0': 1 });
    const fnms = createInMemoryFnms({ approvedVersion: 'latest', availableVersions: ['13.2.0', '13.3.0'] });
    const inventory = createInMemoryInventory([inventoryBeacon('OTHER01', '13.3.0'), inventoryBeacon('OTHER02', null)]);
    const result = await decidePin({ mode: 'gateway', gateway: fnms, inventory })(event('r1', { beaconVersion: { pin: '13.2.0' } }));
    expect(result).toMatchObject({ action: 'done', pin: { status: 'refused', code: 'DOWNGRADE_REFUSED', reason: expect.stringContaining('13.3.0') } });
    expect(fnms.writes).toEqual([]);
  });

  it('gateway: an inventory failure that may pass is retried by the state machine (TransientError) and counted; a missing column is a pin failure naming it', async () => {
    await finished('r1', { '13.2.0': 1 });
    let counted = 0;
    const fnms = createInMemoryFnms({ approvedVersion: 'latest' });
    const flaky = createInMemoryInventory(async () => {
      throw new BeaconInventoryError('INVENTORY_HTTP', 'executeReport', 'Flexera One report execute failed: 503', { status: 503, retriable: true, attempts: 4 });
    });
    const thrown = await decidePin({ mode: 'gateway', gateway: fnms, inventory: flaky, countFnmsError: () => counted++ })(event('r1')).catch((e: unknown) => e);
    expect((thrown as Error).name).toBe('TransientError');
    const broken = createInMemoryInventory(async () => {
      throw new BeaconInventoryError('INVENTORY_COLUMN_MISSING', 'executeReport', 'Flexera One report 42 has no column "R2_x_Beacon_BeaconVersion"', { field: 'fnmsReportColumns.version' });
    });
    const result = await decidePin({ mode: 'gateway', gateway: fnms, inventory: broken, countFnmsError: () => counted++ })(event('r1'));
    expect(result).toMatchObject({ action: 'done', pin: { status: 'failed', code: 'INVENTORY_COLUMN_MISSING', reason: expect.stringContaining('R2_x_Beacon_BeaconVersion') } });
    expect(counted).toBe(2);
    expect(fnms.writes).toEqual([]);
  });

  it('gateway: an FNMS failure that may pass is a TransientError (retried) and the lock on the setting is released', async () => {
    await finished('r1', { '13.2.0': 1 });
    const fnms = createInMemoryFnms();
    fnms.setApprovedBeaconVersion = async () => {
      throw new FnmsError('setApprovedBeaconVersion', 'http', 'FNMS failed on its side (503)', 503, true, 4);
    };
    const error = await decidePin({ mode: 'gateway', gateway: fnms, inventory: null })(event('r1')).catch((e: unknown) => e);
    expect((error as Error).name).toBe('TransientError');
    expect(lock.locks.has(PIN_LOCK_ID)).toBe(false);
  });

  it('the FNMS setting is locked while a request decides: another request waits (busy) and retries, never reading it meanwhile', async () => {
    await finished('r1', { '13.2.0': 1 });
    await lock.acquire(PIN_LOCK_ID, 'other-request', 900, '0');
    const fnms = createInMemoryFnms({ approvedVersion: 'latest', availableVersions: ['13.2.0'] });
    let reads = 0;
    const read = fnms.getBeaconSettings.bind(fnms);
    fnms.getBeaconSettings = async () => {
      reads += 1;
      return read();
    };
    expect(await decidePin({ mode: 'gateway', gateway: fnms, inventory: null })(event('r1'))).toMatchObject({ action: 'busy', waitSeconds: TIMING.pinLockRetrySeconds });
    expect(reads).toBe(0);
  });

  it('DecidePin budgets the inventory reads too: out of Lambda time, a retryable error before the function would be killed', async () => {
    await finished('r1', { '13.2.0': 1 });
    // The report endpoint accepts the connection and never answers; the Lambda has 2 s left.
    const server = createServer(() => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const fnms = createFnmsClient({ baseUrl: `http://127.0.0.1:${port}`, auth: { kind: 'bearer' }, timeoutMs: 10_000 }, { getSecret: async () => 'token-1234' });
    const context = { ...lambdaContext, getRemainingTimeInMillis: () => 2_000 };
    const started = Date.now();
    try {
      const outcome = await Promise.race([
        decidePin({ mode: 'gateway', gateway: fnms, inventory: null })(event('r1'), context).then(
          () => 'resolved',
          (e: Error) => e.name,
        ),
        new Promise((resolve) => setTimeout(() => resolve(`still running after ${Date.now() - started} ms (the Lambda would be killed at 2000 ms)`), 4_000)),
      ]);
      expect(outcome).toBe('TransientError');
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  }, 10_000);

  it('operator: asks for the decided value (awaiting, with a pin id); a request whose release the pending value covers joins it', async () => {
    await finished('r1', { '13.2.0': 1 });
    await finished('r2', { '13.1.0': 1 });
    const handler = decidePin({ mode: 'operator', inventory: createInMemoryInventory([inventoryBeacon('B1', '13.1.0')]) });
    expect(await handler(event('r1'))).toMatchObject({ action: 'await', pin: { status: 'awaiting', mode: 'operator', version: '13.2.0', pinId: 'pin-r1' } });
    expect(await handler(event('r2'))).toMatchObject({ action: 'await', pin: { status: 'awaiting', version: '13.2.0', pinId: 'pin-r1' } });
    expect((await ledger.get()).pending).toMatchObject({ pinId: 'pin-r1', version: '13.2.0' });
    expect((await rollouts.getRollout('r1'))?.phase).toBe('awaiting-pin');
  });

  it('none: nothing is pinned; the request carries the warning that upgrades may reset the service account', async () => {
    await finished('r1', { '13.2.0': 1 });
    expect(await decidePin({ mode: 'none' })(event('r1'))).toMatchObject({ action: 'done', pin: { status: 'none', warning: PIN_MODE_NONE_WARNING } });
  });

  it('a dry run or a request with no beacon configured pins nothing', async () => {
    await finished('dry', { '13.2.0': 1 }, { dryRun: true });
    await finished('none-ok', {}, { counts: { 'rolled-back': 1 } });
    const fnms = createInMemoryFnms();
    expect(await decidePin({ mode: 'gateway', gateway: fnms, inventory: null })(event('dry'))).toMatchObject({ pin: { status: 'skipped' } });
    expect(await decidePin({ mode: 'gateway', gateway: fnms, inventory: null })(event('none-ok'))).toMatchObject({ pin: { status: 'skipped' } });
    expect(fnms.writes).toEqual([]);
  });
});

describe('operator actions', () => {
  const deps = () => ({ rollouts, ledger, tokens: new MemoryTaskTokens(), clock, audit: (e: Parameters<MemoryRequestStore['appendAudit']>[0]) => store.appendAudit(e) });

  it('cancel once (who, when, rollback); a second cancel and a cancel after the beacons finished are refused with a code', async () => {
    await finished('running', { '13.2.0': 1 }, { phase: 'running' });
    await finished('pinning', { '13.2.0': 1 });
    expect(await cancelRollout(deps(), { requestId: 'running', rollback: true, by: 'ops' })).toMatchObject({ action: 'cancel', rollback: true, by: 'ops' });
    await expect(cancelRollout(deps(), { requestId: 'running', rollback: false, by: 'ops2' })).rejects.toMatchObject({ code: 'ALREADY_CANCELLED', status: 409 });
    await expect(cancelRollout(deps(), { requestId: 'pinning', rollback: false, by: 'ops' })).rejects.toMatchObject({ code: 'BEACON_WORK_DONE', status: 409 });
    await expect(cancelRollout(deps(), { requestId: 'nope', rollback: false, by: 'ops' })).rejects.toMatchObject({ code: 'NOT_FOUND', status: 404 });
  });

  it('the per-beacon workflow sees the cancel (and whether to roll back)', async () => {
    await finished('running', { '13.2.0': 1 }, { phase: 'running' });
    const check = createCheckCancelledHandler({ rollouts });
    expect(await check({ requestId: 'running', instanceId: 'i-1' })).toEqual({ cancelled: false, rollback: false, by: null, at: null });
    await cancelRollout(deps(), { requestId: 'running', rollback: true, by: 'ops' });
    expect(await check({ requestId: 'running', instanceId: 'i-1' })).toMatchObject({ cancelled: true, rollback: true, by: 'ops' });
  });

  it('a go is refused unless the rollout waits for one; a confirmation of a pin nobody asked for is refused', async () => {
    await finished('running', { '13.2.0': 1 }, { phase: 'running' });
    await expect(giveGo(deps(), { requestId: 'running', by: 'ops' })).rejects.toMatchObject({ code: 'NOT_AWAITING_GO' });
    await expect(confirmOperatorPin(deps(), { pinId: 'pin-running', by: 'ops' })).rejects.toMatchObject({ code: 'PIN_NOT_PENDING', status: 404 });
  });
});

describe('ExecutionCleanup of a request workflow that ended without its summary', () => {
  it('beacons never started become not-started, the request ends failed with the reason, its pin wait is dropped, the requester gets the summary once', async () => {
    const at = clock.now().toISOString();
    const base = initialRollout({ requestId: 'r-lost', request: {}, source: 'api', dryRun: false, replyTo: null, receivedAt: at, generation: 0, execution: { name: 'r-lost' } }, ROLLOUT_DEFAULTS.tag, at);
    await rollouts.createRollout({ ...base, phase: 'running' });
    await rollouts.recordTargetPage('r-lost', { index: 0, instanceIds: ['i-1', 'i-2', 'i-3'], nextToken: null, pageSize: 50 }, at);
    await rollouts.patchRollout('r-lost', { started: 1, updatedAt: at });
    const notifier = new MemoryNotifier();
    const memory = new MemoryFleetMemory();
    const cleanup = createExecutionCleanupHandler({
      store,
      rollouts,
      ledger,
      lock,
      commands: new MemoryBeaconCommands(),
      notifier,
      memory,
      clock,
      timing: { pollDeadlineSeconds: { verify: 600, configure: 600, rollback: 600 }, cancelWaitSeconds: 60 } as never,
      requestTiming: { targetPageSize: 50 },
    });
    const event = {
      'detail-type': EXECUTION_STATUS_CHANGE,
      detail: { name: 'r-lost', status: 'TIMED_OUT', input: JSON.stringify({ requestId: 'r-lost', generation: 0, request: {} }), executionArn: 'arn', stateMachineArn: 'arn', error: 'States.Timeout', cause: null },
    } as never;
    expect(await cleanup(event)).toMatchObject({ action: 'cleaned', finalized: true, recorded: true });
    expect(await cleanup(event)).toMatchObject({ action: 'none' });
    const status = (await store.getRequestStatus('r-lost')) ?? { beacons: [...store.beacons.values()].filter((b) => b.requestId === 'r-lost') };
    const states = Object.fromEntries(status.beacons.map((beacon) => [beacon.instanceId, beacon.state]));
    expect(states).toMatchObject({ 'i-2': 'not-started', 'i-3': 'not-started' });
    expect((await rollouts.getRollout('r-lost'))?.outcome).toMatchObject({ state: 'failed', reason: expect.stringContaining('ended TIMED_OUT') });
    expect(notifier.sent.filter((n) => n.outcome.event === 'summary')).toHaveLength(1);
  });
});
