import type { APIGatewayProxyEvent } from 'aws-lambda';
import { beforeEach, describe, expect, it } from 'vitest';
import { requestContentHash } from '../../lambdas/core/request-identity.js';
import { FixedClock, MemoryPinLedger, MemoryRequestQueue, MemoryRequestStore, MemoryRolloutStore, MemoryTaskTokens } from '../../lambdas/memory/ports.js';
import { createRequestsApiHandler } from '../../lambdas/requests-api/handler.js';
import { INSTANCE_A, validRequest } from './fixtures.js';

/** These events carry no requestContext.identity (caller-identity.test.ts covers the signed caller). */
const NO_IAM_IDENTITY = { kind: 'unauthenticated', via: 'api without IAM identity' };

let queue: MemoryRequestQueue;
let store: MemoryRequestStore;

function apiEvent(httpMethod: string, resource: string, body?: unknown, pathParameters: Record<string, string> | null = null): APIGatewayProxyEvent {
  return {
    httpMethod,
    resource,
    path: resource,
    body: body === undefined ? null : typeof body === 'string' ? body : JSON.stringify(body),
    isBase64Encoded: false,
    pathParameters,
    headers: {},
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    stageVariables: null,
    requestContext: { domainName: 'abc123.execute-api.eu-west-1.amazonaws.com', stage: 'v1' } as APIGatewayProxyEvent['requestContext'],
  };
}

beforeEach(() => {
  queue = new MemoryRequestQueue();
  store = new MemoryRequestStore();
});

const api = () =>
  createRequestsApiHandler({
    queue,
    store,
    operator: { rollouts: new MemoryRolloutStore(store), ledger: new MemoryPinLedger(), tokens: new MemoryTaskTokens() },
    clock: new FixedClock(new Date('2026-12-02T07:00:00Z')),
  });

/** What the intake records for an accepted request. */
async function recorded(request: Record<string, unknown>): Promise<void> {
  await store.recordRequest({
    requestId: String(request.requestId),
    state: 'accepted',
    source: 'queue',
    receivedAt: '2026-12-01T00:00:00Z',
    request,
    contentHash: requestContentHash(request),
    instanceIds: [INSTANCE_A],
  });
}

describe('POST /requests', () => {
  it('answers 202 with the request id and a status URL, and enqueues the request as sent', async () => {
    const response = await api()(apiEvent('POST', '/requests', validRequest()));
    expect(response.statusCode).toBe(202);
    expect(JSON.parse(response.body)).toEqual({ requestId: 'req-test-1', statusUrl: 'https://abc123.execute-api.eu-west-1.amazonaws.com/v1/requests/req-test-1' });
    expect(queue.messages).toEqual([{ body: JSON.stringify(validRequest()), source: 'api', caller: NO_IAM_IDENTITY }]);
  });

  it('a request without id gets its content id before it is queued, so the status URL works', async () => {
    const { requestId: _omit, ...withoutId } = validRequest();
    const response = await api()(apiEvent('POST', '/requests', withoutId));
    const { requestId } = JSON.parse(response.body) as { requestId: string };
    expect(requestId).toMatch(/^req-/);
    expect(JSON.parse(queue.messages[0]!.body).requestId).toBe(requestId);
  });

  it('a refused request is 400 with { error: { code, message, field } } and nothing is queued', async () => {
    const response = await api()(apiEvent('POST', '/requests', validRequest({ proxy: 'http://proxy.corp.example/proxy.pac' })));
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body)).toEqual({ error: { code: expect.stringMatching(/PAC_UNSUPPORTED|INVALID_PROXY_URL/), message: expect.any(String), field: 'proxy' } });
    expect(queue.messages).toEqual([]);
  });

  it('an identical resend of a recorded request answers 200 with that request and queues nothing', async () => {
    await recorded(validRequest());
    const response = await api()(apiEvent('POST', '/requests', validRequest()));
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toMatchObject({ requestId: 'req-test-1', resend: true, state: 'accepted', statusUrl: expect.stringMatching(/\/v1\/requests\/req-test-1$/) });
    expect(queue.messages).toEqual([]);
  });

  it('the same requestId with other content is 409 REQUEST_CONFLICT (field requestId, what to do) and nothing is queued', async () => {
    await recorded(validRequest());
    const refused: Array<string> = [];
    const handler = createRequestsApiHandler({ queue, store, countRefused: (outcome) => void refused.push(outcome) });
    const response = await handler(apiEvent('POST', '/requests', validRequest({ proxy: 'other.corp.example:3128' })));
    expect(response.statusCode).toBe(409);
    expect(JSON.parse(response.body)).toEqual({ error: { code: 'REQUEST_CONFLICT', field: 'requestId', message: expect.stringMatching(/different content.*new requestId.*rerun/) } });
    expect(queue.messages).toEqual([]);
    expect(refused).toEqual(['conflict']);
  });

  it('an id recorded as refused (invalid) is a conflict for any content', async () => {
    await store.recordRequest({ requestId: 'req-test-1', state: 'invalid', source: 'queue', receivedAt: '2026-12-01T00:00:00Z', error: { code: 'INVALID_REQUEST', message: 'x', field: '$' } });
    expect((await api()(apiEvent('POST', '/requests', validRequest()))).statusCode).toBe(409);
  });

  it('a body that is not JSON is 400 INVALID_REQUEST', async () => {
    const response = await api()(apiEvent('POST', '/requests', '{nope'));
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body).error.code).toBe('INVALID_REQUEST');
  });
});

describe('GET /requests/{id}', () => {
  it('shows the request with each beacon\'s status and checks', async () => {
    await store.recordRequest({ requestId: 'r1', state: 'accepted', source: 'api', receivedAt: '2026-01-01T00:00:00Z', instanceIds: [INSTANCE_A] });
    await store.putBeaconStatus({ requestId: 'r1', instanceId: INSTANCE_A, state: 'ok', updatedAt: '2026-01-01T00:05:00Z', checks: [{ name: 'Common\\https_proxy', expected: 'a', actual: 'a', ok: true }], pinnedVersion: '13.2.0' });
    const response = await api()(apiEvent('GET', '/requests/{id}', undefined, { id: 'r1' }));
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toMatchObject({ requestId: 'r1', state: 'accepted', beacons: [{ instanceId: INSTANCE_A, state: 'ok', pinnedVersion: '13.2.0', checks: [{ ok: true }] }] });
  });

  it('shows per beacon each change before -> after, what a rollback restored, and the change trail', async () => {
    const diff = [{ id: 'service:logon', before: 'NT AUTHORITY\\SYSTEM', after: 'CORP\\svc-beacon' }];
    const restored = [{ id: 'service:logon', before: 'CORP\\svc-beacon', after: 'NT AUTHORITY\\SYSTEM' }];
    await store.recordRequest({ requestId: 'r2', state: 'accepted', source: 'api', receivedAt: '2026-01-01T00:00:00Z', instanceIds: [INSTANCE_A] });
    await store.putBeaconStatus({ requestId: 'r2', instanceId: INSTANCE_A, state: 'rolled-back', updatedAt: '2026-01-01T00:05:00Z', diff, restored });
    await store.appendAudit({ requestId: 'r2', instanceId: INSTANCE_A, at: '2026-01-01T00:05:00Z', event: 'change.restored', key: '000', detail: { ...restored[0], document: 'rollback' } });
    const response = await api()(apiEvent('GET', '/requests/{id}', undefined, { id: 'r2' }));
    const body = JSON.parse(response.body);
    expect(body.beacons).toEqual([expect.objectContaining({ instanceId: INSTANCE_A, state: 'rolled-back', diff, restored })]);
    expect(body.audit).toEqual([expect.objectContaining({ event: 'change.restored', instanceId: INSTANCE_A, detail: { ...restored[0], document: 'rollback' } })]);
  });

  it('an unknown request is 404 in the error shape', async () => {
    const response = await api()(apiEvent('GET', '/requests/{id}', undefined, { id: 'missing' }));
    expect(response.statusCode).toBe(404);
    expect(JSON.parse(response.body).error).toMatchObject({ code: 'NOT_FOUND', field: 'id' });
  });

  it.each(['a b', '..', '.', '../../etc/passwd', 'a/b', '%2e%2e', '', 'x'.repeat(65)])('a malformed id (%j) is 400 INVALID_REQUEST at id, and the store is never asked', async (id) => {
    store.getRequestStatus = async () => {
      throw new Error('the store was asked');
    };
    for (const [method, resource] of [['GET', '/requests/{id}'], ['POST', '/requests/{id}/rerun']] as const) {
      const response = await api()(apiEvent(method, resource, undefined, { id }));
      expect(response.statusCode).toBe(400);
      expect(JSON.parse(response.body).error).toMatchObject({ code: 'INVALID_REQUEST', field: 'id' });
    }
  });

  it('shows the re-run links both ways: rerunOf on the new request, reruns on the old one', async () => {
    await recorded(validRequest({ requestId: 'old' }));
    await store.recordRequest({ requestId: 'old.rerun-1', state: 'accepted', source: 'api', receivedAt: '2026-12-02T00:00:00Z', rerunOf: 'old' });
    await store.appendAudit({ requestId: 'old', at: '2026-12-02T00:00:00Z', event: 'request.rerun', detail: { rerunId: 'old.rerun-1' } });
    expect(JSON.parse((await api()(apiEvent('GET', '/requests/{id}', undefined, { id: 'old' }))).body)).toMatchObject({ requestId: 'old', reruns: ['old.rerun-1'] });
    expect(JSON.parse((await api()(apiEvent('GET', '/requests/{id}', undefined, { id: 'old.rerun-1' }))).body)).toMatchObject({ rerunOf: 'old' });
  });
});

describe('POST /requests/{id}/rerun', () => {
  it('queues the recorded request again under a new id, linked to the old one, and answers 202 with its status URL', async () => {
    await recorded(validRequest({ requestId: 'chg-7' }));
    const response = await api()(apiEvent('POST', '/requests/{id}/rerun', undefined, { id: 'chg-7' }));
    expect(response.statusCode).toBe(202);
    const body = JSON.parse(response.body) as { requestId: string; rerunOf: string; statusUrl: string };
    expect(body).toMatchObject({ rerunOf: 'chg-7', requestId: expect.stringMatching(/^chg-7\.rerun-/) });
    expect(body.statusUrl).toMatch(new RegExp(`/v1/requests/${body.requestId.replace('.', '\\.')}$`));
    expect(queue.messages).toEqual([{ body: JSON.stringify({ ...validRequest({ requestId: 'chg-7' }), requestId: body.requestId }), source: 'api', rerunOf: 'chg-7', caller: NO_IAM_IDENTITY }]);
  });

  it('an unknown request is 404; a refused one is 400 (nothing to re-run: fix it and send a new request)', async () => {
    expect((await api()(apiEvent('POST', '/requests/{id}/rerun', undefined, { id: 'missing' }))).statusCode).toBe(404);
    await store.recordRequest({ requestId: 'bad', state: 'invalid', source: 'queue', receivedAt: '2026-12-01T00:00:00Z', error: { code: 'PAC_UNSUPPORTED', message: 'x', field: 'proxy' } });
    const response = await api()(apiEvent('POST', '/requests/{id}/rerun', undefined, { id: 'bad' }));
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body).error.message).toMatch(/PAC_UNSUPPORTED/);
    expect(queue.messages).toEqual([]);
  });
});

describe('POST /plans', () => {
  it('returns the desired state and queues nothing (dry run)', async () => {
    const response = await api()(apiEvent('POST', '/plans', validRequest()));
    expect(response.statusCode).toBe(200);
    const plan = JSON.parse(response.body);
    expect(plan).toMatchObject({ requestId: 'req-test-1', changed: false, desiredState: { schema: 1, protocol: 'https', wininet: { proxyServer: 'proxy.corp.example:8080' } } });
    expect(plan.documentParameters.DesiredState).toHaveLength(1);
    expect(queue.messages).toEqual([]);
  });
});
