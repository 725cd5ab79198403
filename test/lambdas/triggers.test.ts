import { beforeEach, describe, expect, it } from 'vitest';
import { baselineAfterRun, type BeaconBaseline } from '../../lambdas/core/baseline.js';
import { decodeDesiredState } from '../../lambdas/core/desired-state.js';
import { DRIFT_PAGE_SIZE } from '../../lambdas/core/drift-pass.js';
import { BeaconInventoryError, createInMemoryInventory, type InventoryBeacon } from '../../lambdas/core/fnms/index.js';
import type { WorkflowTiming } from '../../lambdas/core/timing.js';
import { createDriftCheckHandler, type DriftCheckDeps, readDriftReport } from '../../lambdas/drift-check/handler.js';
import { FixedClock, MemoryBaselineStore, MemoryBeaconCommands, MemoryDriftPassStore, MemoryFleetMemory, MemoryNotifier, MemoryProfileStore, MemoryRequestQueue, MemoryRequestStore, MemoryRolloutStore, MemoryPinLedger } from '../../lambdas/memory/ports.js';
import { createNewBeaconHandler, instanceIdFromArn, newBeaconDecisionKey, type NewBeaconDeps, type TagChangeEvent } from '../../lambdas/new-beacon/handler.js';
import { createRecordOutcomeHandler } from '../../lambdas/record-outcome/handler.js';
import type { WorkflowState } from '../../lambdas/workflow/state.js';
import { BEACON_TAG, INSTANCE_A, INSTANCE_B, resultLine, validRequest } from './fixtures.js';

const { requestId: _id, target: _target, ...profile } = validRequest();
const tags = { [BEACON_TAG.key]: BEACON_TAG.value };
const SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:beacon/svc-beacon-AbCdEf';
/** What an operator configured through the API: split endpoints, a CRL exception. */
const splitRequest = {
  requestId: 'chg-split',
  target: { instanceIds: [INSTANCE_A] },
  protocol: 'https',
  proxy: 'proxy.corp.example:8080',
  endpoints: { download: 'dl-proxy.corp.example:8080', upload: 'ul-proxy.corp.example:8443' },
  account: { kind: 'domain', name: 'CORP\\svc-beacon', passwordSecretArn: SECRET },
  checkCertificateRevocation: { disable: true, acknowledgeRisk: true, reason: 'CA unreachable, CHG-1234' },
  rollout: { canary: 1 },
};

let commands: MemoryBeaconCommands;
let memory: MemoryFleetMemory;
let queue: MemoryRequestQueue;
let profiles: MemoryProfileStore;
let baselines: MemoryBaselineStore;
let notifier: MemoryNotifier;

beforeEach(() => {
  commands = new MemoryBeaconCommands();
  memory = new MemoryFleetMemory();
  queue = new MemoryRequestQueue();
  profiles = new MemoryProfileStore({ default: profile });
  baselines = new MemoryBaselineStore();
  notifier = new MemoryNotifier();
});

type Queued = { requestId: string; target: { instanceIds: string[] }; dryRun?: boolean; endpoints?: unknown; account: { kind: string } };
const queued = () => queue.messages.map((m) => JSON.parse(m.body) as Queued);

/** A baseline as RecordOutcome leaves it after `request` configured the beacon. */
function baselineOf(instanceId: string, request: Record<string, unknown>, receivedAt = '2026-01-10T00:00:00.000Z'): BeaconBaseline {
  return baselineAfterRun({ instanceId, requestId: String(request.requestId), request, source: 'api', receivedAt, dryRun: false }, 'ok', receivedAt)!;
}

/** The stores RecordOutcome writes the final row through (the request's rollout counters, the pin ledger). */
const outcomeStores = (store: MemoryRequestStore) => ({ store, rollouts: new MemoryRolloutStore(store), ledger: new MemoryPinLedger() });

describe('the beacon baseline RecordOutcome writes', () => {
  const clock = new FixedClock(new Date('2026-01-10T00:05:00Z'));
  const base: WorkflowState = { requestId: 'chg-split', instanceId: INSTANCE_A, request: splitRequest, source: 'api', dryRun: false, replyTo: null, receivedAt: '2026-01-10T00:00:00.000Z' };
  const record = (state: Partial<WorkflowState>) => createRecordOutcomeHandler({ ...outcomeStores(new MemoryRequestStore()), clock, baselines })({ ...base, ...state } as WorkflowState);

  it('a run that ends configured and verified stores the request content as the beacon\'s baseline: no target, id, dry run or rollout; secret references only', async () => {
    await record({ outcome: { state: 'ok' } });
    const stored = baselines.baselines.get(INSTANCE_A)!;
    const { requestId: _r, target: _t, rollout: _ro, ...content } = splitRequest;
    expect(stored).toMatchObject({ instanceId: INSTANCE_A, requestId: 'chg-split', lastAppliedBy: 'chg-split', source: 'api', content, appliedAt: '2026-01-10T00:05:00.000Z' });
    expect(Object.keys(stored.content!).sort()).toEqual(['account', 'checkCertificateRevocation', 'endpoints', 'protocol', 'proxy']);
    expect(stored.digest).toMatch(/^[0-9a-f]{64}$/);
  });

  it('a rollback, a failed run, an error or a dry run leave the baseline as it was', async () => {
    await record({ outcome: { state: 'ok' } });
    const before = structuredClone(baselines.baselines.get(INSTANCE_A));
    const other = { ...splitRequest, requestId: 'chg-other', proxy: 'other.corp.example:3128' };
    for (const state of ['rolled-back', 'failed', 'error', 'busy', 'not-run', 'superseded'] as const) {
      await record({ requestId: 'chg-other', request: other, receivedAt: '2026-01-11T00:00:00.000Z', outcome: { state } });
    }
    await record({ requestId: 'chg-other', request: { ...other, dryRun: true }, dryRun: true, receivedAt: '2026-01-11T00:00:00.000Z', outcome: { state: 'dry-run' } });
    expect(baselines.baselines.get(INSTANCE_A)).toEqual(before);
  });

  it('an older request recorded late never replaces a newer request\'s baseline; the same content re-applied keeps the request it came from', async () => {
    await record({ requestId: 'chg-new', request: { ...splitRequest, requestId: 'chg-new', proxy: 'new.corp.example:8080' }, receivedAt: '2026-01-12T00:00:00.000Z', outcome: { state: 'ok' } });
    await record({ outcome: { state: 'ok' } });
    expect(baselines.baselines.get(INSTANCE_A)).toMatchObject({ requestId: 'chg-new' });
    await record({ requestId: 'drift-x', request: { ...splitRequest, requestId: 'drift-x', proxy: 'new.corp.example:8080' }, source: 'drift', receivedAt: '2026-01-13T00:00:00.000Z', outcome: { state: 'ok' } });
    expect(baselines.baselines.get(INSTANCE_A)).toMatchObject({ requestId: 'chg-new', lastAppliedBy: 'drift-x' });
  });
});

describe('new beacon', () => {
  const fnmsBeacon = (computerName: string): InventoryBeacon => ({ name: computerName, computerName, version: '13.2.0', status: 'Active', lastContact: null });
  let deps: NewBeaconDeps;

  beforeEach(() => {
    commands.addInstance({ instanceId: INSTANCE_A, computerName: 'beacon01.corp.example', tags });
    commands.addInstance({ instanceId: INSTANCE_B, computerName: 'BEACON02', tags: {} });
    deps = {
      inventory: createInMemoryInventory([fnmsBeacon('BEACON01'), fnmsBeacon('BEACON02'), fnmsBeacon('GHOST')]),
      commands,
      memory,
      profiles,
      queue,
      baselines,
      notifier,
      beaconTag: BEACON_TAG,
      defaultProfile: 'default',
      mode: 'apply',
    };
  });

  const tagEvent = (instanceTags: Record<string, string>, arn = `arn:aws:ec2:eu-west-1:123456789012:instance/${INSTANCE_B}`): TagChangeEvent =>
    ({ 'detail-type': 'Tag Change on Resource', source: 'aws.tag', resources: [arn], detail: { 'changed-tag-keys': [BEACON_TAG.key], tags: instanceTags, service: 'ec2', 'resource-type': 'instance' } }) as unknown as TagChangeEvent;

  it('the schedule queues the default profile for FNMS beacons matched to tagged managed instances by computer name, once', async () => {
    const handler = createNewBeaconHandler(deps);
    const first = await handler({ source: 'beacon-proxy.schedule' });
    expect(first).toMatchObject({ mode: 'apply', enqueued: [INSTANCE_A], alreadySeen: [], unmatched: ['BEACON02', 'GHOST'], gated: [] });
    expect(queued()).toEqual([expect.objectContaining({ requestId: `new-beacon-${INSTANCE_A}`, target: { instanceIds: [INSTANCE_A] }, proxy: profile.proxy })]);
    expect(queued()[0]!.dryRun).toBeUndefined();
    expect(queue.messages[0]!.source).toBe('new-beacon');
    // Caller identity: the system asked, and says which trigger.
    expect(queue.messages[0]!.caller).toEqual({ kind: 'system', trigger: 'new-beacon' });
    const second = await handler({ source: 'beacon-proxy.schedule' });
    expect(second.enqueued).toEqual([]);
    expect(second.alreadySeen).toEqual([INSTANCE_A]);
    expect(queue.messages).toHaveLength(1);
  });

  it('in observe mode (the default after a deploy) a new beacon gets a dry run of the default profile, once; switching to apply then configures it', async () => {
    const { mode: _mode, ...defaults } = deps;
    const observed = await createNewBeaconHandler(defaults)({ source: 'beacon-proxy.schedule' });
    expect(observed).toMatchObject({ mode: 'observe', enqueued: [], planned: [INSTANCE_A] });
    expect(queued()).toEqual([expect.objectContaining({ requestId: `new-beacon-plan-${INSTANCE_A}`, dryRun: true, target: { instanceIds: [INSTANCE_A] } })]);
    expect((await createNewBeaconHandler(defaults)({ source: 'beacon-proxy.schedule' })).alreadySeen).toEqual([INSTANCE_A]);
    const applied = await createNewBeaconHandler({ ...defaults, mode: 'apply' })({ source: 'beacon-proxy.schedule' });
    expect(applied.enqueued).toEqual([INSTANCE_A]);
    expect(queued().map((r) => [r.requestId, r.dryRun ?? false])).toEqual([
      [`new-beacon-plan-${INSTANCE_A}`, true],
      [`new-beacon-${INSTANCE_A}`, false],
    ]);
  });

  it('off queues nothing and reads nothing', async () => {
    const inventory = createInMemoryInventory(async () => {
      throw new Error('the inventory must not be read when the trigger is off');
    });
    expect(await createNewBeaconHandler({ ...deps, inventory, mode: 'off' })({ source: 'beacon-proxy.schedule' })).toMatchObject({ mode: 'off', enqueued: [], planned: [] });
    expect(await createNewBeaconHandler({ ...deps, inventory, mode: 'off' })(tagEvent(tags))).toMatchObject({ enqueued: [], gated: [] });
    expect(queue.messages).toEqual([]);
  });

  it('the beacon tag put on a managed instance that FNMS lists as a beacon queues the default profile for it', async () => {
    const result = await createNewBeaconHandler(deps)(tagEvent(tags));
    expect(result.enqueued).toEqual([INSTANCE_B]);
    expect(queued()[0]?.target).toEqual({ instanceIds: [INSTANCE_B] });
    expect(await memory.getValue(newBeaconDecisionKey(INSTANCE_B))).toMatchObject({ decision: 'applied', basis: 'fnms-listed' });
  });

  it('the tag on an instance FNMS does not list as a beacon configures nothing: recorded, and the outcome topic hears why, once', async () => {
    commands.addInstance({ instanceId: 'i-0000000000000000c', computerName: 'WEB-SERVER-7', tags });
    const event = tagEvent(tags, 'arn:aws:ec2:eu-west-1:123456789012:instance/i-0000000000000000c');
    const result = await createNewBeaconHandler(deps)(event);
    expect(result.enqueued).toEqual([]);
    expect(result.gated).toEqual([expect.objectContaining({ instanceId: 'i-0000000000000000c', computerName: 'WEB-SERVER-7', code: 'NOT_AN_FNMS_BEACON' })]);
    expect(queue.messages).toEqual([]);
    expect(await memory.getValue(newBeaconDecisionKey('i-0000000000000000c'))).toMatchObject({ decision: 'refused', code: 'NOT_AN_FNMS_BEACON' });
    expect(notifier.sent).toEqual([
      { outcome: expect.objectContaining({ requestId: 'new-beacon-i-0000000000000000c', instanceId: 'i-0000000000000000c', state: 'skipped', reasons: [expect.stringMatching(/^NOT_AN_FNMS_BEACON: .*WEB-SERVER-7/)] }) },
    ]);
    await createNewBeaconHandler(deps)(event);
    expect(notifier.sent).toHaveLength(1);
  });

  it('with autoApplyTagOnly=true the tag alone is enough (the FNMS inventory is not asked)', async () => {
    commands.addInstance({ instanceId: 'i-0000000000000000c', computerName: 'WEB-SERVER-7', tags });
    const inventory = createInMemoryInventory(async () => {
      throw new Error('tag-only must not need the inventory');
    });
    const result = await createNewBeaconHandler({ ...deps, inventory, autoApplyTagOnly: true })(tagEvent(tags, 'arn:aws:ec2:eu-west-1:123456789012:instance/i-0000000000000000c'));
    expect(result.enqueued).toEqual(['i-0000000000000000c']);
    expect(await memory.getValue(newBeaconDecisionKey('i-0000000000000000c'))).toMatchObject({ basis: 'tag-only-opt-in' });
  });

  it('without an FNMS inventory and without the opt-in, the tag rule applies nothing and says why', async () => {
    const result = await createNewBeaconHandler({ ...deps, inventory: null })(tagEvent(tags));
    expect(result.gated.map((g) => g.code)).toEqual(['NO_FNMS_INVENTORY']);
    expect(queue.messages).toEqual([]);
    expect(notifier.sent[0]!.outcome.reasons![0]).toMatch(/autoApplyTagOnly/);
  });

  it('when the inventory cannot be read the tag configures nothing, the failure is counted, and it is told again next time', async () => {
    let counted = 0;
    const inventory = createInMemoryInventory(async () => {
      throw new BeaconInventoryError('INVENTORY_HTTP', 'executeReport', 'Flexera One report execute failed: 503', { status: 503, retriable: true, attempts: 4 });
    });
    const handler = createNewBeaconHandler({ ...deps, inventory, countFnmsError: () => counted++ });
    expect((await handler(tagEvent(tags))).gated.map((g) => g.code)).toEqual(['FNMS_INVENTORY_UNAVAILABLE']);
    await handler(tagEvent(tags));
    expect(counted).toBe(2);
    expect(notifier.sent).toHaveLength(2);
    expect(queue.messages).toEqual([]);
  });

  it('a beacon configured through a request (it has a baseline) keeps its state: neither the schedule nor the tag give it the default profile', async () => {
    await baselines.recordBaseline(baselineOf(INSTANCE_A, { ...splitRequest, target: { instanceIds: [INSTANCE_A] } }));
    await baselines.recordBaseline(baselineOf(INSTANCE_B, { ...splitRequest, target: { instanceIds: [INSTANCE_B] } }));
    expect((await createNewBeaconHandler(deps)({ source: 'beacon-proxy.schedule' })).alreadyConfigured).toEqual([INSTANCE_A]);
    expect((await createNewBeaconHandler(deps)(tagEvent(tags))).alreadyConfigured).toEqual([INSTANCE_B]);
    expect(queue.messages).toEqual([]);
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

  it('an FNMS inventory failure is counted for the FnmsErrors alarm and fails the scheduled run', async () => {
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

  it('without a configured inventory the schedule fails loudly (the stack creates no schedule then)', async () => {
    await expect(createNewBeaconHandler({ ...deps, inventory: null })({ source: 'beacon-proxy.schedule' })).rejects.toThrow(/fnmsInventory=none/);
  });

  it('without the default profile nothing is queued and the failure is loud', async () => {
    await expect(createNewBeaconHandler({ ...deps, profiles: new MemoryProfileStore() })({ source: 'beacon-proxy.schedule' })).rejects.toThrow(/default profile/);
    expect(queue.messages).toEqual([]);
  });
});

describe('drift check', () => {
  const C = 'i-0ffff000000000003';
  const OFFLINE = 'i-0ffff000000000004';
  const TIMING: DriftCheckDeps['timing'] = { deliveryTimeoutSeconds: 600, pollDeadlineSeconds: { configure: 1620, verify: 1020, rollback: 1620 } as WorkflowTiming['pollDeadlineSeconds'] };
  let clock: FixedClock;
  let passes: MemoryDriftPassStore;
  let deps: DriftCheckDeps;
  /** Beacons whose verify fails, with the check that differs. */
  let drifted: Set<string>;

  beforeEach(() => {
    clock = new FixedClock(new Date('2026-02-01T03:00:00Z'));
    passes = new MemoryDriftPassStore();
    drifted = new Set();
    commands.addInstance({ instanceId: INSTANCE_A, computerName: 'BEACON01', tags });
    commands.addInstance({ instanceId: INSTANCE_B, computerName: 'BEACON02', tags });
    commands.addInstance({ instanceId: C, computerName: 'BEACON03', tags });
    commands.addInstance({ instanceId: OFFLINE, tags, pingStatus: 'ConnectionLost' });
    commands.respond = (_command, instanceId) =>
      drifted.has(instanceId)
        ? { status: 'Failed', stdout: resultLine({ ok: false, changed: [], checks: [{ name: 'service logon', expected: 'CORP\\svc-beacon', actual: 'LocalSystem', ok: false }] }), stderr: '' }
        : { status: 'Success', stdout: resultLine({ changed: [] }), stderr: '' };
    deps = {
      commands,
      baselines,
      passes,
      profiles,
      queue,
      clock,
      inventory: createInMemoryInventory(['BEACON01', 'BEACON02', 'BEACON03'].map((name) => ({ name, computerName: name, version: '13.2.0', status: 'Active', lastContact: null }))),
      beaconTag: BEACON_TAG,
      defaultProfile: 'default',
      verifyDocumentName: 'BeaconProxy-Verify-Test',
      checkEndpoint: 'none',
      intervalSeconds: 24 * 3600,
      timing: TIMING,
      mode: 'apply',
    };
  });

  const desiredStateOf = (commandIndex: number) => decodeDesiredState(commands.sent[commandIndex]!.parameters.DesiredState![0]!);

  it('verifies each beacon against its own baseline, one verify per distinct baseline; beacons never configured against the default profile', async () => {
    await baselines.recordBaseline(baselineOf(INSTANCE_A, splitRequest));
    await baselines.recordBaseline(baselineOf(INSTANCE_B, { ...splitRequest, target: { instanceIds: [INSTANCE_B] } }));
    const tick = await createDriftCheckHandler(deps)();
    expect(tick).toMatchObject({ action: 'worked', started: true, pagesSent: 1, passId: '20260201T030000' });
    expect(commands.sent.map((c) => [c.documentName, c.instanceIds, c.deliveryTimeoutSeconds])).toEqual([
      ['BeaconProxy-Verify-Test', [INSTANCE_A, INSTANCE_B], 600],
      ['BeaconProxy-Verify-Test', [C], 600],
    ]);
    const own = desiredStateOf(0);
    expect(JSON.stringify(own)).toContain('dl-proxy.corp.example:8080');
    expect(JSON.stringify(own)).toContain('ul-proxy.corp.example:8443');
    expect(desiredStateOf(1).account).toMatchObject({ kind: 'gmsa', name: 'CORP\\svc-beacon$' });
    expect(commands.sent[0]!.parameters.CheckEndpoint).toEqual(['none']);
    expect(queue.messages).toEqual([]);
  });

  it('re-applies each drifted beacon\'s own baseline (not the default profile); the default profile only for a beacon never configured', async () => {
    await baselines.recordBaseline(baselineOf(INSTANCE_A, splitRequest));
    drifted = new Set([INSTANCE_A, C]);
    const handler = createDriftCheckHandler(deps);
    const tick = await handler();
    expect(tick.phase).toBe('done');
    expect(tick.totals).toMatchObject({ beacons: 3, inSync: 1, reapplied: 2 });
    expect(tick.findings).toEqual([
      expect.objectContaining({ instanceId: INSTANCE_A, action: 'reapplied', requestId: `drift-20260201T030000-${INSTANCE_A}`, against: expect.objectContaining({ kind: 'baseline', requestId: 'chg-split' }), changes: [expect.stringContaining('service logon')] }),
      expect.objectContaining({ instanceId: C, action: 'reapplied', against: { kind: 'default-profile', profile: 'default' } }),
    ]);
    const [a, c] = queued();
    const { requestId: _r, target: _t, rollout: _ro, ...content } = splitRequest;
    expect(a).toEqual({ ...content, requestId: `drift-20260201T030000-${INSTANCE_A}`, target: { instanceIds: [INSTANCE_A] } });
    expect(c).toEqual({ ...profile, requestId: `drift-20260201T030000-${C}`, target: { instanceIds: [C] } });
    expect(queue.messages.every((m) => m.source === 'drift')).toBe(true);
    // Caller identity: the system asked, and says which trigger.
    expect(queue.messages.every((m) => m.caller?.kind === 'system' && m.caller.trigger === 'drift')).toBe(true);
  });

  it('in observe mode a drifted beacon gets a dry-run request and the report lists what would change; nothing is re-applied', async () => {
    await baselines.recordBaseline(baselineOf(INSTANCE_A, splitRequest));
    drifted = new Set([INSTANCE_A]);
    const { mode: _mode, ...defaults } = deps;
    const tick = await createDriftCheckHandler(defaults)();
    expect(tick.mode).toBe('observe');
    expect(queued()).toEqual([expect.objectContaining({ requestId: `drift-plan-20260201T030000-${INSTANCE_A}`, dryRun: true, endpoints: splitRequest.endpoints })]);
    const report = await readDriftReport(passes);
    expect(report).toMatchObject({ phase: 'done', totals: { planned: 1, reapplied: 0, inSync: 2 } });
    expect(report!.findings).toEqual([expect.objectContaining({ instanceId: INSTANCE_A, action: 'planned', changes: ['check service logon: expected "CORP\\\\svc-beacon", found "LocalSystem"'] })]);
  });

  it('off sends no verify at all', async () => {
    expect(await createDriftCheckHandler({ ...deps, mode: 'off' })()).toMatchObject({ action: 'off' });
    expect(commands.sent).toEqual([]);
    expect(passes.checkpoint).toBeNull();
  });

  it('a never-configured beacon that FNMS does not list is not given the default profile (the tag gate); with autoApplyTagOnly it is', async () => {
    commands.addInstance({ instanceId: 'i-0ffff000000000005', computerName: 'WEB-SERVER-7', tags });
    drifted = new Set(['i-0ffff000000000005']);
    const tick = await createDriftCheckHandler(deps)();
    expect(tick.findings).toEqual([expect.objectContaining({ instanceId: 'i-0ffff000000000005', action: 'gated', reason: expect.stringMatching(/^NOT_AN_FNMS_BEACON/) })]);
    expect(queue.messages).toEqual([]);
    clock.advance(24 * 3600);
    const optIn = await createDriftCheckHandler({ ...deps, inventory: null, autoApplyTagOnly: true })();
    expect(optIn.findings).toEqual([expect.objectContaining({ instanceId: 'i-0ffff000000000005', action: 'reapplied' })]);
  });

  it('a beacon whose verify produced no result is reported, not re-applied blindly', async () => {
    commands.respond = () => ({ status: 'TimedOut', statusDetails: 'DeliveryTimedOut', stdout: '', stderr: '' });
    const tick = await createDriftCheckHandler(deps)();
    expect(tick.findings.map((f) => [f.instanceId, f.action])).toEqual([[INSTANCE_A, 'unknown'], [INSTANCE_B, 'unknown'], [C, 'unknown']]);
    expect(queue.messages).toEqual([]);
  });

  it('waits for verify commands still running, and reports them unknown once their deadline passed', async () => {
    commands.respond = () => ({ status: 'InProgress', stdout: '', stderr: '' });
    const handler = createDriftCheckHandler(deps);
    const first = await handler();
    expect(first).toMatchObject({ phase: 'reviewing', waitingForVerify: true, pagesReviewed: 0 });
    clock.advance(TIMING.pollDeadlineSeconds.verify - 1);
    expect((await handler()).waitingForVerify).toBe(true);
    clock.advance(1);
    const last = await handler();
    expect(last.phase).toBe('done');
    expect(last.findings.map((f) => f.reason)).toEqual(Array(3).fill('the verify was still InProgress at its deadline'));
    expect(queue.messages).toEqual([]);
  });

  it('an invocation SSM does not list yet (just sent) is waited for, never skipped', async () => {
    const list = commands.listInvocations.bind(commands);
    let listed = false;
    commands.listInvocations = async (commandId) => (listed ? list(commandId) : []);
    drifted = new Set([INSTANCE_A]);
    const handler = createDriftCheckHandler(deps);
    expect(await handler()).toMatchObject({ phase: 'reviewing', waitingForVerify: true });
    listed = true;
    const tick = await handler();
    expect(tick.totals).toMatchObject({ inSync: 2, reapplied: 1 });
  });

  it('a baseline replaced after the verify was sent is not re-applied over the newer request', async () => {
    await baselines.recordBaseline(baselineOf(INSTANCE_A, splitRequest));
    drifted = new Set([INSTANCE_A]);
    commands.respond = () => ({ status: 'InProgress', stdout: '', stderr: '' });
    const handler = createDriftCheckHandler(deps);
    await handler();
    await baselines.recordBaseline(baselineOf(INSTANCE_A, { ...splitRequest, requestId: 'chg-newer', proxy: 'newer.corp.example:8080' }, '2026-02-01T03:10:00.000Z'));
    for (const command of commands.sent) for (const id of command.instanceIds) commands.setInvocation(command.commandId, id, id === INSTANCE_A ? { status: 'Failed', stdout: resultLine({ ok: false, changed: [], checks: [{ name: 'proxy', expected: 'a', actual: 'b', ok: false }] }), stderr: '' } : { status: 'Success', stdout: resultLine({ changed: [] }), stderr: '' });
    const tick = await handler();
    expect(tick.findings).toEqual([expect.objectContaining({ instanceId: INSTANCE_A, action: 'superseded', reason: expect.stringContaining('chg-newer') })]);
    expect(queue.messages).toEqual([]);
  });

  it('a stored baseline that no longer passes the request rules is reported, never sent', async () => {
    const broken = baselineOf(INSTANCE_A, splitRequest);
    broken.content = { ...broken.content, proxy: 'user:secret@proxy.corp.example:8080' };
    await baselines.recordBaseline(broken);
    const tick = await createDriftCheckHandler(deps)();
    expect(tick.findings).toEqual([expect.objectContaining({ instanceId: INSTANCE_A, action: 'invalid-baseline', reason: expect.stringMatching(/^PROXY_AUTH_UNSUPPORTED/) })]);
    expect(commands.sent.flatMap((c) => c.instanceIds)).not.toContain(INSTANCE_A);
  });

  it('a new pass starts only when the interval has passed since the last one started', async () => {
    const handler = createDriftCheckHandler(deps);
    expect((await handler()).phase).toBe('done');
    clock.advance(3600);
    expect(await handler()).toMatchObject({ action: 'idle', passId: '20260201T030000' });
    clock.advance(23 * 3600);
    expect(await handler()).toMatchObject({ action: 'worked', started: true, passId: '20260202T030000' });
    expect(commands.sent).toHaveLength(2);
  });

  describe('a pass larger than one invocation', () => {
    const FLEET = 5 * DRIFT_PAGE_SIZE + 7;
    const id = (n: number) => `i-${n.toString(16).padStart(17, '0')}`;
    beforeEach(() => {
      commands = new MemoryBeaconCommands();
      commands.respond = (_c, instanceId) => (Number.parseInt(instanceId.slice(2), 16) % 50 === 0 ? { status: 'Failed', stdout: resultLine({ ok: false, changed: [], checks: [{ name: 'x', expected: 1, actual: 2, ok: false }] }), stderr: '' } : { status: 'Success', stdout: resultLine({ changed: [] }), stderr: '' });
      for (let n = 1; n <= FLEET; n += 1) commands.addInstance({ instanceId: id(n), computerName: `BEACON${n}`, tags });
      deps = { ...deps, commands, autoApplyTagOnly: true };
    });

    it('continues across invocations from its checkpoint: every beacon verified exactly once, every drifted one re-applied exactly once', async () => {
      const handler = createDriftCheckHandler(deps);
      // An invocation with almost no time left does one page and hands the rest on.
      const nearlyOut = { getRemainingTimeInMillis: () => 0 };
      const ticks = [];
      for (let n = 0; n < 40; n += 1) {
        const tick = await handler(undefined, nearlyOut);
        ticks.push(tick);
        if (tick.phase === 'done') break;
      }
      expect(ticks.length).toBe(2 * 6);
      expect(ticks.every((t) => t.pagesSent + t.pagesReviewed === 1)).toBe(true);
      const verified = commands.sent.flatMap((c) => c.instanceIds);
      expect(verified).toHaveLength(FLEET);
      expect(new Set(verified).size).toBe(FLEET);
      expect(queue.messages).toHaveLength(5);
      expect(ticks.at(-1)!.totals).toMatchObject({ beacons: FLEET, inSync: FLEET - 5, reapplied: 5 });
    });

    it('one invocation at a time: a second tick while the first holds the pass does nothing', async () => {
      const handler = createDriftCheckHandler(deps);
      let second: Awaited<ReturnType<typeof handler>> | undefined;
      const send = commands.sendCommand.bind(commands);
      commands.sendCommand = async (...args) => {
        second ??= await handler(undefined, { getRemainingTimeInMillis: () => 0 });
        return send(...args);
      };
      await handler(undefined, { getRemainingTimeInMillis: () => 0 });
      expect(second).toMatchObject({ action: 'busy' });
    });

    it('an invocation that fails mid-page is continued by the next one without verifying a beacon twice', async () => {
      await baselines.recordBaseline(baselineOf(id(2), { ...splitRequest, target: { instanceIds: [id(2)] } }));
      const handler = createDriftCheckHandler(deps);
      const send = commands.sendCommand.bind(commands);
      let calls = 0;
      commands.sendCommand = async (...args) => {
        calls += 1;
        if (calls === 2) throw new Error('ThrottlingException: Rate exceeded');
        return send(...args);
      };
      await expect(handler()).rejects.toThrow(/Rate exceeded/);
      const finished = await handler();
      expect(finished.phase).toBe('done');
      const verified = commands.sent.flatMap((c) => c.instanceIds);
      expect(verified).toHaveLength(FLEET);
      expect(new Set(verified).size).toBe(FLEET);
    });
  });
});
