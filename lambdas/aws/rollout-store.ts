/**
 * DynamoDB adapters of the request-level rollout, in the state table (see dynamo.ts for the other items):
 *   REQ#<id> / ROLLOUT             the rollout: expansion checkpoint, cursor, counters, operator actions, pin, outcome
 *   REQ#<id> / PAGE#<index>        one page of the expanded target: {from, instanceIds} (positions from..)
 *   REQ#<id> / BEACON#<instance>   the beacon row (queued with its position `seq`, then final)
 *   PIN#fnms-approved-version / PIN  the pin ledger across requests (confirmed, pending, waiters, releases seen)
 * Counters move only in the transaction that makes a beacon row final, conditional on the row not being
 * final yet: a retried step counts nothing twice.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  type BeaconFinalEffect,
  type BeaconState,
  type BeaconStatusRecord,
  type PinLedger,
  type PinLedgerState,
  type RolloutCondition,
  type RolloutPatch,
  type RolloutRecord,
  type RolloutStore,
  TERMINAL_BEACON_STATES,
} from '../core/ports.js';
import { EMPTY_PIN_LEDGER } from '../core/fnms/pin-ledger.js';
import { BEACON_HISTORY_INDEX, TABLE_KEY_PREFIXES } from './table-keys.js';

const requestKey = (requestId: string) => `${TABLE_KEY_PREFIXES.request}${requestId}`;
const ROLLOUT_SK = 'ROLLOUT';
const pageSk = (index: number) => `PAGE#${String(index).padStart(7, '0')}`;
const beaconSk = (instanceId: string) => `BEACON#${instanceId}`;
/** The byBeacon index attributes every beacon row carries (a beacon's history across requests, as DynamoRequestStore writes them). */
const historyOf = (requestId: string, instanceId: string, updatedAt: string) => ({
  [BEACON_HISTORY_INDEX.partitionKey]: instanceId,
  [BEACON_HISTORY_INDEX.sortKey]: `${updatedAt}#${requestId}`,
});

function isConditionFailure(error: unknown): boolean {
  return error instanceof ConditionalCheckFailedException || (error as { name?: string })?.name === 'ConditionalCheckFailedException';
}

/** Fields of the record that may be absent (null in the record is stored as absent). */
const NULLABLE = ['go', 'cancel', 'halt', 'goToken', 'pin', 'outcome', 'replyTo', 'pendingStart'] as const;

/** A rollout item as the record (absent optional fields as null). */
export function rolloutFromItem(item: Record<string, unknown>): RolloutRecord {
  const { pk: _pk, sk: _sk, ...rest } = item;
  const record = rest as unknown as RolloutRecord;
  for (const key of NULLABLE) (record as unknown as Record<string, unknown>)[key] ??= null;
  record.goTimedOut ??= false;
  return record;
}

function withoutNulls(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null && v !== undefined));
}

export class DynamoRolloutStore implements RolloutStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async createRollout(record: RolloutRecord): Promise<'created' | 'exists'> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk: requestKey(record.requestId), sk: ROLLOUT_SK, ...withoutNulls(record as unknown as Record<string, unknown>) },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return 'created';
    } catch (error) {
      if (isConditionFailure(error)) return 'exists';
      throw error;
    }
  }

  async getRollout(requestId: string): Promise<RolloutRecord | null> {
    const result = await this.db.send(new GetCommand({ TableName: this.tableName, Key: { pk: requestKey(requestId), sk: ROLLOUT_SK }, ConsistentRead: true }));
    return result.Item ? rolloutFromItem(result.Item) : null;
  }

  async patchRollout(requestId: string, patch: RolloutPatch, condition: RolloutCondition = {}): Promise<boolean> {
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const sets: string[] = [];
    const removes: string[] = [];
    for (const [key, value] of Object.entries(patch)) {
      names[`#${key}`] = key;
      if (value === null || value === undefined) removes.push(`#${key}`);
      else {
        values[`:${key}`] = value;
        sets.push(`#${key} = :${key}`);
      }
    }
    const conditions = ['attribute_exists(pk)'];
    if (condition.phaseIn) {
      names['#phase'] = 'phase';
      conditions.push(`#phase IN (${condition.phaseIn.map((phase, index) => {
        values[`:phase${index}`] = phase;
        return `:phase${index}`;
      }).join(', ')})`);
    }
    for (const field of condition.unset ?? []) {
      names[`#u_${field}`] = field;
      conditions.push(`attribute_not_exists(#u_${field})`);
    }
    const equals = { started: condition.startedEquals, generation: condition.generationEquals } as const;
    for (const [field, expected] of Object.entries(equals)) {
      if (expected === undefined) continue;
      names[`#e_${field}`] = field;
      values[`:e_${field}`] = expected;
      conditions.push(`#e_${field} = :e_${field}`);
    }
    if (condition.pagesEquals !== undefined) {
      names['#expansion'] = 'expansion';
      values[':e_pages'] = condition.pagesEquals;
      conditions.push('#expansion.pages = :e_pages');
    }
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: requestKey(requestId), sk: ROLLOUT_SK },
          UpdateExpression: [sets.length ? `SET ${sets.join(', ')}` : '', removes.length ? `REMOVE ${removes.join(', ')}` : ''].filter(Boolean).join(' '),
          ConditionExpression: conditions.join(' AND '),
          ExpressionAttributeNames: names,
          ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async recordTargetPage(requestId: string, page: { index: number; instanceIds: string[]; nextToken: string | null; pageSize: number }, at: string): Promise<'recorded' | 'stale'> {
    const rollout = await this.getRollout(requestId);
    if (!rollout) throw new Error(`no rollout for request ${requestId}`);
    if (rollout.expansion.pages !== page.index) return 'stale';
    const from = rollout.expansion.total;
    // Each beacon once: a beacon DescribeInstanceInformation lists again on a later page (the inventory moved
    // while paging) keeps its first position. Rows of this very page (a retried write) are written again alike.
    const existing = await this.pageOfRows(requestId, page.instanceIds);
    const kept = [...new Set(page.instanceIds)].filter((instanceId) => !existing.has(instanceId) || existing.get(instanceId) === page.index);
    for (let index = 0; index < kept.length; index += 25) {
      await Promise.all(
        kept.slice(index, index + 25).map((instanceId, offset) =>
          this.db.send(
            new PutCommand({
              TableName: this.tableName,
              Item: { pk: requestKey(requestId), sk: beaconSk(instanceId), requestId, instanceId, state: 'queued', updatedAt: at, seq: from + index + offset, page: page.index, ...historyOf(requestId, instanceId, at) },
              ConditionExpression: 'attribute_not_exists(pk) OR #page = :page',
              ExpressionAttributeNames: { '#page': 'page' },
              ExpressionAttributeValues: { ':page': page.index },
            }),
          ),
        ),
      );
    }
    await this.db.send(new PutCommand({ TableName: this.tableName, Item: { pk: requestKey(requestId), sk: pageSk(page.index), from, instanceIds: kept } }));
    const moved = await this.patchRollout(
      requestId,
      { expansion: { pages: page.index + 1, total: from + kept.length, nextToken: page.nextToken, done: page.nextToken === null }, updatedAt: at },
      { pagesEquals: page.index },
    );
    return moved ? 'recorded' : 'stale';
  }

  /** The page each of these beacons' rows was written on, for those that have a row. */
  private async pageOfRows(requestId: string, instanceIds: string[]): Promise<Map<string, number>> {
    const found = new Map<string, number>();
    const unique = [...new Set(instanceIds)];
    for (let index = 0; index < unique.length; index += 100) {
      let keys: Array<Record<string, unknown>> | undefined = unique.slice(index, index + 100).map((instanceId) => ({ pk: requestKey(requestId), sk: beaconSk(instanceId) }));
      while (keys && keys.length > 0) {
        const result = await this.db.send(new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: keys, ConsistentRead: true, ProjectionExpression: 'instanceId, #page', ExpressionAttributeNames: { '#page': 'page' } } } }));
        for (const item of result.Responses?.[this.tableName] ?? []) found.set(String(item.instanceId), Number(item.page));
        keys = result.UnprocessedKeys?.[this.tableName]?.Keys as Array<Record<string, unknown>> | undefined;
      }
    }
    return found;
  }

  async targetsAt(requestId: string, from: number, to: number, pageSize: number): Promise<Array<{ seq: number; instanceId: string }>> {
    const out: Array<{ seq: number; instanceId: string }> = [];
    if (to <= from) return out;
    // A page holds at most pageSize beacons, so the one holding `from` is at index floor(from / pageSize) or later.
    let startKey: Record<string, unknown> | undefined;
    do {
      const result = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :first AND :last',
          ExpressionAttributeValues: { ':pk': requestKey(requestId), ':first': pageSk(Math.floor(from / pageSize)), ':last': pageSk(9_999_999) },
          ConsistentRead: true,
          Limit: Math.ceil((to - from) / pageSize) + 2,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of result.Items ?? []) {
        const first = Number(item.from);
        const ids = (item.instanceIds as string[]) ?? [];
        ids.forEach((instanceId, index) => {
          const seq = first + index;
          if (seq >= from && seq < to) out.push({ seq, instanceId });
        });
        if (first + ids.length >= to) return out;
      }
      startKey = result.LastEvaluatedKey;
    } while (startKey);
    return out;
  }

  async recordBeaconFinal(status: BeaconStatusRecord, effect: BeaconFinalEffect): Promise<'recorded' | 'already-final'> {
    const terminal = Object.fromEntries(TERMINAL_BEACON_STATES.map((state, index) => [`:t${index}`, state]));
    const rowCondition = `attribute_not_exists(pk) OR NOT (#state IN (${Object.keys(terminal).join(', ')}))`;
    const row = { TableName: this.tableName, Item: { pk: requestKey(status.requestId), sk: beaconSk(status.instanceId), ...status, ...historyOf(status.requestId, status.instanceId, status.updatedAt) }, ConditionExpression: rowCondition, ExpressionAttributeNames: { '#state': 'state' }, ExpressionAttributeValues: terminal };
    const names: Record<string, string> = { '#state': status.state };
    const values: Record<string, unknown> = { ':one': 1, ':error': effect.error ? 1 : 0, ':canary': effect.error && effect.canary ? 1 : 0 };
    const adds = ['finished :one', 'failed :error', 'canaryFailed :canary', 'counts.#state :one'];
    if (effect.okVersion !== undefined) {
      if (effect.okVersion === null) adds.push('unknownVersions :one');
      else {
        names['#version'] = effect.okVersion;
        adds.push('okVersions.#version :one');
      }
    }
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: row },
            {
              Update: {
                TableName: this.tableName,
                Key: { pk: requestKey(status.requestId), sk: ROLLOUT_SK },
                UpdateExpression: `ADD ${adds.join(', ')}`,
                ConditionExpression: 'attribute_exists(pk)',
                ExpressionAttributeNames: names,
                ExpressionAttributeValues: values,
              },
            },
          ],
        }),
      );
      return 'recorded';
    } catch (error) {
      const reasons = (error as { name?: string; CancellationReasons?: Array<{ Code?: string }> }).CancellationReasons;
      if ((error as { name?: string }).name !== 'TransactionCanceledException' || !reasons) throw error;
      if (reasons[0]?.Code === 'ConditionalCheckFailed') return 'already-final';
      if (reasons[1]?.Code === 'ConditionalCheckFailed') {
        // A request without a rollout (recorded before rollouts existed): the row alone, still only once.
        try {
          await this.db.send(new PutCommand(row));
          return 'recorded';
        } catch (rowError) {
          if (isConditionFailure(rowError)) return 'already-final';
          throw rowError;
        }
      }
      throw error;
    }
  }

  async finalizeNotStarted(requestId: string, targets: Array<{ seq: number; instanceId: string }>, state: 'not-started' | 'cancelled', reasons: string[], at: string): Promise<number> {
    let changed = 0;
    for (let index = 0; index < targets.length; index += 25) {
      const results = await Promise.all(
        targets.slice(index, index + 25).map(async ({ instanceId }) => {
          try {
            await this.db.send(
              new UpdateCommand({
                TableName: this.tableName,
                Key: { pk: requestKey(requestId), sk: beaconSk(instanceId) },
                UpdateExpression: 'SET #state = :state, reasons = :reasons, updatedAt = :at, #historyAt = :historyAt',
                ConditionExpression: '#state = :queued',
                ExpressionAttributeNames: { '#state': 'state', '#historyAt': BEACON_HISTORY_INDEX.sortKey },
                ExpressionAttributeValues: { ':state': state, ':reasons': reasons, ':at': at, ':queued': 'queued', ':historyAt': `${at}#${requestId}` },
              }),
            );
            return 1;
          } catch (error) {
            if (isConditionFailure(error)) return 0;
            throw error;
          }
        }),
      );
      changed += results.reduce((sum: number, n) => sum + n, 0);
    }
    return changed;
  }

  async beaconsInStates(requestId: string, states: readonly BeaconState[], limit: number): Promise<BeaconStatusRecord[]> {
    const out: BeaconStatusRecord[] = [];
    if (states.length === 0 || limit <= 0) return out;
    const values: Record<string, unknown> = { ':pk': requestKey(requestId), ':prefix': 'BEACON#' };
    states.forEach((state, index) => (values[`:s${index}`] = state));
    let startKey: Record<string, unknown> | undefined;
    do {
      const result = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          FilterExpression: `#state IN (${states.map((_, index) => `:s${index}`).join(', ')})`,
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: values,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of result.Items ?? []) {
        const { pk: _pk, sk: _sk, page: _page, ...rest } = item;
        out.push(rest as BeaconStatusRecord);
        if (out.length >= limit) return out;
      }
      startKey = result.LastEvaluatedKey;
    } while (startKey);
    return out;
  }
}

const PIN_KEY = { pk: `${TABLE_KEY_PREFIXES.pin}fnms-approved-version`, sk: 'PIN' } as const;

export class DynamoPinLedger implements PinLedger {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async get(): Promise<PinLedgerState> {
    const item = (await this.db.send(new GetCommand({ TableName: this.tableName, Key: PIN_KEY, ConsistentRead: true }))).Item;
    if (!item) return structuredClone(EMPTY_PIN_LEDGER);
    const versions = item.configuredVersions as Set<string> | string[] | undefined;
    return {
      confirmed: (item.confirmed as PinLedgerState['confirmed']) ?? null,
      pending: (item.pending as PinLedgerState['pending']) ?? null,
      waiters: (item.waiters as PinLedgerState['waiters']) ?? {},
      configuredVersions: versions ? [...versions].sort() : [],
      revision: Number(item.revision ?? 0),
    };
  }

  async update(next: Pick<PinLedgerState, 'confirmed' | 'pending' | 'waiters'>, expected: number): Promise<boolean> {
    const sets = ['waiters = :waiters', 'revision = :next'];
    const removes: string[] = [];
    const values: Record<string, unknown> = { ':waiters': next.waiters, ':next': expected + 1, ':expected': expected };
    for (const key of ['confirmed', 'pending'] as const) {
      if (next[key] === null) removes.push(key);
      else {
        values[`:${key}`] = next[key];
        sets.push(`${key} = :${key}`);
      }
    }
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: PIN_KEY,
          UpdateExpression: `SET ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`,
          ConditionExpression: expected === 0 ? 'attribute_not_exists(revision) OR revision = :expected' : 'revision = :expected',
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async noteConfiguredVersion(version: string): Promise<void> {
    await this.db.send(new UpdateCommand({ TableName: this.tableName, Key: PIN_KEY, UpdateExpression: 'ADD configuredVersions :version', ExpressionAttributeValues: { ':version': new Set([version]) } }));
  }

  async resetConfiguredVersions(version: string): Promise<void> {
    await this.db.send(new UpdateCommand({ TableName: this.tableName, Key: PIN_KEY, UpdateExpression: 'SET configuredVersions = :version', ExpressionAttributeValues: { ':version': new Set([version]) } }));
  }
}
