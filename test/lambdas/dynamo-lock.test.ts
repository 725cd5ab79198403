/**
 * When a beacon's lock can be taken, on dynalite (the DynamoDB API in-process): the condition expression
 * decides who configures a beacon, so it is evaluated by a DynamoDB engine, not read back from a mock.
 * The rules: a free beacon is taken; a held one is busy until its expiry has passed (TTL deletion is lazy);
 * the same execution may take it again (a retried step); a request older than the newest one that took the
 * beacon is superseded, even after that one released it; only the owner releases or extends it.
 */
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoBeaconLock, DynamoFleetMemory, LOCK_ORDER_MEMORY_SECONDS, documentClient } from '../../lambdas/aws/dynamo.js';
import { FixedClock } from '../../lambdas/memory/ports.js';
import { type LocalDynamo, startLocalDynamo } from '../../local/local-dynamo.js';
import type { TableSpec } from '../../local/workflow-definition.js';
import { INSTANCE_A } from './fixtures.js';

const STATE: TableSpec = {
  logicalId: 'StateTable',
  keySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
  attributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }],
  ttlAttribute: 'ttl',
};
const IDEMPOTENCY: TableSpec = { logicalId: 'IdempotencyTable', keySchema: [{ AttributeName: 'id', KeyType: 'HASH' }], attributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }], ttlAttribute: 'expiration' };

const T0 = new Date('2026-03-01T00:00:00.000Z');
const order = (at: string, requestId: string) => `${at}#${requestId}`;
const FIRST = order('2026-03-01T00:00:00.000Z', 'chg-1');
const SECOND = order('2026-03-01T00:01:00.000Z', 'chg-2');

let dynamo: LocalDynamo;
let tableName: string;
let tables = 0;
let clock: FixedClock;
let lock: DynamoBeaconLock;

beforeAll(async () => {
  dynamo = await startLocalDynamo({ state: STATE, idempotency: IDEMPOTENCY });
});
afterAll(async () => dynamo.close());

beforeEach(async () => {
  tables += 1;
  tableName = `LockTable${tables}`;
  await dynamo.client.send(new CreateTableCommand({ TableName: tableName, KeySchema: STATE.keySchema, AttributeDefinitions: STATE.attributeDefinitions, BillingMode: 'PAY_PER_REQUEST' }));
  clock = new FixedClock(T0);
  lock = new DynamoBeaconLock(documentClient(dynamo.client), tableName, clock);
});

const lockItem = async () => (await dynamo.scan(tableName)).find((item) => item.pk === `LOCK#${INSTANCE_A}`);

describe('DynamoBeaconLock on a DynamoDB engine', () => {
  it('a free beacon is taken until now + ttl; the item names the owner and the request order', async () => {
    expect(await lock.acquire(INSTANCE_A, 'exec-1', 600, FIRST)).toEqual({ acquired: true, expiresAt: '2026-03-01T00:10:00.000Z' });
    expect(await lockItem()).toMatchObject({ pk: `LOCK#${INSTANCE_A}`, sk: 'LOCK', owner: 'exec-1', expiresAtMs: T0.getTime() + 600_000, latestOrder: FIRST });
  });

  it('the item outlives the lock: its TTL is the later of the expiry and the order memory (14 days), in seconds', async () => {
    await lock.acquire(INSTANCE_A, 'exec-1', 600, FIRST);
    expect(LOCK_ORDER_MEMORY_SECONDS).toBe(14 * 24 * 3600);
    expect((await lockItem())!.ttl).toBe(T0.getTime() / 1000 + 14 * 24 * 3600);
    const long = LOCK_ORDER_MEMORY_SECONDS + 3600;
    clock.advance(0.5);
    await lock.acquire(INSTANCE_A, 'exec-1', long, FIRST);
    expect((await lockItem())!.ttl).toBe(Math.ceil((T0.getTime() + 500 + long * 1000) / 1000));
  });

  it('a held lock is busy for another execution, with its holder and expiry; until the expiry has passed', async () => {
    await lock.acquire(INSTANCE_A, 'exec-1', 600, FIRST);
    clock.advance(600);
    expect(await lock.acquire(INSTANCE_A, 'exec-2', 600, SECOND)).toEqual({ acquired: false, reason: 'busy', holder: 'exec-1', expiresAt: '2026-03-01T00:10:00.000Z' });
    clock.advance(0.001);
    expect(await lock.acquire(INSTANCE_A, 'exec-2', 600, SECOND)).toEqual({ acquired: true, expiresAt: '2026-03-01T00:20:00.001Z' });
    expect(await lockItem()).toMatchObject({ owner: 'exec-2', latestOrder: SECOND });
  });

  it('another execution of the same request (the same order) finds it busy, not superseded', async () => {
    await lock.acquire(INSTANCE_A, 'exec-1', 600, FIRST);
    expect(await lock.acquire(INSTANCE_A, 'exec-2', 600, FIRST)).toMatchObject({ acquired: false, reason: 'busy', holder: 'exec-1' });
  });

  it('the same execution takes its own lock again (a retried acquire) and moves the expiry', async () => {
    await lock.acquire(INSTANCE_A, 'exec-1', 600, FIRST);
    clock.advance(60);
    expect(await lock.acquire(INSTANCE_A, 'exec-1', 600, FIRST)).toEqual({ acquired: true, expiresAt: '2026-03-01T00:11:00.000Z' });
  });

  it('an older request is superseded by the newest one that took the beacon, even after that one released it; the same order is not', async () => {
    expect(await lock.acquire(INSTANCE_A, 'exec-2', 600, SECOND)).toMatchObject({ acquired: true });
    expect(await lock.release(INSTANCE_A, 'exec-2')).toEqual({ released: true });
    expect(await lockItem()).toMatchObject({ latestOrder: SECOND });
    expect((await lockItem())!.owner).toBeUndefined();
    expect(await lock.acquire(INSTANCE_A, 'exec-1', 600, FIRST)).toEqual({ acquired: false, reason: 'superseded', newer: SECOND });
    expect(await lock.acquire(INSTANCE_A, 'exec-3', 600, SECOND)).toMatchObject({ acquired: true });
  });

  it('a free beacon whose lock was released is taken by a newer request', async () => {
    await lock.acquire(INSTANCE_A, 'exec-1', 600, FIRST);
    await lock.release(INSTANCE_A, 'exec-1');
    expect(await lock.acquire(INSTANCE_A, 'exec-2', 600, SECOND)).toEqual({ acquired: true, expiresAt: '2026-03-01T00:10:00.000Z' });
  });

  it('only the owner releases: another execution\'s release changes nothing', async () => {
    await lock.acquire(INSTANCE_A, 'exec-1', 600, FIRST);
    expect(await lock.release(INSTANCE_A, 'exec-2')).toEqual({ released: false });
    expect(await lock.acquire(INSTANCE_A, 'exec-2', 600, SECOND)).toMatchObject({ acquired: false, reason: 'busy', holder: 'exec-1' });
    expect(await lock.release(INSTANCE_A, 'exec-1')).toEqual({ released: true });
    expect(await lock.release(INSTANCE_A, 'exec-1')).toEqual({ released: false });
  });

  it('only the owner extends a lock (holdUntil); the extension keeps other executions out until then', async () => {
    await lock.acquire(INSTANCE_A, 'exec-1', 600, FIRST);
    const until = new Date('2026-03-01T02:00:00.000Z');
    expect(await lock.holdUntil(INSTANCE_A, 'exec-2', until)).toEqual({ held: false });
    expect(await lock.holdUntil(INSTANCE_A, 'exec-1', until)).toEqual({ held: true });
    clock.advance(3600);
    expect(await lock.acquire(INSTANCE_A, 'exec-2', 600, SECOND)).toEqual({ acquired: false, reason: 'busy', holder: 'exec-1', expiresAt: '2026-03-01T02:00:00.000Z' });
    expect(await lock.holdUntil('i-0000000000000beef', 'exec-1', until)).toEqual({ held: false });
  });

  it('a failure that is not a lost condition is an error, not "busy" (a missing table)', async () => {
    const missing = new DynamoBeaconLock(documentClient(dynamo.client), 'NoSuchTable', clock);
    await expect(missing.acquire(INSTANCE_A, 'exec-1', 600, FIRST)).rejects.toThrow(/non-existent table|not found|ResourceNotFound/i);
    await expect(missing.release(INSTANCE_A, 'exec-1')).rejects.toThrow(/non-existent table|not found|ResourceNotFound/i);
    await expect(missing.holdUntil(INSTANCE_A, 'exec-1', T0)).rejects.toThrow(/non-existent table|not found|ResourceNotFound/i);
  });
});

describe('DynamoFleetMemory on a DynamoDB engine', () => {
  let memory: DynamoFleetMemory;
  beforeEach(() => {
    memory = new DynamoFleetMemory(documentClient(dynamo.client), tableName, clock);
  });

  it('marks a key once: the second mark of the same key is refused', async () => {
    expect(await memory.isMarked('beacon-seen#i-1')).toBe(false);
    expect(await memory.markOnce('beacon-seen#i-1')).toBe(true);
    expect(await memory.markOnce('beacon-seen#i-1')).toBe(false);
    expect(await memory.isMarked('beacon-seen#i-1')).toBe(true);
    expect(await memory.isMarked('beacon-seen#i-2')).toBe(false);
    expect((await dynamo.scan(tableName)).find((item) => item.pk === 'MARK#beacon-seen#i-1')).toEqual({ pk: 'MARK#beacon-seen#i-1', sk: 'MARK', at: T0.toISOString() });
  });

  it('a mark with a TTL stops counting once the TTL has passed, though the item is still in the table (lazy deletion)', async () => {
    expect(await memory.markOnce('chat#m-1', 60)).toBe(true);
    expect((await dynamo.scan(tableName)).find((item) => item.pk === 'MARK#chat#m-1')!.ttl).toBe(T0.getTime() / 1000 + 60);
    clock.advance(60);
    expect(await memory.isMarked('chat#m-1')).toBe(true);
    clock.advance(1);
    expect(await memory.isMarked('chat#m-1')).toBe(false);
  });

  it('an expired mark still in the table (DynamoDB deletes within about 48 h) can be marked again, as isMarked already says it is not marked', async () => {
    expect(await memory.markOnce('remind#p-1', 60)).toBe(true);
    expect(await memory.markOnce('remind#p-1', 60)).toBe(false);
    clock.advance(61);
    expect(await memory.markOnce('remind#p-1', 60)).toBe(true);
    expect(await memory.isMarked('remind#p-1')).toBe(true);
    expect(await memory.markOnce('remind#p-1', 60)).toBe(false);
  });

  it('keeps a small value per key; an unknown key is null', async () => {
    expect(await memory.getValue('cursor')).toBeNull();
    await memory.putValue('cursor', { next: 'abc', count: 2 });
    expect(await memory.getValue('cursor')).toEqual({ next: 'abc', count: 2 });
    await memory.putValue('cursor', { next: 'def' });
    expect(await memory.getValue('cursor')).toEqual({ next: 'def' });
  });
});
