/**
 * What the DynamoDB adapters do in the races a local engine does not stage: a lock released between the
 * refused update and the read, a lost condition reported by a second copy of the SDK (an error named
 * ConditionalCheckFailedException that is not an instance of this copy's class), and any other error.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoBeaconLock, DynamoFleetMemory, DynamoRequestStore, documentClient } from '../../lambdas/aws/dynamo.js';
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
