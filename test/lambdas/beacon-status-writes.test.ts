/**
 * A beacon's recorded outcome stays recorded: a late status write (an invocation Step Functions already gave
 * up on, which ran after all) never turns a final state back into a running one. The same rule on the
 * DynamoDB adapter (against dynalite, tables as the template declares them) and on the in-memory store.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoRequestStore, documentClient } from '../../lambdas/aws/dynamo.js';
import type { BeaconState, RequestStore } from '../../lambdas/core/ports.js';
import { MemoryRequestStore } from '../../lambdas/memory/ports.js';
import { type LocalDynamo, startLocalDynamo } from '../../local/local-dynamo.js';
import { loadWorkflow } from '../../local/workflow-definition.js';
import { INSTANCE_A } from './fixtures.js';

let dynamo: LocalDynamo;
beforeAll(async () => {
  dynamo = await startLocalDynamo((await loadWorkflow()).tables);
});
afterAll(async () => {
  await dynamo?.close();
});

const stores: Array<[string, () => RequestStore]> = [
  ['DynamoDB adapter on dynalite', () => new DynamoRequestStore(documentClient(dynamo.client), dynamo.tables.state)],
  ['in-memory store', () => new MemoryRequestStore()],
];

describe.each(stores)('beacon status writes (%s)', (_name, makeStore) => {
  let n = 0;
  const write = (store: RequestStore, requestId: string, state: BeaconState, updatedAt: string) => store.putBeaconStatus({ requestId, instanceId: INSTANCE_A, state, updatedAt });
  const stateOf = async (store: RequestStore, requestId: string) => (await store.getRequestStatus(requestId))?.beacons[0]?.state;
  const newRequest = async (store: RequestStore) => {
    const requestId = `status-${(n += 1)}-${Math.random().toString(36).slice(2, 8)}`;
    await store.recordRequest({ requestId, state: 'accepted', source: 'api', receivedAt: '2026-03-01T10:00:00.000Z' });
    return requestId;
  };

  it('a late "sent" after the outcome was recorded leaves the outcome (rolled-back stays rolled-back)', async () => {
    const store = makeStore();
    const requestId = await newRequest(store);
    await write(store, requestId, 'sent', '2026-03-01T10:00:01.000Z');
    await write(store, requestId, 'rolled-back', '2026-03-01T10:00:05.000Z');
    await write(store, requestId, 'sent', '2026-03-01T10:00:09.000Z');
    await write(store, requestId, 'locked', '2026-03-01T10:00:10.000Z');
    expect(await stateOf(store, requestId)).toBe('rolled-back');
  });

  it('running states follow each other, and a final state may replace another (a cancel\'s rollback after ok)', async () => {
    const store = makeStore();
    const requestId = await newRequest(store);
    await write(store, requestId, 'queued', '2026-03-01T10:00:00.000Z');
    await write(store, requestId, 'locked', '2026-03-01T10:00:01.000Z');
    await write(store, requestId, 'sent', '2026-03-01T10:00:02.000Z');
    expect(await stateOf(store, requestId)).toBe('sent');
    await write(store, requestId, 'ok', '2026-03-01T10:00:03.000Z');
    await write(store, requestId, 'rolled-back', '2026-03-01T10:00:04.000Z');
    expect(await stateOf(store, requestId)).toBe('rolled-back');
  });
});

describe('a status write DynamoDB refuses for another reason', () => {
  it('fails the step (so Step Functions retries it) instead of being taken for a late write: throttling, running or final state', async () => {
    const throttled = Object.assign(new Error('Rate of requests exceeds the allowed throughput'), { name: 'ProvisionedThroughputExceededException' });
    const db = { send: async () => Promise.reject(throttled) } as unknown as ConstructorParameters<typeof DynamoRequestStore>[0];
    const store = new DynamoRequestStore(db, 'state');
    for (const state of ['sent', 'ok'] as const) {
      await expect(store.putBeaconStatus({ requestId: 'r1', instanceId: INSTANCE_A, state, updatedAt: '2026-03-01T10:00:00.000Z' })).rejects.toBe(throttled);
    }
  });
});
