import { createHmac } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { beforeEach, describe, expect, it } from 'vitest';
import { createChatOpsHandler, type ChatOpsDeps } from '../../lambdas/chatops-webhook/handler.js';
import { FixedClock, MemoryFleetMemory, MemoryProfileStore, MemoryRequestQueue, MemoryRequestStore, MemorySecretSource } from '../../lambdas/memory/ports.js';
import { INSTANCE_A, validRequest } from './fixtures.js';
import { initialRollout } from '../../lambdas/rollout/steps.js';
import { ROLLOUT_DEFAULTS } from '../../lambdas/core/rollout.js';

const SLACK_SECRET = 'slack-signing-secret-for-tests';
const TEAMS_TOKEN = Buffer.from('teams-security-token-for-tests!!').toString('base64');
const NOW = new Date('2026-03-01T12:00:00Z');
const { requestId: _id, target: _target, ...profile } = validRequest();

let queue: MemoryRequestQueue;
let store: MemoryRequestStore;
let secrets: MemorySecretSource;
let deps: ChatOpsDeps;

beforeEach(() => {
  queue = new MemoryRequestQueue();
  store = new MemoryRequestStore();
  secrets = new MemorySecretSource({ 'chat/slack': SLACK_SECRET, 'chat/teams': TEAMS_TOKEN });
  deps = {
    secrets,
    slackSecretName: 'chat/slack',
    teamsSecretName: 'chat/teams',
    allowlist: { users: ['U123', 'aad-user-1'], channels: ['C456', '19:ops@thread.tacv2'] },
    profiles: new MemoryProfileStore({ default: profile }),
    queue,
    store,
    memory: new MemoryFleetMemory(),
    clock: new FixedClock(NOW),
  };
});

function event(path: string, body: string, headers: Record<string, string>): APIGatewayProxyEventV2 {
  return { rawPath: path, body, isBase64Encoded: false, headers, requestContext: { http: { method: 'POST' } } } as unknown as APIGatewayProxyEventV2;
}

function slackEvent(text: string, options: { user?: string; secret?: string; timestamp?: number; tamper?: boolean; trigger?: string } = {}): APIGatewayProxyEventV2 {
  const body = new URLSearchParams({
    command: '/beacon',
    text,
    user_id: options.user ?? 'U123',
    channel_id: 'C456',
    response_url: 'https://hooks.slack.com/commands/T1/1/abc',
    trigger_id: options.trigger ?? 'trigger-1',
  }).toString();
  const timestamp = String(options.timestamp ?? Math.floor(NOW.getTime() / 1000));
  const signature = `v0=${createHmac('sha256', options.secret ?? SLACK_SECRET).update(`v0:${timestamp}:${body}`).digest('hex')}`;
  return event('/slack', options.tamper ? body.replace('U123', 'U999') : body, { 'X-Slack-Request-Timestamp': timestamp, 'X-Slack-Signature': signature });
}

function teamsEvent(text: string, id = 'activity-1', token = TEAMS_TOKEN): APIGatewayProxyEventV2 {
  const body = JSON.stringify({
    type: 'message',
    id,
    text: `<at>BeaconProxy</at> ${text}`,
    from: { id: '29:1', aadObjectId: 'aad-user-1', name: 'Operator' },
    conversation: { id: '19:ops@thread.tacv2;messageid=1' },
    channelData: { teamsChannelId: '19:ops@thread.tacv2' },
  });
  const hmac = createHmac('sha256', Buffer.from(token, 'base64')).update(body).digest('base64');
  return event('/teams', body, { Authorization: `HMAC ${hmac}` });
}

describe('Slack slash command', () => {
  it('a bad signature is 401 and nothing is queued', async () => {
    const response = await createChatOpsHandler(deps)(slackEvent(`apply ${INSTANCE_A} default`, { secret: 'wrong-secret' }));
    expect(response.statusCode).toBe(401);
    expect(queue.messages).toEqual([]);
  });

  it('a body changed after signing is 401', async () => {
    expect((await createChatOpsHandler(deps)(slackEvent(`apply ${INSTANCE_A} default`, { tamper: true }))).statusCode).toBe(401);
    expect(queue.messages).toEqual([]);
  });

  it('a request older than five minutes is 401 (replay window)', async () => {
    const old = Math.floor(NOW.getTime() / 1000) - 301;
    expect((await createChatOpsHandler(deps)(slackEvent(`apply ${INSTANCE_A} default`, { timestamp: old }))).statusCode).toBe(401);
    expect(queue.messages).toEqual([]);
  });

  it('apply with a profile enqueues the profile\'s request for the target, answering later on response_url', async () => {
    const response = await createChatOpsHandler(deps)(slackEvent(`apply ${INSTANCE_A} default`));
    expect(response.statusCode).toBe(200);
    const message = JSON.parse(response.body as string);
    expect(message).toMatchObject({ response_type: 'ephemeral', text: 'Request accepted' });
    expect(queue.messages).toHaveLength(1);
    expect(queue.messages[0]).toMatchObject({ source: 'chatops', replyTo: { kind: 'slack', responseUrl: 'https://hooks.slack.com/commands/T1/1/abc' } });
    const queued = JSON.parse(queue.messages[0]!.body);
    expect(queued).toMatchObject({ proxy: profile.proxy, target: { instanceIds: [INSTANCE_A] }, requestId: expect.stringMatching(/^slack-/) });
  });

  it('a caller outside the allowlist is refused and nothing is queued', async () => {
    const response = await createChatOpsHandler(deps)(slackEvent(`apply ${INSTANCE_A} default`, { user: 'U999' }));
    expect(JSON.parse(response.body as string).text).toContain('NOT_ALLOWED');
    expect(queue.messages).toEqual([]);
  });

  it('plan shows the desired state and queues nothing', async () => {
    const response = await createChatOpsHandler(deps)(slackEvent(`plan ${INSTANCE_A} default`));
    const message = JSON.parse(response.body as string);
    expect(message.blocks[0].text.text).toContain('Nothing was changed');
    expect(queue.messages).toEqual([]);
  });

  it('an unknown profile is refused with the profile code', async () => {
    const response = await createChatOpsHandler(deps)(slackEvent(`apply ${INSTANCE_A} nosuch`));
    expect(JSON.parse(response.body as string).text).toContain('INVALID_PROFILE');
    expect(queue.messages).toEqual([]);
  });

  it('status reports each beacon of a recorded request', async () => {
    await store.recordRequest({ requestId: 'r1', state: 'accepted', source: 'chatops', receivedAt: '2026-03-01T11:00:00Z' });
    await store.putBeaconStatus({ requestId: 'r1', instanceId: INSTANCE_A, state: 'ok', updatedAt: '2026-03-01T11:05:00Z', pinnedVersion: '13.2.0' });
    const response = await createChatOpsHandler(deps)(slackEvent('status r1'));
    expect(JSON.parse(response.body as string).blocks[0].text.text).toContain(`${INSTANCE_A}: ok, FNMS pinned 13.2.0`);
  });

  it('status of a rollout waiting for a go says so and names the chat commands that answer it', async () => {
    await store.recordRequest({ requestId: 'r2', state: 'accepted', source: 'chatops', receivedAt: '2026-03-01T11:00:00Z' });
    const rollout = initialRollout({ requestId: 'r2', request: {}, source: 'chatops', dryRun: false, replyTo: null, receivedAt: '2026-03-01T11:00:00.000Z', generation: 0, execution: { name: 'r2' } }, ROLLOUT_DEFAULTS.tag, '2026-03-01T11:00:00.000Z');
    store.rollouts.set('r2', { ...rollout, phase: 'awaiting-go', started: 1, finished: 1, expansion: { ...rollout.expansion, total: 40, done: true }, counts: { ok: 1 } });
    await store.putBeaconStatus({ requestId: 'r2', instanceId: INSTANCE_A, state: 'ok', updatedAt: '2026-03-01T11:05:00Z' });
    const text: string = JSON.parse((await createChatOpsHandler(deps)(slackEvent('status r2'))).body as string).blocks[0].text.text;
    expect(text).toContain('Status: awaiting-go');
    expect(text).toContain('1 of 40 started, 1 finished, 0 failed');
    expect(text).toContain('waiting for a go: go r2 (or cancel r2)');
    expect(text).not.toContain('beacon-proxy go');
  });

  it('status of a large request gives counts by state and lists only the beacons that are not ok', async () => {
    await store.recordRequest({ requestId: 'r3', state: 'accepted', source: 'chatops', receivedAt: '2026-03-01T11:00:00Z' });
    const ids = Array.from({ length: 30 }, (_, i) => `i-0a${i.toString(16).padStart(15, '0')}`);
    for (const [i, instanceId] of ids.entries()) {
      await store.putBeaconStatus({ requestId: 'r3', instanceId, state: i === 7 ? 'rolled-back' : 'ok', updatedAt: '2026-03-01T11:05:00Z', ...(i === 7 ? { reasons: ['verify found ProxyServer unchanged'] } : {}) });
    }
    const text: string = JSON.parse((await createChatOpsHandler(deps)(slackEvent('status r3'))).body as string).blocks[0].text.text;
    expect(text).toContain('Beacons: 29 ok, 1 rolled back.');
    expect(text).toContain(`${ids[7]}: rolled-back - verify found ProxyServer unchanged`);
    expect(text).not.toContain(`${ids[0]}:`);
  });

  it('the same signed request replayed within the window is not queued twice', async () => {
    const handler = createChatOpsHandler(deps);
    const signed = slackEvent(`apply ${INSTANCE_A} default`);
    await handler(signed);
    const again = await handler(signed);
    expect(JSON.parse(again.body as string).text).toContain('REPLAYED');
    expect(queue.messages).toHaveLength(1);
  });
});

describe('Teams outgoing webhook', () => {
  it('a bad HMAC is 401 and nothing is queued', async () => {
    const response = await createChatOpsHandler(deps)(teamsEvent(`apply ${INSTANCE_A} default`, 'a1', Buffer.from('another-token-of-32-bytes-length').toString('base64')));
    expect(response.statusCode).toBe(401);
    expect(queue.messages).toEqual([]);
  });

  it('a signed, allowlisted apply is queued once; the same activity id again is refused as a replay', async () => {
    const handler = createChatOpsHandler(deps);
    const first = await handler(teamsEvent(`apply ${INSTANCE_A} default`, 'a1'));
    expect(first.statusCode).toBe(200);
    expect(JSON.parse(first.body as string)).toMatchObject({ type: 'message', text: expect.stringContaining('Request accepted') });
    const replay = await handler(teamsEvent(`apply ${INSTANCE_A} default`, 'a1'));
    expect(JSON.parse(replay.body as string).text).toContain('REPLAYED');
    expect(queue.messages).toHaveLength(1);
    expect(queue.messages[0]).toMatchObject({ source: 'chatops' });
    expect(queue.messages[0]!.replyTo).toBeUndefined();
  });
});

it('only the two webhook paths exist', async () => {
  expect((await createChatOpsHandler(deps)(event('/other', '', {}))).statusCode).toBe(404);
});
