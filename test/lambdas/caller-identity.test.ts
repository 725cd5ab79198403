/**
 * Caller identity (issue 12.2): every trigger names who asked from what its platform vouches for, and the
 * intake keeps it on the request record, its audit events, the workflow input and the notifications. A
 * message attribute set by a sender outside the stack never names the caller.
 */
import { createHmac } from 'node:crypto';
import type { APIGatewayProxyEvent, APIGatewayProxyEventV2 } from 'aws-lambda';
import { beforeEach, describe, expect, it } from 'vitest';
import { outcomeText } from '../../lambdas/aws/notifier.js';
import { createChatOpsHandler } from '../../lambdas/chatops-webhook/handler.js';
import { type Caller, callerFromApiContext, callerFromQueue, describeCaller } from '../../lambdas/core/caller.js';
import { createIntakeHandler, type IntakeDeps } from '../../lambdas/intake/handler.js';
import { MESSAGE_ATTRIBUTES } from '../../lambdas/intake/message-attributes.js';
import { FixedClock, MemoryBeaconCommands, MemoryFleetMemory, MemoryNotifier, MemoryProfileStore, MemoryRequestQueue, MemoryRequestStore, MemorySecretSource, MemoryWorkflowStarter, MemoryRequestWorkflowStarter, MemoryRolloutStore, MemoryPinLedger, MemoryTaskTokens } from '../../lambdas/memory/ports.js';
import { createNotifyRequesterHandler } from '../../lambdas/notify-requester/handler.js';
import { createRecordOutcomeHandler } from '../../lambdas/record-outcome/handler.js';
import { createRequestsApiHandler } from '../../lambdas/requests-api/handler.js';
import type { WorkflowState } from '../../lambdas/workflow/state.js';
import { BEACON_TAG, INSTANCE_A, lambdaContext, sqsEvent, sqsRecord, validRequest } from './fixtures.js';

const API_ROLE_ID = 'AROAAPIFUNCTIONROLE01';
const OPERATOR_ARN = 'arn:aws:sts::123456789012:assumed-role/beacon-operator/alice';
const ADMIN: Caller = { kind: 'iam', arn: 'arn:aws:iam::123456789012:role/Admin' };

let store: MemoryRequestStore;
let workflows: MemoryWorkflowStarter;
let requests: MemoryRequestWorkflowStarter;
let notifier: MemoryNotifier;
let deps: IntakeDeps;

beforeEach(() => {
  store = new MemoryRequestStore();
  workflows = new MemoryWorkflowStarter();
  notifier = new MemoryNotifier();
  requests = new MemoryRequestWorkflowStarter();
  deps = { store, requests, operator: { rollouts: new MemoryRolloutStore(store), ledger: new MemoryPinLedger(), tokens: new MemoryTaskTokens() }, workflows, notifier, clock: new FixedClock(), trustedSenderRoleIds: [API_ROLE_ID] };
});

function message(body: unknown, messageId: string, senderId: string, attributes: Record<string, string> = {}) {
  const record = sqsRecord(JSON.stringify(body), messageId, attributes);
  record.attributes.SenderId = senderId;
  return record;
}

describe('queue: the SQS SenderId system attribute names the caller', () => {
  it('a message sent straight to the queue is attributed to its SenderId on the record, the audit event and the workflow input', async () => {
    await createIntakeHandler(deps)(sqsEvent(message(validRequest(), 'm1', 'AIDAOPERATORUSER0001')), lambdaContext);
    const caller = { kind: 'sqs', senderId: 'AIDAOPERATORUSER0001' };
    expect(store.requests.get('req-test-1')?.caller).toEqual(caller);
    expect([...store.audit.values()].find((e) => e.event === 'request.accepted')?.caller).toEqual(caller);
    // The request workflow carries it, so the request's messages and summary name it.
    expect([...requests.executions.values()][0]?.caller).toEqual(caller);
  });

  it('a forged caller message attribute (and a forged source) cannot set the caller: the SenderId does', async () => {
    const forged = { [MESSAGE_ATTRIBUTES.caller]: JSON.stringify(ADMIN), [MESSAGE_ATTRIBUTES.source]: 'drift' };
    await createIntakeHandler(deps)(sqsEvent(message(validRequest(), 'm1', 'AROAOTHERROLE0000001:someone', forged)), lambdaContext);
    expect(store.requests.get('req-test-1')?.caller).toEqual({ kind: 'sqs', senderId: 'AROAOTHERROLE0000001:someone' });
  });

  it('a forged caller on a refused (invalid) request is ignored too, and the refusal names the real sender', async () => {
    const bad = validRequest({ requestId: 'req-bad', proxy: 'http://user:pw@proxy.corp.example:8080' });
    await createIntakeHandler(deps)(sqsEvent(message(bad, 'm1', 'AIDAOPERATORUSER0001', { [MESSAGE_ATTRIBUTES.caller]: JSON.stringify(ADMIN) })), lambdaContext);
    expect(store.requests.get('req-bad')).toMatchObject({ state: 'invalid', caller: { kind: 'sqs', senderId: 'AIDAOPERATORUSER0001' } });
    expect(notifier.sent[0]?.outcome.caller).toEqual({ kind: 'sqs', senderId: 'AIDAOPERATORUSER0001' });
  });

  it('the stack\'s own producer (its role id in SenderId) passes the caller it authenticated', async () => {
    const alice = { kind: 'iam', arn: OPERATOR_ARN };
    await createIntakeHandler(deps)(
      sqsEvent(message(validRequest({ target: { tag: BEACON_TAG } }), 'm1', `${API_ROLE_ID}:beacon-proxy-api`, { [MESSAGE_ATTRIBUTES.caller]: JSON.stringify(alice), [MESSAGE_ATTRIBUTES.source]: 'api' })),
      lambdaContext,
    );
    expect(store.requests.get('req-test-1')?.caller).toEqual(alice);
    // The tag is expanded by the request workflow, which carries who asked (its notifications name it).
    expect([...requests.executions.values()][0]).toMatchObject({ requestId: 'req-test-1', caller: alice });
  });

  it('a producer\'s caller attribute that is not a valid caller falls back to the SenderId', async () => {
    const junk = { [MESSAGE_ATTRIBUTES.caller]: JSON.stringify({ kind: 'iam', arn: 'not an arn' }) };
    await createIntakeHandler(deps)(sqsEvent(message(validRequest(), 'm1', `${API_ROLE_ID}:beacon-proxy-api`, junk)), lambdaContext);
    expect(store.requests.get('req-test-1')?.caller).toEqual({ kind: 'sqs', senderId: `${API_ROLE_ID}:beacon-proxy-api` });
  });
});

function apiEvent(httpMethod: string, resource: string, body: unknown, identity: { userArn: string | null } | undefined, pathParameters: Record<string, string> | null = null): APIGatewayProxyEvent {
  return {
    httpMethod,
    resource,
    path: resource,
    body: body === undefined ? null : JSON.stringify(body),
    isBase64Encoded: false,
    pathParameters,
    headers: {},
    requestContext: { domainName: 'abc123.execute-api.eu-west-1.amazonaws.com', stage: 'v1', ...(identity ? { identity } : {}) },
  } as unknown as APIGatewayProxyEvent;
}

describe('API: the caller\'s IAM ARN from the request context', () => {
  it('POST /requests and a re-run carry the signer\'s ARN to the intake; GET shows the recorded caller', async () => {
    const queue = new MemoryRequestQueue();
    const api = createRequestsApiHandler({ queue, store });
    expect((await api(apiEvent('POST', '/requests', validRequest(), { userArn: OPERATOR_ARN }))).statusCode).toBe(202);
    expect(queue.messages[0]?.caller).toEqual({ kind: 'iam', arn: OPERATOR_ARN });
    await store.recordRequest({ requestId: 'chg-1', state: 'accepted', source: 'api', receivedAt: '2026-01-01T00:00:00Z', request: validRequest({ requestId: 'chg-1' }), caller: { kind: 'iam', arn: OPERATOR_ARN } });
    expect((await api(apiEvent('POST', '/requests/{id}/rerun', undefined, { userArn: 'arn:aws:iam::123456789012:role/beacon-oncall' }, { id: 'chg-1' }))).statusCode).toBe(202);
    expect(queue.messages[1]).toMatchObject({ rerunOf: 'chg-1', caller: { kind: 'iam', arn: 'arn:aws:iam::123456789012:role/beacon-oncall' } });
    const shown = JSON.parse((await api(apiEvent('GET', '/requests/{id}', undefined, { userArn: OPERATOR_ARN }, { id: 'chg-1' }))).body);
    expect(shown.caller).toEqual({ kind: 'iam', arn: OPERATOR_ARN });
  });

  it('a body cannot name the caller (unknown field), and an event without IAM identity is recorded as unauthenticated', async () => {
    const queue = new MemoryRequestQueue();
    const api = createRequestsApiHandler({ queue, store });
    const forged = await api(apiEvent('POST', '/requests', { ...validRequest(), caller: ADMIN }, { userArn: OPERATOR_ARN }));
    expect(forged.statusCode).toBe(400);
    await api(apiEvent('POST', '/requests', validRequest(), undefined));
    expect(queue.messages[0]?.caller).toEqual({ kind: 'unauthenticated', via: 'api without IAM identity' });
    expect(callerFromApiContext({ userArn: OPERATOR_ARN })).toEqual({ kind: 'iam', arn: OPERATOR_ARN });
  });
});

const SLACK_SECRET = 'slack-signing-secret-for-tests';
const TEAMS_TOKEN = Buffer.from('teams-security-token-for-tests!!').toString('base64');
const NOW = new Date('2026-03-01T12:00:00Z');

function chatDeps(queue: MemoryRequestQueue) {
  const { requestId: _id, target: _target, ...profile } = validRequest();
  return {
    secrets: new MemorySecretSource({ 'chat/slack': SLACK_SECRET, 'chat/teams': TEAMS_TOKEN }),
    slackSecretName: 'chat/slack',
    teamsSecretName: 'chat/teams',
    allowlist: { users: ['U123', 'aad-user-1'], channels: ['C456', '19:ops@thread.tacv2'] },
    profiles: new MemoryProfileStore({ default: profile }),
    queue,
    store,
    memory: new MemoryFleetMemory(),
    clock: new FixedClock(NOW),
  };
}

describe('chat: Slack team, user id and name; Teams AAD object id and name', () => {
  it('a signed Slack apply queues the request with team, user id and user name as the caller', async () => {
    const queue = new MemoryRequestQueue();
    const body = new URLSearchParams({
      command: '/beacon',
      text: `apply ${INSTANCE_A} default`,
      team_id: 'T0001',
      user_id: 'U123',
      user_name: 'alice',
      channel_id: 'C456',
      response_url: 'https://hooks.slack.com/commands/T1/1/abc',
      trigger_id: 'trigger-1',
    }).toString();
    const timestamp = String(Math.floor(NOW.getTime() / 1000));
    const signature = `v0=${createHmac('sha256', SLACK_SECRET).update(`v0:${timestamp}:${body}`).digest('hex')}`;
    const event = { rawPath: '/slack', body, isBase64Encoded: false, headers: { 'x-slack-request-timestamp': timestamp, 'x-slack-signature': signature }, requestContext: { http: { method: 'POST' } } };
    await createChatOpsHandler(chatDeps(queue))(event as unknown as APIGatewayProxyEventV2);
    expect(queue.messages[0]?.caller).toEqual({ kind: 'slack', teamId: 'T0001', userId: 'U123', userName: 'alice' });
  });

  it('a signed Teams apply queues the request with the AAD object id and name as the caller', async () => {
    const queue = new MemoryRequestQueue();
    const body = JSON.stringify({
      type: 'message',
      id: 'activity-1',
      text: `<at>BeaconProxy</at> apply ${INSTANCE_A} default`,
      from: { id: '29:1', aadObjectId: 'aad-user-1', name: 'Alice Operator' },
      conversation: { id: '19:ops@thread.tacv2;messageid=1' },
      channelData: { teamsChannelId: '19:ops@thread.tacv2' },
    });
    const authorization = `HMAC ${createHmac('sha256', Buffer.from(TEAMS_TOKEN, 'base64')).update(body).digest('base64')}`;
    const event = { rawPath: '/teams', body, isBase64Encoded: false, headers: { authorization }, requestContext: { http: { method: 'POST' } } };
    await createChatOpsHandler(chatDeps(queue))(event as unknown as APIGatewayProxyEventV2);
    expect(queue.messages[0]?.caller).toEqual({ kind: 'teams', aadObjectId: 'aad-user-1', userId: 'aad-user-1', name: 'Alice Operator' });
  });
});

describe('notifications say who asked', () => {
  it('NotifyRequester passes the workflow input\'s caller; the text names it', async () => {
    const state = { requestId: 'chg-1', instanceId: INSTANCE_A, caller: { kind: 'slack', teamId: 'T0001', userId: 'U123', userName: 'alice' }, recorded: { state: 'ok', summary: 'configured', reasons: [] } };
    await createNotifyRequesterHandler({ notifier, memory: new MemoryFleetMemory() })(state as unknown as WorkflowState);
    const outcome = notifier.sent[0]!.outcome;
    expect(outcome.caller).toEqual(state.caller);
    expect(outcomeText(outcome)).toContain('requested by Slack T0001/U123 (alice)');
  });

  it('each beacon\'s final audit event (RecordOutcome) names the caller of the workflow input', async () => {
    const caller = { kind: 'iam', arn: OPERATOR_ARN };
    const state = { requestId: 'chg-1', instanceId: INSTANCE_A, request: validRequest({ requestId: 'chg-1' }), source: 'api', dryRun: false, replyTo: null, receivedAt: '2026-01-01T00:00:00Z', caller, target: { instanceId: INSTANCE_A, eligible: false, computerName: null, reason: 'offline' }, outcome: { state: 'skipped' } };
    await createRecordOutcomeHandler({ store, rollouts: new MemoryRolloutStore(store), ledger: new MemoryPinLedger(), clock: new FixedClock() })(state as unknown as WorkflowState);
    expect([...store.audit.values()].find((e) => e.event === 'beacon.skipped')?.caller).toEqual(caller);
  });

  it('every kind of caller reads as one line', () => {
    expect(describeCaller({ kind: 'iam', arn: OPERATOR_ARN })).toBe(OPERATOR_ARN);
    expect(describeCaller({ kind: 'teams', aadObjectId: 'aad-1', userId: 'aad-1', name: 'Alice' })).toBe('Teams aad-1 (Alice)');
    expect(describeCaller({ kind: 'sqs', senderId: 'AIDA1' })).toBe('SQS sender AIDA1');
    expect(describeCaller({ kind: 'system', trigger: 'drift' })).toBe('beacon-proxy (drift trigger)');
    expect(describeCaller(undefined)).toBe('unknown caller');
  });

  it('callerFromQueue believes the attribute only from a trusted role id, compared on the part before the session', () => {
    const alice = JSON.stringify({ kind: 'iam', arn: OPERATOR_ARN });
    expect(callerFromQueue(`${API_ROLE_ID}:fn`, alice, [API_ROLE_ID])).toEqual({ kind: 'iam', arn: OPERATOR_ARN });
    expect(callerFromQueue(`${API_ROLE_ID}X:fn`, alice, [API_ROLE_ID])).toEqual({ kind: 'sqs', senderId: `${API_ROLE_ID}X:fn` });
    expect(callerFromQueue(API_ROLE_ID, '{not json', [API_ROLE_ID])).toEqual({ kind: 'sqs', senderId: API_ROLE_ID });
    expect(callerFromQueue(undefined, alice, [])).toEqual({ kind: 'sqs', senderId: 'unknown' });
  });
});
