/**
 * The operator pin end to end (issue 13.3, pinMode operator, the stack's default), on the strict twin: after
 * a request's beacons finish, the request decides the release and asks an operator (a chat message and a
 * notification with the exact value and where to set it), waits on a task token, and goes on when an
 * operator confirms through the local API (`POST /pins/{id}/confirm`), recording who and when. Nobody
 * confirming: one reminder, then the request ends `pin-unconfirmed` with its beacons configured.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APPROVED_VERSION_UI_PATH } from '../../lambdas/core/fnms/release.js';
import { loadFleet } from '../../local/fleet.js';
import { type LocalServer, startLocalServer } from '../../local/server.js';
import { SYNTHETIC_BEACON_VERSION, syntheticBeacons, syntheticExecutor, syntheticFnmsBeacons, writeSyntheticFleet } from '../../local/synthetic-fleet.js';
import { LocalTwin } from '../../local/twin.js';
import { SECRET_ARN } from '../support/requests.js';

const BEACONS = syntheticBeacons(3);
const OPERATOR = 'arn:aws:iam::123456789012:role/fnms-admins';

function request(requestId: string): Record<string, unknown> {
  return {
    requestId,
    target: { instanceIds: BEACONS.map((beacon) => beacon.instanceId) },
    protocol: 'https',
    proxy: 'proxy.corp.example:8080',
    account: { kind: 'domain', name: 'CORP\\svc-beacon', passwordSecretArn: SECRET_ARN },
  };
}

async function operatorTwin(requestTiming: { pinReminderSeconds: number; pinConfirmationSeconds: number }): Promise<LocalTwin> {
  const dir = mkdtempSync(join(tmpdir(), 'beacon-proxy-operator-pin-'));
  writeSyntheticFleet(dir, BEACONS);
  return LocalTwin.create({
    fleet: await loadFleet(dir),
    workDir: join(dir, 'work'),
    msPerSecond: 20,
    minFunctionTimeoutMs: 3000,
    pinMode: 'operator',
    requestTiming,
    executor: syntheticExecutor(20),
    // FNMS lists the beacons at an older release; the stub's pin gateway is not used in operator mode.
    fnms: { state: { approvedVersion: 'latest', availableVersions: [], beacons: syntheticFnmsBeacons(BEACONS, () => '13.1.0') } },
  });
}

async function until<T>(what: () => Promise<T | null | undefined>, timeoutMs = 120_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await what();
    if (value) return value;
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('operator pin: confirmed through the local API', () => {
  let twin: LocalTwin;
  let server: LocalServer;
  const requestId = 'pin-asked';
  let confirm: { status: number; body: Record<string, unknown> };

  beforeAll(async () => {
    // Long enough that the confirmation comes before the reminder.
    twin = await operatorTwin({ pinReminderSeconds: 3000, pinConfirmationSeconds: 6000 });
    server = await startLocalServer(twin);
    twin.submit(request(requestId), { source: 'chatops', replyTo: { kind: 'slack', responseUrl: twin.slack.issueResponseUrl() } });
    const drained = twin.drain();
    const pin = await until(async () => {
      const rollout = await twin.rollouts.getRollout(requestId);
      return rollout?.phase === 'awaiting-pin' && twin.published.some((message) => message.attributes.event === 'pin-confirmation') ? rollout.pin : null;
    });
    const response = await fetch(`${server.url}/pins/${pin.pinId}/confirm`, { method: 'POST', headers: { 'x-beacon-proxy-local-principal': OPERATOR } });
    confirm = { status: response.status, body: (await response.json()) as Record<string, unknown> };
    await drained;
  }, 240_000);

  afterAll(async () => {
    await server?.close();
    await twin?.stop();
  });

  it('asks with the exact value and where to set it, on the topic and in chat', () => {
    const asked = twin.published.find((message) => message.attributes.event === 'pin-confirmation')!;
    const text = String(asked.message.text);
    expect(text).toContain(`exactly ${SYNTHETIC_BEACON_VERSION}`);
    expect(text).toContain(APPROVED_VERSION_UI_PATH);
    expect(text).toContain(`POST /pins/pin-${requestId}/confirm`);
    expect(asked.attributes.kind).toBe('request');
    const chat = twin.slack.posts.map((post) => post.text.split('\n')[0]);
    expect(chat.some((title) => title?.includes(`Beacon version approved for use" to ${SYNTHETIC_BEACON_VERSION}`))).toBe(true);
    expect(twin.slack.posts.filter((post) => !post.accepted)).toEqual([]);
  });

  it('the confirmation records who and when; the request ends completed with the confirmed pin', async () => {
    expect(confirm).toMatchObject({ status: 200, body: { action: 'confirm-pin', pinId: `pin-${requestId}`, version: SYNTHETIC_BEACON_VERSION, by: OPERATOR, requests: [requestId], already: false } });
    const status = (await twin.store.getRequestStatus(requestId))!;
    expect(status.rollout?.outcome?.state).toBe('completed');
    expect(status.rollout?.pin).toMatchObject({ status: 'confirmed', mode: 'operator', version: SYNTHETIC_BEACON_VERSION, confirmedBy: OPERATOR, confirmedAt: expect.any(String) });
    expect(status.audit.find((event) => event.event === 'pin.confirmed')?.detail).toMatchObject({ by: OPERATOR, version: SYNTHETIC_BEACON_VERSION });
    expect((await twin.ledger.get()).confirmed).toMatchObject({ version: SYNTHETIC_BEACON_VERSION, by: OPERATOR });
  });

  it('the status through the API shows the pin and its confirmer; a repeated confirmation answers already', async () => {
    const status = (await (await fetch(`${server.url}/requests/${requestId}`)).json()) as { state: string; rollout: { pin: { confirmedBy: string } } };
    expect(status.state).toBe('completed');
    expect(status.rollout.pin.confirmedBy).toBe(OPERATOR);
    const again = await fetch(`${server.url}/pins/pin-${requestId}/confirm`, { method: 'POST' });
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ already: true, by: OPERATOR });
  });
});

describe('operator pin: nobody confirms', () => {
  let twin: LocalTwin;
  const requestId = 'pin-ignored';

  beforeAll(async () => {
    twin = await operatorTwin({ pinReminderSeconds: 60, pinConfirmationSeconds: 120 });
    twin.submit(request(requestId));
    await twin.drain();
  }, 240_000);

  afterAll(async () => {
    await twin?.stop();
  });

  it('one reminder, then the request ends pin-unconfirmed; its beacons stay configured', async () => {
    const events = twin.published.filter((message) => message.message.requestId === requestId && message.attributes.kind === 'request').map((message) => message.attributes.event);
    expect(events).toEqual(['started', 'pin-confirmation', 'pin-reminder', 'summary']);
    const status = (await twin.store.getRequestStatus(requestId))!;
    expect(status.rollout?.outcome?.state).toBe('pin-unconfirmed');
    expect(status.rollout?.pin).toMatchObject({ status: 'unconfirmed', mode: 'operator', version: SYNTHETIC_BEACON_VERSION });
    expect(status.rollout?.pin?.confirmedBy ?? null).toBeNull();
    expect(status.beacons.map((beacon) => beacon.state)).toEqual(['ok', 'ok', 'ok']);
    const summary = twin.published.find((message) => message.attributes.event === 'summary' && message.message.requestId === requestId)!;
    expect(summary.attributes.state).toBe('pin-unconfirmed');
  });

  it('the pending value is dropped: a late confirmation is refused with PIN_NOT_PENDING or answers nobody waits', async () => {
    const ledger = await twin.ledger.get();
    expect(ledger.waiters[requestId]).toBeUndefined();
  });
});
