/**
 * Per-beacon day-2 commands on the twin (strict: the synthesized state machine, dynalite with the template's
 * tables and index, real PowerShell on modelled beacons): a beacon's history, its rollback under the lock,
 * the rollback surviving the next drift pass, and the retry as a linked run.
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { linkedRun } from '../../lambdas/core/beacon-history.js';
import { createRequestsApiHandler } from '../../lambdas/requests-api/handler.js';
import { basename, dirname } from 'node:path';
import { comparableState, freshBeacon, writeBeaconModel } from '../../local/beacon-model.js';
import { BUILTIN_BEACON_VERSION } from '../../local/builtin-fleet.js';
import { type Harness, requestFor, startTwin } from './twin-harness.js';

const ROLLED = 'i-0e2e0000000000da1';
const NEVER = 'i-0e2e0000000000da2';
const OPERATOR = 'arn:aws:sts::123456789012:assumed-role/beacon-operator/alice';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.twin.stop();
  harness = undefined;
});

function apiEvent(httpMethod: string, resource: string, instanceId: string, query: Record<string, string> | null = null): APIGatewayProxyEvent {
  return {
    httpMethod,
    resource,
    path: resource.replace('{instanceId}', instanceId),
    body: null,
    isBase64Encoded: false,
    pathParameters: { instanceId },
    headers: {},
    multiValueHeaders: {},
    queryStringParameters: query,
    multiValueQueryStringParameters: null,
    stageVariables: null,
    requestContext: { domainName: 'local', stage: 'v1', identity: { userArn: OPERATOR } } as unknown as APIGatewayProxyEvent['requestContext'],
  };
}

function api(h: Harness) {
  const handler = createRequestsApiHandler({ queue: h.twin.requestQueue, store: h.twin.store, beacons: h.twin.beaconRoutes });
  return async (method: string, resource: string, instanceId: string, query?: Record<string, string>) => {
    const response = await handler(apiEvent(method, resource, instanceId, query ?? null));
    return { status: response.statusCode, body: JSON.parse(response.body) as Record<string, any> };
  };
}

describe('per-beacon rollback (POST /beacons/{instanceId}/rollback)', () => {
  it('restores the beacon exactly as it was before its last change, records what it put back, and the next drift pass (apply) leaves it rolled back', async () => {
    const fresh = freshBeacon({ computerName: 'E2E-DA1', beaconVersion: BUILTIN_BEACON_VERSION });
    harness = await startTwin([{ instanceId: ROLLED, computerName: 'E2E-DA1', model: fresh }], { triggerMode: 'apply' });
    const call = api(harness);
    const before = comparableState(harness.model(ROLLED));
    harness.twin.submit(requestFor([ROLLED], { requestId: 'day2-configure' }), { source: 'api' });
    await harness.twin.drain();
    expect(comparableState(harness.model(ROLLED))).not.toEqual(before);

    // The history: what was applied, when, from where, the outcome and every value before -> after.
    const history = await call('GET', '/beacons/{instanceId}', ROLLED);
    expect(history.status).toBe(200);
    expect(history.body.entries).toEqual([
      expect.objectContaining({
        requestId: 'day2-configure',
        kind: 'configure',
        source: 'api',
        state: 'ok',
        applied: expect.objectContaining({ proxy: 'proxy.corp.example:8080', account: expect.objectContaining({ name: 'CORP\\svc-beacon' }) }),
        diff: expect.arrayContaining([expect.objectContaining({ id: 'service:logon', after: 'CORP\\svc-beacon' })]),
        linkedTo: null,
      }),
    ]);

    const rollback = await call('POST', '/beacons/{instanceId}/rollback', ROLLED);
    expect(rollback.status).toBe(202);
    expect(rollback.body).toMatchObject({ instanceId: ROLLED, restores: 'day2-configure', requestId: expect.stringMatching(/^rollback-i-0e2e0000000000da1-/) });
    await harness.twin.drain();
    const rollbackId = rollback.body.requestId as string;

    // Exactly as before the configure run (the WinINet change counters aside, as Windows counts a restore).
    expect(comparableState(harness.model(ROLLED))).toEqual(before);
    const status = (await harness.twin.store.getRequestStatus(rollbackId))!;
    expect(status.request).toMatchObject({ source: 'api', requestedBy: OPERATOR, action: { kind: 'rollback', captureId: 'day2-configure' }, linkedTo: { kind: 'rollback', requestId: 'day2-configure' } });
    expect(status.beacons[0]).toMatchObject({ state: 'rolled-back', restored: expect.arrayContaining([expect.objectContaining({ id: 'service:logon', before: 'CORP\\svc-beacon', after: 'NT AUTHORITY\\SYSTEM' })]) });
    expect(status.audit.filter((e) => e.event === 'change.restored').map((e) => e.detail)).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: 'service:logon', document: 'rollback', after: 'NT AUTHORITY\\SYSTEM' })]),
    );
    // Only the Rollback document ran: no configure for the rollback request.
    expect(harness.twin.ssm.sent.filter((s) => s.instanceIds.includes(ROLLED)).map((s) => s.kind)).toEqual(['configure', 'rollback']);
    // The workflow that did what was asked succeeded (no WorkflowFailed alarm for an operator's rollback).
    expect([...harness.twin.results.entries()].find(([name]) => name.startsWith(rollbackId))![1].status).toBe('SUCCEEDED');
    // The undone request shows the link too.
    const undone = (await harness.twin.store.getRequestStatus('day2-configure'))!;
    expect(undone.audit).toEqual(expect.arrayContaining([expect.objectContaining({ event: 'request.rolled-back', detail: expect.objectContaining({ by: rollbackId, requestedBy: OPERATOR }) })]));
    // The drift baseline is a hold, newer than the configure it undid.
    expect((await harness.twin.baselines.getBaselines([ROLLED])).get(ROLLED)).toMatchObject({ content: null, hold: { reason: 'rolled-back', restoredCapture: 'day2-configure' }, requestId: rollbackId });

    // The next drift pass, in apply mode: the rolled-back beacon is left alone (not verified, not re-applied).
    const sentBefore = harness.twin.ssm.sent.length;
    const { report } = await harness.twin.runDriftPass();
    await harness.twin.drain();
    expect(report!.findings.filter((f) => f.instanceId === ROLLED)).toEqual([expect.objectContaining({ action: 'held', reason: expect.stringContaining(rollbackId) })]);
    expect(harness.twin.ssm.sent.slice(sentBefore).filter((s) => s.instanceIds.includes(ROLLED))).toEqual([]);
    expect(comparableState(harness.model(ROLLED))).toEqual(before);

    // Newest first: the rollback, then the configure it undid.
    const after = await call('GET', '/beacons/{instanceId}', ROLLED);
    expect(after.body.entries.map((e: any) => [e.requestId, e.kind, e.state, e.requestedBy])).toEqual([
      [rollbackId, 'rollback', 'rolled-back', OPERATOR],
      // Who configured it: the caller the queue vouched for (the twin's operator), not a blank.
      ['day2-configure', 'configure', 'ok', 'SQS sender AIDATWINQUEUEOPERATOR'],
    ]);

    // Nothing left to undo; a beacon never changed has no capture: clear codes, nothing recorded or sent.
    const requestsBefore = (await harness.twin.dump()).requests.length;
    const sentNow = harness.twin.ssm.sent.length;
    expect(await call('POST', '/beacons/{instanceId}/rollback', ROLLED)).toMatchObject({ status: 409, body: { error: { code: 'ALREADY_ROLLED_BACK', field: 'instanceId' } } });
    expect(await call('POST', '/beacons/{instanceId}/rollback', NEVER)).toMatchObject({ status: 409, body: { error: { code: 'NO_CAPTURE' } } });
    expect((await harness.twin.dump()).requests.length).toBe(requestsBefore);
    expect(harness.twin.ssm.sent.length).toBe(sentNow);
  }, 300_000);

  it('runs under the beacon\'s lock: a rollback started while a configure runs waits for it, and its document runs only after the configure released the lock', async () => {
    const states: Array<[string, string]> = [];
    harness = await startTwin([{ instanceId: ROLLED, computerName: 'E2E-DA1', model: freshBeacon({ computerName: 'E2E-DA1', beaconVersion: BUILTIN_BEACON_VERSION }) }], {
      onState: (_instanceId, requestId, state) => states.push([requestId, state]),
    });
    harness.twin.submit(requestFor([ROLLED], { requestId: 'day2-first' }), { source: 'api' });
    await harness.twin.drain();
    const afterFirst = comparableState(harness.model(ROLLED));

    harness.twin.submit(requestFor([ROLLED], { requestId: 'day2-second', proxy: 'second-proxy.corp.example:3128' }), { source: 'api' });
    await harness.twin.deliver();
    // The request workflow lists the beacon (its row) and starts its workflow: from then on the beacon has a request running.
    while (!states.some(([r, s]) => r === 'day2-second' && s === 'ResolveTarget')) await new Promise((resolve) => setTimeout(resolve, 5));
    // The configure holds the lock (or is about to): the API refuses a rollback while a request runs on the beacon...
    expect(await api(harness)('POST', '/beacons/{instanceId}/rollback', ROLLED)).toMatchObject({ status: 409, body: { error: { code: 'BEACON_BUSY' } } });
    // ...and a rollback workflow started anyway (as a racing caller would) waits for the lock.
    while (!states.some(([r, s]) => r === 'day2-second' && s === 'SendConfigure')) await new Promise((resolve) => setTimeout(resolve, 5));
    // The time the API would stamp (the twin's clock, as the intake's): newer than the configure it waits for.
    const at = harness.twin.beaconRoutes.clock.now().toISOString();
    const run = linkedRun({ requestId: 'day2-racing-rollback', instanceId: ROLLED, link: { kind: 'rollback', requestId: 'day2-second' }, action: { kind: 'rollback', captureId: 'day2-second' }, caller: { kind: 'unauthenticated', via: 'a racing caller in the test' }, source: 'api', at });
    await harness.twin.store.recordRequest(run.record);
    await harness.twin.startBeaconWorkflow(run.input);
    await harness.twin.drain();

    const index = (requestId: string, state: string) => states.findIndex(([r, s]) => r === requestId && s === state);
    const rollbackLocks = states.filter(([r, s]) => r === 'day2-racing-rollback' && s === 'AcquireLock').length;
    expect(rollbackLocks).toBeGreaterThan(1);
    expect(index('day2-racing-rollback', 'SendRollback')).toBeGreaterThan(index('day2-second', 'ReleaseLock'));
    expect(index('day2-second', 'SendConfigure')).toBeLessThan(index('day2-racing-rollback', 'SendRollback'));
    expect((await harness.twin.store.getRequestStatus('day2-second'))!.beacons[0]!.state).toBe('ok');
    expect((await harness.twin.store.getRequestStatus('day2-racing-rollback'))!.beacons[0]!.state).toBe('rolled-back');
    // The capture of the second request put the beacon back as the first request left it.
    expect(comparableState(harness.model(ROLLED))).toEqual(afterFirst);
  }, 300_000);
});

describe('per-beacon retry (POST /beacons/{instanceId}/retry)', () => {
  it('runs the beacon\'s last request again, for that beacon only, as a new run; the new and the old record name each other', async () => {
    const failing = freshBeacon({ computerName: 'E2E-DA1', beaconVersion: BUILTIN_BEACON_VERSION, faults: { secretNotFound: true } });
    harness = await startTwin([{ instanceId: ROLLED, computerName: 'E2E-DA1', model: failing }]);
    const call = api(harness);
    harness.twin.submit(requestFor([ROLLED], { requestId: 'day2-flaky', proxy: 'retry-proxy.corp.example:3128' }), { source: 'api' });
    await harness.twin.drain();
    expect((await harness.twin.store.getRequestStatus('day2-flaky'))!.beacons[0]!.state).toBe('rolled-back');

    // The cause is fixed on the beacon (the instance role may read the secret now); the operator retries.
    const fixed = harness.model(ROLLED);
    fixed.faults = {};
    writeBeaconModel(dirname(harness.modelPath(ROLLED)), basename(harness.modelPath(ROLLED)), fixed);
    const retry = await call('POST', '/beacons/{instanceId}/retry', ROLLED);
    expect(retry.status).toBe(202);
    expect(retry.body).toMatchObject({ instanceId: ROLLED, retries: 'day2-flaky', requestId: expect.stringMatching(/^retry-i-0e2e0000000000da1-/) });
    const retryId = retry.body.requestId as string;
    await harness.twin.drain();

    const rerun = (await harness.twin.store.getRequestStatus(retryId))!;
    expect(rerun.request).toMatchObject({ linkedTo: { kind: 'retry', requestId: 'day2-flaky' }, requestedBy: OPERATOR, instanceIds: [ROLLED] });
    expect(rerun.request.request).toMatchObject({ requestId: retryId, target: { instanceIds: [ROLLED] }, proxy: 'retry-proxy.corp.example:3128' });
    expect(rerun.beacons[0]!.state).toBe('ok');
    expect(rerun.audit).toEqual(expect.arrayContaining([expect.objectContaining({ event: 'request.accepted', detail: expect.objectContaining({ linkedTo: { kind: 'retry', requestId: 'day2-flaky' } }) })]));
    const original = (await harness.twin.store.getRequestStatus('day2-flaky'))!;
    expect(original.audit).toEqual(expect.arrayContaining([expect.objectContaining({ event: 'request.retried', instanceId: ROLLED, detail: expect.objectContaining({ by: retryId }) })]));
    // The old run's record is untouched: it still says what happened then.
    expect(original.beacons[0]!.state).toBe('rolled-back');

    const history = await call('GET', '/beacons/{instanceId}', ROLLED);
    expect(history.body.entries.map((e: any) => [e.requestId, e.state, e.linkedTo])).toEqual([
      [retryId, 'ok', { kind: 'retry', requestId: 'day2-flaky' }],
      ['day2-flaky', 'rolled-back', null],
    ]);
    // A retry is a configure: its baseline is the retried content.
    expect((await harness.twin.baselines.getBaselines([ROLLED])).get(ROLLED)).toMatchObject({ requestId: retryId, content: { proxy: 'retry-proxy.corp.example:3128' } });
  }, 300_000);
});
