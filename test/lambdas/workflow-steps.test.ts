import { beforeEach, describe, expect, it } from 'vitest';
import { createAcquireLockHandler } from '../../lambdas/acquire-lock/handler.js';
import { documentParameters, renderDesiredState } from '../../lambdas/core/desired-state.js';
import { BeaconInventoryError, createInMemoryFnms, createInMemoryInventory, FnmsError } from '../../lambdas/core/fnms/index.js';
import { PIN_MODE_NONE_WARNING } from '../../lambdas/workflow/state.js';
import { parseRequest } from '../../lambdas/core/request.js';
import { createJudgeResultHandler } from '../../lambdas/judge-result/handler.js';
import { FixedClock, MemoryBeaconCommands, MemoryBeaconLock, MemoryNotifier, MemoryRequestStore } from '../../lambdas/memory/ports.js';
import { createNotifyRequesterHandler } from '../../lambdas/notify-requester/handler.js';
import { createPinVersionHandler } from '../../lambdas/pin-version/handler.js';
import { createPollCommandHandler } from '../../lambdas/poll-command/handler.js';
import { createRecordOutcomeHandler } from '../../lambdas/record-outcome/handler.js';
import { createReleaseLockHandler } from '../../lambdas/release-lock/handler.js';
import { createResolveTargetHandler } from '../../lambdas/resolve-target/handler.js';
import { createSendCommandHandler } from '../../lambdas/send-command/handler.js';
import type { WorkflowState } from '../../lambdas/workflow/state.js';
import { BEACON_TAG, INSTANCE_A, resultLine, validRequest } from './fixtures.js';

const DOCUMENT_NAMES = { configure: 'BeaconProxy-Configure-Test', verify: 'BeaconProxy-Verify-Test', rollback: 'BeaconProxy-Rollback-Test' };
let clock: FixedClock;
let store: MemoryRequestStore;
let commands: MemoryBeaconCommands;

beforeEach(() => {
  clock = new FixedClock();
  store = new MemoryRequestStore();
  commands = new MemoryBeaconCommands();
});

describe('ResolveTarget', () => {
  const resolve = () => createResolveTargetHandler({ commands, beaconTag: BEACON_TAG })({ requestId: 'r', instanceId: INSTANCE_A });
  const tags = { [BEACON_TAG.key]: BEACON_TAG.value };

  it('an online, tagged Windows managed instance is eligible', async () => {
    commands.addInstance({ instanceId: INSTANCE_A, computerName: 'BEACON01', tags });
    expect(await resolve()).toEqual({ instanceId: INSTANCE_A, eligible: true, computerName: 'BEACON01', reason: null });
  });

  it.each([
    ['an offline beacon', { pingStatus: 'ConnectionLost', tags }, /offline/],
    ['a Linux instance', { platformType: 'Linux', tags }, /not a Windows instance/],
    ['an instance without the beacon tag', { tags: {} }, /not tagged beacon-proxy:role=flexnet-beacon/],
  ])('%s is skipped with the reason', async (_name, instance, reason) => {
    commands.addInstance({ instanceId: INSTANCE_A, ...instance });
    const result = await resolve();
    expect(result.eligible).toBe(false);
    expect(result.reason).toMatch(reason);
  });

  it('an instance SSM does not manage is skipped', async () => {
    expect((await resolve()).reason).toMatch(/not an SSM managed instance/);
  });
});

describe('beacon lock', () => {
  it('a second workflow for the same beacon gets BeaconBusyError (the name the state machine retries)', async () => {
    const lock = new MemoryBeaconLock(clock);
    const acquire = createAcquireLockHandler({ lock, store, clock, ttlSeconds: 600 });
    await acquire({ requestId: 'r1', instanceId: INSTANCE_A, owner: 'exec-1' });
    const error = await acquire({ requestId: 'r2', instanceId: INSTANCE_A, owner: 'exec-2' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).name).toBe('BeaconBusyError');
    expect((error as Error).message).toContain('exec-1');
  });

  it('a retried acquire by the same execution succeeds, and an expired lock can be taken over', async () => {
    const lock = new MemoryBeaconLock(clock);
    const acquire = createAcquireLockHandler({ lock, store, clock, ttlSeconds: 600 });
    await acquire({ requestId: 'r1', instanceId: INSTANCE_A, owner: 'exec-1' });
    await expect(acquire({ requestId: 'r1', instanceId: INSTANCE_A, owner: 'exec-1' })).resolves.toMatchObject({ acquired: true });
    clock.advance(601);
    await expect(acquire({ requestId: 'r2', instanceId: INSTANCE_A, owner: 'exec-2' })).resolves.toMatchObject({ acquired: true, owner: 'exec-2' });
  });

  it('release frees only the owner\'s lock and is safe to call twice', async () => {
    const lock = new MemoryBeaconLock(clock);
    const release = createReleaseLockHandler({ lock });
    await lock.acquire(INSTANCE_A, 'exec-1', 600);
    expect(await release({ instanceId: INSTANCE_A, owner: 'exec-2' })).toEqual({ released: false });
    expect(await release({ instanceId: INSTANCE_A, owner: 'exec-1' })).toEqual({ released: true });
    expect(await release({ instanceId: INSTANCE_A, owner: 'exec-1' })).toEqual({ released: false });
    expect((await lock.acquire(INSTANCE_A, 'exec-3', 600)).acquired).toBe(true);
  });
});

describe('SendConfigure / SendRollback', () => {
  const send = () => createSendCommandHandler({ commands, store, clock, documentNames: DOCUMENT_NAMES });

  it('sends this stack\'s configure document with the desired state rendered by the core', async () => {
    const request = validRequest();
    const result = await send()({ document: 'configure', requestId: 'req-test-1', instanceId: INSTANCE_A, request });
    expect(commands.sent).toHaveLength(1);
    expect(commands.sent[0]).toMatchObject({ instanceIds: [INSTANCE_A], documentName: DOCUMENT_NAMES.configure, parameters: documentParameters(renderDesiredState(parseRequest(request))) });
    expect(result).toEqual({ commandId: commands.sent[0]!.commandId, documentName: DOCUMENT_NAMES.configure, sentAt: clock.now().toISOString() });
    expect([...store.beacons.values()][0]).toMatchObject({ state: 'sent', commandId: result.commandId });
  });

  it('a dry run is refused here too: nothing is sent', async () => {
    await expect(send()({ document: 'configure', requestId: 'req-test-1', instanceId: INSTANCE_A, request: validRequest({ dryRun: true }) })).rejects.toThrow(/dry run/);
    expect(commands.sent).toHaveLength(0);
  });

  it('a dry run\'s plan sends the read-only verify document with the same desired state and no endpoint probe', async () => {
    const request = validRequest({ dryRun: true });
    await send()({ document: 'verify', requestId: 'req-test-1', instanceId: INSTANCE_A, request });
    expect(commands.sent[0]).toMatchObject({
      documentName: DOCUMENT_NAMES.verify,
      parameters: { ...documentParameters(renderDesiredState(parseRequest(request))), CheckEndpoint: ['none'] },
    });
  });

  it('an acknowledged CRL switch is written to the audit trail with its reason', async () => {
    const request = validRequest({ checkCertificateRevocation: { disable: true, acknowledgeRisk: true, reason: 'CA unreachable, ticket 123' } });
    await send()({ document: 'configure', requestId: 'req-test-1', instanceId: INSTANCE_A, request });
    expect([...store.audit.values()].find((e) => e.event === 'crl.disabled')?.detail).toEqual({ reason: 'CA unreachable, ticket 123' });
  });

  it('rollback sends the capture id and nothing else', async () => {
    await send()({ document: 'rollback', requestId: 'req-test-1', instanceId: INSTANCE_A, captureId: 'req-test-1' });
    expect(commands.sent[0]).toMatchObject({ documentName: DOCUMENT_NAMES.rollback, parameters: { CaptureId: ['req-test-1'] } });
  });

  it('a capture id outside the document\'s pattern is refused before SendCommand', async () => {
    await expect(send()({ document: 'rollback', requestId: 'r', instanceId: INSTANCE_A, captureId: 'x; Remove-Item C:\\' })).rejects.toThrow(/pattern/);
    expect(commands.sent).toHaveLength(0);
  });
});

describe('PollConfigure', () => {
  const poll = () => createPollCommandHandler({ commands, clock, timeoutSeconds: 300, firstPollSeconds: 5, maxPollSeconds: 60 });
  const sentAt = () => clock.now().toISOString();

  it('an invocation SSM does not know yet is pending, and the wait doubles up to the cap', async () => {
    const start = sentAt();
    const waits: number[] = [];
    for (let attempt = 0; attempt < 6; attempt++) {
      const result = await poll()({ commandId: 'cmd-x', instanceId: INSTANCE_A, sentAt: start, attempt });
      expect(result).toMatchObject({ done: false, timedOut: false, status: 'Pending' });
      waits.push(result.waitSeconds);
    }
    expect(waits).toEqual([10, 20, 40, 60, 60, 60]);
  });

  it('gives up when the next wait would pass the command deadline', async () => {
    const start = sentAt();
    clock.advance(290);
    expect(await poll()({ commandId: 'cmd-x', instanceId: INSTANCE_A, sentAt: start, attempt: 3 })).toMatchObject({ done: false, timedOut: true });
  });

  it('a finished invocation is done with its output', async () => {
    commands.setInvocation('cmd-x', INSTANCE_A, { status: 'Failed', stdout: 'out', stderr: 'err' });
    expect(await poll()({ commandId: 'cmd-x', instanceId: INSTANCE_A, sentAt: sentAt(), attempt: 0 })).toMatchObject({ done: true, status: 'Failed', stdout: 'out', stderr: 'err', attempt: 1 });
  });
});

describe('JudgeConfigure', () => {
  const judge = createJudgeResultHandler();

  it('ok only when the line says ok and Run Command says Success', async () => {
    expect((await judge({ status: 'Success', stdout: resultLine() })).status).toBe('ok');
    expect(await judge({ status: 'Failed', stdout: resultLine() })).toMatchObject({ status: 'failed', reasons: [expect.stringContaining('Failed')] });
  });

  it('a beacon that rolled back by itself is recognised (no second rollback)', async () => {
    const line = resultLine({ ok: false, error: { code: 'SERVICE_START', message: 'service did not start', step: 'service' }, rollback: { attempted: true, ok: true, restored: ['Common\\https_proxy'] } });
    expect(await judge({ status: 'Failed', stdout: line })).toMatchObject({ status: 'rolled-back', changed: ['Common\\https_proxy'] });
  });

  it('output without a result line is unparseable, with the SSM status and stderr as reasons', async () => {
    const verdict = await judge({ status: 'Failed', stdout: 'garbage', stderr: 'line1\nAccess denied' });
    expect(verdict.status).toBe('unparseable');
    expect(verdict.reasons).toEqual(expect.arrayContaining(['Run Command status Failed', 'stderr: Access denied']));
  });
});

describe('PinVersion', () => {
  const event = (overrides: Record<string, unknown> = {}) => ({ requestId: 'req-test-1', instanceId: INSTANCE_A, request: validRequest(overrides), beaconVersion: '13.2.0' });

  const inventoryBeacon = (name: string, version: string | null) => ({ name, computerName: name, version, status: 'Active', lastContact: null });

  it('gateway mode: never approves a release older than a beacon the FNMS inventory lists (DOWNGRADE_REFUSED, nothing written)', async () => {
    const fnms = createInMemoryFnms({ approvedVersion: 'latest', availableVersions: ['13.2.0', '13.3.0'] });
    const inventory = createInMemoryInventory([inventoryBeacon('OTHER01', '13.3.0'), inventoryBeacon('OTHER02', null)]);
    const result = await createPinVersionHandler({ mode: 'gateway', gateway: fnms, inventory, store, clock })(event());
    expect(result).toMatchObject({ pinned: false, code: 'DOWNGRADE_REFUSED', reason: expect.stringContaining('13.3.0') });
    expect(fnms.writes).toEqual([]);
  });

  it('gateway mode: the inventory at or below the beacon release lets the pin through', async () => {
    const fnms = createInMemoryFnms({ approvedVersion: 'latest', availableVersions: ['13.1.0', '13.2.0'] });
    const inventory = createInMemoryInventory([inventoryBeacon('OTHER01', '13.1.0')]);
    await expect(createPinVersionHandler({ mode: 'gateway', gateway: fnms, inventory, store, clock })(event())).resolves.toMatchObject({ pinned: true, version: '13.2.0' });
  });

  it('gateway mode: an inventory failure that may pass is retried by the state machine (TransientError) and counted; a missing column is an outcome naming it', async () => {
    let counted = 0;
    const fnms = createInMemoryFnms({ approvedVersion: 'latest' });
    const flaky = createInMemoryInventory(async () => {
      throw new BeaconInventoryError('INVENTORY_HTTP', 'executeReport', 'Flexera One report execute failed: 503', { status: 503, retriable: true, attempts: 4 });
    });
    const thrown = await createPinVersionHandler({ mode: 'gateway', gateway: fnms, inventory: flaky, store, clock, countFnmsError: () => counted++ })(event()).catch((e: unknown) => e);
    expect((thrown as Error).name).toBe('TransientError');
    const broken = createInMemoryInventory(async () => {
      throw new BeaconInventoryError('INVENTORY_COLUMN_MISSING', 'executeReport', 'Flexera One report 42 has no column "R2_x_Beacon_BeaconVersion"', { field: 'fnmsReportColumns.version' });
    });
    const result = await createPinVersionHandler({ mode: 'gateway', gateway: fnms, inventory: broken, store, clock, countFnmsError: () => counted++ })(event());
    expect(result).toMatchObject({ pinned: false, code: 'INVENTORY_COLUMN_MISSING', reason: expect.stringContaining('R2_x_Beacon_BeaconVersion') });
    expect(counted).toBe(2);
    expect(fnms.writes).toEqual([]);
  });

  it('none mode: nothing is pinned; a not-pinned outcome with the warning that upgrades may reset the service account, audited', async () => {
    const result = await createPinVersionHandler({ mode: 'none', store, clock })(event());
    expect(result).toEqual({ pinned: false, skipped: true, code: 'PIN_MODE_NONE', reason: expect.stringContaining('pinMode none'), warning: PIN_MODE_NONE_WARNING });
    expect(PIN_MODE_NONE_WARNING).toMatch(/upgrade resets the FlexNet Beacon Engine service/);
    expect([...store.audit.values()].map((e) => e.event)).toContain('fnms.pin-skipped');
  });

  it('pins "current" to the version the beacon reported', async () => {
    const fnms = createInMemoryFnms({ approvedVersion: 'latest', availableVersions: ['13.1.0', '13.2.0'] });
    const result = await createPinVersionHandler({ mode: 'gateway', gateway: fnms, inventory: null, store, clock })(event());
    expect(result).toEqual({ pinned: true, version: '13.2.0', changed: true, from: 'latest' });
    expect(fnms.writes).toEqual(['13.2.0']);
  });

  it('a refused downgrade is an outcome (not retried): pinned false with DOWNGRADE_REFUSED', async () => {
    const fnms = createInMemoryFnms({ approvedVersion: '13.2.0', availableVersions: ['13.1.0', '13.2.0'] });
    const result = await createPinVersionHandler({ mode: 'gateway', gateway: fnms, inventory: null, store, clock })(event({ beaconVersion: { pin: '13.1.0' } }));
    expect(result).toMatchObject({ pinned: false, code: 'DOWNGRADE_REFUSED' });
    expect(fnms.writes).toEqual([]);
  });

  it('an FNMS failure that may pass is thrown as TransientError for the state machine to retry, and counted', async () => {
    let counted = 0;
    const fnms = createInMemoryFnms();
    fnms.setApprovedBeaconVersion = async () => {
      throw new FnmsError('getBeaconSettings', 'http', 'FNMS failed on its side (503)', 503, true, 4);
    };
    const error = await createPinVersionHandler({ mode: 'gateway', gateway: fnms, inventory: null, store, clock, countFnmsError: () => counted++ })(event()).catch((e: unknown) => e);
    expect((error as Error).name).toBe('TransientError');
    expect(counted).toBe(1);
  });
});

describe('RecordOutcome and NotifyRequester', () => {
  const base: WorkflowState = { requestId: 'req-test-1', instanceId: INSTANCE_A, request: validRequest(), source: 'chatops', dryRun: false, replyTo: { kind: 'slack', responseUrl: 'https://hooks.slack.com/commands/T/1/x' } };

  it('records a skipped beacon with the resolve reason', async () => {
    const recorded = await createRecordOutcomeHandler({ store, clock })({ ...base, target: { instanceId: INSTANCE_A, eligible: false, computerName: null, reason: 'offline: SSM Agent ping status is ConnectionLost' }, outcome: { state: 'skipped' } });
    expect(recorded).toMatchObject({ state: 'skipped', reasons: ['offline: SSM Agent ping status is ConnectionLost'] });
    expect([...store.beacons.values()][0]).toMatchObject({ state: 'skipped' });
  });

  it('a failed step is recorded as error with the Lambda error message', async () => {
    const recorded = await createRecordOutcomeHandler({ store, clock })({ ...base, outcome: { state: 'error' }, error: { Error: 'ThrottledError', Cause: JSON.stringify({ errorType: 'ThrottledError', errorMessage: 'SSM throttled the call' }) } });
    expect(recorded.reasons).toEqual(['ThrottledError: SSM throttled the call']);
  });

  it('notifies the requester, answering the Slack command that asked, even when recording failed', async () => {
    const notifier = new MemoryNotifier();
    await createNotifyRequesterHandler({ notifier })({ ...base, outcome: { state: 'rolled-back' }, verdict: { status: 'rolled-back', reasons: ['service: did not start'], changed: [], checks: [], beaconVersion: null, captureId: null } });
    expect(notifier.sent).toEqual([
      { outcome: expect.objectContaining({ requestId: 'req-test-1', instanceId: INSTANCE_A, state: 'rolled-back', reasons: ['service: did not start'] }), replyTo: base.replyTo },
    ]);
  });
});
