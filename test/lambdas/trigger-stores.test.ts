/**
 * The DynamoDB adapters of the drift baseline and the drift pass, on dynalite (the DynamoDB API in-process):
 * their condition expressions decide who wins, so they are run, not mocked.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoBaselineStore, DynamoDriftPassStore, documentClient } from '../../lambdas/aws/dynamo.js';
import { type BeaconBaseline, baselineAfterRun } from '../../lambdas/core/baseline.js';
import { type DriftCheckpoint, emptyTotals } from '../../lambdas/core/drift-pass.js';
import { FixedClock } from '../../lambdas/memory/ports.js';
import { type LocalDynamo, startLocalDynamo } from '../../local/local-dynamo.js';
import type { TableSpec } from '../../local/workflow-definition.js';
import { INSTANCE_A, validRequest } from './fixtures.js';

const STATE: TableSpec = {
  logicalId: 'StateTable',
  keySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
  attributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }],
  ttlAttribute: 'ttl',
};
const IDEMPOTENCY: TableSpec = { logicalId: 'IdempotencyTable', keySchema: [{ AttributeName: 'id', KeyType: 'HASH' }], attributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }], ttlAttribute: 'expiration' };

let dynamo: LocalDynamo;
let baselines: DynamoBaselineStore;
let passes: DynamoDriftPassStore;
let table = 0;

beforeAll(async () => {
  dynamo = await startLocalDynamo({ state: STATE, idempotency: IDEMPOTENCY });
});
afterAll(async () => dynamo.close());

beforeEach(async () => {
  // A fresh table per test: the same spec under a new name.
  table += 1;
  const fresh = await startLocalDynamoTable(`StateTable${table}`);
  baselines = new DynamoBaselineStore(documentClient(dynamo.client), fresh, async () => undefined);
  passes = new DynamoDriftPassStore(documentClient(dynamo.client), fresh, new FixedClock(new Date('2026-03-01T00:00:00Z')));
});

async function startLocalDynamoTable(name: string): Promise<string> {
  const { CreateTableCommand } = await import('@aws-sdk/client-dynamodb');
  await dynamo.client.send(new CreateTableCommand({ TableName: name, KeySchema: STATE.keySchema, AttributeDefinitions: STATE.attributeDefinitions, BillingMode: 'PAY_PER_REQUEST' }));
  return name;
}

function baseline(requestId: string, receivedAt: string, proxy = 'proxy.corp.example:8080', instanceId = INSTANCE_A): BeaconBaseline {
  return baselineAfterRun({ instanceId, requestId, request: validRequest({ requestId, proxy }), source: 'api', receivedAt, dryRun: false }, 'ok', receivedAt)!;
}

describe('DynamoBaselineStore', () => {
  it('one item per beacon, read back as written (the request content, its origin and order)', async () => {
    const written = baseline('chg-1', '2026-03-01T00:00:00.000Z');
    expect(await baselines.recordBaseline(written)).toBe('recorded');
    expect(await baselines.getBaselines([INSTANCE_A, 'i-0000000000000dead'])).toEqual(new Map([[INSTANCE_A, written]]));
    const items = await dynamo.scan(`StateTable${table}`);
    expect(items.map((item) => [item.pk, item.sk])).toEqual([[`BASELINE#${INSTANCE_A}`, 'BASELINE']]);
    expect(items[0]!.ttl).toBeUndefined();
  });

  it('a newer request replaces it; an older one recorded late does not', async () => {
    expect(await baselines.recordBaseline(baseline('chg-2', '2026-03-02T00:00:00.000Z', 'new.corp.example:8080'))).toBe('recorded');
    expect(await baselines.recordBaseline(baseline('chg-1', '2026-03-01T00:00:00.000Z'))).toBe('older');
    expect((await baselines.getBaselines([INSTANCE_A])).get(INSTANCE_A)).toMatchObject({ requestId: 'chg-2' });
    expect(await baselines.recordBaseline(baseline('chg-3', '2026-03-03T00:00:00.000Z', 'third.corp.example:8080'))).toBe('recorded');
    expect((await baselines.getBaselines([INSTANCE_A])).get(INSTANCE_A)).toMatchObject({ requestId: 'chg-3' });
  });

  it('the same content applied again (a drift re-apply) keeps the request it came from and moves only who applied it last', async () => {
    await baselines.recordBaseline(baseline('chg-1', '2026-03-01T00:00:00.000Z'));
    expect(await baselines.recordBaseline(baseline('drift-20260302T000000-x', '2026-03-02T00:00:00.000Z'))).toBe('refreshed');
    expect((await baselines.getBaselines([INSTANCE_A])).get(INSTANCE_A)).toMatchObject({ requestId: 'chg-1', lastAppliedBy: 'drift-20260302T000000-x', order: '2026-03-02T00:00:00.000Z#drift-20260302T000000-x' });
  });

  it('reads the baselines of more beacons than one BatchGetItem takes', async () => {
    const ids = Array.from({ length: 230 }, (_, n) => `i-${n.toString(16).padStart(17, '0')}`);
    for (const id of ids.filter((_, n) => n % 3 === 0)) await baselines.recordBaseline(baseline(`chg-${id}`, '2026-03-01T00:00:00.000Z', undefined, id));
    const found = await baselines.getBaselines(ids);
    expect([...found.keys()].sort()).toEqual(ids.filter((_, n) => n % 3 === 0));
  });
});

describe('DynamoDriftPassStore', () => {
  const checkpoint = (version: number): DriftCheckpoint => ({ version, passId: 'p1', startedAt: '2026-03-01T00:00:00.000Z', phase: 'sending', pages: 2, nextPage: 0, totals: emptyTotals(), finishedAt: null, lease: null });

  it('the checkpoint is written only over the version the writer read: two invocations cannot both move the pass', async () => {
    expect(await passes.saveCheckpoint(checkpoint(1), null)).toBe(true);
    expect(await passes.saveCheckpoint(checkpoint(1), null)).toBe(false);
    expect(await passes.saveCheckpoint({ ...checkpoint(2), nextPage: 1 }, 1)).toBe(true);
    expect(await passes.saveCheckpoint({ ...checkpoint(2), nextPage: 5 }, 1)).toBe(false);
    expect(await passes.getCheckpoint()).toEqual({ ...checkpoint(2), nextPage: 1 });
  });

  it('pages are kept per pass with a TTL and read back as written', async () => {
    const page = { passId: 'p1', index: 3, targets: [{ instanceId: INSTANCE_A, computerName: 'BEACON01' }], commands: [], unverified: [], sentAt: null, review: null };
    await passes.putPage(page);
    expect(await passes.getPage('p1', 3)).toEqual(page);
    expect(await passes.getPage('p1', 4)).toBeNull();
    const [item] = (await dynamo.scan(`StateTable${table}`)).filter((i) => String(i.pk).startsWith('DRIFT#p1'));
    expect(item).toMatchObject({ pk: 'DRIFT#p1', sk: 'PAGE#000003' });
    expect(item!.ttl).toBe(Date.parse('2026-03-01T00:00:00Z') / 1000 + 30 * 24 * 3600);
  });
});
