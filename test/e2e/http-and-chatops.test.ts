import { createHmac } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeCaller } from '../../lambdas/core/caller.js';
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

  it.each(['/requests/..', '/requests/.', '/requests/..%2F..%2Fetc%2Fpasswd', '/requests/%', '/requests/%E0%A4%A', '/requests/a%00b', '/requests/../rerun'])(
    'GET %s (as sent, not normalised) is 400 INVALID_REQUEST at id',
    async (path) => {
      const method = path.endsWith('/rerun') ? 'POST' : 'GET';
      const answer = await rawCall(method, path);
      expect(answer.status).toBe(400);
      expect(JSON.parse(answer.body)).toMatchObject({ error: { code: 'INVALID_REQUEST', field: 'id' } });
    },
  );

  it('caller identity on the twin: the API without the SigV4 front is unauthenticated; a queue sender forging the caller attribute is named by its SenderId', async () => {
    const nobody = { target: { tag: { key: 'beacon-proxy:role', value: 'nobody-carries-this' } } };
    await fetch(`${server.url}/requests`, { method: 'POST', body: JSON.stringify(requestFor([API_BEACON], { requestId: 'e2e-caller-api', ...nobody })) });
    harness.twin.submit(requestFor([API_BEACON], { requestId: 'e2e-caller-forged', ...nobody }), {
      senderId: 'AIDAMALLORY000000001',
      callerAttribute: JSON.stringify({ kind: 'iam', arn: 'arn:aws:iam::123456789012:role/Admin' }),
    });
    await harness.twin.drain();
    expect((await harness.twin.store.getRequestStatus('e2e-caller-api'))?.request.caller).toEqual({ kind: 'unauthenticated', via: 'api without IAM identity' });
    const forged = await harness.twin.store.getRequestStatus('e2e-caller-forged');
    expect(forged?.request).toMatchObject({ state: 'accepted', caller: { kind: 'sqs', senderId: 'AIDAMALLORY000000001' } });
    // The request workflow expanded the tag to nothing: it ended no-targets, and its summary names the caller.
    expect(forged?.rollout?.outcome?.state).toBe('no-targets');
    expect(forged?.audit.find((e) => e.event === 'request.accepted')?.caller).toEqual({ kind: 'sqs', senderId: 'AIDAMALLORY000000001' });
    expect(notifiedCaller('e2e-caller-forged')).toEqual({ kind: 'sqs', senderId: 'AIDAMALLORY000000001' });
  });

  it('a resend is 200 with the same id; other content under the id is 409 REQUEST_CONFLICT; a re-run configures the beacon again, linked both ways', async () => {
    const original = requestFor([API_BEACON], { requestId: 'e2e-identity' });
    expect((await fetch(`${server.url}/requests`, { method: 'POST', body: JSON.stringify(original) })).status).toBe(202);
    await harness.twin.drain();
    const resend = await fetch(`${server.url}/requests`, { method: 'POST', body: JSON.stringify(original) });
    expect(resend.status).toBe(200);
    expect(await resend.json()).toMatchObject({ requestId: 'e2e-identity', resend: true, statusUrl: `${server.url}/requests/e2e-identity` });
    const conflict = await fetch(`${server.url}/requests`, { method: 'POST', body: JSON.stringify({ ...original, protocol: 'http' }) });
    expect(conflict.status).toBe(409);
    expect(await conflict.json()).toMatchObject({ error: { code: 'REQUEST_CONFLICT', field: 'requestId' } });
    expect(harness.twin.queue).toHaveLength(0);

    const configuresBefore = harness.twin.ssm.sent.filter((s) => s.kind === 'configure').length;
    const rerun = await fetch(`${server.url}/requests/e2e-identity/rerun`, { method: 'POST' });
    expect(rerun.status).toBe(202);
    const { requestId, statusUrl } = (await rerun.json()) as { requestId: string; statusUrl: string };
    await harness.twin.drain();
    const again = (await (await fetch(statusUrl)).json()) as { rerunOf: string; beacons: Array<{ state: string }> };
    expect(again).toMatchObject({ rerunOf: 'e2e-identity', beacons: [{ state: 'ok' }] });
    expect(harness.twin.ssm.sent.filter((s) => s.kind === 'configure').length).toBe(configuresBefore + 1);
    const old = (await (await fetch(`${server.url}/requests/e2e-identity`)).json()) as { reruns: string[] };
    expect(old.reruns).toEqual([requestId]);
  });
});

/** The caller the notification of a request carried. */
function notifiedCaller(requestId: string): unknown {
  return harness.twin.notifier.sent.find((n) => n.outcome.requestId === requestId)?.outcome.caller;
}

/** An HTTP call with the path exactly as given (fetch would normalise dot segments and escapes). */
function rawCall(method: string, path: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, method, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('ChatOps: a Slack slash command against the twin', () => {
  it('a signed "apply" is acknowledged at once, runs the profile on the beacon, and the outcome answers the Slack thread', async () => {
    const response = await fetch(`${server.url}/slack`, slackRequest(`apply ${CHAT_BEACON} corp-https`));
    expect(response.status).toBe(200);
    const requestId = /(slack-[0-9a-f]+)/.exec(await slackText(response))?.[1];
    expect(requestId).toBeDefined();
    await harness.twin.drain();
    const status = await harness.twin.store.getRequestStatus(requestId!);
    expect(status!.request.source).toBe('chatops');
    // Caller identity: the Slack user of the signed command (the local server's chat producer is a trusted sender).
    expect(status!.request.caller).toEqual({ kind: 'slack', teamId: null, userId: 'U-OPS', userName: null });
    expect(notifiedCaller(requestId!)).toEqual(status!.request.caller);
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

describe('per-beacon day-2 commands over HTTP and from chat', () => {
  it('GET /beacons/{instanceId} over HTTP lists the beacon\'s runs; a chat "rollback" restores its last capture through the intake and answers the thread; a second one is refused with ALREADY_ROLLED_BACK', async () => {
    const history = await fetch(`${server.url}/beacons/${API_BEACON}?limit=5`);
    expect(history.status).toBe(200);
    const page = (await history.json()) as { entries: Array<{ requestId: string; kind: string; state: string }> };
    expect(page.entries.map((e) => [e.requestId, e.kind, e.state])).toContainEqual(['e2e-api', 'configure', 'ok']);
    expect((await fetch(`${server.url}/beacons/not-an-id`)).status).toBe(400);
    // What a rollback restores: the capture of the run that changed the beacon (later runs that found it already right are passed over).
    const newest = 'e2e-api';

    const response = await fetch(`${server.url}/slack`, slackRequest(`rollback ${API_BEACON}`));
    const requestId = /(slack-[0-9a-f]+)/.exec(await slackText(response))?.[1];
    expect(requestId).toBeDefined();
    await harness.twin.drain();
    const status = (await harness.twin.store.getRequestStatus(requestId!))!;
    // Who asked: the Slack user the chat function verified (vouched for to the intake by its role), never the message body.
    expect(status.request).toMatchObject({ source: 'chatops', requestedBy: describeCaller({ kind: 'slack', teamId: null, userId: 'U-OPS', userName: null }), action: { kind: 'rollback', captureId: newest }, linkedTo: { kind: 'rollback', requestId: newest } });
    expect(status.beacons).toEqual([expect.objectContaining({ instanceId: API_BEACON, state: 'rolled-back' })]);
    const answer = harness.twin.notifier.sent.find((n) => n.outcome.requestId === requestId);
    expect(answer).toMatchObject({ replyTo: { kind: 'slack', responseUrl: RESPONSE_URL }, outcome: { state: 'rolled-back', summary: expect.stringContaining(`the capture of request ${newest} restored`) } });

    const again = await fetch(`${server.url}/slack`, slackRequest(`rollback ${API_BEACON}`));
    const refusedId = /(slack-[0-9a-f]+)/.exec(await slackText(again))?.[1];
    await harness.twin.drain();
    expect((await harness.twin.store.getRequestStatus(refusedId!))!.request).toMatchObject({ state: 'invalid', error: { code: 'ALREADY_ROLLED_BACK', field: 'instanceId' } });
    expect(harness.twin.notifier.sent.find((n) => n.outcome.requestId === refusedId)).toMatchObject({ replyTo: { kind: 'slack' }, outcome: { state: 'invalid', reasons: ['ALREADY_ROLLED_BACK at instanceId'] } });
    expect(harness.twin.ssm.sent.filter((s) => s.instanceIds.includes(API_BEACON) && s.kind === 'rollback')).toHaveLength(1);
  }, 180_000);
});
