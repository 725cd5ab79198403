import type { APIGatewayProxyEvent } from 'aws-lambda';
import { beforeEach, describe, expect, it } from 'vitest';
import { FixedClock, MemoryPinLedger, MemoryRequestQueue, MemoryRequestStore, MemoryRolloutStore, MemoryTaskTokens } from '../../lambdas/memory/ports.js';
import { createRequestsApiHandler } from '../../lambdas/requests-api/handler.js';
import { INSTANCE_A, validRequest } from './fixtures.js';

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

const api = () => createRequestsApiHandler({ queue, store, operator: { rollouts: new MemoryRolloutStore(store), ledger: new MemoryPinLedger(), tokens: new MemoryTaskTokens() }, clock: new FixedClock() });

describe('POST /requests', () => {
  it('answers 202 with the request id and a status URL, and enqueues the request as sent', async () => {
    const response = await api()(apiEvent('POST', '/requests', validRequest()));
    expect(response.statusCode).toBe(202);
    expect(JSON.parse(response.body)).toEqual({ requestId: 'req-test-1', statusUrl: 'https://abc123.execute-api.eu-west-1.amazonaws.com/v1/requests/req-test-1' });
    expect(queue.messages).toEqual([{ body: JSON.stringify(validRequest()), source: 'api' }]);
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

  it('an unknown request is 404 in the error shape', async () => {
    const response = await api()(apiEvent('GET', '/requests/{id}', undefined, { id: 'missing' }));
    expect(response.statusCode).toBe(404);
    expect(JSON.parse(response.body).error).toMatchObject({ code: 'NOT_FOUND', field: 'id' });
  });

  it('a malformed id is 400', async () => {
    expect((await api()(apiEvent('GET', '/requests/{id}', undefined, { id: 'a b' }))).statusCode).toBe(400);
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
