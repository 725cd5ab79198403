/**
 * Request identity through the real adapters: the intake with Powertools idempotency and the request store on
 * dynalite (tables as the template declares them), so the conditional writes behave as DynamoDB's.
 */
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoRequestStore, documentClient } from '../../lambdas/aws/dynamo.js';
import { DynamoRolloutStore } from '../../lambdas/aws/rollout-store.js';
import { powertoolsIdempotency } from '../../lambdas/aws/idempotency.js';
import { noIdempotencyGuard } from '../../lambdas/core/ports.js';
import { REQUEST_IDENTITY } from '../../lambdas/core/request-identity.js';
import { createIntakeHandler } from '../../lambdas/intake/handler.js';
import { MESSAGE_ATTRIBUTES } from '../../lambdas/intake/message-attributes.js';
import { FixedClock, MemoryBeaconCommands, MemoryNotifier, MemoryWorkflowStarter, MemoryRequestWorkflowStarter, MemoryPinLedger, MemoryTaskTokens } from '../../lambdas/memory/ports.js';
import { type LocalDynamo, startLocalDynamo } from '../../local/local-dynamo.js';
import { loadWorkflow } from '../../local/workflow-definition.js';
import { INSTANCE_A, INSTANCE_B, lambdaContext, sqsEvent, sqsRecord, validRequest } from './fixtures.js';

let dynamo: LocalDynamo;
let run = 0;

beforeAll(async () => {
  dynamo = await startLocalDynamo((await loadWorkflow()).tables);
}, 60_000);

afterAll(async () => {
  await dynamo?.close();
});

/** Every test works on its own ids (one dynalite for the file). */
let prefix = '';
beforeEach(() => {
  run += 1;
  prefix = `t${run}-`;
});

function pipeline() {
  const store = new DynamoRequestStore(documentClient(dynamo.client), dynamo.tables.state);
  const workflows = new MemoryWorkflowStarter();
  const notifier = new MemoryNotifier();
  const clock = new FixedClock(new Date('2026-12-02T07:00:00Z'));
  const requests = new MemoryRequestWorkflowStarter();
  const deps = { store, requests, operator: { rollouts: new DynamoRolloutStore(documentClient(dynamo.client), dynamo.tables.state), ledger: new MemoryPinLedger(), tokens: new MemoryTaskTokens() }, workflows, notifier, clock };
  const guarded = createIntakeHandler({ ...deps, idempotency: powertoolsIdempotency(dynamo.tables.idempotency, dynamo.client) });
  // The same intake after the guard's records expired: the request store alone decides.
  const unguarded = createIntakeHandler({ ...deps, idempotency: noIdempotencyGuard });
  return { store, workflows, requests, notifier, guarded, unguarded };
}

const send = (body: unknown, messageId: string, attributes: Record<string, string> = {}, sentAt?: Date) => {
  const record = sqsRecord(JSON.stringify(body), messageId, attributes);
  if (sentAt) record.attributes.SentTimestamp = String(sentAt.getTime());
  return record;
};

async function forgetGuardRecords(): Promise<void> {
  const db = documentClient(dynamo.client);
  for (const item of await dynamo.scan(dynamo.tables.idempotency)) await db.send(new DeleteCommand({ TableName: dynamo.tables.idempotency, Key: { id: item.id } }));
}

describe('request identity: resend, conflict, window, re-run (intake on dynalite)', () => {
  it('an identical resend is the same request: one record, each beacon started once', async () => {
    const { store, requests, guarded, unguarded } = pipeline();
    const body = validRequest({ requestId: `${prefix}same` });
    await guarded(sqsEvent(send(body, 'm1')), lambdaContext);
    await guarded(sqsEvent(send(body, 'm2')), lambdaContext);
    await forgetGuardRecords();
    await unguarded(sqsEvent(send(body, 'm3')), lambdaContext);
    const status = await store.getRequestStatus(`${prefix}same`);
    expect(status?.request).toMatchObject({ state: 'accepted', contentHash: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(status?.audit.map((e) => e.event)).toEqual(['request.accepted']);
    expect(requests.executions.size).toBe(1);
  });

  it('the same requestId with other content is refused REQUEST_CONFLICT and recorded; the first request and its beacons are unchanged', async () => {
    const { store, requests, notifier, guarded } = pipeline();
    const id = `${prefix}taken`;
    const slack = { kind: 'slack', responseUrl: 'https://hooks.slack.com/commands/T1/1/abc' };
    await guarded(sqsEvent(send(validRequest({ requestId: id }), 'm1')), lambdaContext);
    const other = validRequest({ requestId: id, target: { instanceIds: [INSTANCE_B] }, proxy: 'other.corp.example:3128' });
    const result = await guarded(sqsEvent(send(other, 'm2', { [MESSAGE_ATTRIBUTES.source]: 'chatops', [MESSAGE_ATTRIBUTES.replyTo]: JSON.stringify(slack) })), lambdaContext);
    // Refused for good: retrying cannot make the content match.
    expect(result.batchItemFailures).toEqual([]);
    const status = await store.getRequestStatus(id);
    expect(status?.request.request).toMatchObject({ proxy: 'proxy.corp.example:8080', target: { instanceIds: [INSTANCE_A] } });
    expect(status?.request.instanceIds).toEqual([INSTANCE_A]);
    // Only the first request's workflow started.
    expect([...requests.executions.values()].map((input) => input.requestId)).toEqual([id]);
    const conflict = status?.audit.find((e) => e.event === 'request.conflict');
    // Nothing lost: the refused content is kept with the code and where it came from.
    expect(conflict?.detail).toMatchObject({ code: 'REQUEST_CONFLICT', field: 'requestId', source: 'chatops', request: { proxy: 'other.corp.example:3128' } });
    expect(notifier.sent.at(-1)).toMatchObject({ outcome: { requestId: id, state: 'conflict', reasons: ['REQUEST_CONFLICT at requestId'] }, replyTo: slack });
  });

  it('after the idempotency records expired, the request store still refuses other content under a recorded id', async () => {
    const { store, requests, guarded } = pipeline();
    const id = `${prefix}later`;
    await guarded(sqsEvent(send(validRequest({ requestId: id }), 'm1')), lambdaContext);
    await forgetGuardRecords();
    await guarded(sqsEvent(send(validRequest({ requestId: id, protocol: 'http' }), 'm2')), lambdaContext);
    const status = await store.getRequestStatus(id);
    expect(status?.request.request).toMatchObject({ protocol: 'https' });
    expect(status?.audit.map((e) => e.event).sort()).toEqual(['request.accepted', 'request.conflict']);
    expect(requests.executions.size).toBe(1);
  });

  it('two deliveries at once under one id with different content: one runs, the other is a conflict', async () => {
    const { store, requests, guarded } = pipeline();
    const id = `${prefix}race`;
    await Promise.all([
      guarded(sqsEvent(send(validRequest({ requestId: id }), 'm1')), lambdaContext),
      guarded(sqsEvent(send(validRequest({ requestId: id, target: { instanceIds: [INSTANCE_B] } }), 'm2')), { ...lambdaContext, awsRequestId: 'aws-request-2' }),
    ]);
    // The loser may also be told to retry (in progress); its retry is then the conflict.
    await guarded(sqsEvent(send(validRequest({ requestId: id }), 'm1')), lambdaContext);
    await guarded(sqsEvent(send(validRequest({ requestId: id, target: { instanceIds: [INSTANCE_B] } }), 'm2')), lambdaContext);
    const status = await store.getRequestStatus(id);
    expect(requests.executions.size).toBe(1);
    expect(status?.audit.filter((e) => e.event === 'request.accepted')).toHaveLength(1);
    expect(status?.audit.filter((e) => e.event === 'request.conflict').length).toBeGreaterThanOrEqual(1);
    // One target recorded (the beacon rows are the request workflow's: PrepareTargets writes them).
    expect(status?.request.instanceIds).toHaveLength(1);
  });

  it('an id once refused as invalid stays refused: valid content under it is a conflict, not a silent run', async () => {
    const { store, requests, guarded } = pipeline();
    const id = `${prefix}refused`;
    await guarded(sqsEvent(send(validRequest({ requestId: id, proxy: 'http://user:pw@proxy.corp.example:8080' }), 'm1')), lambdaContext);
    await guarded(sqsEvent(send(validRequest({ requestId: id }), 'm2')), lambdaContext);
    const status = await store.getRequestStatus(id);
    expect(status?.request.state).toBe('invalid');
    expect(status?.audit.map((e) => e.event).sort()).toEqual(['request.conflict', 'request.refused']);
    expect(requests.executions.size).toBe(0);
  });

  it('an invalid message naming a recorded request\'s id is kept in that id\'s audit trail (not dropped); the request stands', async () => {
    const { store, requests, notifier, guarded } = pipeline();
    const id = `${prefix}held`;
    await guarded(sqsEvent(send(validRequest({ requestId: id }), 'm1')), lambdaContext);
    await guarded(sqsEvent(send(validRequest({ requestId: id, proxy: 'http://wpad/wpad.dat' }), 'm2')), lambdaContext);
    // The same refused message delivered again adds nothing.
    const bad = validRequest({ requestId: `${prefix}bad`, proxy: 'http://wpad/wpad.dat' });
    await guarded(sqsEvent(send(bad, 'm3')), lambdaContext);
    await guarded(sqsEvent(send(bad, 'm3')), lambdaContext);
    const status = await store.getRequestStatus(id);
    expect(status?.request.state).toBe('accepted');
    expect(status?.audit.find((e) => e.event === 'request.refused')?.detail).toMatchObject({ code: 'PAC_UNSUPPORTED', field: 'proxy' });
    expect(requests.executions.size).toBe(1);
    expect((await store.getRequestStatus(`${prefix}bad`))?.audit.filter((e) => e.event === 'request.refused')).toHaveLength(1);
    expect(notifier.sent.map((n) => [n.outcome.requestId, n.outcome.state])).toEqual([
      [id, 'invalid'],
      [`${prefix}bad`, 'invalid'],
    ]);
  });

  it('a request without id: a resend the same day is the same request; the same content weeks later runs again', async () => {
    const { requests, guarded } = pipeline();
    const { requestId: _none, ...body } = validRequest({ proxy: `${prefix}proxy.corp.example:8080` });
    const day = new Date('2026-12-02T07:00:00Z');
    const sameDay = new Date(day.getTime() + 6 * 3600_000);
    const weeksLater = new Date(day.getTime() + 21 * REQUEST_IDENTITY.derivedIdWindowSeconds * 1000);
    await guarded(sqsEvent(send(body, 'm1', {}, day), send(body, 'm2', {}, sameDay)), lambdaContext);
    await guarded(sqsEvent(send(body, 'm3', {}, weeksLater)), lambdaContext);
    const ids = [...new Set([...requests.executions.values()].map((input) => input.requestId))];
    expect(ids).toHaveLength(2);
    expect(ids[0]).toMatch(/-20261202T0000$/);
    expect(ids[1]).toMatch(/-20261223T0000$/);
  });

  it('a re-run is a new request linked both ways; a re-run naming a request with other content is not linked', async () => {
    const { store, requests, guarded } = pipeline();
    const id = `${prefix}orig`;
    const body = validRequest({ requestId: id });
    await guarded(sqsEvent(send(body, 'm1')), lambdaContext);
    await guarded(sqsEvent(send({ ...body, requestId: `${id}.rerun-1` }, 'm2', { [MESSAGE_ATTRIBUTES.rerunOf]: id })), lambdaContext);
    await guarded(sqsEvent(send(validRequest({ requestId: `${prefix}forged`, protocol: 'http' }), 'm3', { [MESSAGE_ATTRIBUTES.rerunOf]: id })), lambdaContext);
    expect(requests.executions.size).toBe(3);
    const rerun = await store.getRequestStatus(`${id}.rerun-1`);
    expect(rerun?.request.rerunOf).toBe(id);
    const original = await store.getRequestStatus(id);
    expect(original?.audit.filter((e) => e.event === 'request.rerun').map((e) => e.detail?.rerunId)).toEqual([`${id}.rerun-1`]);
    expect((await store.getRequestStatus(`${prefix}forged`))?.request.rerunOf).toBeUndefined();
  });
});
