/**
 * PollPlan / PollConfigure / PollRollback: one look at a command, and the judgement once it is over.
 * - A command whose id the send step could not return is found by its comment; one that never reached SSM
 *   is `not-run` once the delivery deadline (plus margin) has passed.
 * - The first look that knows the id records the 'sent' status (the send step writes nothing after SendCommand).
 * - A terminal status is judged here (core `judgeCommand`), so the state carries the trimmed verdict, never
 *   the 24,000 characters of stdout.
 * - Past the poll deadline (delivery + execution + margin) a command still not terminal is cancelled, and the
 *   loop waits for a terminal status (Cancelling is not one) before the workflow does anything else; after
 *   the cancel wait it is `unconfirmed`.
 */
import { isTerminalCommandStatus, judgeCommand, notRunVerdict, unconfirmedVerdict, type CommandVerdict } from '../core/command-result.js';
import type { BeaconDocumentKind } from '../core/document-contract.js';
import type { BeaconCommands, Clock, RequestStore } from '../core/ports.js';
import { pollWaitSeconds, type WorkflowTiming } from '../core/timing.js';
import type { CommandRef, PollState } from '../workflow/state.js';
import * as awsConfig from '../aws/clients/config.js';
import * as awsDynamo from '../aws/clients/dynamo.js';
import * as awsSdk from '../aws/clients/sdk.js';
import * as awsSsm from '../aws/clients/ssm.js';
import { workflowTiming } from '../aws/clients/timing.js';
import { lambdaEntry } from '../aws/runtime.js';

export interface PollCommandDeps {
  commands: BeaconCommands;
  store: RequestStore;
  clock: Clock;
  documentNames: Record<BeaconDocumentKind, string>;
  timing: Pick<WorkflowTiming, 'pollDeadlineSeconds' | 'cancelWaitSeconds' | 'locateDeadlineSeconds' | 'deliveryTimeoutSeconds' | 'firstPollSeconds' | 'maxPollSeconds'>;
}

export interface PollCommandEvent {
  requestId: string;
  instanceId: string;
  command: CommandRef;
  poll: PollState;
}

/** The state a poll loop starts from (the StartXPolling Pass states hold the same values). */
export function initialPollState(firstPollSeconds: number): PollState {
  return { attempt: 0, waitSeconds: firstPollSeconds, done: false, commandId: null, status: 'Pending', statusDetails: null, since: null, cancelRequestedAt: null, recorded: false, failures: { count: 0 }, verdict: null };
}

export function createPollCommandHandler(deps: PollCommandDeps) {
  const { timing } = deps;
  return async function pollCommand(event: PollCommandEvent): Promise<PollState> {
    const { command, instanceId, requestId } = event;
    const previous = event.poll;
    const now = deps.clock.now();
    const at = now.toISOString();
    const since = command.sentAt ?? previous.since ?? at;
    const elapsedSeconds = (now.getTime() - Date.parse(since)) / 1000;
    const attempt = previous.attempt + 1;
    let state: PollState = { ...previous, attempt, waitSeconds: pollWaitSeconds(timing, attempt), since };
    const finish = (verdict: CommandVerdict): PollState => ({ ...state, done: true, verdict });

    const documentName = deps.documentNames[command.kind];
    const commandId = state.commandId ?? command.commandId ?? (await deps.commands.findCommand(instanceId, documentName, command.comment));
    if (!commandId) {
      if (elapsedSeconds >= timing.locateDeadlineSeconds) {
        return finish(notRunVerdict('not-sent', `no ${command.kind} command reached SSM (the send step failed before SendCommand answered); nothing changed`));
      }
      return state;
    }
    state = { ...state, commandId };
    if (!state.recorded) {
      await deps.store.putBeaconStatus({ requestId, instanceId, state: 'sent', updatedAt: at, commandId });
      await deps.store.appendAudit({ requestId, instanceId, at, event: `${command.kind}.sent`, detail: { documentName, commandId, comment: command.comment, ...(command.reused ? { foundAfterRetry: true } : {}) } });
      state = { ...state, recorded: true };
    }
    const invocation = await deps.commands.getInvocation(commandId, instanceId);
    state = { ...state, status: invocation?.status ?? 'Pending', statusDetails: invocation?.statusDetails ?? null };
    if (invocation && isTerminalCommandStatus(invocation.status)) return finish(judgeCommand(command.kind, invocation, timing.deliveryTimeoutSeconds));

    if (state.cancelRequestedAt === null && elapsedSeconds >= timing.pollDeadlineSeconds[command.kind]) {
      // The command can no longer start or run by the timing model; make sure of it before anything else runs.
      await deps.commands.cancelCommand(commandId, [instanceId]);
      await deps.store.appendAudit({ requestId, instanceId, at, event: `${command.kind}.cancel-requested`, detail: { commandId, status: state.status, afterSeconds: Math.round(elapsedSeconds) } });
      return { ...state, cancelRequestedAt: at };
    }
    if (state.cancelRequestedAt !== null && (now.getTime() - Date.parse(state.cancelRequestedAt)) / 1000 >= timing.cancelWaitSeconds) {
      return finish(unconfirmedVerdict(`the ${command.kind} command was still ${state.status} ${timing.cancelWaitSeconds} s after CancelCommand`));
    }
    return state;
  };
}

export const handler = lambdaEntry(() =>
  createPollCommandHandler({ commands: awsSsm.beaconCommands(), store: awsDynamo.requestStore(), clock: awsSdk.clock, documentNames: awsConfig.documentNames(), timing: workflowTiming() }),
);
