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

export type PinResult =
  | { pinned: true; version: string; changed: boolean; from: string | null }
  | { pinned: false; code: string; reason: string };

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
