/**
 * Rollouts an operator can trust (issue 16.1, 16.2), on the strict twin (both synthesized state machines,
 * dynalite, scaled time, the SSM shim with synthetic beacons): a canary that fails halts the rest; failures
 * past maxErrors halt; a cancel mid-rollout lets running beacons finish their document and rolls them back,
 * starts nothing new, leaves every beacon final and no lock held, and tells the requester.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TERMINAL_BEACON_STATES } from '../../lambdas/core/ports.js';
import { loadFleet } from '../../local/fleet.js';
import { type LocalServer, startLocalServer } from '../../local/server.js';
import { syntheticBeacons, syntheticExecutor, syntheticFnmsBeacons, writeSyntheticFleet } from '../../local/synthetic-fleet.js';
import { LocalTwin } from '../../local/twin.js';
import { SECRET_ARN } from '../support/requests.js';

const BEACONS = syntheticBeacons(8);
const ids = BEACONS.map((beacon) => beacon.instanceId);

function request(requestId: string, rollout: Record<string, unknown>): Record<string, unknown> {
  return {
    requestId,
    target: { instanceIds: ids },
    protocol: 'https',
    proxy: 'proxy.corp.example:8080',
    account: { kind: 'domain', name: 'CORP\\svc-beacon', passwordSecretArn: SECRET_ARN },
    rollout,
  };
}

/** A twin over the eight beacons; `fails` picks the beacons whose configure run fails (and rolls back by itself). */
async function twinFor(options: {
  fails?: (instanceId: string) => boolean;
  latencyMs?: number;
  runs: Array<{ instanceId: string; kind: string; event: string }>;
  requestTiming?: { goWaitSeconds: number };
}): Promise<LocalTwin> {
  const dir = mkdtempSync(join(tmpdir(), 'beacon-proxy-rollout-'));
  writeSyntheticFleet(dir, BEACONS);
  return LocalTwin.create({
    fleet: await loadFleet(dir),
    workDir: join(dir, 'work'),
    msPerSecond: 20,
    minFunctionTimeoutMs: 3000,
    executor: syntheticExecutor({
      latencyMs: options.latencyMs ?? 20,
      fails: (beacon) => options.fails?.(beacon.instanceId) ?? false,
      onRun: (beacon, kind, event) => options.runs.push({ instanceId: beacon.instanceId, kind, event }),
    }),
    fnms: { state: { approvedVersion: '13.2.0', availableVersions: ['13.2.0'], beacons: syntheticFnmsBeacons(BEACONS) } },
    ...(options.requestTiming ? { requestTiming: options.requestTiming } : {}),
  });
}

const configured = (runs: Array<{ instanceId: string; kind: string; event: string }>) => [...new Set(runs.filter((run) => run.kind === 'configure' && run.event === 'start').map((run) => run.instanceId))];

describe('a canary that fails halts the rest', () => {
  let twin: LocalTwin;
  const runs: Array<{ instanceId: string; kind: string; event: string }> = [];

  beforeAll(async () => {
    twin = await twinFor({ fails: (instanceId) => instanceId === ids[0], runs });
    twin.submit(request('canary-fails', { canary: 1, waveSize: 3, maxConcurrency: 3, maxErrors: 3 }));
    await twin.drain();
  }, 240_000);

  afterAll(async () => {
    await twin?.stop();
  });

  it('only the canary ran; the request ended halted with the reason; the other beacons are final as not-started', async () => {
    expect(configured(runs)).toEqual([ids[0]]);
    const status = (await twin.store.getRequestStatus('canary-fails'))!;
    expect(status.rollout?.outcome).toMatchObject({ state: 'halted', reason: expect.stringMatching(/canary failed \(1 of 1/) });
    const states = Object.fromEntries(status.beacons.map((beacon) => [beacon.instanceId, beacon.state]));
    expect(states[ids[0]!]).toBe('rolled-back');
    for (const id of ids.slice(1)) expect(states[id]).toBe('not-started');
    expect(status.beacons.find((beacon) => beacon.instanceId === ids[1])?.reasons?.[0]).toMatch(/halted before this beacon's turn.*nothing was changed/);
  });

  it('the requester hears the halt in the summary', () => {
    const summary = twin.published.find((message) => message.attributes.event === 'summary' && message.message.requestId === 'canary-fails');
    expect(summary?.attributes.state).toBe('halted');
    expect(String(summary?.message.text)).toMatch(/halted/i);
  });
});

describe('failures past maxErrors halt the rollout; running beacons finish their document', () => {
  let twin: LocalTwin;
  const runs: Array<{ instanceId: string; kind: string; event: string }> = [];

  beforeAll(async () => {
    // Waves of two, at most two at once: the first wave's two failures pass maxErrors (1).
    twin = await twinFor({ fails: (instanceId) => instanceId === ids[0] || instanceId === ids[1], runs });
    twin.submit(request('max-errors', { canary: 0, waveSize: 2, maxConcurrency: 2, maxErrors: 1 }));
    await twin.drain();
  }, 240_000);

  afterAll(async () => {
    await twin?.stop();
  });

  it('beacons not yet started never start; the request ends halted with the reason', async () => {
    expect(configured(runs).sort()).toEqual([ids[0], ids[1]].sort());
    const status = (await twin.store.getRequestStatus('max-errors'))!;
    expect(status.rollout?.outcome).toMatchObject({ state: 'halted', reason: expect.stringMatching(/2 beacon\(s\) failed, more than maxErrors \(1\): 6 beacon\(s\) were not started/) });
    expect(status.beacons.filter((beacon) => beacon.state === 'not-started')).toHaveLength(6);
    expect(status.beacons.filter((beacon) => beacon.state === 'rolled-back')).toHaveLength(2);
  });
});

describe('a cancel with rollback mid-rollout, through the local API', () => {
  let twin: LocalTwin;
  let server: LocalServer;
  const runs: Array<{ instanceId: string; kind: string; event: string }> = [];
  let answer: { status: number; body: Record<string, unknown> };
  const requestId = 'cancel-mid';

  beforeAll(async () => {
    twin = await twinFor({ runs, latencyMs: 400 });
    server = await startLocalServer(twin);
    twin.submit(request(requestId, { canary: 0, waveSize: 2, maxConcurrency: 2, maxErrors: 8 }));
    const drained = twin.drain();
    // As soon as the first beacons run their configure document, an operator cancels with rollback.
    while (!runs.some((run) => run.kind === 'configure' && run.event === 'start')) await new Promise((resolve) => setTimeout(resolve, 10));
    const response = await fetch(`${server.url}/requests/${requestId}/cancel`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-beacon-proxy-local-principal': 'arn:aws:iam::123456789012:role/beacon-operators' },
      body: JSON.stringify({ rollback: true }),
    });
    answer = { status: response.status, body: (await response.json()) as Record<string, unknown> };
    await drained;
  }, 240_000);

  afterAll(async () => {
    await server?.close();
    await twin?.stop();
  });

  it('answers 200 with who cancelled; a second cancel is refused with ALREADY_CANCELLED or ALREADY_ENDED', async () => {
    expect(answer).toMatchObject({ status: 200, body: { action: 'cancel', rollback: true, by: 'arn:aws:iam::123456789012:role/beacon-operators' } });
    const again = await fetch(`${server.url}/requests/${requestId}/cancel`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rollback: false }) });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: { code: string } }).error.code).toMatch(/^ALREADY_(CANCELLED|ENDED)$/);
  });

  it('nothing new started; the running beacons finished their document and were rolled back; the rest are cancelled', async () => {
    const started = configured(runs);
    expect(started.length).toBeGreaterThan(0);
    expect(started.length).toBeLessThanOrEqual(2);
    const rolledBack = [...new Set(runs.filter((run) => run.kind === 'rollback' && run.event === 'end').map((run) => run.instanceId))].sort();
    expect(rolledBack).toEqual([...started].sort());
    // Every configure that started also ended (no document was cut off).
    expect(runs.filter((run) => run.kind === 'configure' && run.event === 'end').map((run) => run.instanceId).sort()).toEqual([...started].sort());
    const status = (await twin.store.getRequestStatus(requestId))!;
    expect(status.rollout?.outcome?.state).toBe('cancelled');
    for (const beacon of status.beacons) {
      expect(TERMINAL_BEACON_STATES, `${beacon.instanceId} is ${beacon.state}`).toContain(beacon.state);
      expect(beacon.state).toBe(started.includes(beacon.instanceId) ? 'rolled-back' : 'cancelled');
    }
  });

  it('no beacon lock is left held', async () => {
    const items = await twin.dynamo.scan(twin.dynamo.tables.state);
    const locks = items.filter((item) => String(item.pk).startsWith('LOCK#'));
    expect(locks.length).toBeGreaterThan(0);
    // A released lock keeps only its request order (an older request can never take the beacon again).
    expect(locks.filter((item) => item.owner !== undefined)).toEqual([]);
  });

  it('the requester is told: the summary says cancelled, by whom', () => {
    const summary = twin.published.find((message) => message.attributes.event === 'summary' && message.message.requestId === requestId);
    expect(summary?.attributes.state).toBe('cancelled');
    expect(String(summary?.message.text)).toContain('beacon-operators');
  });
});

describe('pauseAfterCanary: the waves wait for an operator\'s go', () => {
  let twin: LocalTwin;
  let server: LocalServer;
  const runs: Array<{ instanceId: string; kind: string; event: string }> = [];
  const requestId = 'canary-go';
  let configuredBeforeGo: string[] = [];
  let go: { status: number; body: Record<string, unknown> };

  beforeAll(async () => {
    twin = await twinFor({ runs });
    server = await startLocalServer(twin);
    twin.submit(request(requestId, { canary: 1, waveSize: 4, maxConcurrency: 4, maxErrors: 2, pauseAfterCanary: true }));
    const drained = twin.drain();
    for (;;) {
      if ((await twin.rollouts.getRollout(requestId))?.phase === 'awaiting-go' && twin.published.some((message) => message.attributes.event === 'awaiting-go')) break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    configuredBeforeGo = configured(runs);
    const response = await fetch(`${server.url}/requests/${requestId}/go`, { method: 'POST', headers: { 'x-beacon-proxy-local-principal': 'arn:aws:iam::123456789012:role/beacon-operators' } });
    go = { status: response.status, body: (await response.json()) as Record<string, unknown> };
    await drained;
  }, 240_000);

  afterAll(async () => {
    await server?.close();
    await twin?.stop();
  });

  it('only the canary ran until the go; the requester was asked; after the go every beacon ran and the request completed', async () => {
    expect(configuredBeforeGo).toEqual([ids[0]]);
    const asked = twin.published.find((message) => message.attributes.event === 'awaiting-go')!;
    expect(String(asked.message.text)).toContain(`POST /requests/${requestId}/go`);
    expect(go).toMatchObject({ status: 200, body: { action: 'go', by: 'arn:aws:iam::123456789012:role/beacon-operators' } });
    expect(configured(runs).sort()).toEqual([...ids].sort());
    const status = (await twin.store.getRequestStatus(requestId))!;
    expect(status.rollout).toMatchObject({ outcome: { state: 'completed' }, go: { by: 'arn:aws:iam::123456789012:role/beacon-operators' } });
  });
});

describe('pauseAfterCanary without a go in time: the request halts (no-go)', () => {
  let twin: LocalTwin;
  const runs: Array<{ instanceId: string; kind: string; event: string }> = [];

  beforeAll(async () => {
    twin = await twinFor({ runs, requestTiming: { goWaitSeconds: 60 } });
    twin.submit(request('canary-no-go', { canary: 1, waveSize: 4, maxConcurrency: 4, maxErrors: 2, pauseAfterCanary: true }));
    await twin.drain();
  }, 240_000);

  afterAll(async () => {
    await twin?.stop();
  });

  it('the other beacons never start and end not-started; the outcome says nobody gave the go', async () => {
    expect(configured(runs)).toEqual([ids[0]]);
    const status = (await twin.store.getRequestStatus('canary-no-go'))!;
    expect(status.rollout?.outcome).toMatchObject({ state: 'halted', reason: expect.stringMatching(/no operator gave the go/) });
    expect(status.beacons.filter((beacon) => beacon.state === 'not-started')).toHaveLength(7);
  });
});
