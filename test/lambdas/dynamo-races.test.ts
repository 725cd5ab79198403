/**
 * What the DynamoDB adapters do in the races a local engine does not stage: a lock released between the
 * refused update and the read, a lost condition reported by a second copy of the SDK (an error named
 * ConditionalCheckFailedException that is not an instance of this copy's class), and any other error.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoBaselineStore, DynamoBeaconHistory, DynamoBeaconLock, DynamoDriftPassStore, DynamoFleetMemory, DynamoRequestStore, documentClient } from '../../lambdas/aws/dynamo.js';
import { FixedClock } from '../../lambdas/memory/ports.js';
import { INSTANCE_A } from './fixtures.js';

const ddb = mockClient(DynamoDBDocumentClient);
beforeEach(() => ddb.reset());
afterAll(() => ddb.restore());
const db = () => documentClient(new DynamoDBClient({ region: 'eu-west-1' }));
const namedConditionFailure = () => Object.assign(new Error('The conditional request failed'), { name: 'ConditionalCheckFailedException' });
const throttled = () => Object.assign(new Error('Rate exceeded'), { name: 'ProvisionedThroughputExceededException' });

describe('a lost condition from another copy of the SDK is still a lost condition', () => {
  it('a request recorded twice is "exists"; an audit record written twice is no error; a mark set twice is refused', async () => {
    ddb.on(PutCommand).rejects(namedConditionFailure());
    const record = { requestId: 'r1', state: 'accepted' as const, source: 'queue' as const, receivedAt: '2026-01-01T00:00:00Z' };
    expect(await new DynamoRequestStore(db(), 't').recordRequest(record)).toBe('exists');
    await expect(new DynamoRequestStore(db(), 't').appendAudit({ requestId: 'r1', at: '2026', event: 'request.accepted' })).resolves.toBeUndefined();
    expect(await new DynamoFleetMemory(db(), 't', new FixedClock()).markOnce('k')).toBe(false);
  });

  it('a lock refused that way reads the holder', async () => {
    ddb.on(UpdateCommand).rejects(namedConditionFailure());
    ddb.on(GetCommand).resolves({ Item: { owner: 'exec-0', expiresAtMs: Date.parse('2026-01-01T01:00:00Z') } });
    const lock = new DynamoBeaconLock(db(), 't', new FixedClock());
    expect(await lock.acquire(INSTANCE_A, 'exec-1', 600, 'o')).toEqual({ acquired: false, reason: 'busy', holder: 'exec-0', expiresAt: '2026-01-01T01:00:00.000Z' });
    expect(await lock.release(INSTANCE_A, 'exec-1')).toEqual({ released: false });
    expect(await lock.holdUntil(INSTANCE_A, 'exec-1', new Date())).toEqual({ held: false });
  });
});

describe('races and other errors', () => {
  it('a lock released between the refused update and the read: busy, holder unknown', async () => {
    ddb.on(UpdateCommand).rejects(namedConditionFailure());
    ddb.on(GetCommand).resolves({});
    expect(await new DynamoBeaconLock(db(), 't', new FixedClock()).acquire(INSTANCE_A, 'exec-1', 600, 'o')).toEqual({
      acquired: false,
      reason: 'busy',
      holder: 'another execution (released meanwhile)',
      expiresAt: 'unknown',
    });
    expect(ddb.commandCalls(GetCommand)[0]!.args[0].input).toEqual({ TableName: 't', Key: { pk: `LOCK#${INSTANCE_A}`, sk: 'LOCK' }, ConsistentRead: true });
  });

  it('any other error is thrown, never taken for a lost condition', async () => {
    ddb.on(PutCommand).rejects(throttled());
    ddb.on(UpdateCommand).rejects(throttled());
    const record = { requestId: 'r1', state: 'accepted' as const, source: 'queue' as const, receivedAt: '2026-01-01T00:00:00Z' };
    await expect(new DynamoRequestStore(db(), 't').recordRequest(record)).rejects.toThrow('Rate exceeded');
    await expect(new DynamoRequestStore(db(), 't').appendAudit({ requestId: 'r1', at: '2026', event: 'e' })).rejects.toThrow('Rate exceeded');
    await expect(new DynamoFleetMemory(db(), 't', new FixedClock()).markOnce('k')).rejects.toThrow('Rate exceeded');
    await expect(new DynamoBeaconLock(db(), 't', new FixedClock()).acquire(INSTANCE_A, 'e', 600, 'o')).rejects.toThrow('Rate exceeded');
  });
});

describe('reads that decide must be strongly consistent (DynamoDB reads are eventually consistent by default)', () => {
  it('the lock holder, a mark, the baselines, the drift checkpoint and its pages are read with ConsistentRead', async () => {
    ddb.on(GetCommand).resolves({});
    ddb.on(BatchGetCommand).resolves({ Responses: {} });
    await new DynamoFleetMemory(db(), 't', new FixedClock()).isMarked('k');
    await new DynamoBaselineStore(db(), 't').getBaselines([INSTANCE_A]);
    const passes = new DynamoDriftPassStore(db(), 't', new FixedClock());
    expect(await passes.getCheckpoint()).toBeNull();
    expect(await passes.getPage('p1', 3)).toBeNull();
    expect(ddb.commandCalls(GetCommand).map((call) => [call.args[0].input.Key, call.args[0].input.ConsistentRead])).toEqual([
      [{ pk: 'MARK#k', sk: 'MARK' }, true],
      [{ pk: 'DRIFT#checkpoint', sk: 'CHECKPOINT' }, true],
      [{ pk: 'DRIFT#p1', sk: 'PAGE#000003' }, true],
    ]);
    expect(ddb.commandCalls(BatchGetCommand)[0]!.args[0].input.RequestItems).toEqual({ t: { Keys: [{ pk: `BASELINE#${INSTANCE_A}`, sk: 'BASELINE' }], ConsistentRead: true } });
  });
});

describe('keys DynamoDB leaves unprocessed are asked again with backoff, then given up on', () => {
  it('baselines: waits 100 ms doubling to 2 s between tries; after 9 tries it fails naming the count', async () => {
    const keys = [{ pk: `BASELINE#${INSTANCE_A}`, sk: 'BASELINE' }];
    ddb.on(BatchGetCommand).resolves({ UnprocessedKeys: { t: { Keys: keys } } });
    const waits: number[] = [];
    const store = new DynamoBaselineStore(db(), 't', async (ms) => void waits.push(ms));
    await expect(store.getBaselines([INSTANCE_A])).rejects.toThrow('DynamoDB left 1 baseline reads unprocessed after 9 attempts');
    expect(waits).toEqual([100, 200, 400, 800, 1600, 2000, 2000, 2000]);
  });

  it('baselines: a key processed on the second try is read', async () => {
    const keys = [{ pk: `BASELINE#${INSTANCE_A}`, sk: 'BASELINE' }];
    ddb.on(BatchGetCommand).resolvesOnce({ UnprocessedKeys: { t: { Keys: keys } } }).resolvesOnce({ Responses: { t: [{ ...keys[0], instanceId: INSTANCE_A, digest: 'd', ttl: 1 }] } });
    const waits: number[] = [];
    const found = await new DynamoBaselineStore(db(), 't', async (ms) => void waits.push(ms)).getBaselines([INSTANCE_A, INSTANCE_A]);
    expect(found).toEqual(new Map([[INSTANCE_A, { instanceId: INSTANCE_A, digest: 'd' }]]));
    expect(waits).toEqual([100]);
    expect(ddb.commandCalls(BatchGetCommand)[1]!.args[0].input.RequestItems).toEqual({ t: { Keys: keys, ConsistentRead: true } });
  });

  it('the request records of a history page: the same backoff and bound', async () => {
    ddb.on(QueryCommand).resolves({ Items: [{ requestId: 'r1', instanceId: INSTANCE_A, state: 'ok', updatedAt: '2026' }] });
    ddb.on(BatchGetCommand).resolves({ UnprocessedKeys: { t: { Keys: [{ pk: 'REQ#r1', sk: 'REQUEST' }] } } });
    const waits: number[] = [];
    const history = new DynamoBeaconHistory(db(), 't', async (ms) => void waits.push(ms));
    await expect(history.beaconHistory(INSTANCE_A, { limit: 10 })).rejects.toThrow('DynamoDB left 1 request reads unprocessed after 9 attempts');
    expect(waits).toEqual([100, 200, 400, 800, 1600, 2000, 2000, 2000]);
  });
});

describe('writes whose condition is not the question rethrow', () => {
  it('a baseline write or a checkpoint save that fails otherwise is an error, not "older" or "lost"', async () => {
    const baseline = { instanceId: INSTANCE_A, content: {}, digest: 'd', requestId: 'r1', source: 'api' as const, order: 'o', lastAppliedBy: 'r1', appliedAt: '2026' };
    ddb.on(PutCommand).rejects(throttled());
    await expect(new DynamoBaselineStore(db(), 't').recordBaseline(baseline)).rejects.toThrow('Rate exceeded');
    await expect(new DynamoDriftPassStore(db(), 't', new FixedClock()).saveCheckpoint({ version: 1 } as never, null)).rejects.toThrow('Rate exceeded');
    ddb.reset();
    ddb.on(PutCommand).rejects(namedConditionFailure());
    ddb.on(UpdateCommand).rejects(throttled());
    await expect(new DynamoBaselineStore(db(), 't').recordBaseline(baseline)).rejects.toThrow('Rate exceeded');
    ddb.on(UpdateCommand).rejects(namedConditionFailure());
    expect(await new DynamoBaselineStore(db(), 't').recordBaseline(baseline)).toBe('older');
    expect(await new DynamoDriftPassStore(db(), 't', new FixedClock()).saveCheckpoint({ version: 2 } as never, 1)).toBe(false);
  });
});
