import aslValidator from 'asl-validator';
import { beforeAll, describe, expect, it } from 'vitest';
import { LAMBDA_SERVICE_ERRORS } from '../../infra/constructs/beacon-workflow.js';
import { extractStateMachineDefinition, type SynthesizedDefinition } from '../../infra/workflow-definition.js';
import { STATES, TASK_STATE_HANDLERS, WORKFLOW_TIMING } from '../../infra/workflow-states.js';
import { synthStack } from './synth.js';

type State = Record<string, any>;
let synthesized: SynthesizedDefinition;
let states: Record<string, State>;
let template: ReturnType<typeof synthStack>['template'];

function successors(state: State): string[] {
  const next: string[] = [];
  if (state.Next) next.push(state.Next);
  if (state.Default) next.push(state.Default);
  for (const choice of state.Choices ?? []) next.push(choice.Next);
  for (const catcher of state.Catch ?? []) next.push(catcher.Next);
  return next;
}

const isTerminal = (state: State) => state.End === true || state.Type === 'Succeed' || state.Type === 'Fail';

/** States reachable from `from` without entering `avoid`. */
function reachable(from: string, avoid: string | null = null): Set<string> {
  const seen = new Set<string>();
  const stack = [from];
  while (stack.length > 0) {
    const name = stack.pop()!;
    if (name === avoid || seen.has(name)) continue;
    seen.add(name);
    stack.push(...successors(states[name]!));
  }
  return seen;
}

beforeAll(() => {
  ({ template } = synthStack());
  synthesized = extractStateMachineDefinition(template.toJSON());
  states = synthesized.definition.States;
});

describe('per-beacon workflow definition', () => {
  it('is valid Amazon States Language (asl-validator)', () => {
    const result = aslValidator(synthesized.definition);
    expect(result.errors).toEqual([]);
    expect(result.isValid).toBe(true);
  });

  it('uses exactly the state names exported from infra/workflow-states.ts', () => {
    expect(Object.keys(states).sort()).toEqual(Object.values(STATES).sort());
    expect(synthesized.definition.StartAt).toBe(STATES.resolveTarget);
  });

  it('maps every Task state to the Lambda named in TASK_STATE_HANDLERS (what the local twin relies on)', () => {
    const tasks = Object.entries(states).filter(([, state]) => state.Type === 'Task');
    expect(tasks.map(([name]) => name).sort()).toEqual(Object.keys(TASK_STATE_HANDLERS).sort());
    for (const [name, state] of tasks) {
      const logicalId = String(state.Resource).split(':function:')[1];
      expect(logicalId, name).toContain(TASK_STATE_HANDLERS[name]);
    }
  });

  it('releases the lock, records and notifies on every path: no end state is reachable around them', () => {
    for (const finallyState of [STATES.releaseLock, STATES.recordOutcome, STATES.notifyRequester]) {
      const around = [...reachable(STATES.resolveTarget, finallyState)].filter((name) => isTerminal(states[name]!));
      expect(around, `terminal states reachable without ${finallyState}`).toEqual([]);
    }
  });

  it('retries Lambda service errors and throttling, and catches everything, on every Task state', () => {
    for (const [name, state] of Object.entries(states).filter(([, s]) => s.Type === 'Task')) {
      const retried = (state.Retry ?? []).flatMap((retry: State) => retry.ErrorEquals);
      expect(retried, name).toEqual(expect.arrayContaining([...LAMBDA_SERVICE_ERRORS, 'ThrottledError', 'TransientError']));
      for (const retry of state.Retry) expect(retry.BackoffRate, name).toBeGreaterThan(1);
      expect((state.Catch ?? []).some((c: State) => c.ErrorEquals.includes('States.ALL')), name).toBe(true);
      expect(state.TimeoutSeconds, name).toBeGreaterThan(0);
    }
    expect(synthesized.definition.TimeoutSeconds).toBe(WORKFLOW_TIMING.executionTimeoutMinutes * 60);
  });

  it('waits for a busy beacon with backoff, then gives up with the busy status instead of failing the step', () => {
    const acquire = states[STATES.acquireLock]!;
    const busyRetry = acquire.Retry.find((retry: State) => retry.ErrorEquals.includes('BeaconBusyError'));
    expect(busyRetry).toMatchObject({ IntervalSeconds: WORKFLOW_TIMING.busyRetry.intervalSeconds, BackoffRate: WORKFLOW_TIMING.busyRetry.backoffRate, MaxAttempts: WORKFLOW_TIMING.busyRetry.maxAttempts });
    expect(acquire.Catch[0]).toMatchObject({ ErrorEquals: ['BeaconBusyError'], Next: STATES.beaconBusy });
    expect(states[STATES.beaconBusy]).toMatchObject({ Type: 'Pass', Result: { state: 'busy' } });
  });

  it('a throttled SendCommand retries soon and for long, before the general retrier, so a large fleet keeps the SSM rate busy', () => {
    for (const name of [STATES.sendConfigure, STATES.sendRollback]) {
      const first = states[name]!.Retry.findIndex((retry: State) => retry.ErrorEquals.includes('ThrottledError'));
      expect(states[name]!.Retry[first], name).toMatchObject({
        ErrorEquals: ['ThrottledError'],
        IntervalSeconds: WORKFLOW_TIMING.sendThrottleRetry.intervalSeconds,
        MaxAttempts: WORKFLOW_TIMING.sendThrottleRetry.maxAttempts,
        MaxDelaySeconds: WORKFLOW_TIMING.sendThrottleRetry.maxDelaySeconds,
        JitterStrategy: 'FULL',
      });
      const general = states[name]!.Retry.findIndex((retry: State) => retry.ErrorEquals.includes('TransientError'));
      expect(first, name).toBeLessThan(general);
    }
  });

  it('a dry run only reads the beacon: it runs the verify plan, never takes the lock, never reaches SendConfigure', () => {
    const dryRunChoice = states[STATES.checkDryRun]!.Choices[0];
    expect(dryRunChoice).toMatchObject({ Variable: '$.dryRun', BooleanEquals: true, Next: STATES.sendPlan });
    for (const state of [STATES.acquireLock, STATES.sendConfigure, STATES.sendRollback, STATES.pinVersion]) {
      expect(reachable(STATES.sendPlan).has(state), state).toBe(false);
    }
    expect(reachable(STATES.sendPlan).has(STATES.dryRunPlanned)).toBe(true);
    expect(states[STATES.sendPlan]!.Parameters).toMatchObject({ document: 'verify' });
    expect(reachable(STATES.targetSkipped).has(STATES.sendConfigure)).toBe(false);
  });

  it('sends the rollback document only when the beacon did not roll back by itself', () => {
    const verdict = states[STATES.checkVerdict]!;
    expect(verdict.Choices).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ StringEquals: 'ok', Next: STATES.pinVersion }),
        expect.objectContaining({ StringEquals: 'rolled-back', Next: STATES.beaconRolledBack }),
      ]),
    );
    expect(verdict.Default).toBe(STATES.sendRollback);
    expect(reachable(STATES.beaconRolledBack).has(STATES.sendRollback)).toBe(false);
    expect(states[STATES.sendRollback]!.Parameters).toMatchObject({ document: 'rollback', 'captureId.$': '$.requestId' });
  });

  it('polls with a bounded Wait and leaves the loop when the command deadline passes', () => {
    for (const [wait, check, giveUp] of [
      [STATES.waitForConfigure, STATES.checkConfigureDone, STATES.configureUnconfirmed],
      [STATES.waitForRollback, STATES.checkRollbackDone, STATES.rollbackFailed],
    ] as const) {
      expect(states[wait]!.SecondsPath).toMatch(/\.waitSeconds$/);
      expect(states[check]!.Choices).toEqual(expect.arrayContaining([expect.objectContaining({ BooleanEquals: true, Next: giveUp })]));
    }
    expect(states[STATES.configureUnconfirmed]!.Next).toBe(STATES.sendRollback);
  });

  it('ends failed for every outcome that did not configure the beacon, so the workflow-failure alarm sees it', () => {
    const check = states[STATES.checkOutcome]!;
    const succeeding = JSON.stringify(check.Choices);
    for (const state of ['ok', 'dry-run', 'skipped']) expect(succeeding).toContain(`"${state}"`);
    for (const state of ['busy', 'failed', 'rolled-back', 'error', 'pin-failed']) expect(succeeding).not.toContain(`"${state}"`);
    expect(states[check.Default]!.Type).toBe('Fail');
  });
});
