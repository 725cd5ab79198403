import { beforeEach, describe, expect, it } from 'vitest';
import type { DiffEntry } from '../../lambdas/core/change-diff.js';
import { trimVerdict, VERDICT_LIMITS, type CommandVerdict } from '../../lambdas/core/command-result.js';
import { encodeDesiredState, renderDesiredState } from '../../lambdas/core/desired-state.js';
import { LIMITS } from '../../lambdas/core/limits.js';
import { parseRequest } from '../../lambdas/core/request.js';
import { dynamoItemBytes, FixedClock, MemoryRequestStore, MemoryRolloutStore, MemoryPinLedger } from '../../lambdas/memory/ports.js';
import { initialPollState } from '../../lambdas/poll-command/handler.js';
import { createRecordOutcomeHandler } from '../../lambdas/record-outcome/handler.js';
import { CHANGE_EVENTS } from '../../lambdas/workflow/changes.js';
import type { WorkflowState } from '../../lambdas/workflow/state.js';
import { STATE_PAYLOAD_LIMIT_BYTES } from '../../local/twin.js';
import { largestRequest } from '../support/requests.js';
import { INSTANCE_A, validRequest } from './fixtures.js';

const change = (id: string, before: string, after: string): DiffEntry => ({ id, before, after });
const APPLIED = [change('registry:Common\\https_proxy', 'absent', 'REG_SZ https://proxy.corp.example:8080'), change('service:logon', 'NT AUTHORITY\\SYSTEM', 'CORP\\svc-beacon')];
const RESTORED = [change('service:logon', 'CORP\\svc-beacon', 'NT AUTHORITY\\SYSTEM'), change('registry:Common\\https_proxy', 'REG_SZ https://proxy.corp.example:8080', 'absent')];

const verdict = (overrides: Partial<CommandVerdict>): CommandVerdict => ({
  status: 'ok',
  notRun: null,
  reasons: [],
  changed: [],
  checks: [],
  beaconVersion: '13.2.0',
  captureId: 'req-test-1',
  diff: [],
  restoredDiff: [],
  ...overrides,
});

const base: WorkflowState = {
  requestId: 'req-test-1',
  instanceId: INSTANCE_A,
  request: validRequest(),
  source: 'api',
  dryRun: false,
  replyTo: null,
  receivedAt: '2026-01-01T00:00:00.000Z',
  command: { kind: 'configure', commandId: 'cmd-1', comment: 'c1' },
};

let store: MemoryRequestStore;
let clock: FixedClock;
beforeEach(async () => {
  store = new MemoryRequestStore();
  clock = new FixedClock();
  await store.recordRequest({ requestId: 'req-test-1', state: 'accepted', source: 'api', receivedAt: '2026-01-01T00:00:00.000Z' });
});

describe('the record step keeps the change and writes the change trail', () => {
  it('an ok beacon: its status has each change before -> after, and the audit trail one record per change', async () => {
    const state: WorkflowState = { ...base, outcome: { state: 'ok' }, poll: { ...initialPollState(5), done: true, commandId: 'cmd-1', verdict: verdict({ changed: ['registry:Common\\https_proxy', 'service:logon'], diff: APPLIED }) } };
    await createRecordOutcomeHandler({ store, rollouts: new MemoryRolloutStore(store), ledger: new MemoryPinLedger(), clock })(state);
    const status = (await store.getRequestStatus('req-test-1'))!;
    expect(status.beacons[0]).toMatchObject({ state: 'ok', diff: APPLIED, restored: [] });
    const changes = status.audit.filter((event) => event.event === CHANGE_EVENTS.applied);
    expect(changes.map((event) => event.detail)).toEqual([
      { id: 'registry:Common\\https_proxy', before: 'absent', after: 'REG_SZ https://proxy.corp.example:8080', document: 'configure', commandId: 'cmd-1' },
      { id: 'service:logon', before: 'NT AUTHORITY\\SYSTEM', after: 'CORP\\svc-beacon', document: 'configure', commandId: 'cmd-1' },
    ]);
    for (const event of changes) expect(event).toMatchObject({ requestId: 'req-test-1', instanceId: INSTANCE_A, at: '2026-01-01T00:00:00.000Z' });
  });

  it('a retried record step writes the trail once (the same keys)', async () => {
    const state: WorkflowState = { ...base, outcome: { state: 'ok' }, poll: { ...initialPollState(5), done: true, verdict: verdict({ diff: APPLIED }) } };
    const record = createRecordOutcomeHandler({ store, rollouts: new MemoryRolloutStore(store), ledger: new MemoryPinLedger(), clock });
    await record(state);
    await record(state);
    expect([...store.audit.values()].filter((event) => event.event.startsWith('change.'))).toHaveLength(2);
  });

  it('a rolled-back beacon: what the run changed and what the rollback document put back, each in the trail', async () => {
    const state: WorkflowState = {
      ...base,
      outcome: { state: 'rolled-back' },
      poll: { ...initialPollState(5), done: true, commandId: 'cmd-1', verdict: verdict({ status: 'unparseable', reasons: ['cut short'], diff: [] }) },
      rollbackCommand: { kind: 'rollback', commandId: 'cmd-2', comment: 'c2' },
      rollbackPoll: { ...initialPollState(5), done: true, commandId: 'cmd-2', verdict: verdict({ restoredDiff: RESTORED }) },
    };
    await createRecordOutcomeHandler({ store, rollouts: new MemoryRolloutStore(store), ledger: new MemoryPinLedger(), clock })(state);
    const status = (await store.getRequestStatus('req-test-1'))!;
    expect(status.beacons[0]).toMatchObject({ state: 'rolled-back', diff: [], restored: RESTORED });
    const restored = status.audit.filter((event) => event.event === CHANGE_EVENTS.restored).map((event) => event.detail);
    expect(restored).toEqual(RESTORED.map((entry) => ({ ...entry, document: 'rollback', commandId: 'cmd-2' })));
  });

  it('a run that rolled back by itself: applied and restored, both by the configure command', async () => {
    const state: WorkflowState = {
      ...base,
      outcome: { state: 'rolled-back' },
      poll: { ...initialPollState(5), done: true, commandId: 'cmd-1', verdict: verdict({ status: 'rolled-back', diff: APPLIED, restoredDiff: RESTORED }) },
    };
    await createRecordOutcomeHandler({ store, rollouts: new MemoryRolloutStore(store), ledger: new MemoryPinLedger(), clock })(state);
    const status = (await store.getRequestStatus('req-test-1'))!;
    expect(status.beacons[0]).toMatchObject({ diff: APPLIED, restored: RESTORED });
    expect(status.audit.filter((event) => event.event === CHANGE_EVENTS.applied)).toHaveLength(2);
    expect(status.audit.filter((event) => event.event === CHANGE_EVENTS.restored).map((event) => event.detail?.document)).toEqual(['configure', 'configure']);
  });

  it('a plan (dry run) writes what a run would change as change.planned, never as applied', async () => {
    const state: WorkflowState = { ...base, dryRun: true, command: { kind: 'verify', commandId: 'cmd-3', comment: 'c3' }, outcome: { state: 'dry-run' }, poll: { ...initialPollState(5), done: true, verdict: verdict({ status: 'failed', diff: APPLIED }) } };
    await createRecordOutcomeHandler({ store, rollouts: new MemoryRolloutStore(store), ledger: new MemoryPinLedger(), clock })(state);
    const status = (await store.getRequestStatus('req-test-1'))!;
    expect(status.beacons[0]).toMatchObject({ state: 'dry-run', diff: APPLIED });
    expect(status.audit.filter((event) => event.event === CHANGE_EVENTS.planned).map((event) => event.detail?.document)).toEqual(['verify', 'verify']);
    expect(status.audit.some((event) => event.event === CHANGE_EVENTS.applied)).toBe(false);
  });

  it('entries a verdict left out are counted on the status, never silently missing', async () => {
    const state: WorkflowState = { ...base, outcome: { state: 'ok' }, poll: { ...initialPollState(5), done: true, verdict: verdict({ diff: APPLIED, diffOmitted: { diff: 3, restoredDiff: 0 } }) } };
    await createRecordOutcomeHandler({ store, rollouts: new MemoryRolloutStore(store), ledger: new MemoryPinLedger(), clock })(state);
    expect((await store.getRequestStatus('req-test-1'))!.beacons[0]).toMatchObject({ diffOmitted: 3 });
  });
});

describe('bounded whatever the beacons print: the 256 KB workflow state and the 400 KB store item', () => {
  /** A verdict with every list at its limit and every string at its longest. */
  function fullestVerdict(): CommandVerdict {
    const long = (n: number) => `${'v'.repeat(20_000)}${n}`;
    const entries = Array.from({ length: 200 }, (_, i) => change(`registry:${'k'.repeat(2000)}${i}`, long(i), long(i + 1)));
    return trimVerdict({
      status: 'rolled-back',
      notRun: null,
      reasons: Array.from({ length: 50 }, (_, i) => long(i)),
      changed: Array.from({ length: 200 }, (_, i) => long(i)),
      checks: Array.from({ length: 200 }, (_, i) => ({ name: long(i), expected: long(i), actual: { blob: long(i) }, ok: false })),
      beaconVersion: long(0),
      captureId: long(0),
      diff: entries,
      restoredDiff: entries,
    });
  }

  const request = largestRequest((candidate) => {
    if (Buffer.byteLength(JSON.stringify(candidate), 'utf8') > LIMITS.maxRequestBytes) return false;
    try {
      encodeDesiredState(renderDesiredState(parseRequest(candidate)));
      return true;
    } catch {
      return false;
    }
  });

  const fullest: WorkflowState = {
    ...base,
    requestId: String(request.requestId),
    request,
    outcome: { state: 'rolled-back' },
    poll: { ...initialPollState(5), done: true, commandId: 'cmd-1', verdict: fullestVerdict() },
    rollbackCommand: { kind: 'rollback', commandId: 'cmd-2', comment: 'c2' },
    rollbackPoll: { ...initialPollState(5), done: true, commandId: 'cmd-2', verdict: fullestVerdict() },
  };

  it(`the workflow state with the biggest request and two verdicts at their limits stays well below ${STATE_PAYLOAD_LIMIT_BYTES} bytes`, () => {
    const bytes = Buffer.byteLength(JSON.stringify(fullest), 'utf8');
    console.log(`fullest workflow state: ${bytes} bytes (limit ${STATE_PAYLOAD_LIMIT_BYTES}); one verdict ${Buffer.byteLength(JSON.stringify(fullest.poll!.verdict), 'utf8')} bytes`);
    expect(fullest.poll!.verdict!.diff).toHaveLength(VERDICT_LIMITS.diffEntries);
    expect(bytes).toBeLessThan(STATE_PAYLOAD_LIMIT_BYTES * 0.8);
  });

  it('its status record stays below the 400 KB DynamoDB item limit, and every audit record is small', async () => {
    await createRecordOutcomeHandler({ store, rollouts: new MemoryRolloutStore(store), ledger: new MemoryPinLedger(), clock })(fullest);
    const status = [...store.beacons.values()][0]!;
    const bytes = dynamoItemBytes({ pk: `REQ#${status.requestId}`, sk: `BEACON#${status.instanceId}`, ...status });
    console.log(`fullest beacon status record: ${bytes} bytes (limit ${LIMITS.maxStoreItemBytes})`);
    expect(bytes).toBeLessThan(LIMITS.maxStoreItemBytes / 2);
    const trail = [...store.audit.values()].filter((event) => event.event.startsWith('change.'));
    expect(trail).toHaveLength(3 * VERDICT_LIMITS.diffEntries);
    for (const event of trail) expect(dynamoItemBytes(event)).toBeLessThan(16 * 1024);
  });

  it('the memory store refuses an item DynamoDB would refuse (so a test cannot pass what AWS fails)', async () => {
    await expect(store.putBeaconStatus({ requestId: 'r', instanceId: INSTANCE_A, state: 'ok', updatedAt: 'now', reasons: ['x'.repeat(LIMITS.maxStoreItemBytes)] })).rejects.toThrow(
      /Item size has exceeded the maximum allowed size/,
    );
  });
});
