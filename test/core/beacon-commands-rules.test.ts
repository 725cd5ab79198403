/**
 * Per-beacon commands and who asked (lambdas/core/beacon-commands.ts, caller.ts): a command message is
 * told from a request and refused field by field; a command looks back through the beacon's history page by
 * page (up to 200 entries), starts once, and a redelivered one starts nothing new; every caller in words,
 * and a queue message's caller believed only from a trusted producer.
 */
import { describe, expect, it } from 'vitest';
import type { BeaconHistory, BeaconHistoryEntry } from '../../lambdas/core/beacon-history.js';
import { beaconCommandMessage, parseBeaconCommandMessage, startBeaconCommand } from '../../lambdas/core/beacon-commands.js';
import { callerFromQueue, describeCaller } from '../../lambdas/core/caller.js';
import { FixedClock, MemoryRequestStore, MemoryWorkflowStarter } from '../../lambdas/memory/ports.js';

const I = 'i-0123456789abcdef0';


const ALICE = { kind: 'iam' as const, arn: 'arn:aws:iam::123456789012:user/alice' };

describe('a beacon command on the queue', () => {
  const body = (value: Record<string, unknown>) => JSON.stringify({ beaconCommand: 'rollback', instanceId: I, requestId: 'rb-1', requestedBy: null, ...value });
  const refusal = (text: string) => {
    try {
      parseBeaconCommandMessage(text);
    } catch (error) {
      return error as { code: string; field: string; message: string };
    }
    throw new Error('accepted');
  };

  it('not JSON, not an object, or without beaconCommand: a request, not a command', () => {
    for (const text of ['not json', 'null', '5', '"text"', '{"requestId":"r1"}']) expect(parseBeaconCommandMessage(text), text).toBeNull();
  });

  it('read as written; refused field by field with INVALID_REQUEST', () => {
    expect(parseBeaconCommandMessage(body({ requestedBy: 'alice' }))).toEqual({ beaconCommand: 'rollback', instanceId: I, requestId: 'rb-1', requestedBy: 'alice' });
    expect(parseBeaconCommandMessage(body({ beaconCommand: 'retry', requestedBy: 'x'.repeat(300) }))).toMatchObject({ beaconCommand: 'retry' });
    expect(refusal(body({ extra: 1 }))).toMatchObject({ code: 'INVALID_REQUEST', field: 'extra', message: 'unknown field extra in a beacon command' });
    expect(refusal(body({ beaconCommand: 'delete' }))).toMatchObject({ field: 'beaconCommand', message: 'beaconCommand is rollback or retry' });
    expect(refusal(body({ instanceId: 5 }))).toMatchObject({ code: 'INVALID_INSTANCE_ID' });
    expect(refusal(body({ requestId: 5 }))).toMatchObject({ field: 'requestId', message: 'the request id is 1-64 letters, digits, . _ or -' });
    expect(refusal(body({ requestId: '../x' }))).toMatchObject({ field: 'requestId' });
    expect(refusal(body({ requestedBy: 5 }))).toMatchObject({ field: 'requestedBy', message: 'requestedBy is a string of at most 300 characters, or null' });
    expect(refusal(body({ requestedBy: 'x'.repeat(301) }))).toMatchObject({ field: 'requestedBy' });
  });

  it('written with the caller in words', () => {
    expect(beaconCommandMessage('retry', I, 'rt-1', { kind: 'slack', teamId: 'T1', userId: 'U1', userName: 'ann' })).toEqual({ beaconCommand: 'retry', instanceId: I, requestId: 'rt-1', requestedBy: 'Slack T1/U1 (ann)' });
  });
});

describe('starting a beacon command', () => {
  const entry = (n: number): BeaconHistoryEntry => ({
    requestId: `r${n}`,
    instanceId: I,
    kind: 'plan',
    source: 'api',
    requestedBy: null,
    receivedAt: null,
    state: 'ok',
    updatedAt: 'T',
    applied: { protocol: 'https', proxy: 'proxy.corp.example:8080', account: { kind: 'gmsa', name: 'CORP\\svc$' }, dryRun: true },
    reasons: [],
    diff: [],
    restored: [],
    commandId: 'c',
    linkedTo: null,
  });
  // A history of `total` runs served 100 a page, the retry target (a configure) at position `at`.
  const history = (total: number, at: number, pages: Array<{ limit: number; cursor: string | null }>): BeaconHistory => ({
    async beaconHistory(_instanceId, { limit, cursor }) {
      pages.push({ limit, cursor: cursor ?? null });
      const from = cursor ? Number(cursor) : 0;
      const entries = Array.from({ length: Math.min(limit, total - from) }, (_, i) => (from + i === at ? { ...entry(from + i), kind: 'configure' as const } : { ...entry(from + i), kind: 'rollback' as const, state: 'rolled-back' as const }));
      return { entries, nextCursor: from + limit < total ? String(from + limit) : null };
    },
  });

  it('looks back page by page (100 a page) up to 200 entries; the same command delivered again starts the same workflow and records nothing new', async () => {
    const pages: Array<{ limit: number; cursor: string | null }> = [];
    const store = new MemoryRequestStore();
    const workflows = new MemoryWorkflowStarter();
    const deps = { history: history(1000, 150, pages), store, workflows, clock: new FixedClock() };
    const command = { kind: 'retry' as const, instanceId: I, caller: ALICE, source: 'chatops' as const, requestId: 'rt-1', replyTo: { kind: 'slack' as const, responseUrl: 'https://hooks.slack.com/x' } };
    expect(await startBeaconCommand(deps, command)).toEqual({ requestId: 'rt-1', instanceId: I, linkedTo: 'r150' });
    expect(pages).toEqual([
      { limit: 100, cursor: null },
      { limit: 100, cursor: '100' },
    ]);
    expect(store.requests.get('rt-1')).toMatchObject({ linkedTo: { kind: 'retry', requestId: 'r150' }, requestedBy: ALICE.arn, caller: ALICE });
    expect([...workflows.executions.values()].map((input) => input.replyTo)).toEqual([command.replyTo]);
    const audits = store.audit.size;
    // The workflow moved on meanwhile: a redelivery does not put the beacon back to queued.
    await store.putBeaconStatus({ requestId: 'rt-1', instanceId: I, state: 'sent', updatedAt: '2026-01-01T00:01:00.000Z' });
    expect(await startBeaconCommand(deps, command)).toEqual({ requestId: 'rt-1', instanceId: I, linkedTo: 'r150' });
    expect(store.audit.size).toBe(audits);
    expect([...store.beacons.values()]).toEqual([{ requestId: 'rt-1', instanceId: I, state: 'sent', updatedAt: '2026-01-01T00:01:00.000Z' }]);
  });

  it('beyond 200 entries it stops looking', async () => {
    const pages: Array<{ limit: number; cursor: string | null }> = [];
    const deps = { history: history(1000, 250, pages), store: new MemoryRequestStore(), workflows: new MemoryWorkflowStarter(), clock: new FixedClock() };
    await expect(startBeaconCommand(deps, { kind: 'retry', instanceId: I, caller: ALICE, source: 'api' })).rejects.toMatchObject({ code: 'NOTHING_TO_RETRY' });
    expect(pages).toHaveLength(2);
  });

  it('a retry is validated again as a new request: a rule tightened since refuses it, nothing recorded', async () => {
    const bad: BeaconHistory = { beaconHistory: async () => ({ entries: [{ ...entry(1), kind: 'configure', applied: { protocol: 'https', proxy: 'bad proxy', account: { kind: 'gmsa', name: 'CORP\\svc$' } } }], nextCursor: null }) };
    const store = new MemoryRequestStore();
    await expect(startBeaconCommand({ history: bad, store, workflows: new MemoryWorkflowStarter(), clock: new FixedClock() }, { kind: 'retry', instanceId: I, caller: ALICE, source: 'api' })).rejects.toMatchObject({ code: 'INVALID_PROXY_URL' });
    expect(store.requests.size).toBe(0);
  });

  it('without a chat thread the workflow answers nobody', async () => {
    const workflows = new MemoryWorkflowStarter();
    const deps = { history: history(1, 0, []), store: new MemoryRequestStore(), workflows, clock: new FixedClock() };
    await startBeaconCommand(deps, { kind: 'retry', instanceId: I, caller: ALICE, source: 'api', requestId: 'rt-2' });
    expect([...workflows.executions.values()].map((input) => input.replyTo)).toEqual([null]);
  });
});

describe('who asked, in words', () => {
  it('every kind of caller', () => {
    expect(describeCaller(null)).toBe('unknown caller');
    expect(describeCaller({ kind: 'slack', teamId: null, userId: 'U1', userName: null })).toBe('Slack ?/U1');
    expect(describeCaller({ kind: 'teams', aadObjectId: 'aad-1', userId: '29:1', name: 'Ann' })).toBe('Teams aad-1 (Ann)');
    expect(describeCaller({ kind: 'teams', aadObjectId: null, userId: '29:1', name: null })).toBe('Teams 29:1');
    expect(describeCaller({ kind: 'unauthenticated', via: 'api without IAM identity' })).toBe('unauthenticated (api without IAM identity)');
  });

  it('a queue message: the caller attribute only from a trusted producer, else the sender (bounded), or unknown', () => {
    const slack = JSON.stringify({ kind: 'slack', teamId: 'T1', userId: 'U1', userName: null });
    expect(callerFromQueue('AROA1:chat', slack, ['AROA1'])).toEqual({ kind: 'slack', teamId: 'T1', userId: 'U1', userName: null });
    expect(callerFromQueue('AROA2:other', slack, ['AROA1'])).toEqual({ kind: 'sqs', senderId: 'AROA2:other' });
    expect(callerFromQueue('AROA1:chat', undefined, ['AROA1'])).toEqual({ kind: 'sqs', senderId: 'AROA1:chat' });
    expect(callerFromQueue('AROA1:chat', 'not json', ['AROA1'])).toEqual({ kind: 'sqs', senderId: 'AROA1:chat' });
    expect(callerFromQueue('', undefined, [])).toEqual({ kind: 'sqs', senderId: 'unknown' });
    expect(callerFromQueue(undefined, undefined, [])).toEqual({ kind: 'sqs', senderId: 'unknown' });
    expect(callerFromQueue('x'.repeat(300), undefined, [])).toEqual({ kind: 'sqs', senderId: 'x'.repeat(256) });
  });
});
