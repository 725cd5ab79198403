/**
 * The DynamoDB stand-in (dynalite plus our TransactWriteItems front) refuses what DynamoDB refuses, so a
 * transaction that would fail in AWS fails here: 1-100 actions, one action per item, all or nothing.
 */
import { TransactWriteCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentClient } from '../../lambdas/aws/dynamo.js';
import { type LocalDynamo, startLocalDynamo } from '../../local/local-dynamo.js';
import { loadWorkflow } from '../../local/workflow-definition.js';

let dynamo: LocalDynamo;
let keys: string[];
const item = (n: number, extra: Record<string, unknown> = {}) => ({ ...Object.fromEntries(keys.map((k) => [k, `item-${n}`])), ...extra });

beforeAll(async () => {
  const workflow = await loadWorkflow();
  dynamo = await startLocalDynamo(workflow.tables);
  keys = workflow.tables.state.keySchema.map((key) => key.AttributeName);
}, 120_000);
afterAll(() => dynamo?.close());

describe('TransactWriteItems on the local DynamoDB', () => {
  const send = (items: Array<Record<string, unknown>>) => documentClient(dynamo.client).send(new TransactWriteCommand({ TransactItems: items as never }));
  const put = (n: number, extra: Record<string, unknown> = {}) => ({ Put: { TableName: dynamo.tables.state, Item: item(n, extra) } });

  it('refuses two actions on one item, as DynamoDB does, and writes nothing', async () => {
    await expect(send([put(1, { v: 'a' }), put(1, { v: 'b' })])).rejects.toMatchObject({ name: 'ValidationException', message: 'Transaction request cannot include multiple operations on one item' });
    expect((await documentClient(dynamo.client).send(new GetCommand({ TableName: dynamo.tables.state, Key: item(1) }))).Item).toBeUndefined();
  });

  it('refuses more than 100 actions', async () => {
    await expect(send(Array.from({ length: 101 }, (_, n) => put(1000 + n)))).rejects.toMatchObject({ name: 'ValidationException' });
  });

  it('is all or nothing: a failed condition cancels the whole transaction with its reasons', async () => {
    await expect(send([put(2, { v: 'first' }), { Put: { TableName: dynamo.tables.state, Item: item(3), ConditionExpression: 'attribute_exists(v)' } }])).rejects.toMatchObject({ name: 'TransactionCanceledException' });
    expect((await documentClient(dynamo.client).send(new GetCommand({ TableName: dynamo.tables.state, Key: item(2) }))).Item).toBeUndefined();
  });
});

describe('the local DynamoDB in a process of its own (the benchmarks\' twin)', () => {
  it('is the same engine and front: a transaction is all or nothing there too, and close() ends the process', async () => {
    const workflow = await loadWorkflow();
    const own = await startLocalDynamo(workflow.tables, { ownProcess: true });
    const db = documentClient(own.client);
    const key = (n: number) => Object.fromEntries(keys.map((k) => [k, `own-${n}`]));
    try {
      await expect(
        db.send(new TransactWriteCommand({ TransactItems: [{ Put: { TableName: own.tables.state, Item: { ...key(1), v: 'first' } } }, { Put: { TableName: own.tables.state, Item: key(2), ConditionExpression: 'attribute_exists(v)' } }] })),
      ).rejects.toMatchObject({ name: 'TransactionCanceledException' });
      expect((await db.send(new GetCommand({ TableName: own.tables.state, Key: key(1) }))).Item).toBeUndefined();
      await db.send(new TransactWriteCommand({ TransactItems: [{ Put: { TableName: own.tables.state, Item: { ...key(3), v: 'kept' } } }] }));
      expect((await db.send(new GetCommand({ TableName: own.tables.state, Key: key(3) }))).Item).toMatchObject({ v: 'kept' });
    } finally {
      await own.close();
    }
    // The process is gone: nothing listens on its endpoint any more.
    await expect(fetch(own.endpoint, { method: 'POST' })).rejects.toThrow();
  }, 60_000);
});
