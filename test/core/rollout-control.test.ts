/**
 * What an operator may do to a running request (lambdas/core/rollout-control.ts), and what is refused with
 * which code: cancel, the go after a canary, the confirmation of an FNMS pin; each recorded once with who and
 * when, and the waiting workflow woken through its task token.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { AuditEvent, RolloutRecord } from '../../lambdas/core/ports.js';
import { ROLLOUT_DEFAULTS } from '../../lambdas/core/rollout.js';
import { OperatorActionError, cancelRollout, confirmOperatorPin, giveGo, isOperatorActionError, runOperatorCommand } from '../../lambdas/core/rollout-control.js';
import { FixedClock, MemoryPinLedger, MemoryRequestStore, MemoryRolloutStore, MemoryTaskTokens } from '../../lambdas/memory/ports.js';
import { initialRollout } from '../../lambdas/rollout/steps.js';

const AT = '2026-01-01T00:00:00.000Z';
let rollouts: MemoryRolloutStore;
let ledger: MemoryPinLedger;
let tokens: MemoryTaskTokens;
let audit: AuditEvent[];
const clock = new FixedClock(new Date('2026-01-01T01:00:00.000Z'));
const NOW = '2026-01-01T01:00:00.000Z';
const deps = () => ({ rollouts, ledger, tokens, clock, audit: async (event: AuditEvent) => void audit.push(event) });

async function rollout(requestId: string, changes: Partial<RolloutRecord>): Promise<void> {
  const base = initialRollout({ requestId, request: {}, source: 'api', dryRun: false, replyTo: null, receivedAt: AT, generation: 0, execution: { name: requestId } }, ROLLOUT_DEFAULTS.tag, AT);
  await rollouts.createRollout({ ...base, ...changes });
}

async function refusal(action: Promise<unknown>): Promise<OperatorActionError> {
  const error = await action.then(
    () => null,
    (thrown: unknown) => thrown,
  );
  expect(isOperatorActionError(error)).toBe(true);
  return error as OperatorActionError;
}

beforeEach(() => {
  rollouts = new MemoryRolloutStore(new MemoryRequestStore());
  ledger = new MemoryPinLedger();
  tokens = new MemoryTaskTokens();
  audit = [];
});

describe('the refusal itself', () => {
  it('carries a code, the field, the HTTP status, and reads as the API error body', async () => {
    const error = await refusal(cancelRollout(deps(), { requestId: 'nope', rollback: false, by: 'ops' }));
    expect(error).toMatchObject({ name: 'OperatorActionError', code: 'NOT_FOUND', field: 'requestId', status: 404, message: 'no rollout for request nope (yet): it may still be in the queue, or the id is wrong' });
    expect(error.toJSON()).toEqual({ error: { code: 'NOT_FOUND', message: error.message, field: 'requestId' } });
    expect(isOperatorActionError(new Error('x'))).toBe(false);
  });
});

describe('cancel', () => {
  it('in every phase where beacons may still start: recorded once with who and when; a rollout waiting for a go is woken', async () => {
    for (const phase of ['expanding', 'running', 'stopping'] as const) {
      await rollout(phase, { phase });
      expect(await cancelRollout(deps(), { requestId: phase, rollback: false, by: 'ops' })).toEqual({ action: 'cancel', requestId: phase, rollback: false, by: 'ops', at: NOW, phase });
    }
    await rollout('waiting', { phase: 'awaiting-go', goToken: 'tok-go' });
    tokens.waiting.add('tok-go');
    expect(await cancelRollout(deps(), { requestId: 'waiting', rollback: true, by: 'alice' })).toMatchObject({ rollback: true, phase: 'awaiting-go' });
    expect(tokens.completed).toEqual([{ token: 'tok-go', output: { cancelled: true, by: 'alice', at: NOW } }]);
    expect((await rollouts.getRollout('waiting'))!.cancel).toEqual({ rollback: true, by: 'alice', at: NOW });
    expect(audit.at(-1)).toEqual({ requestId: 'waiting', at: NOW, event: 'request.cancel-requested', detail: { by: 'alice', rollback: true } });
    expect(audit).toHaveLength(4);
  });

  it('a second cancel names the first; a cancel after the beacons finished or after the end is refused', async () => {
    await rollout('r1', { phase: 'running', cancel: { by: 'bob', at: AT, rollback: true } });
    expect(await refusal(cancelRollout(deps(), { requestId: 'r1', rollback: false, by: 'ops' }))).toMatchObject({
      code: 'ALREADY_CANCELLED',
      status: 409,
      field: 'requestId',
      message: `request r1 was cancelled by bob at ${AT} (with rollback)`,
    });
    await rollout('r2', { phase: 'running', cancel: { by: 'bob', at: AT, rollback: false } });
    expect((await refusal(cancelRollout(deps(), { requestId: 'r2', rollback: false, by: 'ops' }))).message).toBe(`request r2 was cancelled by bob at ${AT}`);
    for (const phase of ['pinning', 'awaiting-pin', 'ended'] as const) {
      await rollout(`done-${phase}`, { phase });
      expect(await refusal(cancelRollout(deps(), { requestId: `done-${phase}`, rollback: false, by: 'ops' }))).toMatchObject({
        code: 'BEACON_WORK_DONE',
        field: 'requestId',
        message: `every beacon of request done-${phase} already finished; only its FNMS pin is open (status shows it)`,
      });
    }
    await rollout('ended', { phase: 'ended', outcome: { state: 'completed', reason: 'all done', at: AT } });
    expect(await refusal(cancelRollout(deps(), { requestId: 'ended', rollback: false, by: 'ops' }))).toMatchObject({ code: 'ALREADY_ENDED', status: 409, field: 'requestId', message: 'request ended already ended completed: all done' });
    expect(audit).toEqual([]);
    expect(tokens.completed).toEqual([]);
  });
});

describe('the go after a canary', () => {
  it('only while the rollout waits for one: recorded, the wait woken with who and when', async () => {
    await rollout('r1', { phase: 'awaiting-go', goToken: 'tok-1' });
    tokens.waiting.add('tok-1');
    expect(await giveGo(deps(), { requestId: 'r1', by: 'alice' })).toEqual({ action: 'go', requestId: 'r1', by: 'alice', at: NOW });
    expect((await rollouts.getRollout('r1'))!.go).toEqual({ by: 'alice', at: NOW });
    expect(audit).toEqual([{ requestId: 'r1', at: NOW, event: 'request.go', detail: { by: 'alice' } }]);
    expect(tokens.completed).toEqual([{ token: 'tok-1', output: { go: true, by: 'alice', at: NOW } }]);
  });

  it('a second go answers with the first (who and when), writing and waking nothing', async () => {
    await rollout('r1', { phase: 'running', go: { by: 'bob', at: AT } });
    expect(await giveGo(deps(), { requestId: 'r1', by: 'alice' })).toEqual({ action: 'go', requestId: 'r1', by: 'bob', at: AT });
    expect(audit).toEqual([]);
  });

  it('a go before the wait has its token: recorded; the wait, starting later, sees it', async () => {
    await rollout('r1', { phase: 'awaiting-go', goToken: null });
    expect(await giveGo(deps(), { requestId: 'r1', by: 'alice' })).toMatchObject({ action: 'go' });
    expect(tokens.completed).toEqual([]);
  });

  it('refused: not waiting (with the phase), cancelled, ended', async () => {
    await rollout('r1', { phase: 'running' });
    expect(await refusal(giveGo(deps(), { requestId: 'r1', by: 'a' }))).toMatchObject({
      code: 'NOT_AWAITING_GO',
      status: 409,
      field: 'requestId',
      message: 'request r1 is running, not waiting for a go (only a rollout with pauseAfterCanary waits, once its canary finished well)',
    });
    await rollout('r2', { phase: 'awaiting-go', cancel: { by: 'bob', at: AT, rollback: false } });
    expect(await refusal(giveGo(deps(), { requestId: 'r2', by: 'a' }))).toMatchObject({ code: 'ALREADY_CANCELLED', field: 'requestId', message: `request r2 was cancelled by bob at ${AT}` });
    await rollout('r3', { phase: 'ended', outcome: { state: 'halted', reason: 'no go', at: AT } });
    expect(await refusal(giveGo(deps(), { requestId: 'r3', by: 'a' }))).toMatchObject({ code: 'ALREADY_ENDED' });
  });
});

describe('confirming an FNMS pin', () => {
  const pending = (pinId: string, version: string) => ({ pinId, version, requestId: 'r1', at: AT, supersedes: null });

  it('the pending value: confirmed with who and when, every waiting request told and woken', async () => {
    await ledger.update({ confirmed: null, pending: pending('pin-r1', '13.2.0'), waiters: { r1: { token: 't1', version: '13.2.0' }, r2: { token: 't2', version: '13.1.0' } } }, 0);
    tokens.waiting.add('t1');
    tokens.waiting.add('t2');
    expect(await confirmOperatorPin(deps(), { pinId: 'pin-r1', by: 'alice' })).toEqual({ action: 'confirm-pin', pinId: 'pin-r1', version: '13.2.0', by: 'alice', at: NOW, requests: ['r1', 'r2'], already: false });
    expect(tokens.completed.map((done) => done.output)).toEqual([
      { confirmed: true, pinId: 'pin-r1', version: '13.2.0', by: 'alice', at: NOW },
      { confirmed: true, pinId: 'pin-r1', version: '13.2.0', by: 'alice', at: NOW },
    ]);
    expect(audit.map((event) => [event.requestId, event.event, event.detail])).toEqual([
      ['r1', 'pin.confirmed', { pinId: 'pin-r1', version: '13.2.0', by: 'alice' }],
      ['r2', 'pin.confirmed', { pinId: 'pin-r1', version: '13.2.0', by: 'alice' }],
    ]);
    expect((await ledger.get()).confirmed).toEqual({ version: '13.2.0', pinId: 'pin-r1', by: 'alice', at: NOW });
  });

  it('confirmed again: the first confirmation answers, nothing is written', async () => {
    await ledger.update({ confirmed: { version: '13.2.0', pinId: 'pin-r1', by: 'bob', at: AT }, pending: null, waiters: {} }, 0);
    expect(await confirmOperatorPin(deps(), { pinId: 'pin-r1', by: 'alice' })).toEqual({ action: 'confirm-pin', pinId: 'pin-r1', version: '13.2.0', by: 'bob', at: AT, requests: [], already: true });
    expect(audit).toEqual([]);
  });

  it('a replaced pin is refused naming the value to set instead; an unknown one is not pending', async () => {
    await ledger.update({ confirmed: null, pending: pending('pin-r2', '13.3.0'), waiters: {} }, 0);
    expect(await refusal(confirmOperatorPin(deps(), { pinId: 'pin-r1', by: 'alice' }))).toMatchObject({
      code: 'PIN_SUPERSEDED',
      status: 409,
      field: 'pinId',
      message: 'pin-r1 was replaced by pin-r2: set "Beacon version approved for use" to 13.3.0 and confirm pin-r2',
    });
    const fresh = new MemoryPinLedger();
    expect(await refusal(confirmOperatorPin({ ...deps(), ledger: fresh }, { pinId: 'pin-x', by: 'a' }))).toMatchObject({
      code: 'PIN_NOT_PENDING',
      status: 404,
      field: 'pinId',
      message: 'pin-x is not waiting for a confirmation (no pin is pending)',
    });
  });

  it('a ledger that changes under it is read again; one that never settles is an error after 10 tries', async () => {
    await ledger.update({ confirmed: null, pending: pending('pin-r1', '13.2.0'), waiters: {} }, 0);
    let refusals = 1;
    const flaky = { ...ledger, get: () => ledger.get(), noteConfiguredVersion: async () => undefined, resetConfiguredVersions: async () => undefined, update: async (next: never, expected: number) => (refusals-- > 0 ? false : ledger.update(next, expected)) };
    expect(await confirmOperatorPin({ ...deps(), ledger: flaky }, { pinId: 'pin-r1', by: 'alice' })).toMatchObject({ already: false, version: '13.2.0' });
    let calls = 0;
    const stuck = { ...flaky, update: async () => (calls++, false) };
    await ledger.update({ confirmed: null, pending: pending('pin-r9', '13.2.0'), waiters: {} }, (await ledger.get()).revision);
    await expect(confirmOperatorPin({ ...deps(), ledger: stuck }, { pinId: 'pin-r9', by: 'a' })).rejects.toThrow('the pin ledger kept changing while confirming; try again');
    expect(calls).toBe(10);
  });
});

describe('one entry for every operator command', () => {
  it('cancel, go and confirm-pin reach their action', async () => {
    await rollout('r1', { phase: 'running' });
    await rollout('r2', { phase: 'awaiting-go' });
    await ledger.update({ confirmed: null, pending: pending2(), waiters: {} }, 0);
    expect(await runOperatorCommand(deps(), { action: 'cancel', requestId: 'r1', rollback: false, by: 'a' })).toMatchObject({ action: 'cancel' });
    expect(await runOperatorCommand(deps(), { action: 'go', requestId: 'r2', by: 'a' })).toMatchObject({ action: 'go', by: 'a' });
    expect(await runOperatorCommand(deps(), { action: 'confirm-pin', pinId: 'pin-r3', by: 'a' })).toMatchObject({ action: 'confirm-pin', pinId: 'pin-r3' });
  });
});

function pending2() {
  return { pinId: 'pin-r3', version: '13.2.0', requestId: 'r3', at: AT, supersedes: null };
}

/**
 * Another writer acting between the operator's read and the operator's conditional write: `before` runs once,
 * just before the first patchRollout reaches the store (as a concurrent Lambda would).
 */
function racing(before: () => Promise<void>): MemoryRolloutStore {
  const store = rollouts;
  let raced = false;
  return Object.assign(Object.create(store) as MemoryRolloutStore, {
    patchRollout: async (...args: Parameters<MemoryRolloutStore['patchRollout']>) => {
      if (!raced) {
        raced = true;
        await before();
      }
      return store.patchRollout(...args);
    },
  });
}

/** Every SendTaskSuccess asked for, whatever its token (the stand-in ignores tokens nobody waits on; Step Functions refuses a missing one). */
function recordingTokens(): { tokens: MemoryTaskTokens; asked: Array<string | null> } {
  const asked: Array<string | null> = [];
  const inner = tokens;
  const recording = Object.assign(Object.create(inner) as MemoryTaskTokens, {
    sendTaskSuccess: (token: string, output: Record<string, unknown>) => {
      asked.push(token);
      return inner.sendTaskSuccess(token, output);
    },
  });
  return { tokens: recording, asked };
}

describe('an operator action that loses its conditional write reads the rollout again and decides anew', () => {
  it('a cancel that lands between the read and the go: the go is refused as cancelled, nothing recorded or woken', async () => {
    await rollout('r1', { phase: 'awaiting-go', goToken: 'tok-1' });
    tokens.waiting.add('tok-1');
    const store = racing(async () => void (await rollouts.patchRollout('r1', { cancel: { by: 'bob', at: AT, rollback: false }, updatedAt: AT })));
    expect(await refusal(giveGo({ ...deps(), rollouts: store }, { requestId: 'r1', by: 'alice' }))).toMatchObject({ code: 'ALREADY_CANCELLED', message: `request r1 was cancelled by bob at ${AT}` });
    expect((await rollouts.getRollout('r1'))!.go).toBeNull();
    expect(audit).toEqual([]);
    expect(tokens.completed).toEqual([]);
  });

  it('another go that lands first: the answer names that go; this one is neither recorded nor audited', async () => {
    await rollout('r1', { phase: 'awaiting-go', goToken: 'tok-1' });
    tokens.waiting.add('tok-1');
    const store = racing(async () => void (await rollouts.patchRollout('r1', { go: { by: 'bob', at: AT }, updatedAt: AT })));
    expect(await giveGo({ ...deps(), rollouts: store }, { requestId: 'r1', by: 'alice' })).toEqual({ action: 'go', requestId: 'r1', by: 'bob', at: AT });
    expect((await rollouts.getRollout('r1'))!.go).toEqual({ by: 'bob', at: AT });
    expect(audit).toEqual([]);
    expect(tokens.completed).toEqual([]);
  });

  it('a wait that registers its token between the read and the go is woken with it (the token is read again after the write)', async () => {
    await rollout('r1', { phase: 'awaiting-go', goToken: null });
    const store = racing(async () => {
      tokens.waiting.add('tok-late');
      await rollouts.patchRollout('r1', { goToken: 'tok-late', updatedAt: AT });
    });
    expect(await giveGo({ ...deps(), rollouts: store }, { requestId: 'r1', by: 'alice' })).toEqual({ action: 'go', requestId: 'r1', by: 'alice', at: NOW });
    expect(tokens.completed).toEqual([{ token: 'tok-late', output: { go: true, by: 'alice', at: NOW } }]);
  });

  it('a cancel that loses to the end of the request is refused as ended, and records nothing', async () => {
    await rollout('r1', { phase: 'running' });
    const store = racing(async () => void (await rollouts.patchRollout('r1', { phase: 'ended', outcome: { state: 'completed', reason: 'all done', at: AT }, updatedAt: AT })));
    expect(await refusal(cancelRollout({ ...deps(), rollouts: store }, { requestId: 'r1', rollback: false, by: 'ops' }))).toMatchObject({ code: 'ALREADY_ENDED', message: 'request r1 already ended completed: all done' });
    expect((await rollouts.getRollout('r1'))!.cancel).toBeNull();
    expect(audit).toEqual([]);
  });
});

describe('Step Functions is asked to wake a wait only when one registered its token', () => {
  it('a go or a cancel with no token sends nothing', async () => {
    const { tokens: spy, asked } = recordingTokens();
    await rollout('g', { phase: 'awaiting-go', goToken: null });
    await rollout('c', { phase: 'running', goToken: null });
    expect(await giveGo({ ...deps(), tokens: spy }, { requestId: 'g', by: 'alice' })).toMatchObject({ action: 'go' });
    expect(await cancelRollout({ ...deps(), tokens: spy }, { requestId: 'c', rollback: false, by: 'alice' })).toMatchObject({ action: 'cancel' });
    expect(asked).toEqual([]);
  });
});

describe('an ended request', () => {
  it('is named with its state alone when it ended without a reason (no dangling space)', async () => {
    await rollout('r1', { phase: 'ended', outcome: { state: 'completed', reason: '', at: AT } });
    expect((await refusal(giveGo(deps(), { requestId: 'r1', by: 'a' }))).message).toBe('request r1 already ended completed:');
  });
});
