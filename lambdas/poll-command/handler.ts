/**
 * PollConfigure / PollRollback: one GetCommandInvocation. Says whether the run is over, how long the
 * workflow waits before the next poll (doubling, capped), and when the overall deadline has passed.
 */
import type { BeaconCommands, Clock } from '../core/ports.js';
import type { PollResult } from '../workflow/state.js';
import * as awsSdk from '../aws/clients/sdk.js';
import * as awsSsm from '../aws/clients/ssm.js';
import { ENV } from '../aws/env-names.js';
import { lambdaEntry, numberEnv } from '../aws/runtime.js';

export interface PollCommandDeps {
  commands: BeaconCommands;
  clock: Clock;
  timeoutSeconds: number;
  firstPollSeconds: number;
  maxPollSeconds: number;
}

export interface PollCommandEvent {
  commandId: string;
  instanceId: string;
  sentAt: string;
  attempt: number;
}

/** Run Command statuses after which nothing more happens. */
export const FINAL_COMMAND_STATUSES = ['Success', 'Failed', 'Cancelled', 'TimedOut', 'Cancelling', 'Undeliverable', 'Terminated', 'InvalidPlatform', 'AccessDenied', 'DeliveryTimedOut', 'ExecutionTimedOut'] as const;

export function createPollCommandHandler(deps: PollCommandDeps) {
  return async function pollCommand(event: PollCommandEvent): Promise<PollResult> {
    const invocation = await deps.commands.getInvocation(event.commandId, event.instanceId);
    const attempt = event.attempt + 1;
    const status = invocation?.status ?? 'Pending';
    const done = (FINAL_COMMAND_STATUSES as readonly string[]).includes(status);
    const elapsedSeconds = (deps.clock.now().getTime() - Date.parse(event.sentAt)) / 1000;
    const waitSeconds = Math.min(deps.maxPollSeconds, deps.firstPollSeconds * 2 ** Math.min(attempt, 10));
    return {
      attempt,
      waitSeconds,
      done,
      timedOut: !done && elapsedSeconds + waitSeconds > deps.timeoutSeconds,
      status,
      stdout: invocation?.stdout ?? '',
      stderr: invocation?.stderr ?? '',
    };
  };
}

export const handler = lambdaEntry(() =>
  createPollCommandHandler({
    commands: awsSsm.beaconCommands(),
    clock: awsSdk.clock,
    timeoutSeconds: numberEnv(ENV.commandTimeoutSeconds, 1800),
    firstPollSeconds: numberEnv(ENV.firstPollSeconds, 5),
    maxPollSeconds: numberEnv(ENV.maxPollSeconds, 60),
  }),
);
