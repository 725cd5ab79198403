import { beforeEach, describe, expect, it } from 'vitest';
import { createIntakeHandler, type IntakeDeps } from '../../lambdas/intake/handler.js';
import { MESSAGE_ATTRIBUTES } from '../../lambdas/intake/message-attributes.js';
import { initialRollout } from '../../lambdas/rollout/steps.js';
import { ROLLOUT_DEFAULTS } from '../../lambdas/core/rollout.js';
import {
  FixedClock,
  MemoryNotifier,
  MemoryPinLedger,
  MemoryRequestStore,
  MemoryRequestWorkflowStarter,
  MemoryRolloutStore,
  MemoryTaskTokens,
} from '../../lambdas/memory/ports.js';
import { BEACON_TAG, INSTANCE_A, INSTANCE_B, lambdaContext, sqsEvent, sqsRecord, validRequest } from './fixtures.js';

let store: MemoryRequestStore;
let workflows: MemoryRequestWorkflowStarter;
let notifier: MemoryNotifier;
let rollouts: MemoryRolloutStore;
let deps: IntakeDeps;

beforeEach(() => {
  store = new MemoryRequestStore();
  workflows = new MemoryRequestWorkflowStarter();
  notifier = new MemoryNotifier();
  rollouts = new MemoryRolloutStore(store);
  deps = { store, requests: workflows, notifier, clock: new FixedClock(), operator: { rollouts, ledger: new MemoryPinLedger(), tokens: new MemoryTaskTokens() } };
});

describe('intake', () => {
  it('records a valid request and starts its one request workflow, named after the request', async () => {
    const handler = createIntakeHandler(deps);
    const body = JSON.stringify(validRequest({ target: { instanceIds: [INSTANCE_A, INSTANCE_B] } }));
    const result = await handler(sqsEvent(sqsRecord(body, 'm1')), lambdaContext);
    expect(result.batchItemFailures).toEqual([]);
    expect(store.requests.get('req-test-1')).toMatchObject({ state: 'accepted', source: 'queue', instanceIds: [INSTANCE_A, INSTANCE_B] });
    expect([...workflows.executions.keys()]).toEqual(['req-test-1']);
    expect([...workflows.executions.values()][0]).toMatchObject({ requestId: 'req-test-1', dryRun: false, replyTo: null, generation: 0, request: { requestId: 'req-test-1' } });
  });

  it('an invalid message is recorded with its error, reported as processed and never retried', async () => {
    const handler = createIntakeHandler(deps);
    const bad = JSON.stringify(validRequest({ requestId: 'req-bad', proxy: 'http://user:pw@proxy.corp.example:8080' }));
    const result = await handler(sqsEvent(sqsRecord(bad, 'm1'), sqsRecord('not json', 'm2')), lambdaContext);
    expect(result.batchItemFailures).toEqual([]);
    expect(store.requests.get('req-bad')).toMatchObject({ state: 'invalid', error: { code: 'PROXY_AUTH_UNSUPPORTED', field: 'proxy' } });
    expect(store.requests.get('invalid-m2')).toMatchObject({ state: 'invalid', error: { code: 'INVALID_REQUEST' } });
    expect(workflows.executions.size).toBe(0);
    expect(notifier.sent.map((n) => n.outcome.state)).toEqual(['invalid', 'invalid']);
  });

  it('reports only the message that failed for a retryable reason as a batch item failure', async () => {
    const failing = new MemoryRequestStore();
    failing.recordRequest = async (record) => {
      if (record.requestId === 'req-unlucky') throw new Error('DynamoDB unavailable');
      return MemoryRequestStore.prototype.recordRequest.call(failing, record);
    };
    const handler = createIntakeHandler({ ...deps, store: failing });
    const result = await handler(
      sqsEvent(sqsRecord(JSON.stringify(validRequest({ requestId: 'req-lucky' })), 'm1'), sqsRecord(JSON.stringify(validRequest({ requestId: 'req-unlucky' })), 'm2')),
      lambdaContext,
    );
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'm2' }]);
    expect(failing.requests.has('req-lucky')).toBe(true);
  });

  it('the same requestId delivered twice starts each beacon once and keeps the first record', async () => {
    const handler = createIntakeHandler(deps);
    const body = JSON.stringify(validRequest());
    await handler(sqsEvent(sqsRecord(body, 'm1')), lambdaContext);
    await handler(sqsEvent(sqsRecord(body, 'm2')), lambdaContext);
    expect(workflows.executions.size).toBe(1);
    expect(store.requests.size).toBe(1);
    expect([...store.audit.values()].filter((event) => event.event === 'request.accepted')).toHaveLength(1);
  });

  it('a request without requestId gets a content digest and its day, so a resend is the same request', async () => {
    const handler = createIntakeHandler(deps);
    const { requestId: _omit, ...withoutId } = validRequest();
    await handler(sqsEvent(sqsRecord(JSON.stringify(withoutId), 'm1'), sqsRecord(JSON.stringify(withoutId), 'm2')), lambdaContext);
    expect(store.requests.size).toBe(1);
    expect([...store.requests.keys()][0]).toMatch(/^req-[0-9a-f]{24}-20260101T0000$/);
    expect(workflows.executions.size).toBe(1);
  });

  it('runs the accept step through the idempotency guard, keyed by requestId', async () => {
    const keys: string[] = [];
    const handler = createIntakeHandler({
      ...deps,
      idempotency: {
        wrap: (fn) => async (accepted) => {
          keys.push(accepted.requestId);
          return fn(accepted);
        },
      },
    });
    await handler(sqsEvent(sqsRecord(JSON.stringify(validRequest()), 'm1')), lambdaContext);
    expect(keys).toEqual(['req-test-1']);
  });

  it('a tag target is not expanded here (any size fits): the request workflow expands it page by page', async () => {
    const handler = createIntakeHandler(deps);
    await handler(sqsEvent(sqsRecord(JSON.stringify(validRequest({ target: { tag: BEACON_TAG } })), 'm1')), lambdaContext);
    expect(store.requests.get('req-test-1')).toMatchObject({ state: 'accepted' });
    expect(store.requests.get('req-test-1')?.instanceIds).toBeUndefined();
    expect([...workflows.executions.values()][0]?.request).toMatchObject({ target: { tag: BEACON_TAG } });
  });

  it("an operator's chat command (kind=operator) is applied once and answered in the chat that sent it", async () => {
    await rollouts.createRollout({ ...initialRollout({ requestId: 'req-run', request: {}, source: 'chatops', dryRun: false, replyTo: null, receivedAt: '2026-01-01T00:00:00.000Z', generation: 0, execution: { name: 'req-run' } }, ROLLOUT_DEFAULTS.tag, '2026-01-01T00:00:00.000Z'), phase: 'running' });
    const handler = createIntakeHandler(deps);
    const slack = { kind: 'slack', responseUrl: 'https://hooks.slack.com/commands/T1/1/abc' };
    const command = JSON.stringify({ action: 'cancel', requestId: 'req-run', rollback: true, by: 'slack:U1 (ops)' });
    const attributes = { [MESSAGE_ATTRIBUTES.kind]: 'operator', [MESSAGE_ATTRIBUTES.source]: 'chatops', [MESSAGE_ATTRIBUTES.replyTo]: JSON.stringify(slack) };
    await handler(sqsEvent(sqsRecord(command, 'm1', attributes), sqsRecord(command, 'm2', attributes)), lambdaContext);
    // Who acted is the caller SQS vouches for (here no trusted producer: the SenderId), never the body's `by`.
    expect((await rollouts.getRollout('req-run'))?.cancel).toMatchObject({ rollback: true, by: expect.stringMatching(/^SQS sender /) });
    expect(notifier.sent.map((n) => n.outcome.summary)).toEqual(['cancel req-run: done', 'cancel req-run refused: ALREADY_CANCELLED']);
    expect(notifier.sent[0]?.replyTo).toMatchObject(slack);
    expect(workflows.executions.size).toBe(0);
  });

  it('carries source and a Slack response_url from the message attributes; any other URL is dropped', async () => {
    const handler = createIntakeHandler(deps);
    const slack = { kind: 'slack', responseUrl: 'https://hooks.slack.com/commands/T1/1/abc' };
    await handler(
      sqsEvent(
        sqsRecord(JSON.stringify(validRequest({ requestId: 'req-chat' })), 'm1', { [MESSAGE_ATTRIBUTES.source]: 'chatops', [MESSAGE_ATTRIBUTES.replyTo]: JSON.stringify(slack) }),
        sqsRecord(JSON.stringify(validRequest({ requestId: 'req-evil' })), 'm2', { [MESSAGE_ATTRIBUTES.replyTo]: JSON.stringify({ kind: 'slack', responseUrl: 'https://attacker.example/x' }) }),
      ),
      lambdaContext,
    );
    const inputs = [...workflows.executions.values()];
    expect(inputs.find((i) => i.requestId === 'req-chat')).toMatchObject({ source: 'chatops', replyTo: slack });
    expect(inputs.find((i) => i.requestId === 'req-evil')).toMatchObject({ source: 'queue', replyTo: null });
  });

  it('passes dryRun to the workflow so it can stop before sending anything', async () => {
    const handler = createIntakeHandler(deps);
    await handler(sqsEvent(sqsRecord(JSON.stringify(validRequest({ dryRun: true })), 'm1')), lambdaContext);
    expect([...workflows.executions.values()][0]?.dryRun).toBe(true);
  });
});
