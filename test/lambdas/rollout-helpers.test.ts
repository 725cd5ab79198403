/**
 * The request workflow's shared decisions (lambdas/rollout/): what reaches the requester and the chat (at
 * most once per event), the status link, when an execution continues as a new one, and which beacons that
 * never started get their final row within a step's time budget.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { FleetMemory, ReplyTo, RolloutRecord } from '../../lambdas/core/ports.js';
import { ROLLOUT_DEFAULTS } from '../../lambdas/core/rollout.js';
import { FixedClock, MemoryFleetMemory, MemoryNotifier, MemoryRequestStore, MemoryRequestWorkflowStarter, MemoryRolloutStore } from '../../lambdas/memory/ports.js';
import { CHAT_EVENTS, chatMarkKey, statusLinkFor, tellRequester } from '../../lambdas/rollout/messages.js';
import { INITIAL_LOOP, INITIAL_PIN } from '../../lambdas/rollout/state.js';
import { WorkBudget, continueAsNew, finalizeNeverStarted, initialRollout } from '../../lambdas/rollout/steps.js';

const REPLY: ReplyTo = { kind: 'slack', responseUrl: 'https://hooks.slack.example/r/1' };
const TEXT = { title: 'chg-1: started', lines: ['3 beacons', 'wave 1 of 2'] };

describe('tellRequester: the topic always, the chat that asked at most once per event', () => {
  let notifier: MemoryNotifier;
  let memory: MemoryFleetMemory;
  beforeEach(() => {
    notifier = new MemoryNotifier();
    memory = new MemoryFleetMemory();
  });

  it('a chat event goes to the topic and the chat; sent again (a retried step) only to the topic', async () => {
    const message = { requestId: 'chg-1', event: 'started' as const, state: 'running' as never, text: TEXT, replyTo: REPLY };
    await tellRequester({ notifier, memory }, message);
    await tellRequester({ notifier, memory }, message);
    expect(notifier.sent).toEqual([
      { outcome: { requestId: 'chg-1', kind: 'request', event: 'started', state: 'running', summary: 'chg-1: started', lines: ['3 beacons', 'wave 1 of 2'] }, replyTo: REPLY },
      { outcome: { requestId: 'chg-1', kind: 'request', event: 'started', state: 'running', summary: 'chg-1: started', lines: ['3 beacons', 'wave 1 of 2'] } },
    ]);
    expect([...memory.marks]).toEqual([chatMarkKey('chg-1', 'started')]);
    expect(chatMarkKey('chg-1', 'started')).toBe('chat#chg-1#started');
  });

  it('each chat event is its own once; events outside the five never reach the chat and mark nothing', async () => {
    expect(CHAT_EVENTS).toEqual(['started', 'awaiting-go', 'pin-confirmation', 'pin-reminder', 'summary']);
    await tellRequester({ notifier, memory }, { requestId: 'chg-1', event: 'started', state: 'running' as never, text: TEXT, replyTo: REPLY });
    await tellRequester({ notifier, memory }, { requestId: 'chg-1', event: 'summary', state: 'completed' as never, text: TEXT, replyTo: REPLY });
    await tellRequester({ notifier, memory }, { requestId: 'chg-1', event: 'refused', state: 'invalid', text: TEXT, replyTo: REPLY });
    expect(notifier.sent.map((sent) => [sent.outcome.event, sent.replyTo !== undefined])).toEqual([
      ['started', true],
      ['summary', true],
      ['refused', false],
    ]);
    expect(memory.marks.size).toBe(2);
  });

  it('no chat asked: the topic only, nothing marked', async () => {
    await tellRequester({ notifier, memory }, { requestId: 'chg-1', event: 'summary', state: 'completed' as never, text: TEXT, replyTo: null });
    expect(notifier.sent).toEqual([{ outcome: expect.objectContaining({ event: 'summary' }) }]);
    expect(memory.marks.size).toBe(0);
  });

  it('warnings and the caller travel when there are any', async () => {
    const caller = { id: 'alice', kind: 'iam' } as never;
    await tellRequester({ notifier, memory }, { requestId: 'chg-1', event: 'summary', state: 'completed' as never, text: TEXT, replyTo: null, warnings: ['not pinned'], caller });
    await tellRequester({ notifier, memory }, { requestId: 'chg-2', event: 'summary', state: 'completed' as never, text: TEXT, replyTo: null, warnings: [], caller: null });
    expect(notifier.sent[0]!.outcome).toMatchObject({ warnings: ['not pinned'], caller });
    expect(Object.keys(notifier.sent[1]!.outcome)).toEqual(['requestId', 'kind', 'event', 'state', 'summary', 'lines']);
  });

  it('the chat mark is kept 60 days (longer than any request)', async () => {
    const calls: Array<[string, number | undefined]> = [];
    const recording: FleetMemory = { ...memory, markOnce: async (key, ttl) => (calls.push([key, ttl]), true), isMarked: async () => false, getValue: async () => null, putValue: async () => undefined };
    await tellRequester({ notifier, memory: recording }, { requestId: 'chg-1', event: 'pin-reminder', state: 'pinning' as never, text: TEXT, replyTo: REPLY });
    expect(calls).toEqual([['chat#chg-1#pin-reminder', 60 * 24 * 60 * 60]]);
  });
});

describe('the status link of a request', () => {
  it('under the API base URL, one slash, the id encoded; none without an API URL (locally)', () => {
    expect(statusLinkFor('https://api.example/prod')('chg 1/x')).toBe('https://api.example/prod/requests/chg%201%2Fx');
    expect(statusLinkFor('https://api.example/prod/')('chg-1')).toBe('https://api.example/prod/requests/chg-1');
    expect(statusLinkFor(null)('chg-1')).toBeNull();
    expect(statusLinkFor(undefined)('chg-1')).toBeNull();
    expect(statusLinkFor('')('chg-1')).toBeNull();
  });
});

describe('the request workflow starts', () => {
  it('expanding its target at iteration 0 with no wait, its pin not yet decided', () => {
    expect(INITIAL_LOOP).toEqual({ status: 'expanding', iteration: 0, waitSeconds: 0, finished: 0 });
    expect(INITIAL_PIN).toEqual({ action: 'pending' });
  });
});

describe('rollout record and execution hand-over', () => {
  const AT = '2026-01-01T00:00:00.000Z';
  const input = { requestId: 'chg-1', request: { requestId: 'chg-1' }, source: 'api' as const, dryRun: false, replyTo: REPLY, receivedAt: AT, generation: 0 };
  let store: MemoryRequestStore;
  let rollouts: MemoryRolloutStore;
  let requests: MemoryRequestWorkflowStarter;
  let clock: FixedClock;
  beforeEach(async () => {
    store = new MemoryRequestStore();
    rollouts = new MemoryRolloutStore(store);
    requests = new MemoryRequestWorkflowStarter();
    clock = new FixedClock(new Date('2026-01-02T00:00:00.000Z'));
    await rollouts.createRollout(initialRollout({ ...input, execution: { name: 'chg-1' } }, ROLLOUT_DEFAULTS.tag, AT));
  });

  it('a new rollout: expanding, nothing counted, the execution and who to answer; the caller only when known', () => {
    const record = initialRollout({ ...input, execution: { name: 'chg-1' } }, ROLLOUT_DEFAULTS.tag, AT);
    expect(record).toEqual({
      requestId: 'chg-1',
      phase: 'expanding',
      spec: ROLLOUT_DEFAULTS.tag,
      dryRun: false,
      generation: 0,
      execution: 'chg-1',
      expansion: { pages: 0, total: 0, nextToken: null, done: false },
      canary: 0,
      started: 0,
      pendingStart: null,
      finished: 0,
      failed: 0,
      canaryFailed: 0,
      counts: {},
      okVersions: {},
      unknownVersions: 0,
      go: null,
      goTimedOut: false,
      cancel: null,
      halt: null,
      notStartedFrom: 0,
      goToken: null,
      pin: null,
      outcome: null,
      replyTo: REPLY,
      createdAt: AT,
      updatedAt: AT,
    });
    expect('caller' in record).toBe(false);
    expect(initialRollout({ ...input, caller: { id: 'alice' } as never, execution: { name: 'chg-1' } }, ROLLOUT_DEFAULTS.tag, AT).caller).toEqual({ id: 'alice' });
  });

  it('before the iteration bound nothing happens; at it the next generation starts under its own name and this one ends', async () => {
    const rollout = (await rollouts.getRollout('chg-1'))!;
    const deps = { rollouts, requests, clock, timing: { iterationsPerExecution: 10 } };
    expect(await continueAsNew(deps, input, rollout, 9)).toBeNull();
    expect(requests.executions.size).toBe(0);
    expect(await continueAsNew(deps, input, { ...rollout, finished: 4 }, 10)).toEqual({ status: 'continued', iteration: 10, waitSeconds: 0, finished: 4 });
    expect([...requests.executions.entries()]).toEqual([['chg-1--g1', { ...input, generation: 1 }]]);
    expect(await rollouts.getRollout('chg-1')).toMatchObject({ generation: 1, execution: 'chg-1--g1', updatedAt: '2026-01-02T00:00:00.000Z' });
    // A stale step of an older generation never moves the rollout back.
    await rollouts.patchRollout('chg-1', { generation: 2, execution: 'chg-1--g2', updatedAt: AT });
    await continueAsNew(deps, input, rollout, 10);
    expect(await rollouts.getRollout('chg-1')).toMatchObject({ generation: 2, execution: 'chg-1--g2' });
    await rollouts.patchRollout('chg-1', { generation: 1, execution: 'chg-1--g1', updatedAt: '2026-01-02T00:00:00.000Z' });
    // A retried step: the generation already moved, the same execution is started again (a no-op).
    expect(await continueAsNew(deps, input, rollout, 10)).toMatchObject({ status: 'continued' });
    expect(await rollouts.getRollout('chg-1')).toMatchObject({ generation: 1 });
    expect(requests.executions.size).toBe(1);
  });
});

describe('beacons that never started get their final row', () => {
  let store: MemoryRequestStore;
  let rollouts: MemoryRolloutStore;
  const clock = new FixedClock(new Date('2026-01-03T00:00:00.000Z'));
  const AT = '2026-01-01T00:00:00.000Z';
  const ids = Array.from({ length: 250 }, (_, index) => `i-${String(index).padStart(17, '0')}`);
  const reasons = { cancelled: ['cancelled by alice'], notStarted: ['the rollout halted'] };
  const deps = () => ({ rollouts, clock, timing: { targetPageSize: 50 } });

  beforeEach(async () => {
    store = new MemoryRequestStore();
    rollouts = new MemoryRolloutStore(store);
    await rollouts.createRollout(initialRollout({ requestId: 'chg-1', request: {}, source: 'api', dryRun: false, replyTo: null, receivedAt: AT, generation: 0, execution: { name: 'chg-1' } }, ROLLOUT_DEFAULTS.tag, AT));
    await rollouts.recordTargetPage('chg-1', { index: 0, instanceIds: ids, nextToken: null, pageSize: 250 }, AT);
  });
  const states = () => ids.map((id) => store.beacons.get(`chg-1\u0000${id}`)!.state);

  it('from the first one not started on: not-started with the halt reasons, the cursor at the end', async () => {
    const rollout = { ...(await rollouts.getRollout('chg-1'))!, started: 20 };
    expect(await finalizeNeverStarted(deps(), rollout, reasons, Date.now() + 60_000)).toBe(true);
    expect(states().slice(0, 20).every((state) => state === 'queued')).toBe(true);
    expect(states().slice(20).every((state) => state === 'not-started')).toBe(true);
    expect(store.beacons.get(`chg-1\u0000${ids[249]}`)).toMatchObject({ reasons: ['the rollout halted'], updatedAt: '2026-01-03T00:00:00.000Z' });
    expect((await rollouts.getRollout('chg-1'))!.notStartedFrom).toBe(250);
  });

  it('a cancelled request: cancelled with the cancel reasons; resumes where an earlier step stopped', async () => {
    const rollout: RolloutRecord = { ...(await rollouts.getRollout('chg-1'))!, started: 10, notStartedFrom: 120, cancel: { by: 'alice', at: AT, rollback: false } as never };
    expect(await finalizeNeverStarted(deps(), rollout, reasons, Date.now() + 60_000)).toBe(true);
    expect(states().slice(0, 120).every((state) => state === 'queued')).toBe(true);
    expect(states().slice(120).every((state) => state === 'cancelled')).toBe(true);
    expect(store.beacons.get(`chg-1\u0000${ids[120]}`)!.reasons).toEqual(['cancelled by alice']);
  });

  it('out of time it does one batch of 100 (the checkpoint always moves) and answers false; the next step goes on', async () => {
    const rollout = (await rollouts.getRollout('chg-1'))!;
    expect(await finalizeNeverStarted(deps(), rollout, reasons, Date.now() - 1)).toBe(false);
    expect(states().filter((state) => state === 'not-started')).toHaveLength(100);
    const moved = (await rollouts.getRollout('chg-1'))!;
    expect(moved.notStartedFrom).toBe(100);
    expect(await finalizeNeverStarted(deps(), moved, reasons, Date.now() - 1)).toBe(false);
    expect((await rollouts.getRollout('chg-1'))!.notStartedFrom).toBe(200);
    expect(await finalizeNeverStarted(deps(), (await rollouts.getRollout('chg-1'))!, reasons, new WorkBudget(Date.now() - 1))).toBe(true);
    expect(states().every((state) => state === 'not-started')).toBe(true);
  });

  it('nothing left: true at once', async () => {
    const rollout = { ...(await rollouts.getRollout('chg-1'))!, started: 250 };
    expect(await finalizeNeverStarted(deps(), rollout, reasons, Date.now() - 1)).toBe(true);
    expect(states().every((state) => state === 'queued')).toBe(true);
  });
});

describe('WorkBudget: another unit only when the slowest so far still fits', () => {
  const T = new Date('2026-01-01T00:00:00.000Z').getTime();
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(T);
  });
  afterEach(() => vi.useRealTimers());
  const unit = (ms: number) => async () => {
    vi.setSystemTime(Date.now() + ms);
    return ms;
  };

  it('the first unit always; then now + slowest <= deadline', async () => {
    const budget = new WorkBudget(T + 1000);
    vi.setSystemTime(T + 5000);
    expect(budget.fits()).toBe(true);
    vi.setSystemTime(T);
    expect(await budget.measure(unit(400))).toBe(400);
    expect(budget.fits()).toBe(true);
    await budget.measure(unit(100));
    expect(Date.now()).toBe(T + 500);
    expect(budget.fits()).toBe(true);
    vi.setSystemTime(T + 600);
    expect(budget.fits()).toBe(true);
    vi.setSystemTime(T + 601);
    expect(budget.fits()).toBe(false);
  });

  it('a unit that fails still counts, at its duration', async () => {
    const budget = new WorkBudget(T + 1000);
    await expect(
      budget.measure(async () => {
        vi.setSystemTime(Date.now() + 700);
        throw new Error('store down');
      }),
    ).rejects.toThrow('store down');
    expect(budget.fits()).toBe(false);
    vi.setSystemTime(T + 300);
    expect(budget.fits()).toBe(true);
  });
});
