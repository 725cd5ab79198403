/**
 * The synthesized definition run by a local ASL interpreter, Task states mapped (by TASK_STATE_HANDLERS) to
 * the real handler factories over in-memory ports, waits and retry intervals at zero and a fixed clock that
 * each Wait advances by its real length: checks payloads, result paths and the timing logic of the handlers.
 */
import { StateMachine } from 'aws-local-stepfunctions';
import { createAcquireLockHandler } from '../../lambdas/acquire-lock/handler.js';
import { workflowExecutionName, type WorkflowInput } from '../../lambdas/core/ports.js';
import type { WorkflowTiming } from '../../lambdas/core/timing.js';
import { FixedClock, MemoryBeaconCommands, MemoryBeaconLock, MemoryFleetMemory, MemoryNotifier, MemoryPinLedger, MemoryRequestStore, MemoryRolloutStore } from '../../lambdas/memory/ports.js';
import { createNotifyRequesterHandler } from '../../lambdas/notify-requester/handler.js';
import { createCheckCancelledHandler } from '../../lambdas/check-cancelled/handler.js';
import { createPollCommandHandler } from '../../lambdas/poll-command/handler.js';
import { createRecordOutcomeHandler } from '../../lambdas/record-outcome/handler.js';
import { createReleaseLockHandler } from '../../lambdas/release-lock/handler.js';
import { createResolveTargetHandler } from '../../lambdas/resolve-target/handler.js';
import { createSendCommandHandler } from '../../lambdas/send-command/handler.js';
import { StackConfigSchema, workflowTimingFor } from '../../infra/config.js';
import { loadWorkflow } from '../../local/workflow-definition.js';
import { TASK_STATE_HANDLERS, type WorkflowHandlerId } from '../../infra/workflow-states.js';
import { BEACON_TAG, INSTANCE_A, resultLine, validRequest } from '../lambdas/fixtures.js';

export const DOCUMENTS = { configure: 'BeaconProxy-Configure-T', verify: 'BeaconProxy-Verify-T', rollback: 'BeaconProxy-Rollback-T' };

let definition: Record<string, any> | undefined;
/** The stack's synthesized definition (synthesized once per source digest by the global setup, then cached). */
export async function loadDefinition(): Promise<Record<string, any>> {
  definition ??= (await loadWorkflow()).definition;
  return definition;
}
function synthesizedDefinition(): Record<string, any> {
  if (!definition) throw new Error('call loadDefinition() first');
  return definition;
}

export const TIMING: WorkflowTiming = workflowTimingFor(StackConfigSchema.parse({}));

export interface WorkflowWorld {
  clock: FixedClock;
  store: MemoryRequestStore;
  commands: MemoryBeaconCommands;
  lock: MemoryBeaconLock;
  notifier: MemoryNotifier;
  memory: MemoryFleetMemory;
}

export function newWorld(): WorkflowWorld {
  const clock = new FixedClock();
  const world = { clock, store: new MemoryRequestStore(), commands: new MemoryBeaconCommands(), lock: new MemoryBeaconLock(clock), notifier: new MemoryNotifier(), memory: new MemoryFleetMemory() };
  world.commands.addInstance({ instanceId: INSTANCE_A, tags: { [BEACON_TAG.key]: BEACON_TAG.value } });
  world.commands.respond = () => ({ status: 'Success', stdout: resultLine(), stderr: '', executionStartedAt: clock.now().toISOString() });
  return world;
}

export type HandlerOverrides = Partial<Record<WorkflowHandlerId, (event: any) => Promise<unknown>>>;

export async function runWorkflow(world: WorkflowWorld, input: WorkflowInput, overrides: HandlerOverrides = {}) {
  await loadDefinition();
  const { clock, store, commands, lock, notifier, memory } = world;
  const states = synthesizedDefinition().States as Record<string, any>;
  const handlers: Record<WorkflowHandlerId, (event: any) => Promise<unknown>> = {
    ResolveTargetFn: createResolveTargetHandler({ commands, beaconTag: BEACON_TAG }),
    AcquireLockFn: createAcquireLockHandler({ lock, store, clock, timing: TIMING }),
    ReleaseLockFn: createReleaseLockHandler({ lock }),
    SendCommandFn: createSendCommandHandler({ commands, store, clock, documentNames: DOCUMENTS, timing: TIMING }),
    PollCommandFn: createPollCommandHandler({ commands, store, clock, documentNames: DOCUMENTS, timing: TIMING }),
    CheckCancelledFn: createCheckCancelledHandler({ rollouts: new MemoryRolloutStore(store) }),
    RecordOutcomeFn: createRecordOutcomeHandler({ store, rollouts: new MemoryRolloutStore(store), ledger: new MemoryPinLedger(), clock }),
    NotifyRequesterFn: createNotifyRequesterHandler({ notifier, memory }),
    ...overrides,
  };
  // Waits take no real time, but the fixed clock moves by each wait's length, so deadlines are reached.
  const taskResourceLocalHandlers = Object.fromEntries(Object.entries(TASK_STATE_HANDLERS).map(([state, id]) => [state, (event: unknown) => handlers[id](event)]));
  const waitTimeOverrides = Object.fromEntries(Object.entries(states).filter(([, s]) => s.Type === 'Wait').map(([name]) => [name, 0]));
  const retryIntervalOverrides = Object.fromEntries(Object.entries(states).filter(([, s]) => s.Retry).map(([name, s]) => [name, s.Retry.map(() => 0)]));
  const name = workflowExecutionName(input.requestId, input.instanceId);
  const machine = new StateMachine(synthesizedDefinition() as never, { validationOptions: { checkArn: false } });
  const execution = machine.run(input as never, {
    overrides: { taskResourceLocalHandlers, waitTimeOverrides, retryIntervalOverrides } as never,
    context: { Execution: { Id: `arn:aws:states:local:0:execution:w:${name}`, Name: name, Input: input as never, StartTime: new Date().toISOString() } },
  });
  void (async () => {
    for await (const event of execution.eventLogs) {
      if (event.type !== 'StateEntered' || event.state.type !== 'Wait') continue;
      const state = states[event.state.name]!;
      const seconds = typeof state.Seconds === 'number' ? state.Seconds : Number((event.state.input as any)?.[state.SecondsPath.split('.')[1]]?.[state.SecondsPath.split('.')[2]] ?? 0);
      clock.advance(seconds);
    }
  })();
  try {
    return { status: 'SUCCEEDED', output: (await execution.result) as any, error: undefined as string | undefined };
  } catch (error) {
    return { status: 'FAILED', output: undefined, error: `${((error as { cause?: Error }).cause ?? (error as Error)).name}: ${(error as Error).message}` };
  }
}

export const workflowInput = (overrides: Partial<WorkflowInput> = {}): WorkflowInput => ({
  requestId: 'req-test-1',
  instanceId: INSTANCE_A,
  request: validRequest(),
  source: 'queue',
  dryRun: false,
  replyTo: null,
  receivedAt: '2026-01-01T00:00:00.000Z',
  ...overrides,
});

export const beaconStatus = (world: WorkflowWorld, requestId = 'req-test-1') => [...world.store.beacons.values()].find((b) => b.requestId === requestId);
