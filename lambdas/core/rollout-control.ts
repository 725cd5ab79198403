/**
 * What an operator may do to a running request, the same from the API, chat and the CLI: give the go after
 * the canary, cancel (optionally rolling back what the running beacons change), and confirm an FNMS pin.
 * Each is a conditional write first (so it happens once and is recorded with who and when), then a wake-up
 * of the waiting workflow through its task token. A wait that starts after the write sees the write and
 * ends at once, so the order of the two never loses an action.
 */
import * as z from 'zod/mini';
import { confirmPin, PIN_ID_PATTERN } from './fnms/pin-ledger.js';
import type { AuditEvent, Clock, PinLedger, RolloutRecord, RolloutStore, TaskTokens } from './ports.js';
import { PATTERNS } from './request.js';

export const OPERATOR_ERROR_CODES = ['NOT_FOUND', 'NOT_AWAITING_GO', 'ALREADY_ENDED', 'ALREADY_CANCELLED', 'BEACON_WORK_DONE', 'PIN_SUPERSEDED', 'PIN_NOT_PENDING', 'INVALID_REQUEST'] as const;
export type OperatorErrorCode = (typeof OPERATOR_ERROR_CODES)[number];

/** An operator action that cannot apply now: a stable code, the field, what to do, and the HTTP status the API answers. */
export class OperatorActionError extends Error {
  override readonly name = 'OperatorActionError';
  constructor(
    readonly code: OperatorErrorCode,
    message: string,
    readonly field: string,
    readonly status: 400 | 404 | 409,
  ) {
    super(message);
  }

  toJSON(): { error: { code: OperatorErrorCode; message: string; field: string } } {
    return { error: { code: this.code, message: this.message, field: this.field } };
  }
}

export function isOperatorActionError(value: unknown): value is OperatorActionError {
  return value instanceof OperatorActionError;
}

/** An operator's command as it travels on the intake queue (chat) or arrives at the API. */
export const OperatorCommandSchema = z.discriminatedUnion('action', [
  z.strictObject({ action: z.literal('cancel'), requestId: z.string().check(z.regex(PATTERNS.requestId)), rollback: z.boolean(), by: z.string().check(z.minLength(1), z.maxLength(300)) }),
  z.strictObject({ action: z.literal('go'), requestId: z.string().check(z.regex(PATTERNS.requestId)), by: z.string().check(z.minLength(1), z.maxLength(300)) }),
  z.strictObject({ action: z.literal('confirm-pin'), pinId: z.string().check(z.regex(PIN_ID_PATTERN)), by: z.string().check(z.minLength(1), z.maxLength(300)) }),
]);
export type OperatorCommand = z.infer<typeof OperatorCommandSchema>;

export interface OperatorDeps {
  rollouts: RolloutStore;
  ledger: PinLedger;
  tokens: TaskTokens;
  clock: Clock;
  audit: (event: AuditEvent) => Promise<void>;
}

export type OperatorResult =
  | { action: 'cancel'; requestId: string; rollback: boolean; by: string; at: string; phase: RolloutRecord['phase'] }
  | { action: 'go'; requestId: string; by: string; at: string }
  | { action: 'confirm-pin'; pinId: string; version: string; by: string; at: string; requests: string[]; already: boolean };

async function rolloutOf(deps: OperatorDeps, requestId: string): Promise<RolloutRecord> {
  const rollout = await deps.rollouts.getRollout(requestId);
  if (!rollout) throw new OperatorActionError('NOT_FOUND', `no rollout for request ${requestId} (yet): it may still be in the queue, or the id is wrong`, 'requestId', 404);
  return rollout;
}

function endedError(rollout: RolloutRecord): OperatorActionError {
  return new OperatorActionError('ALREADY_ENDED', `request ${rollout.requestId} already ended ${rollout.outcome?.state ?? ''}: ${rollout.outcome?.reason ?? ''}`.trim(), 'requestId', 409);
}

/** Cancel: nothing new starts; running beacons finish their document (and are rolled back when `rollback`). */
export async function cancelRollout(deps: OperatorDeps, command: { requestId: string; rollback: boolean; by: string }): Promise<OperatorResult> {
  const at = deps.clock.now().toISOString();
  const rollout = await rolloutOf(deps, command.requestId);
  if (rollout.outcome) throw endedError(rollout);
  if (rollout.cancel) {
    throw new OperatorActionError('ALREADY_CANCELLED', `request ${rollout.requestId} was cancelled by ${rollout.cancel.by} at ${rollout.cancel.at}${rollout.cancel.rollback ? ' (with rollback)' : ''}`, 'requestId', 409);
  }
  if (rollout.phase === 'pinning' || rollout.phase === 'awaiting-pin' || rollout.phase === 'ended') {
    throw new OperatorActionError('BEACON_WORK_DONE', `every beacon of request ${rollout.requestId} already finished; only its FNMS pin is open (status shows it)`, 'requestId', 409);
  }
  const cancel = { rollback: command.rollback, by: command.by, at };
  const written = await deps.rollouts.patchRollout(command.requestId, { cancel, updatedAt: at }, { unset: ['cancel', 'outcome'], phaseIn: ['expanding', 'running', 'awaiting-go', 'stopping'] });
  if (!written) return cancelRollout(deps, command);
  await deps.audit({ requestId: command.requestId, at, event: 'request.cancel-requested', detail: { by: command.by, rollback: command.rollback } });
  // A rollout waiting for a go wakes up and stops.
  if (rollout.goToken) await deps.tokens.sendTaskSuccess(rollout.goToken, { cancelled: true, by: command.by, at });
  return { action: 'cancel', requestId: command.requestId, rollback: command.rollback, by: command.by, at, phase: rollout.phase };
}

/** The go after a canary that finished well (pauseAfterCanary). */
export async function giveGo(deps: OperatorDeps, command: { requestId: string; by: string }): Promise<OperatorResult> {
  const at = deps.clock.now().toISOString();
  const rollout = await rolloutOf(deps, command.requestId);
  if (rollout.outcome) throw endedError(rollout);
  if (rollout.go) return { action: 'go', requestId: command.requestId, by: rollout.go.by, at: rollout.go.at };
  if (rollout.cancel) throw new OperatorActionError('ALREADY_CANCELLED', `request ${rollout.requestId} was cancelled by ${rollout.cancel.by} at ${rollout.cancel.at}`, 'requestId', 409);
  if (rollout.phase !== 'awaiting-go') {
    throw new OperatorActionError('NOT_AWAITING_GO', `request ${rollout.requestId} is ${rollout.phase}, not waiting for a go (only a rollout with pauseAfterCanary waits, once its canary finished well)`, 'requestId', 409);
  }
  const go = { by: command.by, at };
  const written = await deps.rollouts.patchRollout(command.requestId, { go, updatedAt: at }, { unset: ['go', 'outcome', 'cancel'], phaseIn: ['awaiting-go'] });
  if (!written) return giveGo(deps, command);
  await deps.audit({ requestId: command.requestId, at, event: 'request.go', detail: { by: command.by } });
  const token = (await deps.rollouts.getRollout(command.requestId))?.goToken ?? rollout.goToken;
  if (token) await deps.tokens.sendTaskSuccess(token, { go: true, by: command.by, at });
  return { action: 'go', requestId: command.requestId, by: command.by, at };
}

/** An operator set "Beacon version approved for use" to the pending value: record who and when, and end every wait on it. */
export async function confirmOperatorPin(deps: OperatorDeps, command: { pinId: string; by: string }): Promise<OperatorResult> {
  const at = deps.clock.now().toISOString();
  for (let attempt = 0; attempt < 10; attempt += 1) {
    const state = await deps.ledger.get();
    const confirmation = confirmPin(state, command.pinId, command.by, at);
    switch (confirmation.result) {
      case 'already':
        return { action: 'confirm-pin', pinId: command.pinId, version: confirmation.confirmed.version, by: confirmation.confirmed.by, at: confirmation.confirmed.at, requests: [], already: true };
      case 'superseded':
        throw new OperatorActionError(
          'PIN_SUPERSEDED',
          `${command.pinId} was replaced by ${confirmation.pending.pinId}: set "Beacon version approved for use" to ${confirmation.pending.version} and confirm ${confirmation.pending.pinId}`,
          'pinId',
          409,
        );
      case 'unknown':
        throw new OperatorActionError('PIN_NOT_PENDING', `${command.pinId} is not waiting for a confirmation (no pin is pending)`, 'pinId', 404);
      case 'confirmed': {
        if (!(await deps.ledger.update(confirmation.next, state.revision))) continue;
        for (const { requestId, token } of confirmation.tokens) {
          await deps.audit({ requestId, at, event: 'pin.confirmed', detail: { pinId: command.pinId, version: confirmation.confirmed.version, by: command.by } });
          await deps.tokens.sendTaskSuccess(token, { confirmed: true, pinId: command.pinId, version: confirmation.confirmed.version, by: command.by, at });
        }
        return { action: 'confirm-pin', pinId: command.pinId, version: confirmation.confirmed.version, by: command.by, at, requests: confirmation.tokens.map((t) => t.requestId), already: false };
      }
    }
  }
  throw new Error('the pin ledger kept changing while confirming; try again');
}

/** Runs one operator command. */
export function runOperatorCommand(deps: OperatorDeps, command: OperatorCommand): Promise<OperatorResult> {
  switch (command.action) {
    case 'cancel':
      return cancelRollout(deps, command);
    case 'go':
      return giveGo(deps, command);
    case 'confirm-pin':
      return confirmOperatorPin(deps, command);
  }
}
