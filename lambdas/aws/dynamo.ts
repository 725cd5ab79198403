/**
 * DynamoDB adapters over one table (pk, sk, ttl): requests, per-beacon status, audit trail, beacon locks,
 * and the triggers' memory. Items:
 *   REQ#<id> / REQUEST            the request record
 *   REQ#<id> / BEACON#<instance>  per-beacon status
 *   REQ#<id> / AUDIT#<at>#<event>#<instance>
 *   REQ#<id> / ROLLOUT, PAGE#<n>   the request's rollout and its expanded target (lambdas/aws/rollout-store.ts)
 *   PIN#fnms-approved-version / PIN the pin ledger across requests (lambdas/aws/rollout-store.ts)
 *   LOCK#<instance> / LOCK        owner, expiresAtMs (absent when free), latestOrder (kept), ttl
 *   MARK#<key> / MARK             seen beacons, answered chat messages
 *   VALUE#<key> / VALUE           small state (the last drift pass)
 */
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type {
  AuditEvent,
  BeaconLock,
  BeaconStatusRecord,
  Clock,
  FleetMemory,
  LockResult,
  RequestRecord,
  RequestStatus,
  RequestStore,
} from '../core/ports.js';
import { rolloutFromItem } from './rollout-store.js';

export function documentClient(client = new DynamoDBClient({})): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

function isConditionFailure(error: unknown): error is ConditionalCheckFailedException {
  return error instanceof ConditionalCheckFailedException || (error as { name?: string })?.name === 'ConditionalCheckFailedException';
}

const requestKey = (requestId: string) => `REQ#${requestId}`;

export class DynamoRequestStore implements RequestStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async recordRequest(record: RequestRecord): Promise<'created' | 'exists'> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk: requestKey(record.requestId), sk: 'REQUEST', ...record },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return 'created';
    } catch (error) {
      if (isConditionFailure(error)) return 'exists';
      throw error;
    }
  }

  async putBeaconStatus(status: BeaconStatusRecord): Promise<void> {
    await this.db.send(new PutCommand({ TableName: this.tableName, Item: { pk: requestKey(status.requestId), sk: `BEACON#${status.instanceId}`, ...status } }));
  }

  async appendAudit(event: AuditEvent): Promise<void> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk: requestKey(event.requestId), sk: `AUDIT#${event.at}#${event.event}#${event.instanceId ?? ''}`, ...event },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }

  async getRequestStatus(requestId: string): Promise<RequestStatus | null> {
    // Two ranges of the request's partition: audit and beacon rows (sk before PAGE#), then the request and its
    // rollout (sk from R); the expanded target's pages (PAGE#...) stay unread.
    const query = async (condition: string, values: Record<string, unknown>) => {
      const items: Array<Record<string, unknown>> = [];
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await this.db.send(
          new QueryCommand({ TableName: this.tableName, KeyConditionExpression: condition, ExpressionAttributeValues: { ':pk': requestKey(requestId), ...values }, ExclusiveStartKey: startKey }),
        );
        items.push(...((page.Items ?? []) as Array<Record<string, unknown>>));
        startKey = page.LastEvaluatedKey;
      } while (startKey);
      return items;
    };
    const [rows, records] = await Promise.all([query('pk = :pk AND sk < :page', { ':page': 'PAGE#' }), query('pk = :pk AND sk >= :r', { ':r': 'R' })]);
    const strip = <T>(item: Record<string, unknown>): T => {
      const { pk: _pk, sk: _sk, ...rest } = item;
      return rest as T;
    };
    const request = records.find((item) => item.sk === 'REQUEST');
    if (!request) return null;
    const rollout = records.find((item) => item.sk === 'ROLLOUT');
    return {
      request: strip<RequestRecord>(request),
      beacons: rows.filter((item) => String(item.sk).startsWith('BEACON#')).map((item) => strip<BeaconStatusRecord>(item)),
      audit: rows.filter((item) => String(item.sk).startsWith('AUDIT#')).map((item) => strip<AuditEvent>(item)),
      rollout: rollout ? rolloutFromItem(rollout) : null,
    };
  }
}

/** How long a beacon's lock item remembers the newest request that took the beacon (longer than any queue retention). */
export const LOCK_ORDER_MEMORY_SECONDS = 14 * 24 * 60 * 60;

export class DynamoBeaconLock implements BeaconLock {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly clock: Clock,
  ) {}

  private key(instanceId: string) {
    return { pk: `LOCK#${instanceId}`, sk: 'LOCK' };
  }

  async acquire(instanceId: string, owner: string, ttlSeconds: number, order: string): Promise<LockResult> {
    const now = this.clock.now().getTime();
    const expiresAtMs = now + ttlSeconds * 1000;
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.key(instanceId),
          UpdateExpression: 'SET #owner = :owner, expiresAtMs = :expires, latestOrder = :order, #ttl = :ttl',
          // Free, expired (TTL deletion is lazy), or already ours (a retried acquire); and no newer request took the beacon.
          ConditionExpression: '(attribute_not_exists(#owner) OR #owner = :owner OR expiresAtMs < :now) AND (attribute_not_exists(latestOrder) OR latestOrder <= :order)',
          ExpressionAttributeNames: { '#owner': 'owner', '#ttl': 'ttl' },
          ExpressionAttributeValues: {
            ':owner': owner,
            ':expires': expiresAtMs,
            ':order': order,
            ':now': now,
            ':ttl': Math.ceil(Math.max(expiresAtMs, now + LOCK_ORDER_MEMORY_SECONDS * 1000) / 1000),
          },
        }),
      );
      return { acquired: true, expiresAt: new Date(expiresAtMs).toISOString() };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const held = (await this.db.send(new GetCommand({ TableName: this.tableName, Key: this.key(instanceId), ConsistentRead: true }))).Item;
      const latest = typeof held?.latestOrder === 'string' ? held.latestOrder : null;
      if (latest !== null && latest > order) return { acquired: false, reason: 'superseded', newer: latest };
      return {
        acquired: false,
        reason: 'busy',
        holder: typeof held?.owner === 'string' ? held.owner : 'another execution (released meanwhile)',
        expiresAt: typeof held?.expiresAtMs === 'number' ? new Date(held.expiresAtMs).toISOString() : 'unknown',
      };
    }
  }

  async release(instanceId: string, owner: string): Promise<{ released: boolean }> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.key(instanceId),
          // The item stays: it remembers the newest request that took the beacon.
          UpdateExpression: 'REMOVE #owner, expiresAtMs',
          ConditionExpression: '#owner = :owner',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':owner': owner },
        }),
      );
      return { released: true };
    } catch (error) {
      if (isConditionFailure(error)) return { released: false };
      throw error;
    }
  }

  async holdUntil(instanceId: string, owner: string, until: Date): Promise<{ held: boolean }> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.key(instanceId),
          UpdateExpression: 'SET expiresAtMs = :until',
          ConditionExpression: '#owner = :owner',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':owner': owner, ':until': until.getTime() },
        }),
      );
      return { held: true };
    } catch (error) {
      if (isConditionFailure(error)) return { held: false };
      throw error;
    }
  }
}

export class DynamoFleetMemory implements FleetMemory {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly clock: Clock,
  ) {}

  async markOnce(key: string, ttlSeconds?: number): Promise<boolean> {
    const at = this.clock.now();
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk: `MARK#${key}`, sk: 'MARK', at: at.toISOString(), ...(ttlSeconds ? { ttl: Math.ceil(at.getTime() / 1000) + ttlSeconds } : {}) },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async isMarked(key: string): Promise<boolean> {
    const result = await this.db.send(new GetCommand({ TableName: this.tableName, Key: { pk: `MARK#${key}`, sk: 'MARK' }, ConsistentRead: true }));
    const ttl = result.Item?.ttl;
    // TTL deletion is lazy: an expired mark still in the table does not count.
    return result.Item !== undefined && !(typeof ttl === 'number' && ttl * 1000 < this.clock.now().getTime());
  }

  async getValue(key: string): Promise<Record<string, unknown> | null> {
    const result = await this.db.send(new GetCommand({ TableName: this.tableName, Key: { pk: `VALUE#${key}`, sk: 'VALUE' } }));
    return (result.Item?.value as Record<string, unknown> | undefined) ?? null;
  }

  async putValue(key: string, value: Record<string, unknown>): Promise<void> {
    await this.db.send(new PutCommand({ TableName: this.tableName, Item: { pk: `VALUE#${key}`, sk: 'VALUE', value } }));
  }
}
