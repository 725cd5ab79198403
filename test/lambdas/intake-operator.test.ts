/**
 * An operator's command from chat through the intake queue (kind `operator`): applied once, answered in the chat
 * that sent it with what happened, refusals answered with the reason (issue 14: which id is answered, the state,
 * the lines).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { createIntakeHandler, type IntakeDeps } from '../../lambdas/intake/handler.js';
import { MESSAGE_ATTRIBUTES } from '../../lambdas/intake/message-attributes.js';
import { initialRollout } from '../../lambdas/rollout/steps.js';
import { ROLLOUT_DEFAULTS } from '../../lambdas/core/rollout.js';
import type { BeaconHistory } from '../../lambdas/core/beacon-history.js';
import type { Log, RolloutRecord } from '../../lambdas/core/ports.js';
import { FixedClock, MemoryNotifier, MemoryPinLedger, MemoryRequestStore, MemoryRequestWorkflowStarter, MemoryRolloutStore, MemoryTaskTokens, MemoryWorkflowStarter } from '../../lambdas/memory/ports.js';
import { INSTANCE_A, lambdaContext, sqsEvent, sqsRecord } from './fixtures.js';

const AT = '2026-01-01T00:00:00.000Z';
const SLACK = { kind: 'slack', responseUrl: 'https://hooks.slack.com/commands/T1/1/abc' };
const TRUSTED_ROLE = 'AROATRUSTEDCHATOPS';

let store: MemoryRequestStore;
let rollouts: MemoryRolloutStore;
let ledger: MemoryPinLedger;
let tokens: MemoryTaskTokens;
let notifier: MemoryNotifier;
let logs: Array<{ level: string; message: string; extra: Record<string, unknown> | undefined }>;
let deps: IntakeDeps;

beforeEach(() => {
  store = new MemoryRequestStore();
  rollouts = new MemoryRolloutStore(store);
  ledger = new MemoryPinLedger();
  tokens = new MemoryTaskTokens();
  notifier = new MemoryNotifier();
  logs = [];
  const log: Log = {
    info: (message, extra) => void logs.push({ level: 'info', message, extra }),
    warn: (message, extra) => void logs.push({ level: 'warn', message, extra }),
    error: (message, extra) => void logs.push({ level: 'error', message, extra }),
  };
  deps = { store, requests: new MemoryRequestWorkflowStarter(), notifier, clock: new FixedClock(), operator: { rollouts, ledger, tokens }, log, trustedSenderRoleIds: [TRUSTED_ROLE] };
});

async function rollout(requestId: string, patch: Partial<RolloutRecord>): Promise<void> {
  const base = initialRollout({ requestId, request: {}, source: 'chatops', dryRun: false, replyTo: null, receivedAt: AT, generation: 0, execution: { name: requestId } }, ROLLOUT_DEFAULTS.tag, AT);
  await rollouts.createRollout({ ...base, ...patch });
}

/** A command as the ChatOps function sends it: kind operator, the chat to answer, the caller it vouches for. */
function command(body: unknown, messageId = 'm1', caller: unknown = { kind: 'slack', teamId: 'T1', userId: 'U1', userName: 'ops' }) {
  const record = sqsRecord(typeof body === 'string' ? body : JSON.stringify(body), messageId, {
    [MESSAGE_ATTRIBUTES.kind]: 'operator',
    [MESSAGE_ATTRIBUTES.source]: 'chatops',
    [MESSAGE_ATTRIBUTES.replyTo]: JSON.stringify(SLACK),
    [MESSAGE_ATTRIBUTES.caller]: JSON.stringify(caller),
  });
  return { ...record, attributes: { ...record.attributes, SenderId: `${TRUSTED_ROLE}:chatops-session` } };
}

const run = (...records: ReturnType<typeof command>[]) => createIntakeHandler(deps)(sqsEvent(...records), lambdaContext);
const BY = 'Slack T1/U1 (ops)';

describe('cancel', () => {
  it('is answered "stopping" for that request, naming who cancelled and that running beacons are rolled back', async () => {
    await rollout('req-run', { phase: 'running' });
    await run(command({ action: 'cancel', requestId: 'req-run', rollback: true, by: 'forged' }));
    expect(notifier.sent).toHaveLength(1);
    expect(notifier.sent[0]!.outcome).toEqual({
      requestId: 'req-run',
      kind: 'request',
      state: 'stopping',
      summary: 'cancel req-run: done',
      lines: [`Cancelled by ${BY} at ${AT}: nothing new starts; running beacons finish their document and are rolled back. The summary follows.`],
      caller: { kind: 'slack', teamId: 'T1', userId: 'U1', userName: 'ops' },
    });
    expect(notifier.sent[0]!.replyTo).toEqual(SLACK);
  });

  it('without rollback the answer says nothing of a rollback; the cancel is in the request\'s trail with who asked', async () => {
    await rollout('req-run', { phase: 'running' });
    await run(command({ action: 'cancel', requestId: 'req-run', rollback: false, by: 'forged' }));
    expect(notifier.sent[0]!.outcome.lines).toEqual([`Cancelled by ${BY} at ${AT}: nothing new starts; running beacons finish their document. The summary follows.`]);
    const audit = [...store.audit.values()].find((event) => event.event === 'request.cancel-requested');
    expect(audit).toMatchObject({ requestId: 'req-run', detail: { by: BY, rollback: false }, caller: { kind: 'slack', userId: 'U1' } });
    expect(logs).toContainEqual({ level: 'info', message: 'operator command applied', extra: expect.objectContaining({ action: 'cancel', requestId: 'req-run', by: BY }) });
  });

  it('who acted is recorded in at most 300 characters, however long the vouched caller', async () => {
    await rollout('req-run', { phase: 'running' });
    const arn = `arn:aws:sts::123456789012:assumed-role/${'r'.repeat(400)}/session`;
    await run(command({ action: 'cancel', requestId: 'req-run', rollback: false, by: 'forged' }, 'm1', { kind: 'iam', arn }));
    expect((await rollouts.getRollout('req-run'))?.cancel?.by).toBe(arn.slice(0, 300));
  });

  it('refused (already cancelled) is answered "invalid" for that request with the code and the reason', async () => {
    await rollout('req-run', { phase: 'running', cancel: { by: 'bob', at: AT, rollback: false } });
    await run(command({ action: 'cancel', requestId: 'req-run', rollback: true, by: 'x' }));
    expect(notifier.sent[0]!.outcome).toEqual({
      requestId: 'req-run',
      kind: 'request',
      state: 'invalid',
      summary: 'cancel req-run refused: ALREADY_CANCELLED',
      lines: [`request req-run was cancelled by bob at ${AT}`],
      caller: { kind: 'slack', teamId: 'T1', userId: 'U1', userName: 'ops' },
    });
    expect(notifier.sent[0]!.replyTo).toEqual(SLACK);
    expect(logs).toContainEqual({ level: 'warn', message: 'operator command refused', extra: { command: 'cancel', target: 'req-run', error: expect.objectContaining({ code: 'ALREADY_CANCELLED' }) } });
  });
});

describe('go', () => {
  it('is answered "running" for that request: the rollout starts its next wave', async () => {
    await rollout('req-wait', { phase: 'awaiting-go', goToken: 'token-go' });
    tokens.waiting.add('token-go');
    await run(command({ action: 'go', requestId: 'req-wait', by: 'x' }));
    expect(notifier.sent[0]!.outcome).toMatchObject({
      requestId: 'req-wait',
      kind: 'request',
      state: 'running',
      summary: 'go req-wait: done',
      lines: [`Go given by ${BY} at ${AT}: the rollout starts its next wave.`],
    });
    expect(tokens.completed.map((done) => done.token)).toEqual(['token-go']);
  });
});

describe('confirm-pin', () => {
  const pending = { pinId: 'pin-r1', version: '13.2.0', requestId: 'r1', at: AT, supersedes: null };

  it('is answered "running" under the pin id, naming the version and the requests that go on', async () => {
    await ledger.update({ confirmed: null, pending, waiters: { r1: { token: 't1', version: '13.2.0' }, r2: { token: 't2', version: '13.1.0' } } }, 0);
    tokens.waiting.add('t1');
    tokens.waiting.add('t2');
    await run(command({ action: 'confirm-pin', pinId: 'pin-r1', by: 'x' }));
    expect(notifier.sent[0]!.outcome).toMatchObject({
      requestId: 'pin-r1',
      kind: 'request',
      state: 'running',
      summary: 'confirm-pin pin-r1: done',
      lines: [`Confirmed: FNMS approves 13.2.0 (by ${BY} at ${AT}).`, 'Requests waiting on it go on: r1, r2.'],
    });
  });

  it('confirmed again: the answer says so and that no request was waiting', async () => {
    await ledger.update({ confirmed: { version: '13.2.0', pinId: 'pin-r1', by: 'bob', at: AT }, pending: null, waiters: {} }, 0);
    await run(command({ action: 'confirm-pin', pinId: 'pin-r1', by: 'x' }));
    expect(notifier.sent[0]!.outcome.lines).toEqual([`Already confirmed: FNMS approves 13.2.0 (by bob at ${AT}).`, 'No request was waiting on it.']);
  });

  it('refused (no such pin pending) is answered "invalid" under the pin id', async () => {
    await run(command({ action: 'confirm-pin', pinId: 'pin-unknown', by: 'x' }));
    expect(notifier.sent[0]!.outcome).toMatchObject({ requestId: 'pin-unknown', kind: 'request', state: 'invalid', summary: 'confirm-pin pin-unknown refused: PIN_NOT_PENDING' });
    expect(logs).toContainEqual({ level: 'warn', message: 'operator command refused', extra: { command: 'confirm-pin', target: 'pin-unknown', error: expect.objectContaining({ code: 'PIN_NOT_PENDING' }) } });
  });
});

describe('a message of kind operator that is not a command', () => {
  it.each([
    ['not JSON', 'cancel it please'],
    ['an unknown action', { action: 'reboot', requestId: 'req-run', by: 'x' }],
  ])('(%s) is dropped with a warning: nothing applied, nothing answered, not retried', async (_name, body) => {
    await rollout('req-run', { phase: 'running' });
    const result = await run(command(body, 'm-bad'));
    expect(result.batchItemFailures).toEqual([]);
    expect(notifier.sent).toEqual([]);
    expect((await rollouts.getRollout('req-run'))?.cancel).toBeFalsy();
    expect(logs).toEqual([{ level: 'warn', message: 'operator command refused: not a command', extra: { messageId: 'm-bad' } }]);
  });
});

describe('a per-beacon command (chat rollback / retry) at an intake without the beacon ports', () => {
  const history: BeaconHistory = { beaconHistory: async () => ({ entries: [], nextCursor: null }) };
  const beaconCommand = () => sqsRecord(JSON.stringify({ beaconCommand: 'rollback', instanceId: INSTANCE_A, requestId: 'rb-1', requestedBy: null }), 'm-beacon');

  it.each([
    ['no beacon workflow', { history }],
    ['no beacon history', { workflows: new MemoryWorkflowStarter() }],
  ])('(%s) records nothing and leaves the message to be retried (a deployment fault, not the requester\'s)', async (_name, ports) => {
    const result = await createIntakeHandler({ ...deps, ...ports })(sqsEvent(beaconCommand()), lambdaContext);
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'm-beacon' }]);
    expect(store.requests.size).toBe(0);
    expect(notifier.sent).toEqual([]);
  });
});
