/**
 * DynamoDB adapters over one table (pk, sk, ttl): requests, per-beacon status, audit trail, beacon locks,
 * and the triggers' memory. Items:
 *   REQ#<id> / REQUEST            the request record
 *   REQ#<id> / BEACON#<instance>  per-beacon status; historyBeacon = <instance>, historyAt = <updatedAt>#<id>
 *                                 (the byBeacon index: a beacon's history across requests)
 *   REQ#<id> / AUDIT#<at>#<event>#<instance>[#<key>]   (key: one record per change of a beacon)
 *   REQ#<id> / ROLLOUT, PAGE#<n>   the request's rollout and its expanded target (lambdas/aws/rollout-store.ts)
 *   PIN#fnms-approved-version / PIN the pin ledger across requests (lambdas/aws/rollout-store.ts)
 *   LOCK#<instance> / LOCK        owner, expiresAtMs (absent when free), latestOrder (kept), ttl
 *   MARK#<key> / MARK             seen beacons, answered chat messages
 *   VALUE#<key> / VALUE           small state
 *   BASELINE#<instance> / BASELINE  the beacon's drift baseline (no TTL: it outlives every request)
 *   DRIFT#checkpoint / CHECKPOINT the drift pass in progress or the last one
 *   DRIFT#<passId> / PAGE#<n>     a page of a drift pass: its beacons, verify commands and review (TTL)
 */
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { BeaconBaseline } from '../core/baseline.js';
import { DRIFT_PAGE_TTL_SECONDS, type DriftCheckpoint, type DriftPage } from '../core/drift-pass.js';
import { BEACON_HISTORY_INDEX, TABLE_KEY_PREFIXES } from './table-keys.js';
import {
  type BeaconHistory,
  type BeaconHistoryEntry,
  type BeaconHistoryPage,
  BeaconCommandError,
  appliedSettings,
  requestKind,
  historyRequestedBy,
} from '../core/beacon-history.js';
import type {
  AuditEvent,
  BaselineStore,
  BeaconLock,
  BeaconStatusRecord,
  Clock,
  DriftPassStore,
  FleetMemory,
  LockResult,
  RequestRecord,
  RequestStatus,
  RequestStore,
} from '../core/ports.js';
import { TERMINAL_BEACON_STATES } from '../core/ports.js';
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
    // A state that is not final is written only over no row or a row that is not final (statusWriteAllowed).
    const final = TERMINAL_BEACON_STATES.includes(status.state);
    const finals = Object.fromEntries(TERMINAL_BEACON_STATES.map((state, index) => [`:final${index}`, state]));
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            pk: requestKey(status.requestId),
            sk: `BEACON#${status.instanceId}`,
            ...status,
            [BEACON_HISTORY_INDEX.partitionKey]: status.instanceId,
            [BEACON_HISTORY_INDEX.sortKey]: `${status.updatedAt}#${status.requestId}`,
          },
          ...(final
            ? {}
            : {
                ConditionExpression: `attribute_not_exists(#state) OR NOT (#state IN (${Object.keys(finals).join(', ')}))`,
                ExpressionAttributeNames: { '#state': 'state' },
                ExpressionAttributeValues: finals,
              }),
        }),
      );
    } catch (error) {
      // The beacon's outcome is recorded already: this late write changes nothing.
      if (!isConditionFailure(error)) throw error;
    }
  }

  async appendAudit(event: AuditEvent): Promise<void> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk: requestKey(event.requestId), sk: `AUDIT#${event.at}#${event.event}#${event.instanceId ?? ''}${event.key ? `#${event.key}` : ''}`, ...event },
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
      const { pk: _pk, sk: _sk, [BEACON_HISTORY_INDEX.partitionKey]: _beacon, [BEACON_HISTORY_INDEX.sortKey]: _at, ...rest } = item;
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
          // TTL deletion is lazy (up to about 48 h): an expired mark still in the table is no mark (as isMarked says).
          ConditionExpression: 'attribute_not_exists(pk) OR #ttl < :now',
          ExpressionAttributeNames: { '#ttl': 'ttl' },
          ExpressionAttributeValues: { ':now': at.getTime() / 1000 },
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

const strip = <T>(item: Record<string, unknown>): T => {
  const { pk: _pk, sk: _sk, ttl: _ttl, ...rest } = item;
  return rest as T;
};

/** BatchGetItem takes at most 100 keys; keys DynamoDB leaves unprocessed (throttling) are asked again with backoff. */
const BATCH_GET_KEYS = 100;

export class DynamoBaselineStore implements BaselineStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  ) {}

  private key(instanceId: string) {
    return { pk: `${TABLE_KEY_PREFIXES.baseline}${instanceId}`, sk: 'BASELINE' };
  }

  async getBaselines(instanceIds: string[]): Promise<Map<string, BeaconBaseline>> {
    const found = new Map<string, BeaconBaseline>();
    const unique = [...new Set(instanceIds)];
    for (let start = 0; start < unique.length; start += BATCH_GET_KEYS) {
      let keys: Array<Record<string, unknown>> = unique.slice(start, start + BATCH_GET_KEYS).map((id) => this.key(id));
      for (let attempt = 0; keys.length > 0; attempt += 1) {
        if (attempt > 0) {
          if (attempt > 8) throw new Error(`DynamoDB left ${keys.length} baseline reads unprocessed after ${attempt} attempts`);
          await this.sleep(Math.min(2000, 50 * 2 ** attempt));
        }
        const result = await this.db.send(new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: keys, ConsistentRead: true } } }));
        for (const item of result.Responses?.[this.tableName] ?? []) {
          const baseline = strip<BeaconBaseline>(item as Record<string, unknown>);
          found.set(baseline.instanceId, baseline);
        }
        keys = (result.UnprocessedKeys?.[this.tableName]?.Keys ?? []) as Array<Record<string, unknown>>;
      }
    }
    return found;
  }

  async recordBaseline(baseline: BeaconBaseline): Promise<'recorded' | 'refreshed' | 'older'> {
    const names = { '#order': 'order' };
    try {
      // A first baseline, or new content from a request at least as new as the stored one.
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...this.key(baseline.instanceId), ...baseline },
          ConditionExpression: 'attribute_not_exists(pk) OR (#order <= :order AND digest <> :digest)',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: { ':order': baseline.order, ':digest': baseline.digest },
        }),
      );
      return 'recorded';
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
    try {
      // The same content applied again (a drift re-apply): the request it came from stays.
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.key(baseline.instanceId),
          UpdateExpression: 'SET lastAppliedBy = :by, appliedAt = :at, #order = :order',
          ConditionExpression: 'digest = :digest AND #order <= :order',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: { ':by': baseline.lastAppliedBy, ':at': baseline.appliedAt, ':order': baseline.order, ':digest': baseline.digest },
        }),
      );
      return 'refreshed';
    } catch (error) {
      if (isConditionFailure(error)) return 'older';
      throw error;
    }
  }
}

export class DynamoDriftPassStore implements DriftPassStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly clock: Clock,
  ) {}

  private readonly checkpointKey = { pk: `${TABLE_KEY_PREFIXES.drift}checkpoint`, sk: 'CHECKPOINT' };

  private pageKey(passId: string, index: number) {
    return { pk: `${TABLE_KEY_PREFIXES.drift}${passId}`, sk: `PAGE#${String(index).padStart(6, '0')}` };
  }

  async getCheckpoint(): Promise<DriftCheckpoint | null> {
    const result = await this.db.send(new GetCommand({ TableName: this.tableName, Key: this.checkpointKey, ConsistentRead: true }));
    return result.Item ? strip<DriftCheckpoint>(result.Item) : null;
  }

  async saveCheckpoint(checkpoint: DriftCheckpoint, expectedVersion: number | null): Promise<boolean> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...this.checkpointKey, ...checkpoint },
          ...(expectedVersion === null
            ? { ConditionExpression: 'attribute_not_exists(pk)' }
            : { ConditionExpression: '#version = :expected', ExpressionAttributeNames: { '#version': 'version' }, ExpressionAttributeValues: { ':expected': expectedVersion } }),
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async putPage(page: DriftPage): Promise<void> {
    const ttl = Math.ceil(this.clock.now().getTime() / 1000) + DRIFT_PAGE_TTL_SECONDS;
    await this.db.send(new PutCommand({ TableName: this.tableName, Item: { ...this.pageKey(page.passId, page.index), ...page, ttl } }));
  }

  async getPage(passId: string, index: number): Promise<DriftPage | null> {
    const result = await this.db.send(new GetCommand({ TableName: this.tableName, Key: this.pageKey(passId, index), ConsistentRead: true }));
    return result.Item ? strip<DriftPage>(result.Item) : null;
  }
}

/**
 * A beacon's history: one Query on the byBeacon index (newest first, `limit` items), then the page's
 * request records in one BatchGetItem. The cursor is the Query's LastEvaluatedKey, checked on the way back
 * in: it must be a key of this beacon's index.
 */
export class DynamoBeaconHistory implements BeaconHistory {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  ) {}

  private static readonly CURSOR_KEYS = ['pk', 'sk', BEACON_HISTORY_INDEX.partitionKey, BEACON_HISTORY_INDEX.sortKey].sort();

  private decodeCursor(cursor: string, instanceId: string): Record<string, string> {
    const refused = new BeaconCommandError('INVALID_CURSOR', 'the cursor is not one this API gave for this beacon; start again without it', 'cursor', 400);
    let key: unknown;
    try {
      key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    } catch {
      throw refused;
    }
    if (!key || typeof key !== 'object' || Array.isArray(key)) throw refused;
    const entries = Object.entries(key as Record<string, unknown>);
    const names = entries.map(([name]) => name).sort();
    if (names.join() !== DynamoBeaconHistory.CURSOR_KEYS.join() || entries.some(([, value]) => typeof value !== 'string')) throw refused;
    const typed = key as Record<string, string>;
    if (typed[BEACON_HISTORY_INDEX.partitionKey] !== instanceId || !typed.pk!.startsWith(TABLE_KEY_PREFIXES.request) || typed.sk !== `BEACON#${instanceId}`) throw refused;
    return typed;
  }

  async beaconHistory(instanceId: string, options: { limit: number; cursor?: string | null }): Promise<BeaconHistoryPage> {
    const startKey = options.cursor ? this.decodeCursor(options.cursor, instanceId) : undefined;
    const page = await this.db.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: BEACON_HISTORY_INDEX.name,
        KeyConditionExpression: '#beacon = :beacon',
        ExpressionAttributeNames: { '#beacon': BEACON_HISTORY_INDEX.partitionKey },
        ExpressionAttributeValues: { ':beacon': instanceId },
        ScanIndexForward: false,
        Limit: options.limit,
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      }),
    );
    const items = (page.Items ?? []) as Array<Record<string, unknown>>;
    const requests = await this.requestRecords([...new Set(items.map((item) => String(item.requestId)))]);
    const entries = items.map((item): BeaconHistoryEntry => {
      const status = item as unknown as BeaconStatusRecord;
      const request = requests.get(status.requestId) ?? null;
      return {
        requestId: status.requestId,
        instanceId: status.instanceId,
        kind: requestKind(request),
        source: request?.source ?? null,
        requestedBy: historyRequestedBy(request),
        receivedAt: request?.receivedAt ?? null,
        state: status.state,
        updatedAt: status.updatedAt,
        applied: appliedSettings(request),
        reasons: status.reasons ?? [],
        diff: status.diff ?? [],
        restored: status.restored ?? [],
        ...(status.diffOmitted ? { diffOmitted: status.diffOmitted } : {}),
        commandId: status.commandId ?? null,
        linkedTo: request?.linkedTo ?? null,
      };
    });
    const last = page.LastEvaluatedKey;
    return { entries, nextCursor: last ? Buffer.from(JSON.stringify(last), 'utf8').toString('base64url') : null };
  }

  private async requestRecords(requestIds: string[]): Promise<Map<string, RequestRecord>> {
    const found = new Map<string, RequestRecord>();
    for (let start = 0; start < requestIds.length; start += BATCH_GET_KEYS) {
      let keys: Array<Record<string, unknown>> = requestIds.slice(start, start + BATCH_GET_KEYS).map((id) => ({ pk: requestKey(id), sk: 'REQUEST' }));
      for (let attempt = 0; keys.length > 0; attempt += 1) {
        if (attempt > 0) {
          if (attempt > 8) throw new Error(`DynamoDB left ${keys.length} request reads unprocessed after ${attempt} attempts`);
          await this.sleep(Math.min(2000, 50 * 2 ** attempt));
        }
        const result = await this.db.send(new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: keys } } }));
        for (const item of result.Responses?.[this.tableName] ?? []) {
          const record = strip<RequestRecord>(item as Record<string, unknown>);
          found.set(record.requestId, record);
        }
        keys = (result.UnprocessedKeys?.[this.tableName]?.Keys ?? []) as Array<Record<string, unknown>>;
      }
    }
    return found;
  }
}
