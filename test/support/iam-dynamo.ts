/**
 * DynamoDB as a role sees it: every command of the document client is first authorized against that role's
 * IAM statements (action, table ARN, dynamodb:LeadingKeys), as DynamoDB does, then applied to an in-memory
 * table keyed by (pk, sk) with the conditions our adapters use. A refusal is DynamoDB's AccessDeniedException.
 */
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { type PolicyStatementJson, evaluatePolicies } from '../../local/iam-policy.js';

export const TABLE_NAME = 'BeaconProxy-StateTable';
export const TABLE_ARN = `arn:aws:dynamodb:eu-west-1:123456789012:table/${TABLE_NAME}`;

type Item = Record<string, unknown>;

export interface GuardedTable {
  items: Map<string, Item>;
  /** Every authorization decision: action, leading key, allowed or not. */
  decisions: Array<{ action: string; leadingKey: string; allowed: boolean }>;
  /** Puts an item without any authorization (the intake or the workflow wrote it). */
  seed(item: Item): void;
  restore(): void;
}

function accessDenied(role: string, action: string): Error {
  return Object.assign(new Error(`User: ${role} is not authorized to perform: ${action} on resource: ${TABLE_ARN} because no identity-based policy allows the ${action} action`), {
    name: 'AccessDeniedException',
    $metadata: { httpStatusCode: 400 },
  });
}

function conditionFailed(): Error {
  return new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: { httpStatusCode: 400 } });
}

/** Replaces intrinsic table references in synthesized statements with the test table's ARN. */
export function withTableArn(statements: PolicyStatementJson[]): PolicyStatementJson[] {
  const resolve = (value: unknown): string => (typeof value === 'string' ? value : JSON.stringify(value).includes('StateTable') ? TABLE_ARN : JSON.stringify(value));
  return statements.map((statement) => ({ ...statement, ...(statement.Resource !== undefined ? { Resource: ([] as unknown[]).concat(statement.Resource).map(resolve) } : {}) }));
}

export function guardedTable(role: string, statements: PolicyStatementJson[]): GuardedTable {
  const mock = mockClient(DynamoDBDocumentClient);
  const items = new Map<string, Item>();
  const decisions: GuardedTable['decisions'] = [];
  const keyOf = (pk: unknown, sk: unknown) => `${String(pk)}\u0000${String(sk)}`;
  const authorize = (action: string, tableName: string | undefined, leadingKey: string) => {
    const allowed = evaluatePolicies(statements, {
      principal: { arn: role },
      action: `dynamodb:${action}`,
      resource: `arn:aws:dynamodb:eu-west-1:123456789012:table/${tableName}`,
      context: { 'dynamodb:LeadingKeys': [leadingKey] },
    }) === 'allow';
    decisions.push({ action, leadingKey, allowed });
    if (!allowed) throw accessDenied(role, `dynamodb:${action}`);
  };

  // Any command without a model below fails loudly: a call the stand-in silently answered would pass unauthorized.
  mock.onAnyCommand().callsFake((input: unknown) => {
    throw new Error(`the test table does not model this command (input ${JSON.stringify(input).slice(0, 200)})`);
  });
  mock.on(UpdateCommand).callsFake((input: { TableName?: string; Key: Item }) => {
    authorize('UpdateItem', input.TableName, String(input.Key.pk));
    throw new Error('the test table authorizes UpdateItem but does not model its update expression');
  });
  // The conditions the adapters' puts use, evaluated as DynamoDB would; any other fails loudly.
  const conditions: Record<string, (existing: Item | undefined, names: Record<string, string>, values: Record<string, unknown>) => boolean> = {
    'attribute_not_exists(pk)': (existing) => existing === undefined,
    // A mark (DynamoFleetMemory.markOnce): absent, or expired but not yet deleted by TTL.
    'attribute_not_exists(pk) OR #ttl < :now': (existing, names, values) => existing === undefined || (typeof existing[names['#ttl']!] === 'number' && (existing[names['#ttl']!] as number) < (values[':now'] as number)),
  };
  // A beacon status (putBeaconStatus): absent, or not one of the final states listed as :final0..n.
  const notFinal = /^attribute_not_exists\(#state\) OR NOT \(#state IN \((:final\d+(, :final\d+)*)\)\)$/;
  mock.on(PutCommand).callsFake((input: { TableName?: string; Item: Item; ConditionExpression?: string; ExpressionAttributeNames?: Record<string, string>; ExpressionAttributeValues?: Record<string, unknown> }) => {
    authorize('PutItem', input.TableName, String(input.Item.pk));
    const key = keyOf(input.Item.pk, input.Item.sk);
    const condition = input.ConditionExpression;
    if (condition !== undefined) {
      const existing = items.get(key);
      const names = input.ExpressionAttributeNames ?? {};
      const values = input.ExpressionAttributeValues ?? {};
      const states = notFinal.exec(condition);
      let holds: boolean;
      if (conditions[condition]) holds = conditions[condition](existing, names, values);
      else if (states) holds = existing?.[names['#state']!] === undefined || !states[1]!.split(', ').map((name) => values[name]).includes(existing[names['#state']!]);
      else throw new Error(`the test table does not model the condition ${condition}`);
      if (!holds) throw conditionFailed();
    }
    items.set(key, structuredClone(input.Item));
    return {};
  });
  mock.on(GetCommand).callsFake((input: { TableName?: string; Key: Item }) => {
    authorize('GetItem', input.TableName, String(input.Key.pk));
    const item = items.get(keyOf(input.Key.pk, input.Key.sk));
    return item ? { Item: structuredClone(item) } : {};
  });
  mock.on(DeleteCommand).callsFake((input: { TableName?: string; Key: Item }) => {
    authorize('DeleteItem', input.TableName, String(input.Key.pk));
    items.delete(keyOf(input.Key.pk, input.Key.sk));
    return {};
  });
  mock.on(QueryCommand).callsFake((input: { TableName?: string; KeyConditionExpression?: string; ExpressionAttributeValues?: Item }) => {
    // The key conditions the adapters use: the partition, or a range of it (sk < :page, sk >= :r).
    const below = input.KeyConditionExpression === 'pk = :pk AND sk < :page' ? String(input.ExpressionAttributeValues?.[':page']) : null;
    const from = input.KeyConditionExpression === 'pk = :pk AND sk >= :r' ? String(input.ExpressionAttributeValues?.[':r']) : null;
    if (input.KeyConditionExpression !== 'pk = :pk' && below === null && from === null) throw new Error(`the test table does not model the key condition ${input.KeyConditionExpression}`);
    const pk = String(input.ExpressionAttributeValues?.[':pk']);
    authorize('Query', input.TableName, pk);
    const inRange = (sk: string) => (below === null || sk < below) && (from === null || sk >= from);
    return { Items: [...items.values()].filter((item) => item.pk === pk && inRange(String(item.sk))).map((item) => structuredClone(item)) };
  });

  return {
    items,
    decisions,
    seed: (item) => void items.set(keyOf(item.pk, item.sk), structuredClone(item)),
    restore: () => mock.restore(),
  };
}
