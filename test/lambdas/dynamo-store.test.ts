/**
 * The request store and the beacon history on dynalite, with the table as the template declares it: what a
 * status read returns (audit, beacons, the rollout, across pages of the 1 MB Query limit), how audit records
 * stay distinct, optional fields left out, and every cursor the history refuses.
 */
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoBeaconHistory, DynamoRequestStore, documentClient } from '../../lambdas/aws/dynamo.js';
import { DynamoRolloutStore } from '../../lambdas/aws/rollout-store.js';
import { ROLLOUT_DEFAULTS } from '../../lambdas/core/rollout.js';
import { initialRollout } from '../../lambdas/rollout/steps.js';
import { type LocalDynamo, startLocalDynamo } from '../../local/local-dynamo.js';
import { loadWorkflow } from '../../local/workflow-definition.js';
import { INSTANCE_A, INSTANCE_B } from './fixtures.js';

let dynamo: LocalDynamo;
let tableName: string;
let tables = 0;
let store: DynamoRequestStore;
let history: DynamoBeaconHistory;

beforeAll(async () => {
  dynamo = await startLocalDynamo((await loadWorkflow()).tables);
}, 120_000);
afterAll(async () => dynamo.close());

beforeEach(async () => {
  tables += 1;
  tableName = `StoreTable${tables}`;
  const spec = (await loadWorkflow()).tables.state;
  await dynamo.client.send(
    new CreateTableCommand({ TableName: tableName, KeySchema: spec.keySchema, AttributeDefinitions: spec.attributeDefinitions, BillingMode: 'PAY_PER_REQUEST', GlobalSecondaryIndexes: spec.globalSecondaryIndexes as never }),
  );
  const db = documentClient(dynamo.client);
  store = new DynamoRequestStore(db, tableName);
  history = new DynamoBeaconHistory(db, tableName, async () => undefined);
});

const AT = '2026-02-01T00:00:00.000Z';
const record = (requestId: string, extra: Record<string, unknown> = {}) => ({ requestId, state: 'accepted' as const, source: 'api' as const, receivedAt: AT, ...extra });

describe('DynamoRequestStore on a DynamoDB engine', () => {
  it('fields left undefined are not written (DynamoDB refuses undefined values), also inside an audit detail', async () => {
    expect(await store.recordRequest({ ...record('r1'), requestedBy: undefined } as never)).toBe('created');
    await store.appendAudit({ requestId: 'r1', at: AT, event: 'configure.sent', detail: { commandId: 'c1', comment: undefined, list: ['a'] } });
    expect((await store.getRequestStatus('r1'))!.audit).toEqual([{ requestId: 'r1', at: AT, event: 'configure.sent', detail: { commandId: 'c1', list: ['a'] } }]);
    expect(await store.recordRequest(record('r1'))).toBe('exists');
    const status = await store.getRequestStatus('r1');
    expect(status!.request).toEqual(record('r1'));
  });

  it('audit records of one moment stay distinct per event, beacon and key; a record written again is kept once', async () => {
    await store.recordRequest(record('r1'));
    const events = [
      { requestId: 'r1', at: AT, event: 'change.applied', instanceId: INSTANCE_A, key: '000' },
      { requestId: 'r1', at: AT, event: 'change.applied', instanceId: INSTANCE_A, key: '001' },
      { requestId: 'r1', at: AT, event: 'change.applied', instanceId: INSTANCE_B, key: '000' },
      { requestId: 'r1', at: AT, event: 'request.accepted' },
      { requestId: 'r1', at: AT, event: 'request.started' },
    ];
    for (const event of [...events, events[0]!]) await store.appendAudit(event);
    const status = await store.getRequestStatus('r1');
    expect(status!.audit).toHaveLength(5);
    expect(status!.audit).toEqual(expect.arrayContaining(events));
    const keys = (await dynamo.scan(tableName)).map((item) => String(item.sk)).filter((sk) => sk.startsWith('AUDIT#')).sort();
    expect(keys).toEqual([
      `AUDIT#${AT}#change.applied#${INSTANCE_A}#000`,
      `AUDIT#${AT}#change.applied#${INSTANCE_A}#001`,
      `AUDIT#${AT}#change.applied#${INSTANCE_B}#000`,
      `AUDIT#${AT}#request.accepted#`,
      `AUDIT#${AT}#request.started#`,
    ]);
  });

  it('a request\'s status has its rollout when it has one, and none of its target pages', async () => {
    await store.recordRequest(record('r1'));
    const rollouts = new DynamoRolloutStore(documentClient(dynamo.client), tableName);
    const rollout = initialRollout({ requestId: 'r1', request: {}, source: 'api', dryRun: false, replyTo: null, receivedAt: AT, generation: 0, execution: { name: 'r1' } }, ROLLOUT_DEFAULTS.tag, AT);
    await rollouts.createRollout(rollout);
    await rollouts.recordTargetPage('r1', { index: 0, instanceIds: [INSTANCE_A], nextToken: null, pageSize: 50 }, AT);
    const status = await store.getRequestStatus('r1');
    expect(status!.rollout).toMatchObject({ requestId: 'r1', phase: 'expanding', expansion: { total: 1 } });
    expect(status!.beacons.map((beacon) => beacon.instanceId)).toEqual([INSTANCE_A]);
    expect(await store.getRequestStatus('r2')).toBeNull();
  });

  it('a partition larger than one Query page (1 MB) is read to its end', async () => {
    await store.recordRequest(record('big'));
    const detail = { text: 'x'.repeat(350_000) };
    for (let n = 0; n < 4; n += 1) await store.appendAudit({ requestId: 'big', at: `2026-02-01T00:00:0${n}.000Z`, event: 'note', detail });
    await store.putBeaconStatus({ requestId: 'big', instanceId: INSTANCE_A, state: 'ok', updatedAt: AT });
    const status = await store.getRequestStatus('big');
    expect(status!.audit).toHaveLength(4);
    expect(status!.beacons).toHaveLength(1);
  });
});

describe('DynamoBeaconHistory on a DynamoDB engine', () => {
  const cursorOf = (key: unknown) => Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
  const validKey = (instanceId = INSTANCE_A) => ({ pk: 'REQ#r1', sk: `BEACON#${instanceId}`, historyBeacon: instanceId, historyAt: `${AT}#r1` });
  const refused = async (cursor: string) => {
    const error = await history.beaconHistory(INSTANCE_A, { limit: 10, cursor }).then(
      () => null,
      (thrown: unknown) => thrown,
    );
    expect(error, cursor).toMatchObject({ code: 'INVALID_CURSOR', field: 'cursor', status: 400, message: 'the cursor is not one this API gave for this beacon; start again without it' });
  };

  it('a cursor it gave is taken back; anything else is refused: not JSON, not an object, other keys, a non-string, another beacon, another kind of item', async () => {
    await expect(history.beaconHistory(INSTANCE_A, { limit: 10, cursor: cursorOf(validKey()) })).resolves.toEqual({ entries: [], nextCursor: null });
    await refused('not base64 json');
    for (const value of [null, 5, 'text', [], ['REQ#r1']]) await refused(cursorOf(value));
    await refused(cursorOf({ ...validKey(), extra: 'x' }));
    const { historyAt: _at, ...missing } = validKey();
    await refused(cursorOf(missing));
    await refused(cursorOf({ ...validKey(), historyAt: 5 }));
    await refused(cursorOf(validKey(INSTANCE_B)));
    await refused(cursorOf({ ...validKey(), historyBeacon: INSTANCE_B }));
    await refused(cursorOf({ ...validKey(), pk: 'LOCK#r1' }));
    await refused(cursorOf({ ...validKey(), sk: `BEACON#${INSTANCE_B}` }));
  });

  it('an entry whose request record is gone still shows what its status says, with nothing made up', async () => {
    await store.putBeaconStatus({ requestId: 'gone', instanceId: INSTANCE_A, state: 'failed', updatedAt: AT });
    await store.recordRequest(record('r2', { requestedBy: 'alice', request: { requestId: 'r2', protocol: 'https' }, linkedTo: { kind: 'retry', requestId: 'gone' } }));
    await store.putBeaconStatus({ requestId: 'r2', instanceId: INSTANCE_A, state: 'ok', updatedAt: '2026-02-02T00:00:00.000Z', reasons: ['r'], diff: [{ id: 'd', before: 'a', after: 'b' }], restored: [{ id: 'e', before: 'b', after: 'a' }], diffOmitted: 3, commandId: 'cmd-2' } as never);
    const page = await history.beaconHistory(INSTANCE_A, { limit: 10 });
    expect(page.entries).toEqual([
      {
        requestId: 'r2',
        instanceId: INSTANCE_A,
        kind: 'configure',
        source: 'api',
        requestedBy: 'alice',
        receivedAt: AT,
        state: 'ok',
        updatedAt: '2026-02-02T00:00:00.000Z',
        applied: { protocol: 'https' },
        reasons: ['r'],
        diff: [{ id: 'd', before: 'a', after: 'b' }],
        restored: [{ id: 'e', before: 'b', after: 'a' }],
        diffOmitted: 3,
        commandId: 'cmd-2',
        linkedTo: { kind: 'retry', requestId: 'gone' },
      },
      { requestId: 'gone', instanceId: INSTANCE_A, kind: 'unknown', source: null, requestedBy: null, receivedAt: null, state: 'failed', updatedAt: AT, applied: null, reasons: [], diff: [], restored: [], commandId: null, linkedTo: null },
    ]);
  });

  it('pages newest first; the last page has no cursor', async () => {
    for (let n = 1; n <= 3; n += 1) await store.putBeaconStatus({ requestId: `r${n}`, instanceId: INSTANCE_A, state: 'ok', updatedAt: `2026-02-0${n}T00:00:00.000Z` });
    const first = await history.beaconHistory(INSTANCE_A, { limit: 2 });
    expect(first.entries.map((entry) => entry.requestId)).toEqual(['r3', 'r2']);
    const second = await history.beaconHistory(INSTANCE_A, { limit: 2, cursor: first.nextCursor });
    expect(second.entries.map((entry) => entry.requestId)).toEqual(['r1']);
    expect(second.nextCursor).toBeNull();
  });
});
