import { beforeEach, describe, expect, it } from 'vitest';
import { createAcquireLockHandler } from '../../lambdas/acquire-lock/handler.js';
import { documentParameters, renderDesiredState } from '../../lambdas/core/desired-state.js';
import { BeaconInventoryError, createInMemoryFnms, createInMemoryInventory, FnmsError } from '../../lambdas/core/fnms/index.js';
import { PIN_MODE_NONE_WARNING } from '../../lambdas/workflow/state.js';
import { parseRequest } from '../../lambdas/core/request.js';
import { FixedClock, MemoryBeaconCommands, MemoryBeaconLock, MemoryFleetMemory, MemoryNotifier, MemoryPinLedger, MemoryRequestStore, MemoryRolloutStore } from '../../lambdas/memory/ports.js';
import { createServer } from 'node:http';
import { createFnmsClient } from '../../lambdas/core/fnms/index.js';
import { initialPollState } from '../../lambdas/poll-command/handler.js';
import { judgeCommand } from '../../lambdas/core/command-result.js';
import { StackConfigSchema, workflowTimingFor } from '../../infra/config.js';
import { createNotifyRequesterHandler } from '../../lambdas/notify-requester/handler.js';
import { createPollCommandHandler } from '../../lambdas/poll-command/handler.js';
import { createRecordOutcomeHandler } from '../../lambdas/record-outcome/handler.js';
import { createReleaseLockHandler } from '../../lambdas/release-lock/handler.js';
import { createResolveTargetHandler } from '../../lambdas/resolve-target/handler.js';
import { createSendCommandHandler } from '../../lambdas/send-command/handler.js';
import type { WorkflowState } from '../../lambdas/workflow/state.js';
import { BEACON_TAG, INSTANCE_A, lambdaContext, resultLine, validRequest } from './fixtures.js';

const TIMING = workflowTimingFor(StackConfigSchema.parse({}));
const lockState = { attempt: 0, firstTriedAt: null };
const acquireEvent = (requestId: string, owner: string, receivedAt = '2026-01-01T00:00:00.000Z') => ({ requestId, instanceId: INSTANCE_A, owner, receivedAt, lock: lockState });

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
  const timing = { lockTtlSeconds: 600, busyWaitSeconds: 600, lockPollSeconds: 30, maxLockPollSeconds: 300 };

  it('a second workflow for the same beacon is told to wait (not failed), with the holder', async () => {
    const lock = new MemoryBeaconLock(clock);
    const acquire = createAcquireLockHandler({ lock, store, clock, timing });
    await acquire(acquireEvent('r1', 'exec-1'));
    const second = await acquire(acquireEvent('r2', 'exec-2', '2026-01-01T00:01:00.000Z'));
    expect(second).toMatchObject({ acquired: false, superseded: false, giveUp: false, holder: 'exec-1', waitSeconds: 30, attempt: 1 });
    clock.advance(600);
    expect(await acquire({ ...acquireEvent('r2', 'exec-2', '2026-01-01T00:01:00.000Z'), lock: second })).toMatchObject({ acquired: true });
  });

  it('gives up once the busy wait is over', async () => {
    const lock = new MemoryBeaconLock(clock);
    await lock.acquire(INSTANCE_A, 'exec-1', 10_000, '2026-01-01T00:00:00.000Z#r1');
    const acquire = createAcquireLockHandler({ lock, store, clock, timing });
    const first = await acquire(acquireEvent('r2', 'exec-2', '2026-01-01T00:01:00.000Z'));
    clock.advance(601);
    expect(await acquire({ ...acquireEvent('r2', 'exec-2', '2026-01-01T00:01:00.000Z'), lock: first })).toMatchObject({ acquired: false, giveUp: true });
  });

  it('a retried acquire by the same execution succeeds, and an expired lock can be taken over', async () => {
    const lock = new MemoryBeaconLock(clock);
    const acquire = createAcquireLockHandler({ lock, store, clock, timing });
    await acquire(acquireEvent('r1', 'exec-1'));
    await expect(acquire(acquireEvent('r1', 'exec-1'))).resolves.toMatchObject({ acquired: true });
    clock.advance(601);
    await expect(acquire(acquireEvent('r2', 'exec-2', '2026-01-01T00:02:00.000Z'))).resolves.toMatchObject({ acquired: true, owner: 'exec-2' });
  });

  it('an older request never takes a beacon a newer request took: superseded', async () => {
    const lock = new MemoryBeaconLock(clock);
    const acquire = createAcquireLockHandler({ lock, store, clock, timing });
    await acquire(acquireEvent('r-new', 'exec-new', '2026-01-01T00:10:00.000Z'));
    await lock.release(INSTANCE_A, 'exec-new');
    expect(await acquire(acquireEvent('r-old', 'exec-old', '2026-01-01T00:05:00.000Z'))).toMatchObject({ acquired: false, superseded: true, newer: '2026-01-01T00:10:00.000Z#r-new' });
  });

  it('release frees only the owner\'s lock and is safe to call twice', async () => {
    const lock = new MemoryBeaconLock(clock);
    const release = createReleaseLockHandler({ lock });
    await lock.acquire(INSTANCE_A, 'exec-1', 600, 'a');
    expect(await release({ instanceId: INSTANCE_A, owner: 'exec-2' })).toEqual({ released: false });
    expect(await release({ instanceId: INSTANCE_A, owner: 'exec-1' })).toEqual({ released: true });
    expect(await release({ instanceId: INSTANCE_A, owner: 'exec-1' })).toEqual({ released: false });
    expect((await lock.acquire(INSTANCE_A, 'exec-3', 600, 'b')).acquired).toBe(true);
  });
});

describe('SendConfigure / SendRollback', () => {
  const send = () => createSendCommandHandler({ commands, store, clock, documentNames: DOCUMENT_NAMES, timing: TIMING });
  const comment = 'configure req-test-1--i-0123456789abcdef0';

  it('sends this stack\'s configure document with the desired state, the short delivery deadline and its comment, and returns the id before any write', async () => {
    const request = validRequest();
    const result = await send()({ document: 'configure', requestId: 'req-test-1', instanceId: INSTANCE_A, request, comment });
    expect(commands.sent).toHaveLength(1);
    expect(commands.sent[0]).toMatchObject({
      instanceIds: [INSTANCE_A],
      documentName: DOCUMENT_NAMES.configure,
      parameters: documentParameters(renderDesiredState(parseRequest(request))),
      comment,
      deliveryTimeoutSeconds: TIMING.deliveryTimeoutSeconds,
    });
    expect(result).toEqual({ kind: 'configure', commandId: commands.sent[0]!.commandId, comment, sentAt: clock.now().toISOString() });
    expect(store.beacons.size).toBe(0);
  });

  it('a retried send finds the command an earlier attempt sent instead of sending it twice', async () => {
    const first = await send()({ document: 'configure', requestId: 'req-test-1', instanceId: INSTANCE_A, request: validRequest(), comment });
    const again = await send()({ document: 'configure', requestId: 'req-test-1', instanceId: INSTANCE_A, request: validRequest(), comment });
    expect(commands.sent).toHaveLength(1);
    expect(again).toMatchObject({ commandId: first.commandId, reused: true });
  });

  it('a dry run is refused here too: nothing is sent', async () => {
    await expect(send()({ document: 'configure', requestId: 'req-test-1', instanceId: INSTANCE_A, request: validRequest({ dryRun: true }), comment })).rejects.toThrow(/dry run/);
    expect(commands.sent).toHaveLength(0);
  });

  it('a dry run\'s plan sends the read-only verify document with the same desired state and no endpoint probe', async () => {
    const request = validRequest({ dryRun: true });
    await send()({ document: 'verify', requestId: 'req-test-1', instanceId: INSTANCE_A, request, comment: 'plan x' });
    expect(commands.sent[0]).toMatchObject({
      documentName: DOCUMENT_NAMES.verify,
      parameters: { ...documentParameters(renderDesiredState(parseRequest(request))), CheckEndpoint: ['none'] },
    });
  });

  it('an acknowledged CRL switch is written to the audit trail with its reason', async () => {
    const request = validRequest({ checkCertificateRevocation: { disable: true, acknowledgeRisk: true, reason: 'CA unreachable, ticket 123' } });
    await send()({ document: 'configure', requestId: 'req-test-1', instanceId: INSTANCE_A, request, comment });
    expect([...store.audit.values()].find((e) => e.event === 'crl.disabled')?.detail).toEqual({ reason: 'CA unreachable, ticket 123' });
  });

  it('rollback sends the capture id and nothing else', async () => {
    await send()({ document: 'rollback', requestId: 'req-test-1', instanceId: INSTANCE_A, captureId: 'req-test-1', comment: 'rollback#1 x' });
    expect(commands.sent[0]).toMatchObject({ documentName: DOCUMENT_NAMES.rollback, parameters: { CaptureId: ['req-test-1'] } });
  });

  it('a capture id outside the document\'s pattern is refused before SendCommand', async () => {
    await expect(send()({ document: 'rollback', requestId: 'r', instanceId: INSTANCE_A, captureId: 'x; Remove-Item C:\\', comment: 'rollback#1 x' })).rejects.toThrow(/pattern/);
    expect(commands.sent).toHaveLength(0);
  });
});

describe('PollConfigure', () => {
  const poll = () => createPollCommandHandler({ commands, store, clock, documentNames: DOCUMENT_NAMES, timing: TIMING });
  const command = (commandId: string | null = 'cmd-x') => ({ kind: 'configure' as const, commandId, comment: 'configure x', sentAt: clock.now().toISOString() });
  const initial = initialPollState(TIMING.firstPollSeconds);

  it('an invocation SSM does not know yet is pending, and the wait doubles up to the cap; the first look records the command as sent', async () => {
    const cmd = command();
    let state = initial;
    const waits: number[] = [];
    for (let attempt = 0; attempt < 6; attempt++) {
      state = await poll()({ requestId: 'r', instanceId: INSTANCE_A, command: cmd, poll: state });
      expect(state).toMatchObject({ done: false, status: 'Pending', recorded: true });
      waits.push(state.waitSeconds);
    }
    expect(waits).toEqual([10, 20, 40, 60, 60, 60]);
    expect([...store.beacons.values()]).toEqual([expect.objectContaining({ state: 'sent', commandId: 'cmd-x' })]);
  });

  it('Cancelling is not terminal: past the poll deadline the command is cancelled once, then waited for until Cancelled', async () => {
    commands.setInvocation('cmd-x', INSTANCE_A, { status: 'InProgress', stdout: '', stderr: '', executionStartedAt: clock.now().toISOString() });
    const cmd = command();
    clock.advance(TIMING.pollDeadlineSeconds.configure);
    let state = await poll()({ requestId: 'r', instanceId: INSTANCE_A, command: cmd, poll: initial });
    expect(commands.cancelled).toEqual([{ commandId: 'cmd-x', instanceIds: [INSTANCE_A] }]);
    expect(state).toMatchObject({ done: false, cancelRequestedAt: expect.any(String) });
    state = await poll()({ requestId: 'r', instanceId: INSTANCE_A, command: cmd, poll: state });
    expect(state).toMatchObject({ done: false, status: 'Cancelling' });
    expect(commands.cancelled).toHaveLength(1);
    commands.setInvocation('cmd-x', INSTANCE_A, { status: 'Cancelled', stdout: '', stderr: '', executionStartedAt: clock.now().toISOString() });
    state = await poll()({ requestId: 'r', instanceId: INSTANCE_A, command: cmd, poll: state });
    expect(state).toMatchObject({ done: true, verdict: { status: 'unparseable' } });
  });

  it('a command still not terminal after the cancel wait is unconfirmed', async () => {
    commands.setInvocation('cmd-x', INSTANCE_A, { status: 'InProgress', stdout: '', stderr: '' });
    const cmd = command();
    clock.advance(TIMING.pollDeadlineSeconds.configure);
    const state = await poll()({ requestId: 'r', instanceId: INSTANCE_A, command: cmd, poll: initial });
    clock.advance(TIMING.cancelWaitSeconds);
    expect(await poll()({ requestId: 'r', instanceId: INSTANCE_A, command: cmd, poll: state })).toMatchObject({ done: true, verdict: { status: 'unconfirmed' } });
  });

  it('a finished invocation is done with the trimmed verdict, never the output', async () => {
    commands.setInvocation('cmd-x', INSTANCE_A, { status: 'Failed', stdout: `${'x'.repeat(24_000)}`, stderr: 'err' });
    const state = await poll()({ requestId: 'r', instanceId: INSTANCE_A, command: command(), poll: initial });
    expect(state).toMatchObject({ done: true, status: 'Failed', attempt: 1, verdict: { status: 'unparseable' } });
    expect(JSON.stringify(state).length).toBeLessThan(2_000);
  });

  it('a command whose id the send step lost is found by its comment; one that never reached SSM is not-run after the delivery deadline', async () => {
    const id = await commands.sendCommand([INSTANCE_A], DOCUMENT_NAMES.configure, {}, { comment: 'configure x' });
    expect(await poll()({ requestId: 'r', instanceId: INSTANCE_A, command: { kind: 'configure', comment: 'configure x' }, poll: initial })).toMatchObject({ commandId: id });
    const lost = { kind: 'configure' as const, comment: 'configure never-sent' };
    const first = await poll()({ requestId: 'r', instanceId: INSTANCE_A, command: lost, poll: initial });
    expect(first).toMatchObject({ done: false, commandId: null });
    clock.advance(TIMING.locateDeadlineSeconds);
    expect(await poll()({ requestId: 'r', instanceId: INSTANCE_A, command: lost, poll: first })).toMatchObject({ done: true, verdict: { status: 'not-run', notRun: 'not-sent' } });
  });
});

describe('judging a finished command (core judgeCommand)', () => {
  const judge = (invocation: Record<string, unknown>, kind: 'configure' | 'rollback' = 'configure') => judgeCommand(kind, { stdout: '', stderr: '', ...invocation } as never);

  it('ok only when the line says ok and Run Command says Success', () => {
    expect(judge({ status: 'Success', stdout: resultLine() }).status).toBe('ok');
    expect(judge({ status: 'Failed', stdout: resultLine() })).toMatchObject({ status: 'failed', reasons: [expect.stringContaining('Failed')] });
  });

  it('a beacon that rolled back by itself is recognised (no second rollback)', () => {
    const line = resultLine({ ok: false, error: { code: 'SERVICE_START', message: 'service did not start', step: 'service' }, rollback: { attempted: true, ok: true, restored: ['Common\\https_proxy'] } });
    expect(judge({ status: 'Failed', stdout: line })).toMatchObject({ status: 'rolled-back', changed: ['Common\\https_proxy'] });
  });

  it('output without a result line is unparseable, with the SSM status and stderr as reasons', () => {
    const verdict = judge({ status: 'Failed', stdout: 'garbage', stderr: 'line1\nAccess denied' });
    expect(verdict.status).toBe('unparseable');
    expect(verdict.reasons).toEqual(expect.arrayContaining(['Run Command status Failed', 'stderr: Access denied']));
  });

  it('a delivery timeout and a cancel before the start changed nothing (not-run); a script stopped at its execution limit may have', () => {
    expect(judge({ status: 'TimedOut', statusDetails: 'DeliveryTimedOut', executionStartedAt: null })).toMatchObject({ status: 'not-run', notRun: 'undelivered' });
    expect(judge({ status: 'Cancelled', executionStartedAt: null })).toMatchObject({ status: 'not-run', notRun: 'cancelled' });
    expect(judge({ status: 'TimedOut', statusDetails: 'ExecutionTimedOut', executionStartedAt: 'x' })).toMatchObject({ status: 'unparseable', reasons: [expect.stringContaining('execution limit'), expect.any(String)] });
  });

  it('BEACON_BUSY from a document means it did not run and changed nothing', () => {
    const line = resultLine({ ok: false, changed: [], error: { code: 'BEACON_BUSY', message: 'the beacon mutex is held by another document', step: 'start' } });
    expect(judge({ status: 'Failed', stdout: line, executionStartedAt: 'x' })).toMatchObject({ status: 'not-run', notRun: 'busy', changed: [] });
  });

  it('a rollback with no capture has nothing to restore: the configure run changed nothing', () => {
    const line = resultLine({ ok: false, changed: [], error: { code: 'CAPTURE_NOT_FOUND', message: 'no capture', step: 'rollback' } });
    expect(judge({ status: 'Failed', stdout: line, executionStartedAt: 'x' }, 'rollback')).toMatchObject({ status: 'ok', reasons: [expect.stringContaining('nothing to restore')] });
  });

  it('a verdict stays a few KB whatever the document printed (the state carries it)', () => {
    const checks = Array.from({ length: 150 }, (_, i) => ({ name: `c${i}`, expected: 'e'.repeat(12), actual: 'a'.repeat(12), ok: i % 3 !== 0 }));
    const line = JSON.stringify({ ok: false, changed: Array(40).fill('x'.repeat(40)), checks, beaconVersion: '13.2.0', captureId: 'c', error: { code: 'VERIFY_FAILED', message: 'm'.repeat(1500) } });
    expect(line.length).toBeLessThan(16 * 1024);
    const verdict = judge({ status: 'Failed', stdout: line });
    expect(verdict.checks).toHaveLength(64);
    expect(verdict.checks.slice(0, 50).every((check) => !check.ok)).toBe(true);
    expect(verdict.reasons.every((reason) => reason.length <= 300)).toBe(true);
    expect(JSON.stringify(verdict).length).toBeLessThan(line.length);
  });
});

describe('RecordOutcome and NotifyRequester', () => {
  const base: WorkflowState = { requestId: 'req-test-1', instanceId: INSTANCE_A, request: validRequest(), source: 'chatops', dryRun: false, replyTo: { kind: 'slack', responseUrl: 'https://hooks.slack.com/commands/T/1/x' }, receivedAt: '2026-01-01T00:00:00.000Z' };

  it('records a skipped beacon with the resolve reason', async () => {
    const recorded = await createRecordOutcomeHandler({ store, rollouts: new MemoryRolloutStore(store), ledger: new MemoryPinLedger(), clock })({ ...base, target: { instanceId: INSTANCE_A, eligible: false, computerName: null, reason: 'offline: SSM Agent ping status is ConnectionLost' }, outcome: { state: 'skipped' } });
    expect(recorded).toMatchObject({ state: 'skipped', reasons: ['offline: SSM Agent ping status is ConnectionLost'] });
    expect([...store.beacons.values()][0]).toMatchObject({ state: 'skipped' });
  });

  it('a failed step is recorded as error with the Lambda error message', async () => {
    const recorded = await createRecordOutcomeHandler({ store, rollouts: new MemoryRolloutStore(store), ledger: new MemoryPinLedger(), clock })({ ...base, outcome: { state: 'error' }, error: { Error: 'ThrottledError', Cause: JSON.stringify({ errorType: 'ThrottledError', errorMessage: 'SSM throttled the call' }) } });
    expect(recorded.reasons).toEqual(['ThrottledError: SSM throttled the call']);
  });

  it('publishes the beacon outcome (kind=beacon) even when recording failed; the chat hears from the request summary, not per beacon', async () => {
    const notifier = new MemoryNotifier();
    await createNotifyRequesterHandler({ notifier, memory: new MemoryFleetMemory() })({
      ...base,
      // A beacon of a request's rollout (AdvanceRollout starts it with its position).
      rollout: { seq: 0, canary: false },
      outcome: { state: 'rolled-back' },
      poll: { ...initialPollState(5), done: true, verdict: { status: 'rolled-back', notRun: null, reasons: ['service: did not start'], changed: [], checks: [], beaconVersion: null, captureId: null } },
    });
    expect(notifier.sent).toEqual([
      { outcome: expect.objectContaining({ requestId: 'req-test-1', instanceId: INSTANCE_A, kind: 'beacon', state: 'rolled-back', reasons: ['service: did not start'] }) },
    ]);
  });

  it('a per-beacon day-2 command (no request rollout: chat rollback / retry) answers its own chat thread, since no request summary follows', async () => {
    const notifier = new MemoryNotifier();
    await createNotifyRequesterHandler({ notifier, memory: new MemoryFleetMemory() })({
      ...base,
      action: { kind: 'rollback', captureId: 'chg-1' },
      outcome: { state: 'rolled-back' },
      rollbackPoll: { ...initialPollState(5), done: true, verdict: { status: 'ok', notRun: null, reasons: [], changed: [], checks: [], beaconVersion: null, captureId: 'chg-1' } },
    } as WorkflowState);
    expect(notifier.sent).toEqual([{ outcome: expect.objectContaining({ kind: 'beacon', state: 'rolled-back' }), replyTo: base.replyTo }]);
  });
});
