/**
 * DynamoDB for the local twin and the e2e tests: dynalite (the DynamoDB API in-process, in memory) with the
 * tables exactly as the synthesized template declares them, reached through the real SDK and the real
 * adapters of lambdas/aws/, so condition expressions are evaluated as DynamoDB evaluates them.
 */
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../lambdas/aws/dynamo.js';
import dynalite from 'dynalite';
import type { AddressInfo } from 'node:net';
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

export async function startLocalDynamo(spec: { state: TableSpec; idempotency: TableSpec }): Promise<LocalDynamo> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new DynamoDBClient({ endpoint, region: 'local-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 3 });
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
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
