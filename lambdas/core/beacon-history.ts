/**
 * Per-beacon day-2 commands as pure rules: a beacon's history across requests (what was applied, when, by
 * whom, the outcome, each value before -> after), which capture a per-beacon rollback restores, which
 * request a retry runs again, and the linked run both of them start. No AWS client here: the requests API
 * reads the history through `BeaconHistory` and starts the run through the workflow port.
 */
import type { DiffEntry } from './change-diff.js';
import { type Caller, describeCaller } from './caller.js';
import { type BeaconState, type ReplyTo, type RequestRecord, type RequestSource, TERMINAL_BEACON_STATES, type WorkflowInput } from './ports.js';
import { PATTERNS } from './request.js';

/** What a beacon run does besides a configure (a plan is a configure request with dryRun). */
export type BeaconAction =
  /** Restore the capture `captureId` (the id of the request that took it) with the Rollback document. */
  { kind: 'rollback'; captureId: string };

/** The link of a run started from another one (a retry, a rollback): the new record names the old request. */
export interface RunLink {
  /** `retry`: the same request content run again; `rollback`: the capture the request took, restored. */
  kind: 'retry' | 'rollback';
  requestId: string;
}

/** One request as it touched one beacon. */
export interface BeaconHistoryEntry {
  requestId: string;
  instanceId: string;
  /** configure (a change), plan (a dry run), rollback (a per-beacon rollback), unknown (the request record is gone). */
  kind: 'configure' | 'plan' | 'rollback' | 'unknown';
  /** Where the request came from, and who asked (the recorded caller, described: historyRequestedBy). */
  source: RequestSource | null;
  requestedBy: string | null;
  receivedAt: string | null;
  /** The beacon's latest state in that request, and when it was written. */
  state: BeaconState;
  updatedAt: string;
  /** What was asked: the request's settings without target (secret references only, never a secret); a rollback: the capture. */
  applied: Record<string, unknown> | null;
  reasons: string[];
  /** Each value changed (a plan: would change) and what a rollback put back, before -> after. */
  diff: DiffEntry[];
  restored: DiffEntry[];
  diffOmitted?: number;
  commandId: string | null;
  /** The run this one repeats or undoes. */
  linkedTo: RunLink | null;
}

export interface BeaconHistoryPage {
  entries: BeaconHistoryEntry[];
  /** Pass it back as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

/** Reads a beacon's history, newest first, one page at a time (a Query on the beacon's index, never a scan). */
export interface BeaconHistory {
  /** Throws `BeaconCommandError` INVALID_CURSOR for a cursor it did not issue for this beacon. */
  beaconHistory(instanceId: string, options: { limit: number; cursor?: string | null }): Promise<BeaconHistoryPage>;
}

export const HISTORY_LIMITS = {
  defaultPageSize: 20,
  maxPageSize: 100,
  /** How far back rollback and retry look for the run they act on (entries). */
  lookBack: 200,
} as const;

export type BeaconCommandCode = 'INVALID_INSTANCE_ID' | 'INVALID_CURSOR' | 'INVALID_REQUEST' | 'NO_CAPTURE' | 'ALREADY_ROLLED_BACK' | 'NOTHING_TO_RETRY' | 'BEACON_BUSY';

/** A per-beacon command refused: stable code, the field, what to do; `status` is the HTTP answer. */
export class BeaconCommandError extends Error {
  override readonly name = 'BeaconCommandError';
  constructor(
    readonly code: BeaconCommandCode,
    message: string,
    readonly field: string,
    readonly status: 400 | 404 | 409,
  ) {
    super(message);
  }

  toJSON() {
    return { error: { code: this.code, message: this.message, field: this.field } };
  }
}

export function isBeaconCommandError(value: unknown): value is BeaconCommandError {
  return value instanceof BeaconCommandError;
}

export function parseInstanceId(value: string | undefined): string {
  if (!value || !PATTERNS.instanceId.test(value)) {
    throw new BeaconCommandError('INVALID_INSTANCE_ID', 'the instance id is an SSM managed instance id: i- with 8 or 17 hex digits, or mi- with 17', 'instanceId', 400);
  }
  return value;
}

export function parsePageSize(value: string | undefined): number {
  if (value === undefined) return HISTORY_LIMITS.defaultPageSize;
  const n = /^\d{1,3}$/.test(value) ? Number(value) : NaN;
  if (!(n >= 1 && n <= HISTORY_LIMITS.maxPageSize)) {
    throw new BeaconCommandError('INVALID_REQUEST', `limit is a whole number from 1 to ${HISTORY_LIMITS.maxPageSize}`, 'limit', 400);
  }
  return n;
}

/** The kind of a recorded request: a rollback run carries its action, a plan its dryRun. */
export function requestKind(request: RequestRecord | null): BeaconHistoryEntry['kind'] {
  if (!request?.request) return 'unknown';
  if (request.action?.kind === 'rollback') return 'rollback';
  return request.request.dryRun === true ? 'plan' : 'configure';
}

/** What a request applied, as the history shows it: its settings without target and id. */
export function appliedSettings(request: RequestRecord | null): Record<string, unknown> | null {
  if (!request?.request) return null;
  if (request.action) return { ...request.action };
  const { target: _target, requestId: _id, ...settings } = request.request;
  return settings;
}

const isRunning = (entry: BeaconHistoryEntry) => !(TERMINAL_BEACON_STATES as readonly string[]).includes(entry.state);

/** Configure outcomes after which the beacon holds the run's changes, so its capture is what undoes them. */
const CHANGES_IN_PLACE: readonly BeaconState[] = ['ok', 'pin-failed', 'failed'];

/**
 * Which capture a per-beacon rollback restores: that of the newest configure whose changes are still in
 * place (ok, pin-failed, or failed with an unconfirmed rollback). Runs that changed nothing (plans,
 * skipped, busy, superseded, not run) and configures that rolled themselves back are passed over; a
 * per-beacon rollback newer than that configure means it was already undone. Refused while a request runs.
 */
export function decideRollback(entries: BeaconHistoryEntry[], instanceId: string): { captureId: string } {
  const unchangedRuns: string[] = [];
  for (const entry of entries) {
    if (isRunning(entry)) {
      throw new BeaconCommandError('BEACON_BUSY', `request ${entry.requestId} is still running on ${instanceId} (${entry.state}); roll back once it ended`, 'instanceId', 409);
    }
    if (entry.kind === 'rollback' && entry.state === 'rolled-back') {
      const captureId = typeof entry.applied?.captureId === 'string' ? entry.applied.captureId : entry.requestId;
      throw new BeaconCommandError(
        'ALREADY_ROLLED_BACK',
        `${instanceId}'s last change (request ${captureId}) was already rolled back by ${entry.requestId} at ${entry.updatedAt}; nothing to restore`,
        'instanceId',
        409,
      );
    }
    if (entry.kind === 'configure' && CHANGES_IN_PLACE.includes(entry.state) && entry.commandId) {
      // A run that found the beacon already right captured the state it left: restoring it would undo nothing.
      // The change to undo is an earlier run's (its capture is the state before it; nothing changed since).
      if (changedNothing(entry)) {
        unchangedRuns.push(entry.requestId);
        continue;
      }
      return { captureId: entry.requestId };
    }
  }
  if (unchangedRuns.length > 0) {
    throw new BeaconCommandError(
      'NO_CAPTURE',
      `beacon-proxy's runs on ${instanceId} (${unchangedRuns.join(', ')}) found it already as requested and changed nothing, so there is nothing to restore; nothing was changed`,
      'instanceId',
      409,
    );
  }
  throw new BeaconCommandError(
    'NO_CAPTURE',
    `beacon-proxy never changed ${instanceId} (no configure run in its history), so there is no capture to restore; nothing was changed`,
    'instanceId',
    409,
  );
}

/** A configure that reported no change at all (every value already right): its capture equals the state it left. */
function changedNothing(entry: BeaconHistoryEntry): boolean {
  return (entry.state === 'ok' || entry.state === 'pin-failed') && entry.diff.length === 0 && (entry.diffOmitted ?? 0) === 0;
}

/** Which request a retry runs again: the newest one that reached the beacon (a configure or a plan; not a rollback). */
export function decideRetry(entries: BeaconHistoryEntry[], instanceId: string): BeaconHistoryEntry {
  for (const entry of entries) {
    if (isRunning(entry)) {
      throw new BeaconCommandError('BEACON_BUSY', `request ${entry.requestId} is still running on ${instanceId} (${entry.state}); retry once it ended`, 'instanceId', 409);
    }
    if (entry.kind === 'configure' || entry.kind === 'plan') return entry;
  }
  throw new BeaconCommandError('NOTHING_TO_RETRY', `no request of ${instanceId} to run again (its history has no configure or plan)`, 'instanceId', 409);
}

/** Id of a run started by a per-beacon command: kind, beacon, time (sortable, within the 64 characters of a request id). */
export function linkedRunId(kind: RunLink['kind'], instanceId: string, at: Date): string {
  return `${kind}-${instanceId}-${at.toISOString().replace(/[-:.]/g, '').slice(0, 18)}`;
}

/**
 * A new run linked to an earlier request, for one beacon: the request record (with `linkedTo`), the
 * workflow input, and the audit events of both sides (the new request names the old one, the old one the
 * new), so each record shows the link. One function for every linked run (rerun, retry, rollback).
 */
export function linkedRun(args: {
  requestId: string;
  instanceId: string;
  link: RunLink;
  /** The request in input form for a retry (target set to this beacon); absent for a rollback. */
  request?: Record<string, unknown>;
  action?: BeaconAction;
  /** Who asked: recorded on the new request (and described in the audit events of both sides). */
  caller: Caller;
  source: RequestSource;
  at: string;
  /** Where the outcome goes besides the topic (a chat command's thread). */
  replyTo?: ReplyTo | null;
}): { record: RequestRecord; input: WorkflowInput; audit: Array<{ requestId: string; at: string; event: string; instanceId: string; detail: Record<string, unknown> }> } {
  const request = args.request ?? { requestId: args.requestId, target: { instanceIds: [args.instanceId] } };
  const record: RequestRecord = {
    requestId: args.requestId,
    state: 'accepted',
    source: args.source,
    receivedAt: args.at,
    request,
    instanceIds: [args.instanceId],
    linkedTo: args.link,
    ...(args.action ? { action: args.action } : {}),
    requestedBy: describeCaller(args.caller),
    caller: args.caller,
  };
  const input: WorkflowInput = {
    requestId: args.requestId,
    instanceId: args.instanceId,
    request,
    source: args.source,
    dryRun: request.dryRun === true,
    replyTo: args.replyTo ?? null,
    receivedAt: args.at,
    ...(args.action ? { action: args.action } : {}),
  };
  const by = { requestedBy: describeCaller(args.caller) };
  const audit = [
    { requestId: args.requestId, at: args.at, event: 'request.accepted', instanceId: args.instanceId, detail: { source: args.source, instanceIds: [args.instanceId], linkedTo: args.link, ...by } },
    { requestId: args.link.requestId, at: args.at, event: `request.${args.link.kind === 'retry' ? 'retried' : 'rolled-back'}`, instanceId: args.instanceId, detail: { by: args.requestId, ...by } },
  ];
  return { record, input, audit };
}

/** Who asked for a request, as a beacon's history shows it: its caller when recorded, else the older free-text field. */
export function historyRequestedBy(request: Pick<RequestRecord, 'caller' | 'requestedBy'> | null): string | null {
  if (request?.caller) return describeCaller(request.caller);
  return request?.requestedBy ?? null;
}
