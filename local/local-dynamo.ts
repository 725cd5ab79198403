/**
 * DynamoDB for the local twin and the e2e tests: dynalite (the DynamoDB API in-process, in memory) with the
 * tables exactly as the synthesized template declares them, reached through the real SDK and the real
 * adapters of lambdas/aws/, so condition expressions are evaluated as DynamoDB evaluates them.
 *
 * dynalite has no TransactWriteItems (it answers UnknownOperationException); a front in this process adds
 * it with DynamoDB's all-or-nothing contract: a transaction runs alone (no other write runs meanwhile); each action runs with its own condition through dynalite; when one fails its condition (or
 * errs), the actions already applied are undone from their earlier images and the answer is
 * TransactionCanceledException with a CancellationReasons entry per action (ConditionalCheckFailed for the
 * failing one, None for the others), as DynamoDB answers. Reads are not serialized: a read during a
 * transaction may see part of it (DynamoDB's non-transactional reads may too, for a moment).
 */
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../lambdas/aws/dynamo.js';
import dynalite from 'dynalite';
import { Agent as HttpAgent, createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TableSpec } from './workflow-definition.js';

export interface LocalDynamo {
  client: DynamoDBClient;
  endpoint: string;
  /** Table names by role. */
  tables: { state: string; idempotency: string };
  /** Every item of a table (for dumps and tests). */
  scan(table: string): Promise<Array<Record<string, unknown>>>;
  close(): Promise<void>;
}

/** dynalite and the transaction front, listening on loopback: the endpoint, and how to stop both. */
export async function startDynamoEngine(keyNames: Record<string, string[]>): Promise<{ endpoint: string; close(): Promise<void> }> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const front = await startTransactionFront(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, keyNames);
  return {
    endpoint: `http://127.0.0.1:${(front.address() as AddressInfo).port}`,
    async close() {
      front.closeAllConnections();
      await new Promise<void>((resolve) => front.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * The engine in a child process (local/local-dynamo-process.ts), as DynamoDB is a service of its own: its CPU
 * is not the twin's (the fleet benchmarks measure the pipeline, not dynalite). Same wire, same engine.
 */
async function startDynamoProcess(keyNames: Record<string, string[]>): Promise<{ endpoint: string; close(): Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(dirname(fileURLToPath(import.meta.url)), 'local-dynamo-process.ts'), JSON.stringify(keyNames)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const endpoint = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve((JSON.parse(line) as { endpoint: string }).endpoint);
    });
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`the local DynamoDB process exited with ${code} before it listened`)));
  });
  return {
    endpoint,
    async close() {
      if (child.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill();
      });
    },
  };
}

export async function startLocalDynamo(spec: { state: TableSpec; idempotency: TableSpec }, options: { ownProcess?: boolean } = {}): Promise<LocalDynamo> {
  const keyNames: Record<string, string[]> = Object.fromEntries([spec.state, spec.idempotency].map((table) => [table.logicalId, table.keySchema.map((key) => key.AttributeName)]));
  const engine = options.ownProcess ? await startDynamoProcess(keyNames) : await startDynamoEngine(keyNames);
  const endpoint = engine.endpoint;
  // One client stands for every function of the twin; in AWS each function instance has its own connections,
  // so the pool is wide (the SDK's default of 50 sockets queued the twin's calls behind each other at fleet scale).
  const client = new DynamoDBClient({ endpoint, region: 'local-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 3, requestHandler: { httpAgent: new HttpAgent({ keepAlive: true, maxSockets: 1000 }) } });
  for (const table of [spec.state, spec.idempotency]) {
    await client.send(
      new CreateTableCommand({
        TableName: table.logicalId,
        KeySchema: table.keySchema,
        AttributeDefinitions: table.attributeDefinitions,
        BillingMode: 'PAY_PER_REQUEST',
        ...(table.globalSecondaryIndexes ? { GlobalSecondaryIndexes: table.globalSecondaryIndexes as never } : {}),
      }),
    );
  }
  const db = documentClient(client);
  return {
    client,
    endpoint,
    tables: { state: spec.state.logicalId, idempotency: spec.idempotency.logicalId },
    async scan(table) {
      const items: Array<Record<string, unknown>> = [];
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await db.send(new ScanCommand({ TableName: table, ExclusiveStartKey: startKey }));
        items.push(...((page.Items ?? []) as Array<Record<string, unknown>>));
        startKey = page.LastEvaluatedKey;
      } while (startKey);
      return items;
    },
    async close() {
      client.destroy();
      await engine.close();
    },
  };
}

type Wire = Record<string, unknown>;
interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);

function readAll(stream: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    stream.on('error', reject);
  });
}

/** The DynamoDB wire protocol in front of dynalite, with TransactWriteItems added (see the file comment). */
async function startTransactionFront(target: string, keyNames: Record<string, string[]>): Promise<Server> {
  const url = new URL(target);
  const call = (operation: string, body: string, headers: Record<string, string>): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const outbound = httpRequest(
        { host: url.hostname, port: url.port, method: 'POST', path: '/', headers: { ...headers, 'x-amz-target': `DynamoDB_20120810.${operation}`, 'content-length': String(Buffer.byteLength(body)) } },
        (response) => {
          readAll(response)
            .then((text) => resolve({ status: response.statusCode ?? 500, headers: { 'content-type': String(response.headers['content-type'] ?? 'application/x-amz-json-1.0') }, body: text }))
            .catch(reject);
        },
      );
      outbound.on('error', reject);
      outbound.end(body);
    });
  // Transactions run alone; other writes run together between them (a read-write lock, writers = transactions).
  let shared = 0;
  let exclusive: Promise<void> | null = null;
  const idle: Array<() => void> = [];
  const waitIdle = () => (shared === 0 ? Promise.resolve() : new Promise<void>((resolve) => idle.push(resolve)));
  const write = async <T>(work: () => Promise<T>): Promise<T> => {
    while (exclusive) await exclusive;
    shared += 1;
    try {
      return await work();
    } finally {
      shared -= 1;
      if (shared === 0) idle.splice(0).forEach((resolve) => resolve());
    }
  };
  const alone = async <T>(work: () => Promise<T>): Promise<T> => {
    while (exclusive) await exclusive;
    let release!: () => void;
    exclusive = new Promise<void>((resolve) => (release = resolve));
    try {
      await waitIdle();
      return await work();
    } finally {
      exclusive = null;
      release();
    }
  };

  async function transact(body: string, headers: Record<string, string>): Promise<Answer> {
    const items = (JSON.parse(body) as { TransactItems: Wire[] }).TransactItems;
    // DynamoDB's own limits, refused before anything is written: 1-100 actions, one action per item.
    const invalid = (message: string): Answer => ({ status: 400, headers: { 'content-type': 'application/x-amz-json-1.0' }, body: JSON.stringify({ __type: 'com.amazon.coral.validate#ValidationException', message }) });
    if (!Array.isArray(items) || items.length === 0 || items.length > 100) {
      return invalid(`1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to 100 and greater than or equal to 1`);
    }
    const touched = new Set<string>();
    for (const item of items) {
      const [, action] = Object.entries(item)[0] as [string, Wire];
      const table = String(action.TableName);
      const key = (action.Key as Wire | undefined) ?? Object.fromEntries((keyNames[table] ?? []).map((name) => [name, (action.Item as Wire)[name]]));
      const id = `${table}\u0000${JSON.stringify(Object.keys(key).sort().map((name) => [name, key[name]]))}`;
      if (touched.has(id)) return invalid('Transaction request cannot include multiple operations on one item');
      touched.add(id);
    }
    const undo: Array<{ table: string; key: Wire; image: Wire | null }> = [];
    const reasons = items.map(() => ({ Code: 'None' }));
    for (const [index, item] of items.entries()) {
      const [kind, action] = Object.entries(item)[0] as [string, Wire];
      const table = String(action.TableName);
      const key = (action.Key as Wire | undefined) ?? Object.fromEntries((keyNames[table] ?? []).map((name) => [name, (action.Item as Wire)[name]]));
      const before = JSON.parse((await call('GetItem', JSON.stringify({ TableName: table, Key: key, ConsistentRead: true }), headers)).body) as { Item?: Wire };
      const image = before.Item ?? null;
      const operation = kind === 'Put' ? 'PutItem' : kind === 'Update' ? 'UpdateItem' : kind === 'Delete' ? 'DeleteItem' : 'PutItem';
      // A ConditionCheck writes the item back unchanged under its condition (then undone like the others).
      const request = kind === 'ConditionCheck' ? { TableName: table, Item: image ?? key, ConditionExpression: action.ConditionExpression, ExpressionAttributeNames: action.ExpressionAttributeNames, ExpressionAttributeValues: action.ExpressionAttributeValues } : action;
      const answer = await call(operation, JSON.stringify(request), headers);
      if (answer.status === 200) {
        undo.push({ table, key, image });
        if (kind === 'ConditionCheck') undo.push({ table, key, image });
        continue;
      }
      for (const earlier of undo.reverse()) {
        if (earlier.image) await call('PutItem', JSON.stringify({ TableName: earlier.table, Item: earlier.image }), headers);
        else await call('DeleteItem', JSON.stringify({ TableName: earlier.table, Key: earlier.key }), headers);
      }
      const failure = JSON.parse(answer.body) as { __type?: string; message?: string };
      if (!String(failure.__type).endsWith('ConditionalCheckFailedException')) return answer;
      reasons[index] = { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed' } as never;
      return {
        status: 400,
        headers: { 'content-type': 'application/x-amz-json-1.0' },
        body: JSON.stringify({
          __type: 'com.amazonaws.dynamodb.v20120810#TransactionCanceledException',
          message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((reason) => reason.Code).join(', ')}]`,
          CancellationReasons: reasons,
        }),
      };
    }
    return { status: 200, headers: { 'content-type': 'application/x-amz-json-1.0' }, body: '{}' };
  }

  const front = createServer((req, res) => {
    void (async () => {
      const body = await readAll(req);
      const operation = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string' && name !== 'host' && name !== 'content-length' && name !== 'x-amz-target') headers[name] = value;
      const answer =
        operation === 'TransactWriteItems' ? await alone(() => transact(body, headers)) : WRITES.has(operation) ? await write(() => call(operation, body, headers)) : await call(operation, body, headers);
      res.writeHead(answer.status, answer.headers);
      res.end(answer.body);
    })().catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/x-amz-json-1.0' });
      res.end(JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: (error as Error).message }));
    });
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', () => resolve()));
  return front;
}
