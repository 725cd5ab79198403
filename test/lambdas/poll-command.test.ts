/**
 * The poll step's decisions at their boundaries (issue 14): when a lost command counts as never sent, when a
 * command is cancelled, when the wait for Cancelled ends unconfirmed, what the first look writes (once), and
 * which document and deadline each kind uses. Deadlines come from the default timing model.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { deriveWorkflowTiming } from '../../lambdas/core/timing.js';
import { FixedClock, MemoryBeaconCommands, MemoryRequestStore } from '../../lambdas/memory/ports.js';
import { createPollCommandHandler, initialPollState } from '../../lambdas/poll-command/handler.js';
import type { CommandRef, PollState } from '../../lambdas/workflow/state.js';
import { INSTANCE_A, resultLine } from './fixtures.js';

const TIMING = deriveWorkflowTiming();
const DOCUMENT_NAMES = { configure: 'Doc-Configure', verify: 'Doc-Verify', rollback: 'Doc-Rollback' };
let clock: FixedClock;
let store: MemoryRequestStore;
let commands: MemoryBeaconCommands;

beforeEach(() => {
  clock = new FixedClock();
  store = new MemoryRequestStore();
  commands = new MemoryBeaconCommands();
});

const handler = () => createPollCommandHandler({ commands, store, clock, documentNames: DOCUMENT_NAMES, timing: TIMING });
const poll = (command: CommandRef, state: PollState = initialPollState(TIMING.firstPollSeconds)) => handler()({ requestId: 'r1', instanceId: INSTANCE_A, command, poll: state });
const audit = () => [...store.audit.values()].map((event) => ({ event: event.event, detail: event.detail }));

describe('the poll loop starts from', () => {
  it('attempt 0, the first wait, nothing known', () => {
    expect(initialPollState(5)).toEqual({ attempt: 0, waitSeconds: 5, done: false, commandId: null, status: 'Pending', statusDetails: null, since: null, cancelRequestedAt: null, recorded: false, failures: { count: 0 }, verdict: null });
  });
});

describe('a command whose id the send step could not return', () => {
  const lost: CommandRef = { kind: 'configure', comment: 'configure never-sent' };

  it('is looked for until the locate deadline (delivery + margin) from the first look, then not-run: nothing changed', async () => {
    const first = await poll(lost);
    expect(first).toMatchObject({ done: false, commandId: null, attempt: 1, since: clock.now().toISOString(), recorded: false });
    clock.advance(TIMING.locateDeadlineSeconds - 1);
    const second = await poll(lost, first);
    expect(second).toMatchObject({ done: false, attempt: 2, since: first.since });
    clock.advance(1);
    expect(await poll(lost, second)).toMatchObject({
      done: true,
      verdict: { status: 'not-run', notRun: 'not-sent', reasons: ['no configure command reached SSM (the send step failed before SendCommand answered); nothing changed'] },
    });
    expect(store.beacons.size).toBe(0);
  });

  it('found by its comment, it is recorded as sent once, marked as found after a retry when the send was reused', async () => {
    const id = await commands.sendCommand([INSTANCE_A], DOCUMENT_NAMES.configure, {}, { comment: 'configure x' });
    commands.setInvocation(id, INSTANCE_A, { status: 'InProgress', stdout: '', stderr: '' });
    const first = await poll({ kind: 'configure', comment: 'configure x', reused: true });
    expect(first).toMatchObject({ commandId: id, recorded: true, status: 'InProgress', statusDetails: null, done: false });
    clock.advance(5);
    await poll({ kind: 'configure', comment: 'configure x', reused: true }, first);
    expect(audit()).toEqual([{ event: 'configure.sent', detail: { documentName: DOCUMENT_NAMES.configure, commandId: id, comment: 'configure x', foundAfterRetry: true } }]);
    expect([...store.beacons.values()]).toEqual([{ requestId: 'r1', instanceId: INSTANCE_A, state: 'sent', updatedAt: '2026-01-01T00:00:00.000Z', commandId: id }]);
  });

  it('a command of another document with the same comment is not it', async () => {
    await commands.sendCommand([INSTANCE_A], DOCUMENT_NAMES.verify, {}, { comment: 'configure x' });
    expect(await poll({ kind: 'configure', comment: 'configure x' })).toMatchObject({ commandId: null, done: false });
  });
});

describe('a command that does not end', () => {
  const sent = (kind: CommandRef['kind'] = 'configure'): CommandRef => ({ kind, commandId: 'cmd-1', comment: `${kind} x`, sentAt: clock.now().toISOString() });

  it('is cancelled exactly at its poll deadline, not a second before; the audit names the status and the seconds', async () => {
    commands.setInvocation('cmd-1', INSTANCE_A, { status: 'InProgress', statusDetails: 'InProgress', stdout: '', stderr: '' });
    const command = sent();
    clock.advance(TIMING.pollDeadlineSeconds.configure - 1);
    const before = await poll(command);
    expect(before).toMatchObject({ done: false, cancelRequestedAt: null, status: 'InProgress', statusDetails: 'InProgress', recorded: true });
    expect(commands.cancelled).toEqual([]);
    clock.advance(1);
    const at = await poll(command, before);
    expect(at).toMatchObject({ done: false, cancelRequestedAt: clock.now().toISOString() });
    expect(commands.cancelled).toEqual([{ commandId: 'cmd-1', instanceIds: [INSTANCE_A] }]);
    expect(audit()).toContainEqual({ event: 'configure.cancel-requested', detail: { commandId: 'cmd-1', status: 'InProgress', afterSeconds: 1620 } });
  });

  it('each kind has its own deadline: a verify command is cancelled at its shorter one', async () => {
    commands.setInvocation('cmd-1', INSTANCE_A, { status: 'InProgress', stdout: '', stderr: '' });
    const command = sent('verify');
    clock.advance(TIMING.pollDeadlineSeconds.verify);
    expect(await poll(command)).toMatchObject({ cancelRequestedAt: clock.now().toISOString() });
    expect(audit()[0]).toMatchObject({ event: 'verify.sent', detail: { documentName: DOCUMENT_NAMES.verify } });
  });

  it('after the cancel it is waited for until the cancel wait is over, then unconfirmed with its last status', async () => {
    commands.setInvocation('cmd-1', INSTANCE_A, { status: 'Cancelling', stdout: '', stderr: '' });
    const command = sent();
    clock.advance(TIMING.pollDeadlineSeconds.configure);
    let state = await poll(command);
    clock.advance(TIMING.cancelWaitSeconds - 1);
    state = await poll(command, state);
    expect(state).toMatchObject({ done: false, verdict: null });
    expect(commands.cancelled).toHaveLength(1);
    clock.advance(1);
    expect(await poll(command, state)).toMatchObject({
      done: true,
      verdict: { status: 'unconfirmed', reasons: [`the configure command was still Cancelling ${TIMING.cancelWaitSeconds} s after CancelCommand`] },
    });
  });

  it('a terminal status is judged at once, with the delivery deadline named for one never picked up', async () => {
    commands.setInvocation('cmd-1', INSTANCE_A, { status: 'TimedOut', statusDetails: 'DeliveryTimedOut', stdout: '', stderr: '' });
    expect(await poll(sent())).toMatchObject({ done: true, status: 'TimedOut', statusDetails: 'DeliveryTimedOut', verdict: { status: 'not-run', notRun: 'undelivered', reasons: [expect.stringContaining(`within ${TIMING.deliveryTimeoutSeconds} s`)] } });
  });

  it('a successful run is ok; the wait grows with the attempt', async () => {
    commands.setInvocation('cmd-1', INSTANCE_A, { status: 'InProgress', stdout: '', stderr: '' });
    const command = sent();
    const first = await poll(command);
    expect(first.waitSeconds).toBe(10);
    const second = await poll(command, first);
    expect(second).toMatchObject({ attempt: 2, waitSeconds: 20 });
    commands.setInvocation('cmd-1', INSTANCE_A, { status: 'Success', stdout: resultLine(), stderr: '' });
    expect(await poll(command, second)).toMatchObject({ done: true, attempt: 3, verdict: { status: 'ok' } });
  });
});
