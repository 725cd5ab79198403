import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshBeacon } from '../../local/beacon-model.js';
import { BUILTIN_BEACON_VERSION } from '../../local/builtin-fleet.js';
import { type LocalServer, startLocalServer } from '../../local/server.js';
import { type Harness, requestFor, startTwin } from './twin-harness.js';

const API_BEACON = 'i-0e2e00000000000b1';
const CHAT_BEACON = 'i-0e2e00000000000b2';
const RESPONSE_URL = 'https://hooks.slack.com/commands/T0001/1234/abcdef';

let harness: Harness;
let server: LocalServer;

beforeAll(async () => {
  harness = await startTwin([
    { instanceId: API_BEACON, computerName: 'E2E-API', model: freshBeacon({ computerName: 'E2E-API', beaconVersion: BUILTIN_BEACON_VERSION }) },
    { instanceId: CHAT_BEACON, computerName: 'E2E-CHAT', model: freshBeacon({ computerName: 'E2E-CHAT', beaconVersion: BUILTIN_BEACON_VERSION }) },
  ]);
  server = await startLocalServer(harness.twin, { allowlist: { users: ['U-OPS'], channels: ['C-BEACONS'] } });
}, 60_000);

afterAll(async () => {
  await server?.close();
  await harness?.twin.stop();
});

function slackRequest(text: string, options: { secret?: string; timestamp?: number; user?: string } = {}): RequestInit {
  const body = new URLSearchParams({
    command: '/beacon-proxy',
    text,
    user_id: options.user ?? 'U-OPS',
    channel_id: 'C-BEACONS',
    response_url: RESPONSE_URL,
    trigger_id: `trigger-${text.length}-${options.timestamp ?? 0}-${Math.random()}`,
  }).toString();
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  const signature = `v0=${createHmac('sha256', options.secret ?? server.slackSigningSecret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
  return {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': timestamp, 'x-slack-signature': signature },
    body,
  };
}

/** Everything a Slack user would read in the answer: the title and the blocks. */
async function slackText(response: Response): Promise<string> {
  const message = (await response.json()) as { text: string; blocks?: Array<{ text?: { text?: string } }> };
  return [message.text, ...(message.blocks ?? []).map((block) => block.text?.text ?? '')].join('\n');
}

describe('the HTTPS API, served locally in front of the same handler', () => {
  it('POST /requests answers 202 with the status URL; GET on it shows each beacon with its checks', async () => {
    const response = await fetch(`${server.url}/requests`, { method: 'POST', body: JSON.stringify(requestFor([API_BEACON], { requestId: 'e2e-api' })) });
    expect(response.status).toBe(202);
    const accepted = (await response.json()) as { requestId: string; statusUrl: string };
    expect(accepted).toEqual({ requestId: 'e2e-api', statusUrl: `${server.url}/requests/e2e-api` });
    await harness.twin.drain();
    const status = (await (await fetch(accepted.statusUrl)).json()) as { state: string; beacons: Array<{ state: string; checks: unknown[] }> };
    expect(status.state).toBe('completed');
    expect(status.beacons).toHaveLength(1);
    expect(status.beacons[0]!.state).toBe('ok');
    expect(status.beacons[0]!.checks.length).toBeGreaterThan(10);
  });

  it('POST /plans returns the desired state and changes nothing', async () => {
    const sentBefore = harness.twin.ssm.sent.length;
    const response = await fetch(`${server.url}/plans`, { method: 'POST', body: JSON.stringify(requestFor([API_BEACON], { requestId: 'e2e-plan' })) });
    expect(response.status).toBe(200);
    const plan = (await response.json()) as { desiredState: { registry: unknown[] } };
    // Six proxy values; the CRL switch is only in a desired state when the request sets it.
    expect(plan.desiredState.registry).toHaveLength(6);
    expect(harness.twin.queue).toHaveLength(0);
    expect(harness.twin.ssm.sent).toHaveLength(sentBefore);
  });

  it('an invalid request is 400 with its code and field, and nothing is queued', async () => {
    const response = await fetch(`${server.url}/requests`, { method: 'POST', body: JSON.stringify(requestFor([API_BEACON], { proxy: 'http://wpad/wpad.dat' })) });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: { code: 'PAC_UNSUPPORTED', message: expect.any(String), field: 'proxy' } });
    expect(harness.twin.queue).toHaveLength(0);
  });

  it('an unknown request id is 404 with advice', async () => {
    const response = await fetch(`${server.url}/requests/nope`);
    expect(response.status).toBe(404);
  });
});

describe('ChatOps: a Slack slash command against the twin', () => {
  it('a signed "apply" is acknowledged at once, runs the profile on the beacon, and the outcome answers the Slack thread', async () => {
    const response = await fetch(`${server.url}/slack`, slackRequest(`apply ${CHAT_BEACON} corp-https`));
    expect(response.status).toBe(200);
    const requestId = /(slack-[0-9a-f]+)/.exec(await slackText(response))?.[1];
    expect(requestId).toBeDefined();
    await harness.twin.drain();
    const status = await harness.twin.store.getRequestStatus(requestId!);
    expect(status!.request.source).toBe('chatops');
    expect(status!.beacons).toEqual([expect.objectContaining({ instanceId: CHAT_BEACON, state: 'ok' })]);
    // The thread gets the request's progress reply and its one summary (Slack's response_url takes 5 posts).
    const answers = harness.twin.notifier.sent.filter((n) => n.outcome.requestId === requestId && n.replyTo);
    expect(answers.map((n) => n.replyTo)).toEqual([expect.objectContaining({ kind: 'slack', responseUrl: RESPONSE_URL }), expect.objectContaining({ kind: 'slack', responseUrl: RESPONSE_URL })]);
    expect(answers.map((n) => [n.outcome.event, n.outcome.state])).toEqual([
      ['started', 'running'],
      ['summary', 'completed'],
    ]);

    const statusReply = await fetch(`${server.url}/slack`, slackRequest(`status ${requestId}`));
    expect(await slackText(statusReply)).toContain(CHAT_BEACON);
  });

  it('a bad signature is 401 and nothing is queued', async () => {
    const requestsBefore = (await harness.twin.dump()).requests.length;
    const response = await fetch(`${server.url}/slack`, slackRequest(`apply ${CHAT_BEACON} corp-https`, { secret: 'not-the-secret' }));
    expect(response.status).toBe(401);
    expect(harness.twin.queue).toHaveLength(0);
    expect((await harness.twin.dump()).requests.length).toBe(requestsBefore);
  });

  it('a replay older than five minutes is 401 even with a valid signature', async () => {
    const response = await fetch(`${server.url}/slack`, slackRequest('help', { timestamp: Math.floor(Date.now() / 1000) - 301 }));
    expect(response.status).toBe(401);
  });

  it('a user outside the allowlist is told so and nothing is queued', async () => {
    const response = await fetch(`${server.url}/slack`, slackRequest(`apply ${CHAT_BEACON} corp-https`, { user: 'U-STRANGER' }));
    expect(response.status).toBe(200);
    expect(await slackText(response)).toMatch(/allowlist/);
    expect(harness.twin.queue).toHaveLength(0);
  });

  it('nobody types proxy URLs into chat: an unknown profile is refused with advice', async () => {
    const response = await fetch(`${server.url}/slack`, slackRequest(`apply ${CHAT_BEACON} http://proxy:8080`));
    expect(await slackText(response)).toMatch(/profile/i);
    expect(harness.twin.queue).toHaveLength(0);
  });
});
