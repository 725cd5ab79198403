/**
 * The per-beacon routes of the requests API over the real DynamoDB adapters on dynalite, with the state
 * table exactly as the synthesized template declares it (its byBeacon index included): validation codes,
 * pagination by beacon, and the rules that pick what a rollback restores and what a retry runs.
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoBeaconHistory, DynamoRequestStore, documentClient } from '../../lambdas/aws/dynamo.js';
import { type BeaconHistoryEntry, decideRetry, decideRollback } from '../../lambdas/core/beacon-history.js';
import type { BeaconState, RequestRecord } from '../../lambdas/core/ports.js';
import { FixedClock, MemoryBeaconCommands, MemoryNotifier, MemoryRequestQueue, MemoryWorkflowStarter, MemoryRequestWorkflowStarter, MemoryRolloutStore, MemoryPinLedger, MemoryTaskTokens, MemoryRequestStore } from '../../lambdas/memory/ports.js';
import { createIntakeHandler } from '../../lambdas/intake/handler.js';
import { MESSAGE_ATTRIBUTES } from '../../lambdas/intake/message-attributes.js';
import { type Caller, describeCaller } from '../../lambdas/core/caller.js';
import { createRequestsApiHandler } from '../../lambdas/requests-api/handler.js';
import { type LocalDynamo, startLocalDynamo } from '../../local/local-dynamo.js';
import { loadWorkflow } from '../../local/workflow-definition.js';
import { INSTANCE_A, INSTANCE_B, lambdaContext, sqsEvent, sqsRecord, validRequest } from './fixtures.js';

/** The chat function's role id (SQS SenderId = role id:session) and the Slack user it authenticated. */
const CHAT_ROLE_ID = 'AROACHATOPSROLE00001';
const SLACK_CALLER: Caller = { kind: 'slack', teamId: 'T1', userId: 'U1', userName: 'ops-alice' };

let dynamo: LocalDynamo;
let store: DynamoRequestStore;
let workflows: MemoryWorkflowStarter;
let handler: ReturnType<typeof createRequestsApiHandler>;
let table = 0;

beforeAll(async () => {
  dynamo = await startLocalDynamo((await loadWorkflow()).tables);
}, 120_000);
afterAll(async () => dynamo.close());

beforeEach(async () => {
  // A fresh table per test, with the template's keys and indexes.
  table += 1;
  const spec = (await loadWorkflow()).tables.state;
  const { CreateTableCommand } = await import('@aws-sdk/client-dynamodb');
  const name = `State${table}`;
  await dynamo.client.send(
    new CreateTableCommand({
      TableName: name,
      KeySchema: spec.keySchema,
      AttributeDefinitions: spec.attributeDefinitions,
      BillingMode: 'PAY_PER_REQUEST',
      GlobalSecondaryIndexes: spec.globalSecondaryIndexes as never,
    }),
  );
  const db = documentClient(dynamo.client);
  store = new DynamoRequestStore(db, name);
  workflows = new MemoryWorkflowStarter();
  handler = createRequestsApiHandler({
    queue: new MemoryRequestQueue(),
    store,
    beacons: { history: new DynamoBeaconHistory(db, name), store, workflows, clock: new FixedClock(new Date('2026-04-01T12:00:00Z')) },
  });
});

function event(httpMethod: string, resource: string, instanceId: string, options: { query?: Record<string, string>; body?: string } = {}): APIGatewayProxyEvent {
  return {
    httpMethod,
    resource,
    path: resource.replace('{instanceId}', instanceId),
    body: options.body ?? null,
    isBase64Encoded: false,
    pathParameters: { instanceId },
    headers: {},
    multiValueHeaders: {},
    queryStringParameters: options.query ?? null,
    multiValueQueryStringParameters: null,
    stageVariables: null,
    requestContext: { domainName: 'abc123.execute-api.eu-west-1.amazonaws.com', stage: 'v1', identity: { userArn: 'arn:aws:sts::123456789012:assumed-role/beacon-operator/bob' } } as unknown as APIGatewayProxyEvent['requestContext'],
  };
}

async function call(method: string, resource: string, instanceId: string, options: { query?: Record<string, string>; body?: string } = {}) {
  const response = await handler(event(method, resource, instanceId, options));
  return { status: response.statusCode, body: JSON.parse(response.body) as Record<string, any> };
}

/** A request that ran on these beacons, recorded as the intake and the workflow record it. */
async function ran(requestId: string, at: string, beacons: Record<string, BeaconState>, overrides: Record<string, unknown> = {}): Promise<void> {
  const request = validRequest({ requestId, target: { instanceIds: Object.keys(beacons) }, ...overrides });
  const record: RequestRecord = { requestId, state: 'accepted', source: 'api', receivedAt: at, request, instanceIds: Object.keys(beacons) };
  await store.recordRequest(record);
  for (const [instanceId, state] of Object.entries(beacons)) {
    // A run that reached the beacon changed its service account (what its capture can put back).
    const reached = state === 'ok' || state === 'rolled-back' || state === 'failed' || state === 'pin-failed';
    await store.putBeaconStatus({ requestId, instanceId, state, updatedAt: at, ...(reached ? { commandId: `cmd-${requestId}`, diff: [{ id: 'service:logon', before: 'NT AUTHORITY\\SYSTEM', after: 'CORP\\svc-beacon' }] } : {}) });
  }
}

const ROUTES = { history: '/beacons/{instanceId}', rollback: '/beacons/{instanceId}/rollback', retry: '/beacons/{instanceId}/retry' } as const;

describe('per-beacon routes: input validation', () => {
  it.each([
    ['GET', ROUTES.history],
    ['POST', ROUTES.rollback],
    ['POST', ROUTES.retry],
  ])('%s %s with an instance id that is not an SSM id is 400 INVALID_INSTANCE_ID, and nothing is written or started', async (method, resource) => {
    for (const bad of ['i-123', 'I-0123456789ABCDEF0', 'i-0123456789abcdef0/../x', 'mi-0123', '']) {
      expect(await call(method, resource, bad)).toEqual({ status: 400, body: { error: { code: 'INVALID_INSTANCE_ID', message: expect.stringContaining('i- with 8 or 17 hex'), field: 'instanceId' } } });
    }
    expect(workflows.executions.size).toBe(0);
  });

  it('a page size outside 1-100 is 400 INVALID_REQUEST at limit', async () => {
    for (const limit of ['0', '101', 'ten', '-1', '1.5']) {
      expect(await call('GET', ROUTES.history, INSTANCE_A, { query: { limit } })).toMatchObject({ status: 400, body: { error: { code: 'INVALID_REQUEST', field: 'limit' } } });
    }
  });

  it('a cursor that is not one the API gave for this beacon is 400 INVALID_CURSOR', async () => {
    for (let n = 0; n < 3; n += 1) await ran(`chg-b${n}`, `2026-03-0${n + 1}T00:00:00.000Z`, { [INSTANCE_B]: 'ok' });
    const other = await call('GET', ROUTES.history, INSTANCE_B, { query: { limit: '1' } });
    expect(other.body.nextCursor).toEqual(expect.any(String));
    for (const cursor of [other.body.nextCursor as string, 'not-base64-json', Buffer.from('{"pk":"LOCK#x"}').toString('base64url')]) {
      expect(await call('GET', ROUTES.history, INSTANCE_A, { query: { cursor } })).toMatchObject({ status: 400, body: { error: { code: 'INVALID_CURSOR', field: 'cursor' } } });
    }
  });

  it('rollback and retry take no body', async () => {
    await ran('chg-1', '2026-03-01T00:00:00.000Z', { [INSTANCE_A]: 'ok' });
    expect(await call('POST', ROUTES.rollback, INSTANCE_A, { body: '{"captureId":"chg-0"}' })).toMatchObject({ status: 400, body: { error: { code: 'INVALID_REQUEST', field: '$' } } });
    expect(workflows.executions.size).toBe(0);
    expect((await call('POST', ROUTES.rollback, INSTANCE_A, { body: '{}' })).status).toBe(202);
  });
});

describe('GET /beacons/{instanceId}: the beacon\'s history across requests', () => {
  it('lists only this beacon\'s runs, newest first, page by page until nextCursor is null', async () => {
    for (let n = 1; n <= 5; n += 1) await ran(`chg-${n}`, `2026-03-0${n}T00:00:00.000Z`, n % 2 ? { [INSTANCE_A]: 'ok', [INSTANCE_B]: 'ok' } : { [INSTANCE_A]: 'rolled-back' });
    await ran('chg-only-b', '2026-03-09T00:00:00.000Z', { [INSTANCE_B]: 'ok' });
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await call('GET', ROUTES.history, INSTANCE_A, { query: { limit: '2', ...(cursor ? { cursor } : {}) } });
      expect(page.status).toBe(200);
      expect(page.body.entries.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.entries.map((e: BeaconHistoryEntry) => e.requestId));
      cursor = page.body.nextCursor;
      pages += 1;
    } while (cursor && pages < 10);
    expect(seen).toEqual(['chg-5', 'chg-4', 'chg-3', 'chg-2', 'chg-1']);
    const first = await call('GET', ROUTES.history, INSTANCE_A, { query: { limit: '1' } });
    expect(first.body.entries[0]).toMatchObject({
      requestId: 'chg-5',
      instanceId: INSTANCE_A,
      kind: 'configure',
      source: 'api',
      receivedAt: '2026-03-05T00:00:00.000Z',
      state: 'ok',
      applied: { protocol: 'https', proxy: validRequest().proxy },
      linkedTo: null,
    });
    // What was applied carries no target and no id (they are the request's, not the beacon's).
    expect(first.body.entries[0].applied).not.toHaveProperty('target');
    // The index attributes stay out of the request's own status view.
    expect((await store.getRequestStatus('chg-5'))!.beacons[0]).not.toHaveProperty('historyBeacon');
  });

  it('a beacon no request touched has an empty history', async () => {
    expect(await call('GET', ROUTES.history, INSTANCE_A)).toEqual({ status: 200, body: { instanceId: INSTANCE_A, entries: [], nextCursor: null } });
  });
});

describe('POST /beacons/{instanceId}/rollback and /retry: what they act on', () => {
  it('a rollback restores the capture of the newest configure still in effect, records the request with its link and the caller, and starts one workflow', async () => {
    await ran('chg-1', '2026-03-01T00:00:00.000Z', { [INSTANCE_A]: 'ok' });
    await ran('chg-2', '2026-03-02T00:00:00.000Z', { [INSTANCE_A]: 'dry-run' }, { dryRun: true });
    const answer = await call('POST', ROUTES.rollback, INSTANCE_A);
    expect(answer).toEqual({
      status: 202,
      body: { requestId: 'rollback-i-0123456789abcdef0-20260401T120000000', instanceId: INSTANCE_A, restores: 'chg-1', statusUrl: 'https://abc123.execute-api.eu-west-1.amazonaws.com/v1/requests/rollback-i-0123456789abcdef0-20260401T120000000' },
    });
    expect([...workflows.executions.values()]).toEqual([expect.objectContaining({ instanceId: INSTANCE_A, action: { kind: 'rollback', captureId: 'chg-1' }, dryRun: false, receivedAt: '2026-04-01T12:00:00.000Z' })]);
    const status = (await store.getRequestStatus(answer.body.requestId))!;
    expect(status.request).toMatchObject({ requestedBy: 'arn:aws:sts::123456789012:assumed-role/beacon-operator/bob', linkedTo: { kind: 'rollback', requestId: 'chg-1' } });
    expect(status.beacons).toEqual([expect.objectContaining({ state: 'queued' })]);
    // While it runs, a second rollback is refused: the beacon is busy.
    expect(await call('POST', ROUTES.rollback, INSTANCE_A)).toMatchObject({ status: 409, body: { error: { code: 'BEACON_BUSY' } } });
  });

  it('no configure in the history is 409 NO_CAPTURE: nothing recorded, nothing started', async () => {
    await ran('plan-1', '2026-03-01T00:00:00.000Z', { [INSTANCE_A]: 'dry-run' }, { dryRun: true });
    await ran('skip-1', '2026-03-02T00:00:00.000Z', { [INSTANCE_A]: 'skipped' });
    expect(await call('POST', ROUTES.rollback, INSTANCE_A)).toMatchObject({ status: 409, body: { error: { code: 'NO_CAPTURE', field: 'instanceId', message: expect.stringContaining('nothing was changed') } } });
    expect(workflows.executions.size).toBe(0);
    expect((await call('GET', ROUTES.history, INSTANCE_A)).body.entries).toHaveLength(2);
  });

  it('a retry runs the newest request again for this beacon only, validated again, linked to it', async () => {
    await ran('chg-both', '2026-03-01T00:00:00.000Z', { [INSTANCE_A]: 'rolled-back', [INSTANCE_B]: 'ok' });
    const answer = await call('POST', ROUTES.retry, INSTANCE_A);
    expect(answer).toMatchObject({ status: 202, body: { retries: 'chg-both', requestId: 'retry-i-0123456789abcdef0-20260401T120000000' } });
    const [input] = [...workflows.executions.values()];
    expect(input).toMatchObject({ instanceId: INSTANCE_A, request: { requestId: answer.body.requestId, target: { instanceIds: [INSTANCE_A] }, proxy: validRequest().proxy } });
    expect(input).not.toHaveProperty('action');
    const old = (await store.getRequestStatus('chg-both'))!;
    expect(old.audit).toEqual([expect.objectContaining({ event: 'request.retried', instanceId: INSTANCE_A, detail: expect.objectContaining({ by: answer.body.requestId }) })]);
  });

  it('no request in the history is 409 NOTHING_TO_RETRY', async () => {
    expect(await call('POST', ROUTES.retry, INSTANCE_A)).toMatchObject({ status: 409, body: { error: { code: 'NOTHING_TO_RETRY' } } });
    expect(workflows.executions.size).toBe(0);
  });
});

describe('which capture a rollback restores (decideRollback)', () => {
  const entry = (requestId: string, kind: BeaconHistoryEntry['kind'], state: BeaconState, extra: Partial<BeaconHistoryEntry> = {}): BeaconHistoryEntry => ({
    requestId,
    instanceId: INSTANCE_A,
    kind,
    source: 'api',
    requestedBy: null,
    receivedAt: null,
    state,
    updatedAt: '2026-03-01T00:00:00.000Z',
    applied: kind === 'rollback' ? { kind: 'rollback', captureId: 'chg-1' } : {},
    reasons: [],
    // A configure that changed something (the usual case); tests of a run that changed nothing say so.
    diff: kind === 'configure' ? [{ id: 'service:logon', before: 'NT AUTHORITY\\SYSTEM', after: 'CORP\\svc-beacon' }] : [],
    restored: [],
    commandId: state === 'skipped' ? null : `cmd-${requestId}`,
    linkedTo: null,
    ...extra,
  });

  it('passes over plans, skipped runs and configures that rolled themselves back; a pin-failed or unconfirmed (failed) configure still has its changes in place', () => {
    expect(decideRollback([entry('p', 'plan', 'dry-run'), entry('s', 'configure', 'skipped'), entry('r', 'configure', 'rolled-back'), entry('chg-1', 'configure', 'ok')], INSTANCE_A)).toEqual({ captureId: 'chg-1' });
    expect(decideRollback([entry('pin', 'configure', 'pin-failed'), entry('chg-1', 'configure', 'ok')], INSTANCE_A)).toEqual({ captureId: 'pin' });
    expect(decideRollback([entry('f', 'configure', 'failed'), entry('chg-1', 'configure', 'ok')], INSTANCE_A)).toEqual({ captureId: 'f' });
  });

  it('a run that found the beacon already right (no change) is passed over: the rollback restores the capture of the run that changed it', () => {
    const rerun = entry('chg-1.rerun-1', 'configure', 'ok', { diff: [] });
    expect(decideRollback([rerun, entry('chg-1', 'configure', 'ok')], INSTANCE_A)).toEqual({ captureId: 'chg-1' });
    // A change too large to list is still a change.
    expect(decideRollback([entry('big', 'configure', 'ok', { diff: [], diffOmitted: 3 }), entry('chg-1', 'configure', 'ok')], INSTANCE_A)).toEqual({ captureId: 'big' });
    // Only runs that changed nothing: nothing to restore, said so.
    expect(() => decideRollback([rerun], INSTANCE_A)).toThrow(expect.objectContaining({ code: 'NO_CAPTURE', message: expect.stringContaining('found it already as requested and changed nothing') }));
  });

  it('a newer per-beacon rollback means the change was undone already; a failed rollback does not', () => {
    expect(() => decideRollback([entry('rb', 'rollback', 'rolled-back'), entry('chg-1', 'configure', 'ok')], INSTANCE_A)).toThrow(expect.objectContaining({ code: 'ALREADY_ROLLED_BACK', status: 409 }));
    expect(decideRollback([entry('rb', 'rollback', 'failed'), entry('chg-1', 'configure', 'ok')], INSTANCE_A)).toEqual({ captureId: 'chg-1' });
  });

  it('a retry never repeats a rollback: it runs the newest configure or plan', () => {
    expect(decideRetry([entry('rb', 'rollback', 'rolled-back'), entry('chg-1', 'configure', 'ok')], INSTANCE_A).requestId).toBe('chg-1');
    expect(() => decideRetry([entry('q', 'configure', 'sent')], INSTANCE_A)).toThrow(expect.objectContaining({ code: 'BEACON_BUSY' }));
  });
});

describe('a per-beacon command through the intake queue (chat rollback / retry)', () => {
  const intake = () =>
    createIntakeHandler({ store, requests: new MemoryRequestWorkflowStarter(), operator: { rollouts: new MemoryRolloutStore(new MemoryRequestStore()), ledger: new MemoryPinLedger(), tokens: new MemoryTaskTokens() }, workflows, notifier, clock: new FixedClock(new Date('2026-04-01T12:00:00Z')), history: new DynamoBeaconHistory(documentClient(dynamo.client), tableName()), trustedSenderRoleIds: [CHAT_ROLE_ID] });
  let notifier: MemoryNotifier;
  beforeEach(() => {
    notifier = new MemoryNotifier();
  });
  const tableName = () => `State${table}`;

  it('starts the rollback under the id the chat answer named, with the chat caller (vouched for by the chat function\'s role) as requestedBy', async () => {
    await ran('chg-1', '2026-03-01T00:00:00.000Z', { [INSTANCE_A]: 'ok' });
    const body = JSON.stringify({ beaconCommand: 'rollback', instanceId: INSTANCE_A, requestId: 'slack-abc', requestedBy: 'chatops:U1 in C1' });
    const fromChat = () => {
      const record = sqsRecord(body, 'm1', { [MESSAGE_ATTRIBUTES.caller]: JSON.stringify(SLACK_CALLER), [MESSAGE_ATTRIBUTES.source]: 'chatops' });
      record.attributes.SenderId = `${CHAT_ROLE_ID}:beacon-proxy-chatops`;
      return record;
    };
    const result = await intake()(sqsEvent(fromChat()), lambdaContext);
    expect(result.batchItemFailures).toEqual([]);
    expect([...workflows.executions.values()]).toEqual([expect.objectContaining({ requestId: 'slack-abc', action: { kind: 'rollback', captureId: 'chg-1' } })]);
    expect((await store.getRequestStatus('slack-abc'))!.request).toMatchObject({ requestedBy: describeCaller(SLACK_CALLER), linkedTo: { kind: 'rollback', requestId: 'chg-1' } });
    // Delivered again (SQS at-least-once): the same request, nothing recorded twice.
    await intake()(sqsEvent(fromChat()), lambdaContext);
    expect(workflows.executions.size).toBe(1);
  });

  it('the requestedBy a message body claims is never believed: a command sent straight to the queue is attributed to its SenderId', async () => {
    await ran('chg-2', '2026-03-02T00:00:00.000Z', { [INSTANCE_A]: 'ok' });
    const body = JSON.stringify({ beaconCommand: 'rollback', instanceId: INSTANCE_A, requestId: 'forged-1', requestedBy: 'chatops:U-ADMIN in C-OPS' });
    const record = sqsRecord(body, 'm9', { [MESSAGE_ATTRIBUTES.caller]: JSON.stringify(SLACK_CALLER) });
    record.attributes.SenderId = 'AIDAINTRUDER00000001';
    await intake()(sqsEvent(record), lambdaContext);
    const recorded = (await store.getRequestStatus('forged-1'))!.request;
    expect(recorded.requestedBy).toBe(describeCaller({ kind: 'sqs', senderId: 'AIDAINTRUDER00000001' }));
    expect(recorded.requestedBy).not.toContain('U-ADMIN');
  });

  it('a refused or malformed command is recorded as refused with its code, the requester is told, and the message is not retried', async () => {
    const noCapture = JSON.stringify({ beaconCommand: 'retry', instanceId: INSTANCE_A, requestId: 'slack-none', requestedBy: null });
    const badId = JSON.stringify({ beaconCommand: 'rollback', instanceId: 'i-bad', requestId: 'slack-bad', requestedBy: null });
    const extra = JSON.stringify({ beaconCommand: 'rollback', instanceId: INSTANCE_A, requestId: 'slack-extra', requestedBy: null, captureId: 'chg-0' });
    const result = await intake()(sqsEvent(sqsRecord(noCapture, 'm1'), sqsRecord(badId, 'm2'), sqsRecord(extra, 'm3')), lambdaContext);
    expect(result.batchItemFailures).toEqual([]);
    expect((await store.getRequestStatus('slack-none'))!.request).toMatchObject({ state: 'invalid', error: { code: 'NOTHING_TO_RETRY' } });
    expect((await store.getRequestStatus('slack-bad'))!.request).toMatchObject({ state: 'invalid', error: { code: 'INVALID_INSTANCE_ID' } });
    expect((await store.getRequestStatus('slack-extra'))!.request).toMatchObject({ state: 'invalid', error: { code: 'INVALID_REQUEST', field: 'captureId' } });
    expect(notifier.sent.map((n) => [n.outcome.requestId, n.outcome.state]).sort()).toEqual([
      ['slack-bad', 'invalid'],
      ['slack-extra', 'invalid'],
      ['slack-none', 'invalid'],
    ]);
    expect(workflows.executions.size).toBe(0);
  });
});
