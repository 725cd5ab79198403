/**
 * The data that flows through the per-beacon workflow: the execution input plus one key per step
 * (ResultPath), so later steps and the final record see everything that happened.
 */
import type { BeaconState, WorkflowInput } from '../core/ports.js';
import type { Check } from '../core/result.js';

export interface ResolveResult {
  instanceId: string;
  eligible: boolean;
  computerName: string | null;
  /** Why the beacon is skipped (not managed, not Windows, offline, no beacon tag). */
  reason: string | null;
}

export interface LockStepResult {
  acquired: true;
  owner: string;
  expiresAt: string;
}

export interface SendResult {
  commandId: string;
  documentName: string;
  sentAt: string;
}

export interface PollResult {
  attempt: number;
  waitSeconds: number;
  done: boolean;
  timedOut: boolean;
  status: string;
  stdout: string;
  stderr: string;
}

export interface JudgedResult {
  status: 'ok' | 'failed' | 'rolled-back' | 'unparseable';
  reasons: string[];
  changed: string[];
  checks: Check[];
  beaconVersion: string | null;
  captureId: string | null;
}

/** What every result says when the stack pins nothing (pinMode none). */
export const PIN_MODE_NONE_WARNING =
  'FNMS beacon version not pinned (pinMode none): if "Beacon version approved for use" is "Always use the latest version", ' +
  'an automatic beacon upgrade resets the FlexNet Beacon Engine service and upload tasks to LocalSystem and the beacon stops ' +
  'using the proxy; set it to a release in FNMS (Discovery & Inventory > Settings > Beacon settings); the drift check re-applies the profile after an upgrade';

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
  command?: SendResult;
  poll?: PollResult;
  verdict?: JudgedResult;
  pin?: PinResult;
  rollbackCommand?: SendResult;
  rollbackPoll?: PollResult;
  rollbackVerdict?: JudgedResult;
  error?: StepError;
  /** Set by the Pass state of the branch the workflow ended in. */
  outcome?: { state: BeaconState };
  recorded?: RecordedOutcome;
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
