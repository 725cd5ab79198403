/**
 * Starts a per-beacon day-2 command (rollback or retry) over the ports, whoever asked: the API's routes
 * and the intake (chat commands come through the queue, as every chat `apply` does) call this one function,
 * so what a rollback restores and what a retry runs is decided in one place (lambdas/core/beacon-history.ts).
 */
import { type Caller, describeCaller } from './caller.js';
import {
  BeaconCommandError,
  type BeaconHistory,
  type BeaconHistoryEntry,
  HISTORY_LIMITS,
  decideRetry,
  decideRollback,
  linkedRun,
  linkedRunId,
  parseInstanceId,
} from './beacon-history.js';
import type { Clock, ReplyTo, RequestSource, RequestStore, WorkflowStarter } from './ports.js';
import { PATTERNS, parseRequest } from './request.js';

export interface BeaconCommandDeps {
  history: BeaconHistory;
  store: RequestStore;
  workflows: WorkflowStarter;
  clock: Clock;
}

export type BeaconCommandKind = 'rollback' | 'retry';

export interface BeaconCommandStarted {
  requestId: string;
  instanceId: string;
  /** rollback: the request whose capture is restored; retry: the request run again. */
  linkedTo: string;
}

/** The newest entries of a beacon's history, up to HISTORY_LIMITS.lookBack, for the commands that act on it. */
async function recentHistory(history: BeaconHistory, instanceId: string): Promise<BeaconHistoryEntry[]> {
  const entries: BeaconHistoryEntry[] = [];
  let cursor: string | null = null;
  do {
    const page = await history.beaconHistory(instanceId, { limit: HISTORY_LIMITS.maxPageSize, cursor });
    entries.push(...page.entries);
    cursor = page.nextCursor;
  } while (cursor && entries.length < HISTORY_LIMITS.lookBack);
  return entries;
}

/**
 * Decides what the command acts on (throws BeaconCommandError / RequestError, changing nothing), then records
 * the new request with its link on both sides and its first status, and starts the beacon's workflow.
 * `requestId` may be given by the caller (a chat command answers with it before the intake runs).
 */
export async function startBeaconCommand(
  deps: BeaconCommandDeps,
  command: { kind: BeaconCommandKind; instanceId: string; caller: Caller; source: RequestSource; requestId?: string; replyTo?: ReplyTo | null },
): Promise<BeaconCommandStarted> {
  const now = deps.clock.now();
  const at = now.toISOString();
  const { instanceId } = command;
  const requestId = command.requestId ?? linkedRunId(command.kind, instanceId, now);
  const entries = await recentHistory(deps.history, instanceId);
  let run: ReturnType<typeof linkedRun>;
  const common = { requestId, instanceId, caller: command.caller, source: command.source, at, replyTo: command.replyTo ?? null };
  if (command.kind === 'rollback') {
    const { captureId } = decideRollback(entries, instanceId);
    run = linkedRun({ ...common, link: { kind: 'rollback', requestId: captureId }, action: { kind: 'rollback', captureId } });
  } else {
    const last = decideRetry(entries, instanceId);
    // Validated again as a new request: a rule tightened since the first run refuses it here, with its code.
    const request = { ...(last.applied ?? {}), requestId, target: { instanceIds: [instanceId] } };
    parseRequest(request);
    run = linkedRun({ ...common, link: { kind: 'retry', requestId: last.requestId }, request });
  }
  if ((await deps.store.recordRequest(run.record)) === 'exists') {
    // A redelivered command: the first delivery recorded and started it (the workflow start is idempotent too).
    await deps.workflows.startBeaconWorkflow(run.input);
    return { requestId, instanceId, linkedTo: run.record.linkedTo!.requestId };
  }
  for (const audit of run.audit) await deps.store.appendAudit(audit);
  await deps.store.putBeaconStatus({ requestId, instanceId, state: 'queued', updatedAt: at });
  await deps.workflows.startBeaconWorkflow(run.input);
  return { requestId, instanceId, linkedTo: run.record.linkedTo!.requestId };
}

/**
 * A per-beacon command as an intake queue message (chat commands: the chat function only enqueues). The
 * body names the command in `beaconCommand`, which no request has, so the intake tells it from a request.
 */
export interface BeaconCommandMessage {
  beaconCommand: BeaconCommandKind;
  instanceId: string;
  /** Chosen by the sender, so the chat answer can name it before the intake runs. */
  requestId: string;
  requestedBy: string | null;
}

export function beaconCommandMessage(kind: BeaconCommandKind, instanceId: string, requestId: string, caller: Caller): Record<string, unknown> {
  // For people reading the queue; the intake records the caller SQS vouches for (the `caller` attribute of a trusted producer).
  const message: BeaconCommandMessage = { beaconCommand: kind, instanceId, requestId, requestedBy: describeCaller(caller) };
  return { ...message };
}

/** The message as a command, or null when the body is not one (then it is a request). Strict: unknown fields or bad ids refuse it. */
export function parseBeaconCommandMessage(body: string): BeaconCommandMessage | null {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return null;
  }
  if (!value || typeof value !== 'object' || !('beaconCommand' in value)) return null;
  const { beaconCommand, instanceId, requestId, requestedBy, ...rest } = value as Record<string, unknown>;
  const refuse = (field: string, message: string) => new BeaconCommandError('INVALID_REQUEST', message, field, 400);
  if (Object.keys(rest).length > 0) throw refuse(Object.keys(rest)[0]!, `unknown field ${Object.keys(rest)[0]} in a beacon command`);
  if (beaconCommand !== 'rollback' && beaconCommand !== 'retry') throw refuse('beaconCommand', 'beaconCommand is rollback or retry');
  const id = parseInstanceId(typeof instanceId === 'string' ? instanceId : undefined);
  if (typeof requestId !== 'string' || !PATTERNS.requestId.test(requestId)) throw refuse('requestId', 'the request id is 1-64 letters, digits, . _ or -');
  if (requestedBy !== null && (typeof requestedBy !== 'string' || requestedBy.length > 300)) throw refuse('requestedBy', 'requestedBy is a string of at most 300 characters, or null');
  return { beaconCommand, instanceId: id, requestId, requestedBy };
}
