/**
 * A per-beacon command (chat rollback / retry) refused at the intake (lambdas/intake/beacon-command.ts): recorded
 * under the id the chat answer named, with the beacon and who asked, told to the requester once, never retried;
 * a fault that is not a refusal leaves the message to be retried (issue 14).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { createIntakeHandler, type IntakeDeps } from '../../lambdas/intake/handler.js';
import { MESSAGE_ATTRIBUTES } from '../../lambdas/intake/message-attributes.js';
import type { BeaconHistory, BeaconHistoryEntry } from '../../lambdas/core/beacon-history.js';
import { FixedClock, MemoryNotifier, MemoryPinLedger, MemoryRequestStore, MemoryRequestWorkflowStarter, MemoryRolloutStore, MemoryTaskTokens, MemoryWorkflowStarter } from '../../lambdas/memory/ports.js';
import { INSTANCE_A, lambdaContext, sqsEvent, sqsRecord, validRequest } from './fixtures.js';

const SLACK = { kind: 'slack', responseUrl: 'https://hooks.slack.com/commands/T1/1/abc' };
let clock: FixedClock;
let store: MemoryRequestStore;
let notifier: MemoryNotifier;
let workflows: MemoryWorkflowStarter;
let entries: BeaconHistoryEntry[];
let deps: IntakeDeps;

beforeEach(() => {
  clock = new FixedClock();
  store = new MemoryRequestStore();
  notifier = new MemoryNotifier();
  workflows = new MemoryWorkflowStarter();
  entries = [];
  const history: BeaconHistory = { beaconHistory: async () => ({ entries, nextCursor: null }) };
  deps = {
    store,
    requests: new MemoryRequestWorkflowStarter(),
    workflows,
    history,
    notifier,
    clock,
    operator: { rollouts: new MemoryRolloutStore(store), ledger: new MemoryPinLedger(), tokens: new MemoryTaskTokens() },
  };
});

const command = (body: Record<string, unknown> | string, messageId = 'm1') =>
  sqsRecord(typeof body === 'string' ? body : JSON.stringify(body), messageId, { [MESSAGE_ATTRIBUTES.replyTo]: JSON.stringify(SLACK), [MESSAGE_ATTRIBUTES.source]: 'chatops' });
const run = (...records: ReturnType<typeof command>[]) => createIntakeHandler(deps)(sqsEvent(...records), lambdaContext);
const rollback = { beaconCommand: 'rollback', instanceId: INSTANCE_A, requestId: 'slack-rb-1', requestedBy: null };

describe('a refused per-beacon command', () => {
  it('is recorded as refused under the id the chat named, with the beacon and who asked, and the requester is told why in that chat', async () => {
    const result = await run(command(rollback));
    expect(result.batchItemFailures).toEqual([]);
    expect(store.requests.get('slack-rb-1')).toMatchObject({
      state: 'invalid',
      source: 'chatops',
      error: { code: 'NO_CAPTURE', field: 'instanceId' },
      instanceIds: [INSTANCE_A],
      requestedBy: 'SQS sender test',
      caller: { kind: 'sqs', senderId: 'test' },
    });
    const audit = [...store.audit.values()];
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ requestId: 'slack-rb-1', event: 'request.refused', instanceId: INSTANCE_A, detail: { code: 'NO_CAPTURE', field: 'instanceId', command: 'rollback' } });
    expect(notifier.sent).toHaveLength(1);
    const error = store.requests.get('slack-rb-1')!.error!;
    expect(notifier.sent[0]!.outcome).toEqual({ requestId: 'slack-rb-1', state: 'invalid', summary: `rollback refused: ${error.message}`, reasons: ['NO_CAPTURE at instanceId'] });
    expect(notifier.sent[0]!.replyTo).toEqual(SLACK);
    expect(workflows.executions.size).toBe(0);
  });

  it('delivered again is not recorded, audited or told twice', async () => {
    await run(command(rollback, 'm1'));
    clock.advance(60);
    await run(command(rollback, 'm2'));
    expect([...store.audit.values()]).toHaveLength(1);
    expect(notifier.sent).toHaveLength(1);
  });

  it('a retry whose earlier request no longer passes today\'s rules is refused with that rule\'s code', async () => {
    const { requestId: _id, target: _target, ...applied } = validRequest({ proxy: 'http://user:pw@proxy.corp.example:8080' });
    entries = [{ requestId: 'chg-1', instanceId: INSTANCE_A, kind: 'configure', source: 'api', requestedBy: null, receivedAt: null, state: 'ok', updatedAt: '2025-12-31T00:00:00.000Z', applied, reasons: [], diff: [], restored: [], commandId: null, linkedTo: null }];
    const result = await run(command({ beaconCommand: 'retry', instanceId: INSTANCE_A, requestId: 'slack-retry-1', requestedBy: null }));
    expect(result.batchItemFailures).toEqual([]);
    expect(store.requests.get('slack-retry-1')).toMatchObject({ state: 'invalid', error: { code: 'PROXY_AUTH_UNSUPPORTED', field: 'proxy' } });
    expect(notifier.sent[0]!.outcome.summary).toMatch(/^retry refused: /);
    expect(workflows.executions.size).toBe(0);
  });

  it('a malformed command (no usable beacon) is recorded under its id without a beacon, told as a "command" refusal', async () => {
    await run(command({ beaconCommand: 'rollback', instanceId: 'i-bad', requestId: 'slack-bad', requestedBy: null }));
    const recorded = store.requests.get('slack-bad')!;
    expect(recorded).toMatchObject({ state: 'invalid', error: { code: 'INVALID_INSTANCE_ID' } });
    expect(recorded).not.toHaveProperty('instanceIds');
    const audit = [...store.audit.values()][0]!;
    expect(audit).not.toHaveProperty('instanceId');
    expect(audit.detail).not.toHaveProperty('command');
    expect(notifier.sent[0]!.outcome.summary).toBe(`command refused: ${recorded.error!.message}`);
  });
});

describe('a per-beacon command that fails for another reason', () => {
  it('(the history cannot be read) records nothing and leaves the message to be retried', async () => {
    deps.history = { beaconHistory: async () => Promise.reject(new Error('DynamoDB unavailable')) };
    const result = await run(command(rollback, 'm-fault'));
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'm-fault' }]);
    expect(store.requests.size).toBe(0);
    expect(notifier.sent).toEqual([]);
  });
});
