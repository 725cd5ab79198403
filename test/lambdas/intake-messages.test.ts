/**
 * What the intake reads from a message besides the request (issue 14): the chat to answer (replyTo), where it came
 * from, the id an invalid message is recorded under, refusals and conflicts as the requester and the dashboards
 * see them, and what a batch answers Lambda.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { createIntakeHandler, type IntakeDeps } from '../../lambdas/intake/handler.js';
import { MESSAGE_ATTRIBUTES } from '../../lambdas/intake/message-attributes.js';
import type { Log } from '../../lambdas/core/ports.js';
import { FixedClock, MemoryNotifier, MemoryPinLedger, MemoryRequestStore, MemoryRequestWorkflowStarter, MemoryRolloutStore, MemoryTaskTokens } from '../../lambdas/memory/ports.js';
import { INSTANCE_A, lambdaContext, sqsEvent, sqsRecord, validRequest } from './fixtures.js';

let clock: FixedClock;
let store: MemoryRequestStore;
let workflows: MemoryRequestWorkflowStarter;
let notifier: MemoryNotifier;
let counts: Array<[string, number]>;
let requestCounts: Array<[string, string]>;
let logs: Array<{ level: string; message: string; extra: Record<string, unknown> | undefined }>;
let deps: IntakeDeps;

const recordingLog = (): Log => ({
  info: (message, extra) => void logs.push({ level: 'info', message, extra }),
  warn: (message, extra) => void logs.push({ level: 'warn', message, extra }),
  error: (message, extra) => void logs.push({ level: 'error', message, extra }),
});

beforeEach(() => {
  clock = new FixedClock();
  store = new MemoryRequestStore();
  workflows = new MemoryRequestWorkflowStarter();
  notifier = new MemoryNotifier();
  counts = [];
  requestCounts = [];
  logs = [];
  deps = {
    store,
    requests: workflows,
    notifier,
    clock,
    operator: { rollouts: new MemoryRolloutStore(store), ledger: new MemoryPinLedger(), tokens: new MemoryTaskTokens() },
    log: recordingLog(),
    count: (metric, value) => void counts.push([metric, value]),
    countRequest: (source, outcome) => void requestCounts.push([source, outcome]),
  };
});

const run = (...records: ReturnType<typeof sqsRecord>[]) => createIntakeHandler(deps)(sqsEvent(...records), lambdaContext);
const SLACK_URL = 'https://hooks.slack.com/commands/T1/1/abc';
const withReplyTo = (replyTo: unknown, requestId = 'req-chat') =>
  sqsRecord(JSON.stringify(validRequest({ requestId })), `m-${requestId}`, { [MESSAGE_ATTRIBUTES.replyTo]: typeof replyTo === 'string' ? replyTo : JSON.stringify(replyTo) });
const replyToOf = (requestId: string) => workflows.executions.get(requestId)?.replyTo;

describe('the chat a request is answered in (replyTo attribute)', () => {
  it('a Slack answer keeps its channel and when the command was issued, when well formed', async () => {
    await run(withReplyTo({ kind: 'slack', responseUrl: SLACK_URL, channelId: 'C0123ABCD', issuedAt: '2026-01-01T00:00:00.000Z' }));
    expect(replyToOf('req-chat')).toEqual({ kind: 'slack', responseUrl: SLACK_URL, channelId: 'C0123ABCD', issuedAt: '2026-01-01T00:00:00.000Z' });
  });

  it.each([
    ['a lower-case prefix', 'xC0123'],
    ['a trailing lower-case letter', 'C0123x'],
    ['33 characters', 'C'.repeat(33)],
    ['a number', 12345],
    ['an empty string', ''],
  ])('a channel id with %s is dropped; the answer still goes to the response URL', async (_name, channelId) => {
    await run(withReplyTo({ kind: 'slack', responseUrl: SLACK_URL, channelId }));
    expect(replyToOf('req-chat')).toEqual({ kind: 'slack', responseUrl: SLACK_URL });
  });

  it.each([
    ['not a date', 'yesterday-ish'],
    ['a number', 2026],
  ])('an issuedAt that is %s is dropped', async (_name, issuedAt) => {
    await run(withReplyTo({ kind: 'slack', responseUrl: SLACK_URL, issuedAt }));
    expect(replyToOf('req-chat')).toEqual({ kind: 'slack', responseUrl: SLACK_URL });
  });

  it.each([
    ['another kind with a Slack URL', { kind: 'teams', responseUrl: SLACK_URL }],
    ['a Slack answer without a URL', { kind: 'slack' }],
    ['a URL that is not Slack\'s', { kind: 'slack', responseUrl: 'https://attacker.example/hooks.slack.com/' }],
    ['malformed JSON', '{"kind":"slack",'],
  ])('%s is no chat to answer: the request is accepted without one', async (_name, replyTo) => {
    const result = await run(withReplyTo(replyTo));
    expect(result.batchItemFailures).toEqual([]);
    expect(replyToOf('req-chat')).toBeNull();
  });
});

describe('where a request came from (source attribute)', () => {
  it.each(['api', 'chatops', 'new-beacon', 'drift', 'local'])('%s is carried to the record, the workflow and the count', async (source) => {
    await run(sqsRecord(JSON.stringify(validRequest()), 'm1', { [MESSAGE_ATTRIBUTES.source]: source }));
    expect(store.requests.get('req-test-1')?.source).toBe(source);
    expect(workflows.executions.get('req-test-1')?.source).toBe(source);
    expect(requestCounts).toEqual([[source, 'accepted']]);
  });

  it('an unknown source counts as the queue', async () => {
    await run(sqsRecord(JSON.stringify(validRequest()), 'm1', { [MESSAGE_ATTRIBUTES.source]: 'someone-else' }));
    expect(store.requests.get('req-test-1')?.source).toBe('queue');
  });

  it('a hand-written event without message attributes or system attributes is a plain queue request from an unknown sender', async () => {
    const { messageAttributes: _a, attributes: _b, ...bare } = sqsRecord(JSON.stringify(validRequest()), 'm1');
    const result = await run(bare as ReturnType<typeof sqsRecord>);
    expect(result.batchItemFailures).toEqual([]);
    expect(store.requests.get('req-test-1')).toMatchObject({ state: 'accepted', source: 'queue', caller: { kind: 'sqs', senderId: 'unknown' } });
    expect(workflows.executions.get('req-test-1')).toMatchObject({ replyTo: null });
  });
});

describe('an invalid message', () => {
  it('is recorded under its own requestId only when that is a usable id, else under the message id', async () => {
    const refused = { proxy: 'http://user:pw@proxy.corp.example:8080' };
    await run(
      sqsRecord(JSON.stringify(validRequest({ ...refused, requestId: 42 })), 'm-number'),
      sqsRecord(JSON.stringify(validRequest({ ...refused, requestId: 'bad id!' })), 'm-pattern'),
      sqsRecord(JSON.stringify(validRequest({ ...refused, requestId: 'req-usable' })), 'm-usable'),
    );
    expect([...store.requests.keys()].sort()).toEqual(['invalid-m-number', 'invalid-m-pattern', 'req-usable']);
  });

  it('is told to the requester with the reason, in the chat that sent it, counted once and logged', async () => {
    const slack = { kind: 'slack', responseUrl: SLACK_URL };
    const body = JSON.stringify(validRequest({ proxy: 'http://user:pw@proxy.corp.example:8080' }));
    await run(sqsRecord(body, 'm1', { [MESSAGE_ATTRIBUTES.replyTo]: JSON.stringify(slack), [MESSAGE_ATTRIBUTES.source]: 'chatops' }));
    expect(notifier.sent).toHaveLength(1);
    expect(notifier.sent[0]!.outcome).toMatchObject({
      requestId: 'req-test-1',
      state: 'invalid',
      summary: 'request refused: FlexNet Beacon supports anonymous proxies only; remove the user name and password from the proxy address',
      reasons: ['PROXY_AUTH_UNSUPPORTED at proxy'],
    });
    expect(notifier.sent[0]!.replyTo).toEqual(slack);
    expect(counts).toEqual([['RequestsInvalid', 1]]);
    expect(requestCounts).toEqual([['chatops', 'invalid']]);
    expect(logs).toContainEqual({ level: 'warn', message: 'request refused', extra: { requestId: 'req-test-1', messageId: 'm1', error: expect.objectContaining({ code: 'PROXY_AUTH_UNSUPPORTED', field: 'proxy' }) } });
  });

  it('a redelivered refusal is not notified, audited or counted as a request twice (each delivery is one RequestsInvalid)', async () => {
    const body = JSON.stringify(validRequest({ proxy: 'http://user:pw@proxy.corp.example:8080' }));
    await run(sqsRecord(body, 'm1'));
    clock.advance(60);
    await run(sqsRecord(body, 'm2'));
    expect(notifier.sent).toHaveLength(1);
    expect([...store.audit.values()].map((event) => event.event)).toEqual(['request.refused']);
    expect(requestCounts).toEqual([['queue', 'invalid']]);
    expect(counts).toEqual([
      ['RequestsInvalid', 1],
      ['RequestsInvalid', 1],
    ]);
  });

  it.each([
    ['the same field for another reason', { proxy: 'http://user:pw@proxy.corp.example:8080' }, { proxy: 'bad proxy' }],
    ['the same code at another field', { protocol: 'ftp' }, { beaconVersion: 'x' }],
  ])('a second refusal under an id already refused, for %s, is kept in that id\'s trail and told', async (_name, first, second) => {
    await run(sqsRecord(JSON.stringify(validRequest(first)), 'm1'));
    clock.advance(60);
    await run(sqsRecord(JSON.stringify(validRequest(second)), 'm2'));
    expect(notifier.sent).toHaveLength(2);
    expect([...store.audit.values()].map((event) => event.event)).toEqual(['request.refused', 'request.refused']);
  });

  it('a refused message naming an accepted request\'s id is kept in that id\'s trail; the accepted request stands', async () => {
    await run(sqsRecord(JSON.stringify(validRequest()), 'm1'));
    clock.advance(60);
    await run(sqsRecord(JSON.stringify(validRequest({ protocol: 'ftp' })), 'm2'));
    expect(store.requests.get('req-test-1')).toMatchObject({ state: 'accepted' });
    expect([...store.audit.values()].map((event) => event.event)).toEqual(['request.accepted', 'request.refused']);
    expect(notifier.sent.map((n) => n.outcome.state)).toEqual(['invalid']);
  });
});

describe('the same requestId with other content (REQUEST_CONFLICT)', () => {
  it('is told to the requester with the reason, counted as a conflict and logged; the recorded request stands', async () => {
    await run(sqsRecord(JSON.stringify(validRequest()), 'm1'));
    requestCounts.length = 0;
    await run(sqsRecord(JSON.stringify(validRequest({ proxy: 'other-proxy.corp.example:3128' })), 'm2', { [MESSAGE_ATTRIBUTES.source]: 'api' }));
    const conflict = notifier.sent.find((n) => n.outcome.state === 'conflict');
    expect(conflict?.outcome.summary).toMatch(/^request refused: .*req-test-1/);
    expect(conflict?.outcome.reasons).toEqual(['REQUEST_CONFLICT at requestId']);
    expect(requestCounts).toEqual([['api', 'conflict']]);
    expect(logs).toContainEqual({ level: 'warn', message: 'request refused: id taken by other content', extra: { requestId: 'req-test-1', contentHash: expect.any(String) } });
    expect(store.requests.get('req-test-1')?.request).toMatchObject({ proxy: 'proxy.corp.example:8080' });
  });
});

describe('an accepted request', () => {
  it('is logged with its execution and whether it started', async () => {
    await run(sqsRecord(JSON.stringify(validRequest()), 'm1'));
    expect(logs).toContainEqual({ level: 'info', message: 'request accepted', extra: { requestId: 'req-test-1', execution: [...workflows.executions.keys()][0], started: true } });
  });

  it('an instance target records its instance list (the dashboard and the status view read it)', async () => {
    await run(sqsRecord(JSON.stringify(validRequest({ requestId: 'req-ids' })), 'm1'));
    expect(store.requests.get('req-ids')?.instanceIds).toEqual([INSTANCE_A]);
  });
});

describe('the batch answer', () => {
  it('a batch in which every message fails is answered with every message id, not an error (Lambda retries each one)', async () => {
    const failing = new MemoryRequestStore();
    failing.getRequestStatus = async () => {
      throw new Error('DynamoDB unavailable');
    };
    const handler = createIntakeHandler({ ...deps, store: failing });
    const body = (requestId: string) => JSON.stringify(validRequest({ requestId }));
    await expect(handler(sqsEvent(sqsRecord(body('req-a'), 'm1'), sqsRecord(body('req-b'), 'm2')), lambdaContext)).resolves.toEqual({
      batchItemFailures: [{ itemIdentifier: 'm1' }, { itemIdentifier: 'm2' }],
    });
  });
});
