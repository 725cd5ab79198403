import aslValidator from 'asl-validator';
import { beforeAll, describe, expect, it } from 'vitest';
import { LAMBDA_SERVICE_ERRORS, LAMBDA_TIMEOUT_ERROR } from '../../infra/constructs/beacon-workflow.js';
import { workflowTimingFor, StackConfigSchema } from '../../infra/config.js';
import { maxPollFailures, WORKFLOW_CONSTANTS } from '../../lambdas/core/timing.js';
import { extractStateMachineDefinition, type SynthesizedDefinition } from '../../infra/workflow-definition.js';
import { STATES, TASK_STATE_HANDLERS } from '../../infra/workflow-states.js';
import { synthStack } from './synth.js';

type State = Record<string, any>;
let synthesized: SynthesizedDefinition;
let states: Record<string, State>;
let template: ReturnType<typeof synthStack>['template'];
const timing = workflowTimingFor(StackConfigSchema.parse({}));

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

  it('retries Lambda service errors, throttling and a Lambda stopped at its timeout, and catches everything, on every Task state', () => {
    for (const [name, state] of Object.entries(states).filter(([, s]) => s.Type === 'Task')) {
      const retried = (state.Retry ?? []).flatMap((retry: State) => retry.ErrorEquals);
      expect(retried, name).toEqual(expect.arrayContaining([...LAMBDA_SERVICE_ERRORS, 'ThrottledError', 'TransientError', LAMBDA_TIMEOUT_ERROR]));
      for (const retry of state.Retry) expect(retry.BackoffRate, name).toBeGreaterThan(1);
      expect((state.Catch ?? []).some((c: State) => c.ErrorEquals.includes('States.ALL')), name).toBe(true);
      expect(state.TimeoutSeconds, name).toBe(timing.taskTimeoutSeconds);
    }
    expect(synthesized.definition.TimeoutSeconds).toBe(timing.stateMachineTimeoutSeconds);
  });

  it('waits for a busy beacon in a loop until the busy wait is over, then gives up with the busy status; a newer request supersedes', () => {
    expect(states[STATES.startLocking]!.Next).toBe(STATES.acquireLock);
    const check = states[STATES.checkLock]!;
    expect(check.Choices).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Variable: '$.lock.acquired', BooleanEquals: true, Next: STATES.checkAction }),
        expect.objectContaining({ Variable: '$.lock.superseded', BooleanEquals: true, Next: STATES.superseded }),
        expect.objectContaining({ Variable: '$.lock.giveUp', BooleanEquals: true, Next: STATES.beaconBusy }),
      ]),
    );
    expect(check.Default).toBe(STATES.waitForLock);
    expect(states[STATES.waitForLock]).toMatchObject({ SecondsPath: '$.lock.waitSeconds', Next: STATES.acquireLock });
    expect(states[STATES.beaconBusy]).toMatchObject({ Type: 'Pass', Result: { state: 'busy' } });
    expect(states[STATES.superseded]).toMatchObject({ Type: 'Pass', Result: { state: 'superseded' } });
  });

  it('a per-beacon rollback (action rollback) runs only the rollback loop with its capture, and only after the lock: never the configure document', () => {
    const action = states[STATES.checkAction]!;
    // Anything else is a configure, which first asks whether its request was cancelled.
    expect(action.Default).toBe(STATES.checkCancelledBeforeConfigure);
    expect(JSON.stringify(action.Choices[0])).toContain('"Variable":"$.action.kind","StringEquals":"rollback"');
    expect(action.Choices[0].Next).toBe(STATES.startBeaconRollback);
    expect(states[STATES.startBeaconRollback]).toMatchObject({ Type: 'Pass', Parameters: { n: 1, 'captureId.$': '$.action.captureId' }, ResultPath: '$.rollbackAttempt', Next: STATES.sendRollback });
    expect(reachable(STATES.startBeaconRollback).has(STATES.sendConfigure)).toBe(false);
    expect(reachable(STATES.startBeaconRollback).has(STATES.releaseLock)).toBe(true);
    // Only the lock's Choice leads there: no path reaches the rollback of a capture without the lock.
    const into = Object.entries(states).filter(([, state]) => JSON.stringify(state).includes(`"${STATES.startBeaconRollback}"`)).map(([name]) => name);
    expect(into).toEqual([STATES.checkAction]);
  });

  it('a cancelled request changes nothing more: checked once the lock is taken (before configure) and after a successful configure (rollback when asked)', () => {
    expect(states[STATES.checkCancelledBeforeConfigure]!.Next).toBe(STATES.checkCancelBeforeConfigure);
    expect(states[STATES.checkCancelBeforeConfigure]).toMatchObject({ Choices: [expect.objectContaining({ Variable: '$.cancelCheck.cancelled', BooleanEquals: true, Next: STATES.cancelledBeforeConfigure })], Default: STATES.sendConfigure });
    expect(states[STATES.cancelledBeforeConfigure]).toMatchObject({ Type: 'Pass', Result: { state: 'cancelled' }, Next: STATES.releaseLock });
    const after = states[STATES.checkCancelAfterConfigure]!;
    expect(after.Choices[0]).toMatchObject({ Next: STATES.startRollback });
    expect(JSON.stringify(after.Choices[0])).toContain('$.cancelCheck.rollback');
    expect(after.Default).toBe(STATES.configured);
    // The per-beacon workflow never pins FNMS: the request decides the pin once, after its beacons finished.
    expect(Object.keys(states).some((name) => /pin/i.test(name))).toBe(false);
  });
  it('a throttled SendCommand retries soon and for long, before the general retrier, so a large fleet keeps the SSM rate busy', () => {
    for (const name of [STATES.sendConfigure, STATES.sendRollback]) {
      const first = states[name]!.Retry.findIndex((retry: State) => retry.ErrorEquals.includes('ThrottledError'));
      expect(states[name]!.Retry[first], name).toMatchObject({
        ErrorEquals: ['ThrottledError'],
        IntervalSeconds: WORKFLOW_CONSTANTS.sendThrottleRetry.intervalSeconds,
        MaxAttempts: WORKFLOW_CONSTANTS.sendThrottleRetry.maxAttempts,
        MaxDelaySeconds: WORKFLOW_CONSTANTS.sendThrottleRetry.maxDelaySeconds,
        JitterStrategy: 'FULL',
      });
      const general = states[name]!.Retry.findIndex((retry: State) => retry.ErrorEquals.includes('TransientError'));
      expect(first, name).toBeLessThan(general);
    }
  });

  it('a send step that fails after SendCommand goes to the poll loop, which finds the command by its comment', () => {
    for (const [send, unconfirmed, start] of [
      [STATES.sendConfigure, STATES.configureSendUnconfirmed, STATES.startConfigurePolling],
      [STATES.sendRollback, STATES.rollbackSendUnconfirmed, STATES.startRollbackPolling],
    ] as const) {
      expect(states[send]!.Catch).toEqual([expect.objectContaining({ ErrorEquals: ['States.ALL'], Next: unconfirmed })]);
      expect(states[unconfirmed]).toMatchObject({ Type: 'Pass', Next: start });
      expect(states[unconfirmed]!.Parameters.commandId).toBeUndefined();
      expect(states[unconfirmed]!.Parameters['comment.$']).toBe(states[send]!.Parameters['comment.$']);
    }
  });

  it('a dry run only reads the beacon: it runs the verify plan, never takes the lock, never reaches SendConfigure', () => {
    const dryRunChoice = states[STATES.checkDryRun]!.Choices[0];
    expect(dryRunChoice).toMatchObject({ Variable: '$.dryRun', BooleanEquals: true, Next: STATES.sendPlan });
    for (const state of [STATES.acquireLock, STATES.sendConfigure, STATES.sendRollback, STATES.checkCancelledAfterConfigure]) {
      expect(reachable(STATES.sendPlan).has(state), state).toBe(false);
    }
    expect(reachable(STATES.sendPlan).has(STATES.dryRunPlanned)).toBe(true);
    expect(states[STATES.sendPlan]!.Parameters).toMatchObject({ document: 'verify' });
    expect(reachable(STATES.targetSkipped).has(STATES.sendConfigure)).toBe(false);
  });

  it('sends the rollback document only when the beacon did not roll back by itself and the document ran', () => {
    const verdict = states[STATES.checkVerdict]!;
    expect(verdict.Choices).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ StringEquals: 'ok', Next: STATES.checkCancelledAfterConfigure }),
        expect.objectContaining({ StringEquals: 'rolled-back', Next: STATES.beaconRolledBack }),
        expect.objectContaining({ StringEquals: 'not-run', Next: STATES.configureNotRun }),
      ]),
    );
    expect(verdict.Default).toBe(STATES.startRollback);
    expect(reachable(STATES.beaconRolledBack).has(STATES.sendRollback)).toBe(false);
    expect(reachable(STATES.configureNotRun).has(STATES.sendRollback)).toBe(false);
    // The capture a failed configure restores is its own; each retry keeps it.
    expect(states[STATES.sendRollback]!.Parameters).toMatchObject({ document: 'rollback', 'captureId.$': '$.rollbackAttempt.captureId' });
    expect(states[STATES.startRollback]!.Parameters).toEqual({ n: 1, 'captureId.$': '$.requestId' });
    expect(states[STATES.nextRollbackAttempt]!.Parameters).toMatchObject({ 'captureId.$': '$.rollbackAttempt.captureId' });
  });

  it('tries the rollback again when it did not run or did not confirm, up to the configured attempts', () => {
    expect(states[STATES.checkRollbackVerdict]).toMatchObject({ Default: STATES.checkRollbackAttempts });
    const attempts = states[STATES.checkRollbackAttempts]!;
    expect(attempts.Choices[0]).toMatchObject({ Variable: '$.rollbackAttempt.n', NumericLessThan: timing.rollbackAttempts, Next: STATES.nextRollbackAttempt });
    expect(attempts.Default).toBe(STATES.rollbackFailed);
    expect(reachable(STATES.nextRollbackAttempt).has(STATES.sendRollback)).toBe(true);
  });

  it('polls with a bounded Wait; a failed poll goes back to waiting, and only enough failures to cover the command window give up', () => {
    for (const [wait, poll, check, failed, checkFailures, giveUp, document] of [
      [STATES.waitForConfigure, STATES.pollConfigure, STATES.checkConfigureDone, STATES.configurePollFailed, STATES.checkConfigurePollFailures, STATES.configureUnconfirmed, 'configure'],
      [STATES.waitForRollback, STATES.pollRollback, STATES.checkRollbackDone, STATES.rollbackPollFailed, STATES.checkRollbackPollFailures, STATES.rollbackUnconfirmed, 'rollback'],
    ] as const) {
      expect(states[wait]!.SecondsPath).toMatch(/\.waitSeconds$/);
      expect(states[check]!.Default).toBe(wait);
      expect(states[poll]!.Catch).toEqual([expect.objectContaining({ ErrorEquals: ['States.ALL'], Next: failed })]);
      expect(states[checkFailures]!.Choices[0]).toMatchObject({
        NumericGreaterThanEquals: maxPollFailures(timing.pollDeadlineSeconds[document], timing.cancelWaitSeconds, timing.maxPollSeconds),
        Next: giveUp,
      });
    }
    expect(states[STATES.configureUnconfirmed]!.Next).toBe(STATES.startRollback);
  });

  it('a failed finally step ends the execution with FinallyIncomplete, which the cleanup rule picks up', () => {
    expect(states[STATES.notifyRequester]!.Catch[0]).toMatchObject({ Next: STATES.finallyIncomplete });
    expect(states[STATES.checkFinally]!.Choices[0].Next).toBe(STATES.finallyIncomplete);
    expect(states[STATES.finallyIncomplete]).toMatchObject({ Type: 'Fail', Error: 'WorkflowFinallyIncomplete' });
  });

  it('ends failed for every outcome that did not configure the beacon, so the workflow-failure alarm sees it', () => {
    const check = states[STATES.checkOutcome]!;
    // A per-beacon rollback that restored its capture did what was asked: the only success besides these.
    const [configured, operatorRollback, ...others] = check.Choices as State[];
    expect(others).toEqual([]);
    const succeeding = JSON.stringify(configured);
    for (const state of ['ok', 'dry-run', 'skipped']) expect(succeeding).toContain(`"${state}"`);
    for (const state of ['busy', 'failed', 'rolled-back', 'error', 'pin-failed']) expect(succeeding).not.toContain(`"${state}"`);
    expect(JSON.stringify(operatorRollback)).toContain('{"Variable":"$.action.kind","StringEquals":"rollback"}');
    expect(JSON.stringify(operatorRollback)).toContain('{"Variable":"$.outcome.state","StringEquals":"rolled-back"}');
    expect(states[check.Default]!.Type).toBe('Fail');
  });
});
