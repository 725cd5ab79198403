import { beforeEach, describe, expect, it } from 'vitest';
import { BeaconInventoryError, createInMemoryInventory } from '../../lambdas/core/fnms/index.js';
import { createDriftCheckHandler, LAST_PASS_KEY, type DriftCheckDeps } from '../../lambdas/drift-check/handler.js';
import { FixedClock, MemoryBeaconCommands, MemoryFleetMemory, MemoryProfileStore, MemoryRequestQueue } from '../../lambdas/memory/ports.js';
import { createNewBeaconHandler, instanceIdFromArn, type NewBeaconDeps, type TagChangeEvent } from '../../lambdas/new-beacon/handler.js';
import { BEACON_TAG, INSTANCE_A, INSTANCE_B, resultLine, validRequest } from './fixtures.js';

const { requestId: _id, target: _target, ...profile } = validRequest();
const tags = { [BEACON_TAG.key]: BEACON_TAG.value };
let commands: MemoryBeaconCommands;
let memory: MemoryFleetMemory;
let queue: MemoryRequestQueue;
let profiles: MemoryProfileStore;

beforeEach(() => {
  commands = new MemoryBeaconCommands();
  memory = new MemoryFleetMemory();
  queue = new MemoryRequestQueue();
  profiles = new MemoryProfileStore({ default: profile });
});

const queuedTargets = () => queue.messages.map((m) => JSON.parse(m.body) as { requestId: string; target: { instanceIds: string[] } });

describe('new beacon', () => {
  const fnmsBeacon = (computerName: string) => ({ name: computerName, computerName, version: '13.2.0', status: 'Active', lastContact: null });
  let deps: NewBeaconDeps;

  beforeEach(() => {
    commands.addInstance({ instanceId: INSTANCE_A, computerName: 'beacon01.corp.example', tags });
    commands.addInstance({ instanceId: INSTANCE_B, computerName: 'BEACON02', tags: {} });
    deps = { inventory: createInMemoryInventory([fnmsBeacon('BEACON01'), fnmsBeacon('BEACON02'), fnmsBeacon('GHOST')]), commands, memory, profiles, queue, beaconTag: BEACON_TAG, defaultProfile: 'default' };
  });

  it('the schedule queues the default profile for FNMS beacons matched to tagged managed instances by computer name, once', async () => {
    const handler = createNewBeaconHandler(deps);
    const first = await handler({ source: 'beacon-proxy.schedule' });
    expect(first).toEqual({ enqueued: [INSTANCE_A], alreadySeen: [], unmatched: ['BEACON02', 'GHOST'] });
    expect(queuedTargets()).toEqual([expect.objectContaining({ requestId: `new-beacon-${INSTANCE_A}`, target: { instanceIds: [INSTANCE_A] }, proxy: profile.proxy })]);
    expect(queue.messages[0]!.source).toBe('new-beacon');
    // Caller identity: the system asked, and says which trigger.
    expect(queue.messages[0]!.caller).toEqual({ kind: 'system', trigger: 'new-beacon' });
    const second = await handler({ source: 'beacon-proxy.schedule' });
    expect(second.enqueued).toEqual([]);
    expect(second.alreadySeen).toEqual([INSTANCE_A]);
    expect(queue.messages).toHaveLength(1);
  });

  const tagEvent = (instanceTags: Record<string, string>, arn = `arn:aws:ec2:eu-west-1:123456789012:instance/${INSTANCE_B}`): TagChangeEvent =>
    ({ 'detail-type': 'Tag Change on Resource', source: 'aws.tag', resources: [arn], detail: { 'changed-tag-keys': [BEACON_TAG.key], tags: instanceTags, service: 'ec2', 'resource-type': 'instance' } }) as unknown as TagChangeEvent;

  it('the beacon tag put on a managed instance queues the default profile for it', async () => {
    const result = await createNewBeaconHandler(deps)(tagEvent(tags));
    expect(result.enqueued).toEqual([INSTANCE_B]);
    expect(queuedTargets()[0]?.target).toEqual({ instanceIds: [INSTANCE_B] });
  });

  it('a tag removed or set to another value queues nothing', async () => {
    await createNewBeaconHandler(deps)(tagEvent({ [BEACON_TAG.key]: 'retired' }));
    await createNewBeaconHandler(deps)(tagEvent({}));
    expect(queue.messages).toEqual([]);
  });

  it('reads instance ids from EC2 and SSM managed-instance ARNs only', () => {
    expect(instanceIdFromArn(`arn:aws:ec2:eu-west-1:1:instance/${INSTANCE_A}`)).toBe(INSTANCE_A);
    expect(instanceIdFromArn('arn:aws:ssm:eu-west-1:1:managed-instance/mi-0123456789abcdef0')).toBe('mi-0123456789abcdef0');
    expect(instanceIdFromArn('arn:aws:s3:::bucket/instance/i-1')).toBeNull();
  });

  it('an FNMS inventory failure is counted for the FnmsErrors alarm and fails the run', async () => {
    let counted = 0;
    const inventory = createInMemoryInventory(async () => {
      throw new BeaconInventoryError('INVENTORY_HTTP', 'executeReport', 'Flexera One report execute failed: 503', { status: 503, retriable: true, attempts: 4 });
    });
    await expect(createNewBeaconHandler({ ...deps, inventory, countFnmsError: () => counted++ })({ source: 'beacon-proxy.schedule' })).rejects.toThrow(/503/);
    expect(counted).toBe(1);
    expect(queue.messages).toEqual([]);
  });

  it('a report missing a column fails the run loudly, naming the column: never read as an empty fleet', async () => {
    const inventory = createInMemoryInventory(async () => {
      throw new BeaconInventoryError('INVENTORY_COLUMN_MISSING', 'getCustomView', 'FNMS custom view 42 has no column "Computer name"', { field: 'fnmsReportColumns.computerName' });
    });
    await expect(createNewBeaconHandler({ ...deps, inventory })({ source: 'beacon-proxy.schedule' })).rejects.toThrow(/no column "Computer name"/);
    expect(queue.messages).toEqual([]);
  });

  it('without a configured inventory the schedule fails loudly (the stack creates no schedule then); the tag rule still works', async () => {
    await expect(createNewBeaconHandler({ ...deps, inventory: null })({ source: 'beacon-proxy.schedule' })).rejects.toThrow(/fnmsInventory=none/);
    const result = await createNewBeaconHandler({ ...deps, inventory: null })(tagEvent(tags));
    expect(result.enqueued).toEqual([INSTANCE_B]);
  });

  it('without the default profile nothing is queued and the failure is loud', async () => {
    await expect(createNewBeaconHandler({ ...deps, profiles: new MemoryProfileStore() })({ source: 'beacon-proxy.schedule' })).rejects.toThrow(/default profile/);
    expect(queue.messages).toEqual([]);
  });
});

describe('drift check', () => {
  let clock: FixedClock;
  let deps: DriftCheckDeps;

  beforeEach(() => {
    clock = new FixedClock(new Date('2026-02-01T03:00:00Z'));
    commands.addInstance({ instanceId: INSTANCE_A, tags });
    commands.addInstance({ instanceId: INSTANCE_B, tags });
    commands.addInstance({ instanceId: 'i-00000000000000003', tags, pingStatus: 'ConnectionLost' });
    deps = { commands, memory, profiles, queue, clock, beaconTag: BEACON_TAG, defaultProfile: 'default', verifyDocumentName: 'BeaconProxy-Verify-Test', checkEndpoint: 'none' };
  });

  it('sends the verify document with the default profile\'s desired state to every online tagged beacon, and remembers the pass', async () => {
    const result = await createDriftCheckHandler(deps)();
    expect(result.reviewed).toBeNull();
    expect(commands.sent).toHaveLength(1);
    expect(commands.sent[0]).toMatchObject({ documentName: 'BeaconProxy-Verify-Test', instanceIds: [INSTANCE_A, INSTANCE_B], parameters: { DesiredState: [expect.any(String)], CheckEndpoint: ['none'] } });
    expect(await memory.getValue(LAST_PASS_KEY)).toMatchObject({ commandIds: [commands.sent[0]!.commandId] });
    expect(queue.messages).toEqual([]);
  });

  it('the next run re-applies the default profile to beacons whose verify failed (e.g. after an upgrade or an interrupted run)', async () => {
    commands.respond = (_command, instanceId) =>
      instanceId === INSTANCE_B
        ? { status: 'Failed', stdout: resultLine({ ok: false, changed: [], checks: [{ name: 'service logon', expected: 'CORP\\svc-beacon$', actual: 'LocalSystem', ok: false }] }), stderr: '' }
        : { status: 'Success', stdout: resultLine({ changed: [] }), stderr: '' };
    const handler = createDriftCheckHandler(deps);
    await handler();
    clock.advance(24 * 3600);
    const result = await handler();
    expect(result.reviewed).toMatchObject({ inSync: [INSTANCE_A], reapplied: [INSTANCE_B], unknown: [] });
    expect(queuedTargets()).toEqual([expect.objectContaining({ target: { instanceIds: [INSTANCE_B] }, requestId: `drift-20260201T0300-${INSTANCE_B}` })]);
    expect(queue.messages[0]!.source).toBe('drift');
    expect(queue.messages[0]!.caller).toEqual({ kind: 'system', trigger: 'drift' });
    expect(commands.sent).toHaveLength(2);
  });

  it('a beacon whose verify produced no result is reported, not re-applied blindly', async () => {
    commands.respond = () => ({ status: 'DeliveryTimedOut', stdout: '', stderr: '' });
    const handler = createDriftCheckHandler(deps);
    await handler();
    const result = await handler();
    expect(result.reviewed?.unknown.map((u) => u.instanceId)).toEqual([INSTANCE_A, INSTANCE_B]);
    expect(queue.messages).toEqual([]);
  });
});
