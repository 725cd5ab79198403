import { StateMachine } from 'aws-local-stepfunctions';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAcquireLockHandler } from '../../lambdas/acquire-lock/handler.js';
import { createInMemoryFnms } from '../../lambdas/core/fnms/index.js';
import { ThrottledError, workflowExecutionName, type WorkflowInput } from '../../lambdas/core/ports.js';
import { createJudgeResultHandler } from '../../lambdas/judge-result/handler.js';
import { FixedClock, MemoryBeaconCommands, MemoryBeaconLock, MemoryNotifier, MemoryRequestStore } from '../../lambdas/memory/ports.js';
import { createNotifyRequesterHandler } from '../../lambdas/notify-requester/handler.js';
import { createPinVersionHandler } from '../../lambdas/pin-version/handler.js';
import { createPollCommandHandler } from '../../lambdas/poll-command/handler.js';
import { createRecordOutcomeHandler } from '../../lambdas/record-outcome/handler.js';
import { createReleaseLockHandler } from '../../lambdas/release-lock/handler.js';
import { createResolveTargetHandler } from '../../lambdas/resolve-target/handler.js';
import { createSendCommandHandler } from '../../lambdas/send-command/handler.js';
import { extractStateMachineDefinition, retryDelaysSeconds } from '../../infra/workflow-definition.js';
import { STATES, TASK_STATE_HANDLERS, WORKFLOW_TIMING, type WorkflowHandlerId } from '../../infra/workflow-states.js';
import { BEACON_TAG, INSTANCE_A, resultLine, validRequest } from '../lambdas/fixtures.js';
import { synthStack } from './synth.js';

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
  commands.respond = () => ({ status: 'Success', stdout: resultLine(), stderr: '' });
});

async function run(input: WorkflowInput, overrides: Partial<Record<WorkflowHandlerId, (event: any) => Promise<unknown>>> = {}) {
  const handlers: Record<WorkflowHandlerId, (event: any) => Promise<unknown>> = {
    ResolveTargetFn: createResolveTargetHandler({ commands, beaconTag: BEACON_TAG }),
    AcquireLockFn: createAcquireLockHandler({ lock, store, clock, ttlSeconds: 600 }),
    ReleaseLockFn: createReleaseLockHandler({ lock }),
    SendCommandFn: createSendCommandHandler({ commands, store, clock, documentNames: DOCUMENTS }),
    PollCommandFn: createPollCommandHandler({ commands, clock, timeoutSeconds: 600, firstPollSeconds: 5, maxPollSeconds: 60 }),
    JudgeResultFn: createJudgeResultHandler(),
    PinVersionFn: createPinVersionHandler({ fnms: createInMemoryFnms({ availableVersions: ['13.2.0'] }), store, clock }),
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
const statusOf = (requestId: string) => [...store.beacons.values()].find((b) => b.requestId === requestId);

describe('defect 3: a failed poll never rolls back a command that may have succeeded', () => {
  it('GetCommandInvocation throttled past the step\'s retries goes back to waiting; the configure that succeeded is kept', async () => {
    const poll = createPollCommandHandler({ commands, clock, timeoutSeconds: 600, firstPollSeconds: 5, maxPollSeconds: 60 });
    let calls = 0;
    const result = await run(input(), {
      PollCommandFn: async (event) => {
        calls += 1;
        if (calls <= 12) throw new ThrottledError('ThrottlingException: Rate exceeded (GetCommandInvocation)');
        return poll(event);
      },
    });
    expect(commands.sent.map((c) => c.documentName)).toEqual([DOCUMENTS.configure]);
    expect(statusOf('req-test-1')).toMatchObject({ state: 'ok' });
    expect(result.status).toBe('SUCCEEDED');
  });
});

describe('defect 4: a step error after SendCommand never leaves the command unsupervised', () => {
  it('a failed status write after the command was sent still polls the command to its result', async () => {
    let failed = false;
    const put = store.putBeaconStatus.bind(store);
    store.putBeaconStatus = async (status) => {
      if (status.state === 'sent' && !failed) {
        failed = true;
        throw Object.assign(new Error('ProvisionedThroughputExceededException'), { name: 'ProvisionedThroughputExceededException' });
      }
      return put(status);
    };
    await run(input());
    expect(statusOf('req-test-1')).toMatchObject({ state: 'ok' });
  });
});

describe('defect 5: a request for a busy beacon waits as long as the other can hold it, in request order', () => {
  it('the busy wait covers the longest time another execution may hold the beacon\'s lock', () => {
    const busy = definition.States[STATES.acquireLock].Retry.find((r: any) => r.ErrorEquals.includes('BeaconBusyError'));
    const waited = retryDelaysSeconds(busy).reduce((sum, delay) => sum + delay, 0);
    expect(waited).toBeGreaterThanOrEqual(WORKFLOW_TIMING.lockTtlSeconds);
  });

  it('an older request that gets the beacon after a newer one finished changes nothing (the newer result stands)', async () => {
    const newer = input({ requestId: 'req-newer', request: validRequest({ requestId: 'req-newer' }), receivedAt: '2026-01-01T00:10:00.000Z' } as never);
    const older = input({ requestId: 'req-older', request: validRequest({ requestId: 'req-older', proxy: 'old-proxy.corp.example:3128' }), receivedAt: '2026-01-01T00:05:00.000Z' } as never);
    await run(newer);
    await run(older);
    expect(commands.sent.filter((c) => c.documentName === DOCUMENTS.configure)).toHaveLength(1);
    expect(statusOf('req-older')?.state).toBe('superseded');
  });
});
