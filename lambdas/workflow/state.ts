/**
 * The data that flows through the per-beacon workflow: the execution input plus one key per step
 * (ResultPath), so later steps and the final record see everything that happened. Every key stays small:
 * a poll step judges the document's output itself and carries only the trimmed verdict, never stdout, so the
 * state stays far below the 256 KB Step Functions limit whatever a beacon prints.
 */
import type { CommandVerdict } from '../core/command-result.js';
import type { BeaconDocumentKind } from '../core/document-contract.js';
import type { BeaconState, WorkflowInput } from '../core/ports.js';

export interface ResolveResult {
  instanceId: string;
  eligible: boolean;
  computerName: string | null;
  /** Why the beacon is skipped (not managed, not Windows, offline, no beacon tag). */
  reason: string | null;
}

/** The lock step: taken, busy (wait and try again until `giveUp`), or superseded by a newer request. */
export interface LockStepResult {
  acquired: boolean;
  superseded: boolean;
  giveUp: boolean;
  /** Tries so far and when the first one was made (the busy wait is measured from it). */
  attempt: number;
  firstTriedAt: string | null;
  waitSeconds: number;
  owner: string;
  expiresAt: string | null;
  holder: string | null;
  newer: string | null;
}

/** Which command a poll loop watches. `commandId` is null when the send step failed before it returned one: the poll step then finds the command by its comment. */
export interface CommandRef {
  kind: BeaconDocumentKind;
  /** Absent or null when the send step failed before it returned one. */
  commandId?: string | null;
  /** Unique per execution, document and attempt (SendCommand Comment): how a command is found again. */
  comment: string;
  sentAt?: string | null;
  /** True when a retried send found the command an earlier attempt had sent. */
  reused?: boolean;
}

export interface PollState {
  attempt: number;
  waitSeconds: number;
  done: boolean;
  commandId: string | null;
  status: string;
  statusDetails: string | null;
  /** When the loop started looking for a command whose send time is unknown. */
  since: string | null;
  cancelRequestedAt: string | null;
  /** The 'sent' status and audit entry were written (once, by the first poll that knows the command id). */
  recorded: boolean;
  /** Poll steps that failed (after their retries); the loop gives up after a bound that covers the whole command window. */
  failures: { count: number };
  /** The judgement once `done`. */
  verdict: CommandVerdict | null;
}

/** What every result says when the stack pins nothing (pinMode none). */
export const PIN_MODE_NONE_WARNING =
  'FNMS beacon version not pinned (pinMode none): if "Beacon version approved for use" is "Always use the latest version", ' +
  'an automatic beacon upgrade resets the FlexNet Beacon Engine service and upload tasks to LocalSystem and the beacon stops ' +
  'using the proxy; set it to a release in FNMS (Discovery & Inventory > Settings > Beacon settings); the drift check re-applies the profile after an upgrade';

/**
 * The pin step's result in executions started before the pin moved to the request (kept so their records
 * read the same); the per-beacon workflow no longer pins.
 */
export type PinResult =
  | { pinned: true; version: string; changed: boolean; from: string | null }
  | { pinned: false; code: string; reason: string }
  /** pinMode none: not pinned by design; CheckPin treats it as configured, the outcome carries the warning. */
  | { pinned: false; skipped: true; code: 'PIN_MODE_NONE'; reason: string; warning: string };

/** True for the pinMode none outcome. */
export function isPinSkipped(pin: PinResult | undefined): pin is Extract<PinResult, { skipped: true }> {
  return pin !== undefined && !pin.pinned && 'skipped' in pin && pin.skipped;
}

/** A Catch writes the Step Functions error here. */
export interface StepError {
  Error: string;
  Cause?: string;
}

export interface WorkflowState extends WorkflowInput {
  target?: ResolveResult;
  lock?: LockStepResult;
  command?: CommandRef;
  poll?: PollState;
  sendError?: StepError;
  pin?: PinResult;
  /** Which rollback try this is, and the capture it restores (the request's own, or a per-beacon rollback's). */
  rollbackAttempt?: { n: number; captureId?: string };
  rollbackCommand?: CommandRef;
  rollbackPoll?: PollState;
  rollbackSendError?: StepError;
  error?: StepError;
  /** CheckCancelled's answer: whether the request was cancelled (and with rollback). */
  cancelCheck?: { cancelled: boolean; rollback: boolean; by: string | null; at: string | null };
  /** Set by the Pass state of the branch the workflow ended in. */
  outcome?: { state: BeaconState };
  recorded?: RecordedOutcome;
  releaseError?: StepError;
  recordError?: StepError;
  notifyError?: StepError;
}

export interface RecordedOutcome {
  state: BeaconState;
  summary: string;
  reasons: string[];
  /** What the requester must know although the beacon is configured (pinMode none). */
  warnings: string[];
}

/** Why a step failed, in words: the Lambda error message when Step Functions passed one. */
export function describeStepError(error: StepError | undefined): string | null {
  if (!error) return null;
  if (error.Cause) {
    try {
      const cause = JSON.parse(error.Cause) as { errorMessage?: string; errorType?: string };
      if (cause.errorMessage) return `${cause.errorType ?? error.Error}: ${cause.errorMessage}`;
    } catch {
      // Cause is free text for non-Lambda errors.
    }
    return `${error.Error}: ${error.Cause}`;
  }
  return error.Error;
}
