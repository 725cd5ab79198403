import { StateMachine } from 'aws-local-stepfunctions';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAcquireLockHandler } from '../../lambdas/acquire-lock/handler.js';
import { createInMemoryFnms } from '../../lambdas/core/fnms/index.js';
import { workflowExecutionName, type WorkflowInput } from '../../lambdas/core/ports.js';
import { createJudgeResultHandler } from '../../lambdas/judge-result/handler.js';
import { FixedClock, MemoryBeaconCommands, MemoryBeaconLock, MemoryNotifier, MemoryRequestStore } from '../../lambdas/memory/ports.js';
import { createNotifyRequesterHandler } from '../../lambdas/notify-requester/handler.js';
import { createPinVersionHandler } from '../../lambdas/pin-version/handler.js';
import { PIN_MODE_NONE_WARNING } from '../../lambdas/workflow/state.js';
import { outcomeText } from '../../lambdas/aws/notifier.js';
import { createPollCommandHandler } from '../../lambdas/poll-command/handler.js';
import { createRecordOutcomeHandler } from '../../lambdas/record-outcome/handler.js';
import { createReleaseLockHandler } from '../../lambdas/release-lock/handler.js';
import { createResolveTargetHandler } from '../../lambdas/resolve-target/handler.js';
import { createSendCommandHandler } from '../../lambdas/send-command/handler.js';
import { extractStateMachineDefinition } from '../../infra/workflow-definition.js';
import { TASK_STATE_HANDLERS, type WorkflowHandlerId } from '../../infra/workflow-states.js';
import { BEACON_TAG, INSTANCE_A, resultLine, validRequest } from '../lambdas/fixtures.js';
import { synthStack } from './synth.js';

/**
 * The synthesized definition run by a local ASL interpreter, Task states mapped (by TASK_STATE_HANDLERS)
 * to the real handler factories over in-memory ports: checks the payloads and result paths, not just the graph.
 */
let definition: Record<string, any>;
const DOCUMENTS = { configure: 'BeaconProxy-Configure-T', verify: 'BeaconProxy-Verify-T', rollback: 'BeaconProxy-Rollback-T' };

beforeAll(() => {
  definition = extractStateMachineDefinition(synthStack().template.toJSON()).definition;
});

let clock: FixedClock;
let store: MemoryRequestStore;
let commands: MemoryBeaconCommands;
let lock: MemoryBeaconLock;
let notifier: MemoryNotifier;

beforeEach(() => {
  clock = new FixedClock();
  store = new MemoryRequestStore();
  commands = new MemoryBeaconCommands();
  lock = new MemoryBeaconLock(clock);
  notifier = new MemoryNotifier();
  commands.addInstance({ instanceId: INSTANCE_A, tags: { [BEACON_TAG.key]: BEACON_TAG.value } });
});

async function run(input: WorkflowInput, overrides: Partial<Record<WorkflowHandlerId, (event: any) => Promise<unknown>>> = {}) {
  const handlers: Record<WorkflowHandlerId, (event: any) => Promise<unknown>> = {
    ResolveTargetFn: createResolveTargetHandler({ commands, beaconTag: BEACON_TAG }),
    AcquireLockFn: createAcquireLockHandler({ lock, store, clock, ttlSeconds: 600 }),
    ReleaseLockFn: createReleaseLockHandler({ lock }),
    SendCommandFn: createSendCommandHandler({ commands, store, clock, documentNames: DOCUMENTS }),
    PollCommandFn: createPollCommandHandler({ commands, clock, timeoutSeconds: 600, firstPollSeconds: 5, maxPollSeconds: 60 }),
    JudgeResultFn: createJudgeResultHandler(),
    PinVersionFn: createPinVersionHandler({ mode: 'gateway', gateway: createInMemoryFnms({ availableVersions: ['13.2.0'] }), inventory: null, store, clock }),
    RecordOutcomeFn: createRecordOutcomeHandler({ store, clock }),
    NotifyRequesterFn: createNotifyRequesterHandler({ notifier }),
    ...overrides,
  };
  const taskResourceLocalHandlers = Object.fromEntries(Object.entries(TASK_STATE_HANDLERS).map(([state, id]) => [state, (event: unknown) => handlers[id](event)]));
  const waitTimeOverrides = Object.fromEntries(Object.entries(definition.States).filter(([, s]: [string, any]) => s.Type === 'Wait').map(([name]) => [name, 0]));
  const retryIntervalOverrides = Object.fromEntries(Object.entries(definition.States).filter(([, s]: [string, any]) => s.Retry).map(([name, s]: [string, any]) => [name, s.Retry.map(() => 0)]));
  const name = workflowExecutionName(input.requestId, input.instanceId);
  const machine = new StateMachine(definition as never, { validationOptions: { checkArn: false } });
  const execution = machine.run(input as never, {
    overrides: { taskResourceLocalHandlers, waitTimeOverrides, retryIntervalOverrides } as never,
    context: { Execution: { Id: `arn:aws:states:local:0:execution:w:${name}`, Name: name, Input: input as never, StartTime: new Date().toISOString() } },
  });
  try {
    return { status: 'SUCCEEDED', output: (await execution.result) as any };
  } catch (error) {
    return { status: 'FAILED', error: (error as Error).message };
  }
}

const input = (overrides: Partial<WorkflowInput> = {}): WorkflowInput => ({ requestId: 'req-test-1', instanceId: INSTANCE_A, request: validRequest(), source: 'queue', dryRun: false, replyTo: null, ...overrides });
const beaconState = () => [...store.beacons.values()][0];

describe('the synthesized workflow over the real handlers', () => {
  it('configures, pins the beacon version, records ok, releases the lock and notifies', async () => {
    commands.respond = () => ({ status: 'Success', stdout: resultLine(), stderr: '' });
    const result = await run(input());
    expect(result.status).toBe('SUCCEEDED');
    expect(beaconState()).toMatchObject({ state: 'ok', pinnedVersion: '13.2.0' });
    expect(lock.locks.size).toBe(0);
    expect(notifier.sent.map((n) => n.outcome.state)).toEqual(['ok']);
  });

  it('pinMode none: the beacon ends ok (execution succeeded, no alarm), nothing pinned, the warning in the status and the notification', async () => {
    commands.respond = () => ({ status: 'Success', stdout: resultLine(), stderr: '' });
    const result = await run(input(), { PinVersionFn: createPinVersionHandler({ mode: 'none', store, clock }) });
    expect(result.status).toBe('SUCCEEDED');
    expect(beaconState()).toMatchObject({ state: 'ok', reasons: [], warnings: [PIN_MODE_NONE_WARNING] });
    expect(beaconState()?.pinnedVersion).toBeUndefined();
    expect(notifier.sent.map((n) => n.outcome)).toEqual([expect.objectContaining({ state: 'ok', warnings: [PIN_MODE_NONE_WARNING], summary: expect.stringMatching(/not pinned \(pinMode none\)/) })]);
    expect(outcomeText(notifier.sent[0]!.outcome)).toMatch(/- warning: FNMS beacon version not pinned \(pinMode none\): .* may|- warning: FNMS beacon version not pinned/);
  });

  it('sends the rollback document when the beacon failed without rolling back by itself', async () => {
    commands.respond = (command) =>
      command.documentName === DOCUMENTS.configure
        ? { status: 'Failed', stdout: resultLine({ ok: false, error: { code: 'APPLY', message: 'registry write denied', step: 'registry' } }), stderr: '' }
        : { status: 'Success', stdout: resultLine({ changed: [] }), stderr: '' };
    const result = await run(input());
    expect(result.status).toBe('FAILED');
    expect(commands.sent.map((c) => c.documentName)).toEqual([DOCUMENTS.configure, DOCUMENTS.rollback]);
    expect(commands.sent[1]!.parameters).toEqual({ CaptureId: ['req-test-1'] });
    expect(beaconState()).toMatchObject({ state: 'rolled-back' });
    expect(lock.locks.size).toBe(0);
  });

  it('does not send a rollback when the beacon rolled back by itself', async () => {
    commands.respond = () => ({ status: 'Failed', stdout: resultLine({ ok: false, error: { code: 'SERVICE', message: 'did not start', step: 'service' }, rollback: { attempted: true, ok: true, restored: [] } }), stderr: '' });
    await run(input());
    expect(commands.sent.map((c) => c.documentName)).toEqual([DOCUMENTS.configure]);
    expect(beaconState()).toMatchObject({ state: 'rolled-back' });
  });

  it('releases the lock when a step fails after it was taken', async () => {
    const result = await run(input(), {
      SendCommandFn: async () => {
        throw Object.assign(new Error('AccessDenied: not allowed'), { name: 'AccessDeniedException' });
      },
    });
    expect(result.status).toBe('FAILED');
    expect(lock.locks.size).toBe(0);
    expect(beaconState()).toMatchObject({ state: 'error', reasons: [expect.stringContaining('not allowed')] });
    expect(notifier.sent).toHaveLength(1);
  });

  it('a dry run sends only the read-only verify document and takes no lock', async () => {
    let lockTaken = false;
    const acquire = lock.acquire.bind(lock);
    lock.acquire = async (...args) => {
      lockTaken = true;
      return acquire(...args);
    };
    const result = await run(input({ dryRun: true, request: validRequest({ dryRun: true }) }));
    expect(result.status).toBe('SUCCEEDED');
    expect(commands.sent.map((sent) => sent.documentName)).toEqual([DOCUMENTS.verify]);
    expect(lockTaken).toBe(false);
    expect(beaconState()).toMatchObject({ state: 'dry-run' });
  });

  it('a beacon locked by another request: retried, then given up with the busy status, the other lock untouched', async () => {
    await lock.acquire(INSTANCE_A, 'someone-else', 3600);
    const result = await run(input());
    expect(result.status).toBe('FAILED');
    expect(beaconState()).toMatchObject({ state: 'busy' });
    expect(lock.locks.get(INSTANCE_A)?.owner).toBe('someone-else');
    expect(commands.sent).toEqual([]);
  });

  it('an offline beacon is skipped with the reason and nothing is sent', async () => {
    commands.instances.get(INSTANCE_A)!.pingStatus = 'ConnectionLost';
    const result = await run(input());
    expect(result.status).toBe('SUCCEEDED');
    expect(beaconState()).toMatchObject({ state: 'skipped', reasons: [expect.stringContaining('offline')] });
    expect(commands.sent).toEqual([]);
  });
});
