/**
 * AwaitOperator: the Lambda of the request workflow's operator waits (Step Functions `.waitForTaskToken`).
 * It keeps the wait's task token where the operator's action finds it and tells the operator what to do;
 * Step Functions then waits for SendTaskSuccess (the action) or the state's timeout.
 *  - go: after a canary that finished well (pauseAfterCanary). An operator's go or cancel recorded before
 *    the token was kept ends the wait at once (the action found no token, so the wait completes itself).
 *  - pin (ask, then one reminder): the operator sets "Beacon version approved for use" and confirms. The
 *    request waits on the pending value that covers its release; if a value at least as new was confirmed
 *    meanwhile, the wait ends at once.
 */
import { registerWaiter } from '../core/fnms/pin-ledger.js';
import { operatorPinMessage } from '../core/fnms/release.js';
import type { Clock, FleetMemory, Log, Notifier, PinLedger, RequestPinRecord, RolloutStore, TaskTokens } from '../core/ports.js';
import { silentLog } from '../core/ports.js';
import { planRollout } from '../core/rollout.js';
import { type MessageText, followLines, goRequestMessage } from '../core/rollout-summary.js';
import type { RequestTiming } from '../core/timing.js';
import { statusLinkFor, tellRequester } from '../rollout/messages.js';
import * as awsDynamo from '../aws/clients/dynamo.js';
import * as awsSdk from '../aws/clients/sdk.js';
import * as awsSfn from '../aws/clients/sfn.js';
import * as awsSns from '../aws/clients/sns.js';
import { requestTiming } from '../aws/clients/timing.js';
import { ENV } from '../aws/env-names.js';
import { lambdaEntry, log, optionalEnv } from '../aws/runtime.js';

export interface AwaitOperatorDeps {
  rollouts: RolloutStore;
  ledger: PinLedger;
  tokens: TaskTokens;
  notifier: Notifier;
  memory: FleetMemory;
  clock: Clock;
  timing: Pick<RequestTiming, 'goWaitSeconds' | 'pinReminderSeconds' | 'pinConfirmationSeconds'>;
  /** Which FNMS web interface the operator uses (the instruction names it). */
  product: 'onPremises' | 'flexeraOne';
  statusUrl: (requestId: string) => string | null;
  log?: Log;
}

export type AwaitOperatorEvent =
  | { kind: 'go'; requestId: string; taskToken: string }
  | { kind: 'pin'; phase: 'ask' | 'remind'; requestId: string; taskToken: string; pin: { pin?: RequestPinRecord } };

/** How an operator confirms a pin: the API, chat and the CLI. */
export function confirmPinLines(pinId: string): string[] {
  return [`When it is set, confirm it: confirm-pin ${pinId} (chat), POST /pins/${pinId}/confirm, or beacon-proxy confirm-pin ${pinId} --stack <name>.`];
}

export function createAwaitOperatorHandler(deps: AwaitOperatorDeps) {
  const logger = deps.log ?? silentLog;
  return async function awaitOperator(event: AwaitOperatorEvent): Promise<{ waiting: boolean }> {
    const at = deps.clock.now();
    const rollout = await deps.rollouts.getRollout(event.requestId);
    if (!rollout) throw new Error(`request ${event.requestId} has no rollout record`);

    if (event.kind === 'go') {
      const decided = () => (rollout.go ? { go: true, by: rollout.go.by, at: rollout.go.at } : rollout.cancel ? { cancelled: true, by: rollout.cancel.by, at: rollout.cancel.at } : null);
      const kept = !decided() && (await deps.rollouts.patchRollout(event.requestId, { goToken: event.taskToken, updatedAt: at.toISOString() }, { phaseIn: ['awaiting-go'], unset: ['go', 'cancel', 'outcome'] }));
      if (!kept) {
        // The go or the cancel came first: nothing to wait for.
        const fresh = await deps.rollouts.getRollout(event.requestId);
        const answer = fresh?.go ? { go: true, by: fresh.go.by, at: fresh.go.at } : fresh?.cancel ? { cancelled: true, by: fresh.cancel.by, at: fresh.cancel.at } : { cancelled: true, by: 'beacon-proxy', at: at.toISOString() };
        await deps.tokens.sendTaskSuccess(event.taskToken, answer);
        return { waiting: false };
      }
      const plan = planRollout(rollout.spec, rollout.expansion.total);
      const deadline = new Date(at.getTime() + deps.timing.goWaitSeconds * 1000).toISOString();
      await tellRequester(deps, { requestId: event.requestId, event: 'awaiting-go', state: 'awaiting-go', text: goRequestMessage(rollout, plan, deadline, deps.statusUrl(event.requestId)), replyTo: rollout.replyTo, caller: rollout.caller ?? null });
      return { waiting: true };
    }

    const pin = event.pin.pin;
    if (!pin || pin.status !== 'awaiting' || !pin.version || !pin.pinId) throw new Error(`request ${event.requestId} has no pin awaiting a confirmation`);
    for (let attempt = 0; attempt < 10; attempt += 1) {
      const ledger = await deps.ledger.get();
      const registration = registerWaiter(ledger, event.requestId, event.taskToken, pin.version);
      if (registration.outcome === 'satisfied') {
        const { confirmed } = registration;
        await deps.tokens.sendTaskSuccess(event.taskToken, { confirmed: true, pinId: confirmed.pinId ?? pin.pinId, version: confirmed.version, by: confirmed.by, at: confirmed.at });
        return { waiting: false };
      }
      if (registration.outcome === 'uncovered') {
        await deps.tokens.sendTaskSuccess(event.taskToken, { uncovered: true });
        return { waiting: false };
      }
      if (!(await deps.ledger.update(registration.next, ledger.revision))) continue;
      if (registration.pinId !== pin.pinId) {
        // A newer pending value replaced the one this request asked for: it covers this request too.
        await deps.rollouts.patchRollout(event.requestId, { pin: { ...pin, pinId: registration.pinId, version: registration.version }, updatedAt: at.toISOString() }, {});
        logger.info('pin wait moved to a newer pending value', { requestId: event.requestId, from: pin.pinId, to: registration.pinId });
      }
      const current = { ...pin, pinId: registration.pinId, version: registration.version };
      const deadline = new Date(at.getTime() + (event.phase === 'ask' ? deps.timing.pinConfirmationSeconds : deps.timing.pinConfirmationSeconds - deps.timing.pinReminderSeconds) * 1000).toISOString();
      await tellRequester(deps, {
        requestId: event.requestId,
        event: event.phase === 'ask' ? 'pin-confirmation' : 'pin-reminder',
        state: 'awaiting-pin',
        text: pinInstruction(event.requestId, current, rollout.counts.ok ?? 0, event.phase, deadline),
        replyTo: rollout.replyTo,
        caller: rollout.caller ?? null,
      });
      return { waiting: true };
    }
    throw new Error('the pin ledger kept changing while registering the wait; the step is retried');
  };

  function pinInstruction(requestId: string, pin: RequestPinRecord, okBeacons: number, phase: 'ask' | 'remind', deadline: string): MessageText {
    const message = operatorPinMessage({
      requestId,
      decision: { release: pin.version!, change: true, highestDeployed: pin.highestDeployed ?? null, unknownVersion: [] },
      beacons: [],
      beaconCount: okBeacons,
      product: deps.product,
    });
    const lines = message.text.split('\n');
    if (pin.supersedes) lines.push(`This replaces ${pin.supersedes.pinId} (${pin.supersedes.version}): set ${pin.version} instead.`);
    lines.push(...confirmPinLines(pin.pinId!), `Without a confirmation by ${deadline} the request ends pin-unconfirmed (its beacons stay configured).`, ...followLines(requestId, deps.statusUrl(requestId)));
    return { title: `${phase === 'remind' ? 'Reminder: ' : ''}${message.subject} [${pin.pinId}]`, lines };
  }
}

export const handler = lambdaEntry(() => {
  const apiUrl = optionalEnv(ENV.apiUrl);
  return createAwaitOperatorHandler({
    rollouts: awsDynamo.rolloutStore(),
    ledger: awsDynamo.pinLedger(),
    tokens: awsSfn.taskTokens(),
    notifier: awsSns.notifier(),
    memory: awsDynamo.fleetMemory(),
    clock: awsSdk.clock,
    timing: requestTiming(),
    product: optionalEnv(ENV.fnmsProduct) === 'flexeraOne' ? 'flexeraOne' : 'onPremises',
    statusUrl: statusLinkFor(apiUrl),
    log,
  });
});
