/**
 * The internet-facing chat function runs with the role the stack gives it: its DynamoDB calls go through the
 * real adapters (lambdas/aws/dynamo.ts) to a table that authorizes each call against the synthesized role
 * policy (action, table, dynamodb:LeadingKeys). Everything the handler does must pass; anything else a
 * compromised function might try (a lock row, trigger memory, a request record) must be refused.
 */
import { createHmac } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createChatOpsHandler } from '../../lambdas/chatops-webhook/handler.js';
import { DynamoBeaconLock, DynamoFleetMemory, DynamoRequestStore, documentClient } from '../../lambdas/aws/dynamo.js';
import { FixedClock, MemoryProfileStore, MemoryRequestQueue, MemorySecretSource } from '../../lambdas/memory/ports.js';
import { requestOrder } from '../../lambdas/core/ports.js';
import type { PolicyStatementJson } from '../../local/iam-policy.js';
import { synthStack } from '../infra/synth.js';
import { type GuardedTable, TABLE_NAME, guardedTable, withTableArn } from '../support/iam-dynamo.js';
import { INSTANCE_A, validRequest } from './fixtures.js';

const CHAT_ROLE = 'arn:aws:iam::123456789012:role/BeaconProxy-ChatOpsHandlerRole';
const SLACK_SECRET = 'slack-signing-secret-for-least-privilege';
const TEAMS_TOKEN = Buffer.from('teams-token-for-least-privilege!').toString('base64');
const NOW = new Date('2026-03-01T12:00:00Z');

let chatStatements: PolicyStatementJson[];
let table: GuardedTable;
let queue: MemoryRequestQueue;
const db = documentClient(new DynamoDBClient({ region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } }));
const clock = new FixedClock(NOW);

beforeAll(() => {
  const { template } = synthStack({ chatAllowedUsers: 'U-OPS,aad-ops', chatAllowedChannels: 'C-OPS,19:ops@thread.tacv2' });
  chatStatements = withTableArn(
    Object.entries(template.toJSON().Resources as Record<string, { Type: string; Properties: any }>)
      .filter(([id, resource]) => resource.Type === 'AWS::IAM::Policy' && id.startsWith('ChatOpsHandler'))
      .flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement as PolicyStatementJson[]),
  );
});

beforeEach(() => {
  table?.restore();
  table = guardedTable(CHAT_ROLE, chatStatements);
  queue = new MemoryRequestQueue();
});

afterAll(() => table?.restore());

const { requestId: _id, target: _target, ...profile } = validRequest();

function handler() {
  return createChatOpsHandler({
    secrets: new MemorySecretSource({ slack: SLACK_SECRET, teams: TEAMS_TOKEN }),
    slackSecretName: 'slack',
    teamsSecretName: 'teams',
    allowlist: { users: ['U-OPS', 'aad-ops'], channels: ['C-OPS', '19:ops@thread.tacv2'] },
    profiles: new MemoryProfileStore({ default: profile }),
    queue,
    store: new DynamoRequestStore(db, TABLE_NAME),
    memory: new DynamoFleetMemory(db, TABLE_NAME, clock),
    clock,
  });
}

function slack(text: string, trigger: string): APIGatewayProxyEventV2 {
  const body = new URLSearchParams({ command: '/beacon', text, user_id: 'U-OPS', channel_id: 'C-OPS', response_url: 'https://hooks.slack.com/commands/T1/1/x', trigger_id: trigger }).toString();
  const timestamp = String(Math.floor(NOW.getTime() / 1000));
  const signature = `v0=${createHmac('sha256', SLACK_SECRET).update(`v0:${timestamp}:${body}`).digest('hex')}`;
  return { rawPath: '/slack', body, isBase64Encoded: false, headers: { 'x-slack-request-timestamp': timestamp, 'x-slack-signature': signature }, requestContext: { http: { method: 'POST' } } } as unknown as APIGatewayProxyEventV2;
}

function teams(text: string, id: string): APIGatewayProxyEventV2 {
  const body = JSON.stringify({ type: 'message', id, text, from: { id: '29:1', aadObjectId: 'aad-ops', name: 'Ops' }, conversation: { id: '19:ops@thread.tacv2;messageid=1' }, channelData: { teamsChannelId: '19:ops@thread.tacv2' } });
  const hmac = createHmac('sha256', Buffer.from(TEAMS_TOKEN, 'base64')).update(body).digest('base64');
  return { rawPath: '/teams', body, isBase64Encoded: false, headers: { authorization: `HMAC ${hmac}` }, requestContext: { http: { method: 'POST' } } } as unknown as APIGatewayProxyEventV2;
}

describe('what the chat function does passes with its own role', () => {
  it('status reads the request record, its beacons and audit trail', async () => {
    table.seed({ pk: 'REQ#chg-42', sk: 'REQUEST', requestId: 'chg-42', state: 'accepted', source: 'api', receivedAt: '2026-03-01T11:00:00Z', instanceIds: [INSTANCE_A] });
    table.seed({ pk: 'REQ#chg-42', sk: `BEACON#${INSTANCE_A}`, requestId: 'chg-42', instanceId: INSTANCE_A, state: 'ok', updatedAt: '2026-03-01T11:05:00Z', pinnedVersion: '13.2.0' });
    const response = await handler()(slack('status chg-42', 'trigger-status'));
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain(INSTANCE_A);
    expect(table.decisions.filter((d) => !d.allowed)).toEqual([]);
    expect(table.decisions).toContainEqual({ action: 'Query', leadingKey: 'REQ#chg-42', allowed: true });
  });

  it('apply remembers the Slack signature (conditional put on its replay mark) and queues the request', async () => {
    const response = await handler()(slack(`apply ${INSTANCE_A} default`, 'trigger-apply'));
    expect(response.statusCode).toBe(200);
    expect(queue.messages).toHaveLength(1);
    expect(table.decisions).toEqual([{ action: 'PutItem', leadingKey: expect.stringMatching(/^MARK#replay#slack#v0=/), allowed: true }]);
  });

  it('a replayed Teams message is refused by the conditional put, still within the role', async () => {
    const chat = handler();
    expect((await chat(teams(`apply ${INSTANCE_A} default`, 'activity-1'))).statusCode).toBe(200);
    const again = await chat(teams(`apply ${INSTANCE_A} default`, 'activity-1'));
    expect(again.body).toContain('REPLAYED');
    expect(queue.messages).toHaveLength(1);
    expect(table.decisions.every((d) => d.allowed && d.leadingKey === 'MARK#replay#teams#activity-1')).toBe(true);
  });
});

describe('what the chat function must never do is refused by its role', () => {
  it('take or release a beacon lock', async () => {
    const lock = new DynamoBeaconLock(db, TABLE_NAME, clock);
    await expect(lock.acquire(INSTANCE_A, 'attacker', 3600, requestOrder('2026-01-01T00:00:00.000Z', 'attacker'))).rejects.toMatchObject({ name: 'AccessDeniedException' });
    await expect(lock.release(INSTANCE_A, 'any')).rejects.toMatchObject({ name: 'AccessDeniedException' });
    expect(table.items.size).toBe(0);
  });

  it('write or overwrite request records, status or audit', async () => {
    const store = new DynamoRequestStore(db, TABLE_NAME);
    await expect(store.recordRequest({ requestId: 'forged', state: 'accepted', source: 'chatops', receivedAt: NOW.toISOString() })).rejects.toMatchObject({ name: 'AccessDeniedException' });
    await expect(store.putBeaconStatus({ requestId: 'chg-42', instanceId: INSTANCE_A, state: 'ok', updatedAt: NOW.toISOString() })).rejects.toMatchObject({ name: 'AccessDeniedException' });
    await expect(store.appendAudit({ requestId: 'chg-42', at: NOW.toISOString(), event: 'beacon.ok' })).rejects.toMatchObject({ name: 'AccessDeniedException' });
  });

  it('read or write the triggers\' memory (seen beacons, the last drift pass)', async () => {
    const memory = new DynamoFleetMemory(db, TABLE_NAME, clock);
    await expect(memory.markOnce(`seen#${INSTANCE_A}`)).rejects.toMatchObject({ name: 'AccessDeniedException' });
    await expect(memory.getValue('drift-pass')).rejects.toMatchObject({ name: 'AccessDeniedException' });
    await expect(memory.putValue('drift-pass', { at: 'x' })).rejects.toMatchObject({ name: 'AccessDeniedException' });
  });

  it('touch another table (the intake\'s idempotency records)', async () => {
    await expect(new DynamoRequestStore(db, 'BeaconProxy-IdempotencyTable').getRequestStatus('chg-42')).rejects.toMatchObject({ name: 'AccessDeniedException' });
  });
});
