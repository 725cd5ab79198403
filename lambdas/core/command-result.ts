/**
 * The judgement of one finished Run Command invocation: the SSM status and the document's result line
 * together, trimmed to what the workflow carries (the state of a Step Functions execution is limited to
 * 256 KB; the full transcript stays in CloudWatch Logs). Pure: no AWS client.
 */
import { type BoundedDiff, boundDiffLists, type DiffEntry } from './change-diff.js';
import type { BeaconDocumentKind } from './document-contract.js';
import type { CommandInvocation } from './ports.js';
import { BEACON_BUSY_CODE, type Check, judgeResult } from './result.js';

/**
 * Run Command statuses after which nothing more happens. `Cancelling` is not one: CancelCommand is
 * asynchronous and a running script may still finish.
 */
export const TERMINAL_COMMAND_STATUSES = ['Success', 'Failed', 'Cancelled', 'TimedOut'] as const;

/** Detailed statuses some SDKs and fakes report in `status`; all terminal. */
const TERMINAL_DETAILS = ['DeliveryTimedOut', 'ExecutionTimedOut', 'Undeliverable', 'Terminated', 'InvalidPlatform', 'AccessDenied', 'Canceled'];

export function isTerminalCommandStatus(status: string): boolean {
  return (TERMINAL_COMMAND_STATUSES as readonly string[]).includes(status) || TERMINAL_DETAILS.includes(status);
}

/**
 * Why a document did not run (nothing changed on the beacon). `module-refused`: the document would not run
 * its module file (the download failed, or the file is not the SHA-256 the document pins).
 */
export type NotRunReason = 'undelivered' | 'cancelled' | 'busy' | 'not-sent' | 'module-refused';

export interface CommandVerdict {
  /**
   * ok: done and verified. rolled-back: failed and restored by itself. not-run: never ran, nothing changed.
   * failed / unparseable: anything else (the beacon may be half-configured: the workflow rolls back).
   * unconfirmed: no terminal status could be read in time.
   */
  status: 'ok' | 'failed' | 'rolled-back' | 'unparseable' | 'not-run' | 'unconfirmed';
  notRun: NotRunReason | null;
  reasons: string[];
  changed: string[];
  checks: Check[];
  beaconVersion: string | null;
  captureId: string | null;
  /**
   * Configure: each value the run changed, before and after. Verify (a plan): each value a run would change.
   * Absent in verdicts of executions started before issue 15 (read as none).
   */
  diff?: DiffEntry[];
  /** What a rollback put back (the configure run's own, or the Rollback document's), before and after. */
  restoredDiff?: DiffEntry[];
  /** Entries of `diff` / `restoredDiff` left out past VERDICT_LIMITS.diffEntries (counted, never silent). */
  diffOmitted?: { diff: number; restoredDiff: number };
}

/**
 * Limits of what a verdict carries, whatever the document printed: the workflow state holds a configure and
 * a rollback verdict besides the request, and stays far below Step Functions' 256 KB (a test measures the
 * worst case). Diff values share one budget per verdict: long ones are trimmed with the marker.
 */
export const VERDICT_LIMITS = {
  reasons: 10,
  reasonLength: 300,
  changed: 60,
  changedLength: 200,
  checks: 64,
  checkValueLength: 160,
  nameLength: 200,
  diffEntries: 64,
  diffIdLength: 100,
  diffValueBudget: 6000,
  diffValueMin: 32,
} as const;

function clip(text: string, length: number): string {
  return text.length <= length ? text : `${text.slice(0, length - 1)}…`;
}

function clipValue(value: unknown): unknown {
  if (value === null || typeof value === 'boolean' || typeof value === 'number') return value;
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  return clip(text, VERDICT_LIMITS.checkValueLength);
}

/** Caps every list and string of a verdict; failed checks are kept first. */
export function trimVerdict(verdict: CommandVerdict): CommandVerdict {
  const checks = [...verdict.checks.filter((check) => !check.ok), ...verdict.checks.filter((check) => check.ok)].slice(0, VERDICT_LIMITS.checks);
  const reasons = verdict.reasons.slice(0, VERDICT_LIMITS.reasons).map((reason) => clip(reason, VERDICT_LIMITS.reasonLength));
  if (verdict.reasons.length > VERDICT_LIMITS.reasons) reasons.push(`and ${verdict.reasons.length - VERDICT_LIMITS.reasons} more (see the command transcript)`);
  const [diff, restoredDiff] = boundDiffLists([verdict.diff ?? [], verdict.restoredDiff ?? []], {
    maxEntries: VERDICT_LIMITS.diffEntries,
    valueBudget: VERDICT_LIMITS.diffValueBudget,
    minValue: VERDICT_LIMITS.diffValueMin,
    idLength: VERDICT_LIMITS.diffIdLength,
  }) as [BoundedDiff, BoundedDiff];
  const omitted = { diff: diff.omitted + (verdict.diffOmitted?.diff ?? 0), restoredDiff: restoredDiff.omitted + (verdict.diffOmitted?.restoredDiff ?? 0) };
  const { diffOmitted: _omitted, ...rest } = verdict;
  return {
    ...rest,
    diff: diff.entries,
    restoredDiff: restoredDiff.entries,
    ...(omitted.diff + omitted.restoredDiff > 0 ? { diffOmitted: omitted } : {}),
    reasons,
    changed: verdict.changed.slice(0, VERDICT_LIMITS.changed).map((item) => clip(item, VERDICT_LIMITS.changedLength)),
    checks: checks.map((check) => ({ name: clip(check.name, VERDICT_LIMITS.nameLength), expected: clipValue(check.expected), actual: clipValue(check.actual), ok: check.ok })),
    beaconVersion: verdict.beaconVersion === null ? null : clip(verdict.beaconVersion, 64),
    captureId: verdict.captureId === null ? null : clip(verdict.captureId, 64),
  };
}

const empty = { changed: [], checks: [], beaconVersion: null, captureId: null, diff: [], restoredDiff: [] };

/** A verdict for a command that never ran (nothing changed on the beacon). */
export function notRunVerdict(reason: NotRunReason, message: string): CommandVerdict {
  return { status: 'not-run', notRun: reason, reasons: [message], ...empty };
}

export function unconfirmedVerdict(message: string): CommandVerdict {
  return { status: 'unconfirmed', notRun: null, reasons: [message], ...empty };
}

function lastStderrLine(stderr: string): string[] {
  const line = stderr.trim().split(/\r?\n/).at(-1);
  return line ? [`stderr: ${line}`] : [];
}

/**
 * Judges a terminal invocation of `kind`. A delivery timeout, or a cancel before the script started, is
 * `not-run`; a document that reports BEACON_BUSY did not run either. A script stopped at its execution limit
 * or cancelled while running is judged by its result line when it printed one, else `unparseable` (it may
 * have changed part of the beacon). For the rollback document, "no capture" means the configure run changed
 * nothing, so there is nothing to restore: ok.
 */
export function judgeCommand(kind: BeaconDocumentKind, invocation: CommandInvocation, deliveryTimeoutSeconds?: number): CommandVerdict {
  const { status } = invocation;
  const details = invocation.statusDetails ?? status;
  const started = invocation.executionStartedAt !== undefined ? invocation.executionStartedAt !== null : null;
  if (details === 'DeliveryTimedOut' || details === 'Undeliverable' || (status === 'TimedOut' && started === false)) {
    const within = deliveryTimeoutSeconds ? ` within ${deliveryTimeoutSeconds} s` : '';
    return trimVerdict(notRunVerdict('undelivered', `the beacon did not pick up the ${kind} command${within} (SSM Agent offline?): Run Command ${status}/${details}; nothing changed`));
  }
  if ((status === 'Cancelled' || details === 'Canceled') && started === false) {
    return trimVerdict(notRunVerdict('cancelled', `the ${kind} command was cancelled before it started; nothing changed`));
  }
  const verdict = judgeResult(invocation.stdout);
  const statusReason = `Run Command status ${status}${details !== status ? `/${details}` : ''}`;
  if (verdict.status === 'unparseable') {
    const why =
      details === 'ExecutionTimedOut'
        ? [`the ${kind} document was stopped at its execution limit before it printed a result`]
        : status === 'Cancelled'
          ? [`the ${kind} document was cancelled while it ran, before it printed a result`]
          : verdict.reasons;
    return trimVerdict({ status: 'unparseable', notRun: null, reasons: [...why, statusReason, ...lastStderrLine(invocation.stderr)], ...empty });
  }
  const common = { checks: verdict.checks, beaconVersion: verdict.beaconVersion, captureId: verdict.captureId, diff: verdict.diff, restoredDiff: verdict.restoredDiff };
  if (verdict.status === 'not-run') {
    const reason: NotRunReason = verdict.result.error?.code === BEACON_BUSY_CODE ? 'busy' : 'module-refused';
    return trimVerdict({ status: 'not-run', notRun: reason, reasons: verdict.reasons, changed: [], ...common });
  }
  if (kind === 'rollback' && verdict.status === 'failed' && verdict.result.error?.code === 'CAPTURE_NOT_FOUND') {
    return trimVerdict({ status: 'ok', notRun: null, reasons: ['nothing to restore: the configure run captured nothing, so it changed nothing'], changed: [], ...common });
  }
  if (verdict.status === 'ok') {
    // A result line that says ok from a run that SSM marks otherwise is not believed.
    if (status !== 'Success') return trimVerdict({ status: 'failed', notRun: null, reasons: [`${statusReason} although the result line says ok`], changed: verdict.changed, ...common });
    return trimVerdict({ status: 'ok', notRun: null, reasons: [], changed: verdict.changed, ...common });
  }
  if (verdict.status === 'rolled-back') return trimVerdict({ status: 'rolled-back', notRun: null, reasons: verdict.reasons, changed: verdict.restored, ...common });
  return trimVerdict({ status: 'failed', notRun: null, reasons: verdict.reasons, changed: verdict.result.changed, ...common });
}
