/**
 * The intake's redelivery path (issue 14): a request delivered again, a delivery that lost the race to record
 * its id, an id first refused as invalid, and the re-run link. Each test names the rule it protects.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { createIntakeHandler, type IntakeDeps } from '../../lambdas/intake/handler.js';
import { MESSAGE_ATTRIBUTES } from '../../lambdas/intake/message-attributes.js';
import type { RequestExecutionInput, RequestRecord, RequestStatus } from '../../lambdas/core/ports.js';
import { requestContentHash } from '../../lambdas/core/request-identity.js';
import { FixedClock, MemoryNotifier, MemoryPinLedger, MemoryRequestStore, MemoryRequestWorkflowStarter, MemoryRolloutStore, MemoryTaskTokens } from '../../lambdas/memory/ports.js';
import { INSTANCE_A, INSTANCE_B, lambdaContext, sqsEvent, sqsRecord, validRequest } from './fixtures.js';

/** Every start the intake asked for, including the ones Step Functions answers "already started". */
class RecordingStarter extends MemoryRequestWorkflowStarter {
  readonly calls: RequestExecutionInput[] = [];
  override async startRequestWorkflow(input: RequestExecutionInput) {
    this.calls.push(structuredClone(input));
    return super.startRequestWorkflow(input);
  }
}

/** Counts the conditional puts of request records (each one costs a DynamoDB write, refused or not). */
class CountingStore extends MemoryRequestStore {
  readonly recordCalls: string[] = [];
  override async recordRequest(record: RequestRecord) {
    this.recordCalls.push(record.requestId);
    return super.recordRequest(record);
  }
}

let clock: FixedClock;
let store: CountingStore;
let starter: RecordingStarter;
let notifier: MemoryNotifier;
let counts: Array<[string, number]>;
let requestCounts: Array<[string, string]>;
let deps: IntakeDeps;

beforeEach(() => {
  clock = new FixedClock();
  store = new CountingStore();
  starter = new RecordingStarter();
  notifier = new MemoryNotifier();
  counts = [];
  requestCounts = [];
  deps = {
    store,
    requests: starter,
    notifier,
    clock,
    operator: { rollouts: new MemoryRolloutStore(store), ledger: new MemoryPinLedger(), tokens: new MemoryTaskTokens() },
    count: (metric, value) => void counts.push([metric, value]),
    countRequest: (source, outcome) => void requestCounts.push([source, outcome]),
  };
});

const send = (handler: ReturnType<typeof createIntakeHandler>, ...records: ReturnType<typeof sqsRecord>[]) => handler(sqsEvent(...records), lambdaContext);
const withSender = (record: ReturnType<typeof sqsRecord>, senderId: string) => ({ ...record, attributes: { ...record.attributes, SenderId: senderId } });
const auditEvents = (requestId: string) => [...store.audit.values()].filter((event) => event.requestId === requestId).map((event) => event.event);

describe('a redelivered request', () => {
  it('keeps its first arrival time and first caller when it asks for the workflow again (requests for a beacon apply in arrival order)', async () => {
    const handler = createIntakeHandler(deps);
    const body = JSON.stringify(validRequest());
    await send(handler, withSender(sqsRecord(body, 'm1'), 'AIDAFIRST'));
    clock.advance(3600);
    await send(handler, withSender(sqsRecord(body, 'm2'), 'AIDASECOND'));
    expect(starter.calls).toHaveLength(2);
    expect(starter.calls[1]).toMatchObject({ receivedAt: '2026-01-01T00:00:00.000Z', caller: { kind: 'sqs', senderId: 'AIDAFIRST' } });
    expect(starter.executions.size).toBe(1);
  });

  it('writes no second record (not even a refused conditional put) and counts one request, one workflow started', async () => {
    const handler = createIntakeHandler(deps);
    const body = JSON.stringify(validRequest());
    await send(handler, sqsRecord(body, 'm1'));
    expect(counts).toEqual([
      ['RequestsAccepted', 1],
      ['WorkflowsStarted', 1],
    ]);
    counts.length = 0;
    await send(handler, sqsRecord(body, 'm2'));
    expect(store.recordCalls).toEqual(['req-test-1']);
    // A delivery is counted as accepted each time; only a workflow that really started counts as started.
    expect(counts.map(([metric]) => metric)).not.toContain('WorkflowsStarted');
    expect(requestCounts).toEqual([['queue', 'accepted']]);
    expect(auditEvents('req-test-1')).toEqual(['request.accepted']);
  });

  it('the idempotency record of an accepted request holds its id, its execution and whether it started', async () => {
    const results: unknown[] = [];
    const handler = createIntakeHandler({ ...deps, idempotency: { wrap: (fn) => async (accepted) => { const result = await fn(accepted); results.push(result); return result; } } });
    await send(handler, sqsRecord(JSON.stringify(validRequest()), 'm1'));
    expect(results).toEqual([{ requestId: 'req-test-1', execution: [...starter.executions.keys()][0], started: true }]);
  });
});

describe('a delivery that lost the race to record its id', () => {
  /** Another delivery records `winner` between this delivery's read (which saw nothing) and its conditional put. */
  function raceWith(winner: Record<string, unknown>, caller = { kind: 'sqs' as const, senderId: 'AIDAWINNER' }): void {
    let raced = false;
    const read = store.getRequestStatus.bind(store);
    store.getRequestStatus = async (requestId: string): Promise<RequestStatus | null> => {
      if (!raced && requestId === winner.requestId) {
        raced = true;
        store.requests.set(requestId, { requestId, state: 'accepted', source: 'api', receivedAt: '2025-12-31T23:59:00.000Z', request: winner, contentHash: requestContentHash(winner), caller });
        return null;
      }
      return read(requestId);
    };
  }

  it('other content under the same id is refused REQUEST_CONFLICT: the winner stands, nothing starts, the requester is told', async () => {
    raceWith(validRequest({ proxy: 'other-proxy.corp.example:3128' }));
    const handler = createIntakeHandler(deps);
    const result = await send(handler, sqsRecord(JSON.stringify(validRequest()), 'm1'));
    expect(result.batchItemFailures).toEqual([]);
    expect(starter.calls).toEqual([]);
    expect(store.requests.get('req-test-1')).toMatchObject({ source: 'api', request: { proxy: 'other-proxy.corp.example:3128' } });
    expect(notifier.sent.map((n) => n.outcome.state)).toEqual(['conflict']);
    expect(auditEvents('req-test-1')).toEqual(['request.conflict']);
    expect(requestCounts).toEqual([['queue', 'conflict']]);
  });

  it('the same content: the winner\'s record stands (its arrival time and caller), no second acceptance is written or counted', async () => {
    raceWith(validRequest());
    const handler = createIntakeHandler(deps);
    await send(handler, sqsRecord(JSON.stringify(validRequest()), 'm1'));
    expect(starter.calls).toHaveLength(1);
    expect(starter.calls[0]).toMatchObject({ receivedAt: '2025-12-31T23:59:00.000Z', caller: { kind: 'sqs', senderId: 'AIDAWINNER' } });
    expect(auditEvents('req-test-1')).toEqual([]);
    expect(requestCounts).toEqual([]);
  });
});

describe('an id first refused as invalid', () => {
  it('cannot be taken by a valid request afterwards: REQUEST_CONFLICT, the refusal stands and nothing starts', async () => {
    const handler = createIntakeHandler(deps);
    await send(handler, sqsRecord(JSON.stringify(validRequest({ proxy: 'http://user:pw@proxy.corp.example:8080' })), 'm1'));
    expect(store.requests.get('req-test-1')).toMatchObject({ state: 'invalid' });
    await send(handler, sqsRecord(JSON.stringify(validRequest()), 'm2'));
    expect(store.requests.get('req-test-1')).toMatchObject({ state: 'invalid', error: { code: 'PROXY_AUTH_UNSUPPORTED' } });
    expect(starter.calls).toEqual([]);
    expect(notifier.sent.map((n) => n.outcome.state)).toEqual(['invalid', 'conflict']);
  });
});

describe('a re-run (the rerunOf attribute)', () => {
  const rerun = (body: Record<string, unknown>, messageId: string, rerunOf: string) => sqsRecord(JSON.stringify(body), messageId, { [MESSAGE_ATTRIBUTES.rerunOf]: rerunOf });

  it('is linked when the named request has the same content: both trails say so', async () => {
    const handler = createIntakeHandler(deps);
    await send(handler, sqsRecord(JSON.stringify(validRequest({ requestId: 'req-first' })), 'm1'));
    clock.advance(60);
    await send(handler, rerun(validRequest({ requestId: 'req-again' }), 'm2', 'req-first'));
    expect(store.requests.get('req-again')?.rerunOf).toBe('req-first');
    const accepted = [...store.audit.values()].find((event) => event.requestId === 'req-again' && event.event === 'request.accepted');
    expect(accepted?.detail).toEqual({ source: 'queue', target: { kind: 'instances', instanceIds: [INSTANCE_A] }, dryRun: false, rerunOf: 'req-first' });
    const linked = [...store.audit.values()].find((event) => event.requestId === 'req-first' && event.event === 'request.rerun');
    expect(linked?.detail).toEqual({ rerunId: 'req-again', source: 'queue' });
  });

  it('is not linked when the named request has other content: accepted as a request of its own, the other trail untouched', async () => {
    const handler = createIntakeHandler(deps);
    await send(handler, sqsRecord(JSON.stringify(validRequest({ requestId: 'req-first' })), 'm1'));
    await send(handler, rerun(validRequest({ requestId: 'req-again', target: { instanceIds: [INSTANCE_B] } }), 'm2', 'req-first'));
    expect(store.requests.get('req-again')).toMatchObject({ state: 'accepted' });
    expect(store.requests.get('req-again')).not.toHaveProperty('rerunOf');
    expect(auditEvents('req-first')).toEqual(['request.accepted']);
    const accepted = [...store.audit.values()].find((event) => event.requestId === 'req-again' && event.event === 'request.accepted');
    expect(accepted?.detail).toEqual({ source: 'queue', target: { kind: 'instances', instanceIds: [INSTANCE_B] }, dryRun: false });
  });

  it('naming a request that does not exist is accepted unlinked', async () => {
    const handler = createIntakeHandler(deps);
    const result = await send(handler, rerun(validRequest({ requestId: 'req-again' }), 'm1', 'req-never-seen'));
    expect(result.batchItemFailures).toEqual([]);
    expect(store.requests.get('req-again')).toMatchObject({ state: 'accepted' });
    expect(store.requests.get('req-again')).not.toHaveProperty('rerunOf');
    expect(starter.executions.size).toBe(1);
  });
});
