/**
 * The edges of the pipeline. Every handler is a factory over these small interfaces: AWS adapters
 * (lambdas/aws/) implement them for Lambda, in-memory ones (lambdas/memory/) for tests and the local twin.
 * Everything that crosses a port is plain JSON data.
 */
import { createHash } from 'node:crypto';
import type { DiffEntry } from './change-diff.js';
import type { Caller } from './caller.js';
import type { ErrorBody } from './errors.js';
import type { BeaconBaseline } from './baseline.js';
import type { BeaconAction, BeaconCommandCode, RunLink } from './beacon-history.js';
import type { DriftCheckpoint, DriftPage } from './drift-pass.js';
import type { Check } from './result.js';

/** Where a request came from; kept in the audit trail. */
export type RequestSource = 'queue' | 'api' | 'chatops' | 'new-beacon' | 'drift' | 'local';

/** Where the outcome goes besides the notification topic. Only Slack answers asynchronously. */
export type ReplyTo = { kind: 'slack'; responseUrl: string };

/** Lifecycle of a request as a whole. */
export type RequestState = 'accepted' | 'invalid' | 'no-targets';

/**
 * Lifecycle of one beacon within a request. Terminal: skipped, busy, superseded, not-run, dry-run, ok,
 * pin-failed, rolled-back, failed, error. `superseded`: a newer request for the beacon took it first, so this
 * older one changed nothing. `not-run`: the document never ran (not delivered in time, cancelled before it
 * started, or the beacon was busy with another document): nothing changed.
 */
export type BeaconState =
  | 'queued'
  | 'locked'
  | 'sent'
  | 'skipped'
  | 'busy'
  | 'superseded'
  | 'not-run'
  | 'dry-run'
  | 'ok'
  | 'pin-failed'
  | 'rolled-back'
  | 'failed'
  | 'error';

export const TERMINAL_BEACON_STATES: readonly BeaconState[] = ['skipped', 'busy', 'superseded', 'not-run', 'dry-run', 'ok', 'pin-failed', 'rolled-back', 'failed', 'error'];

export interface RequestRecord {
  requestId: string;
  state: RequestState;
  source: RequestSource;
  receivedAt: string;
  /** The validated request as accepted (its input form, requestId filled in); absent when invalid. */
  request?: Record<string, unknown>;
  /** Why the request was refused (a per-beacon command: its own codes, lambdas/core/beacon-history.ts). */
  error?: ErrorBody | { code: BeaconCommandCode; message: string; field: string };
  /** Instance ids the request expanded to (one workflow each). */
  instanceIds?: string[];
  /** The earlier request this run repeats (retry) or undoes (rollback): lambdas/core/beacon-history.ts. */
  linkedTo?: RunLink;
  /** A per-beacon run that is not a configure (a rollback restores a capture). */
  action?: BeaconAction;
  /** Who asked, when the entry point knows it (the API caller's IAM ARN). */
  requestedBy?: string;
  /** SHA-256 of the request's content (request-identity.ts): a later request under this id must match it. */
  contentHash?: string;
  /** The request this one re-runs (an operator's explicit re-run); the old one has a `request.rerun` audit event. */
  rerunOf?: string;
  /** Who asked (lambdas/core/caller.ts); absent only on records written before callers were kept. */
  caller?: Caller;
}

export interface BeaconStatusRecord {
  requestId: string;
  instanceId: string;
  state: BeaconState;
  updatedAt: string;
  reasons?: string[];
  /** What the requester must know although the beacon is configured (pinMode none: the version is not pinned). */
  warnings?: string[];
  changed?: string[];
  checks?: Check[];
  /**
   * Each value the run changed (a plan: would change), before -> after, as the beacon rendered it. For a
   * rolled-back beacon these changes were undone: `restored` lists what the rollback put back.
   */
  diff?: DiffEntry[];
  restored?: DiffEntry[];
  /** Diff entries left out past the verdict's limit (counted, never silent). */
  diffOmitted?: number;
  beaconVersion?: string | null;
  pinnedVersion?: string | null;
  commandId?: string;
}

export interface AuditEvent {
  requestId: string;
  at: string;
  /** What happened, e.g. `request.accepted`, `beacon.sent`, `crl.disabled`. */
  event: string;
  instanceId?: string;
  /** Tells apart several events of one kind at one time for one beacon (one audit record per change). */
  key?: string;
  detail?: Record<string, unknown>;
  /** Who caused it, on the events the intake writes for a request (accepted, refused, conflict, rerun). */
  caller?: Caller;
}

export interface RequestStatus {
  request: RequestRecord;
  beacons: BeaconStatusRecord[];
  audit: AuditEvent[];
}

/** Request, per-beacon status and audit trail. Every write is idempotent: writing the same thing twice changes nothing. */
export interface RequestStore {
  /** 'exists' when a request with this id was recorded before (the first record wins). */
  recordRequest(record: RequestRecord): Promise<'created' | 'exists'>;
  putBeaconStatus(status: BeaconStatusRecord): Promise<void>;
  /** Events are keyed by (requestId, at, event, instanceId, key): a repeated append is a no-op. */
  appendAudit(event: AuditEvent): Promise<void>;
  getRequestStatus(requestId: string): Promise<RequestStatus | null>;
}

export type LockResult =
  | { acquired: true; expiresAt: string }
  /** `busy`: another execution holds it; `superseded`: a newer request already took this beacon. */
  | { acquired: false; reason: 'busy'; holder: string; expiresAt: string }
  | { acquired: false; reason: 'superseded'; newer: string };

/**
 * One workflow at a time per beacon, in request order. `order` sorts requests by arrival
 * (`requestOrder(receivedAt, requestId)`); the lock remembers the newest order that took the beacon and
 * refuses an older one for good, so an older request can never overwrite a newer one's result.
 */
export interface BeaconLock {
  /** Conditional write: succeeds when the lock is free, expired, or already held by `owner` (re-entrant), and no newer request took the beacon. */
  acquire(instanceId: string, owner: string, ttlSeconds: number, order: string): Promise<LockResult>;
  /** Releases only a lock held by `owner`; releasing a free or foreign lock is a no-op, so it is safe twice. */
  release(instanceId: string, owner: string): Promise<{ released: boolean }>;
  /** Keeps a lock held by `owner` until `until` (then it expires); a no-op when `owner` does not hold it. */
  holdUntil(instanceId: string, owner: string, until: Date): Promise<{ held: boolean }>;
}

/** The order of a request among the requests for one beacon: arrival time, then id (ISO times sort as text). */
export function requestOrder(receivedAt: string, requestId: string): string {
  return `${receivedAt}#${requestId}`;
}

export type PingStatus = 'Online' | 'ConnectionLost' | 'Inactive';

export interface ManagedInstance {
  instanceId: string;
  computerName: string | null;
  platformType: string | null;
  pingStatus: PingStatus | string;
}

export interface InstanceFilter {
  instanceIds?: string[];
  tag?: { key: string; value: string };
}

/**
 * SSM Run Command status of one invocation. `status`: Pending, InProgress, Delayed, Success, Cancelled,
 * TimedOut, Failed or Cancelling (not terminal: CancelCommand is asynchronous). `statusDetails` tells the
 * kinds of TimedOut apart: DeliveryTimedOut (never started) and ExecutionTimedOut (stopped by the agent).
 */
export interface CommandInvocation {
  status: string;
  statusDetails?: string;
  stdout: string;
  stderr: string;
  /** When the script started on the instance; null while (or when) it never started. */
  executionStartedAt?: string | null;
}

export interface SendCommandOptions {
  /** Free text SSM keeps with the command (at most 100 characters); the workflow finds its commands by it. */
  comment?: string;
  /** SendCommand TimeoutSeconds: the *delivery* deadline. A command not started by then never runs. */
  deliveryTimeoutSeconds?: number;
}

export type DocumentParameters = Record<string, string[]>;

/** SSM Run Command and the inventory of managed instances. */
export interface BeaconCommands {
  /** At most 50 instance ids per call (the SSM limit). Returns the command id. */
  sendCommand(instanceIds: string[], documentName: string, parameters: DocumentParameters, options?: SendCommandOptions): Promise<string>;
  /** null while SSM does not know the invocation yet (just sent). */
  getInvocation(commandId: string, instanceId: string): Promise<CommandInvocation | null>;
  /** CancelCommand: asynchronous; the invocation goes through Cancelling, and a running script may finish first. */
  cancelCommand(commandId: string, instanceIds: string[]): Promise<void>;
  /** The command sent to this instance with this document and exactly this comment, if any (ListCommands). */
  findCommand(instanceId: string, documentName: string, comment: string): Promise<string | null>;
  /** Managed instances matching every given filter (ids and/or tag). */
  findManagedInstances(filter: InstanceFilter): Promise<ManagedInstance[]>;
  /** Per-instance status of a command sent to several instances. */
  listInvocations(commandId: string): Promise<Array<{ instanceId: string; status: string }>>;
}

/** Input of one per-beacon workflow execution. */
export interface WorkflowInput {
  requestId: string;
  instanceId: string;
  /** The request in its input form, requestId filled in; handlers re-validate it with `parseRequest`. */
  request: Record<string, unknown>;
  source: RequestSource;
  /** Copied from the request so the workflow can branch on it without re-validating. */
  dryRun: boolean;
  replyTo: ReplyTo | null;
  /** When the intake accepted the request: requests for one beacon apply in this order. */
  receivedAt: string;
  /** A per-beacon rollback instead of a configure: after the lock, the Rollback document restores `captureId`. */
  action?: BeaconAction;
  /** Who asked: shown in the notification. */
  caller?: Caller;
}

/**
 * The execution name of the workflow for one beacon of one request: deterministic, so a redelivered
 * message cannot start a second workflow. Step Functions allows 80 characters; long request ids are
 * shortened with a digest that keeps names distinct.
 */
export function workflowExecutionName(requestId: string, instanceId: string): string {
  const plain = `${requestId}--${instanceId}`;
  if (plain.length <= 80) return plain;
  const digest = createHash('sha256').update(plain).digest('hex').slice(0, 12);
  return `${requestId.slice(0, 80 - instanceId.length - digest.length - 3)}-${digest}--${instanceId}`;
}

export interface WorkflowStarter {
  /** One execution per (requestId, instanceId), with a deterministic name: starting it again is a no-op. */
  startBeaconWorkflow(input: WorkflowInput): Promise<{ executionName: string; started: boolean }>;
}

/** What travels beside the request JSON on the intake queue (message attributes). */
export interface EnqueueMeta {
  source: RequestSource;
  replyTo?: ReplyTo;
  /** An explicit re-run: the request re-run (the intake links both records when the content matches). */
  rerunOf?: string;
  /** Who asked, as the producer's platform vouched (the intake believes it only from the stack's own producers). */
  caller?: Caller;
}

/** The intake queue, for triggers other than SQS itself. */
export interface RequestQueue {
  /** Enqueues the request JSON (body unchanged); the meta travels as message attributes. */
  enqueue(request: Record<string, unknown>, meta: EnqueueMeta): Promise<void>;
}

/** A validated request as the intake accepts it: the unit the idempotency guard keys and validates. */
export interface AcceptedRequest {
  requestId: string;
  /** The request in input form with the requestId filled in. */
  request: Record<string, unknown>;
  /** `requestContentHash(request)`: the guard refuses a requestId seen with another hash. */
  contentHash: string;
  dryRun: boolean;
  source: RequestSource;
  replyTo: ReplyTo | null;
  /** The request this one explicitly re-runs, if any. */
  rerunOf: string | null;
  /** Who asked (never from the body; see callerFromQueue). */
  caller: Caller;
  target: { kind: 'instances'; instanceIds: string[] } | { kind: 'tag'; key: string; value: string };
}

export interface AcceptResult {
  requestId: string;
  instanceIds: string[];
  started: number;
}

/**
 * Runs the intake's accept step once per requestId (Powertools idempotency in Lambda, lambdas/aws/idempotency.ts).
 * Contract: the first call for a requestId runs `fn`; a later call with the same requestId and the same
 * `contentHash` returns the first call's result without running `fn` (or throws a retryable error while the
 * first is still running); a later call with the same requestId and another `contentHash` throws
 * `requestConflict(requestId)` (RequestError REQUEST_CONFLICT) without running `fn`. Records live at least
 * `REQUEST_IDENTITY.derivedIdWindowSeconds`; beyond that the request store's content hash decides.
 */
export interface IdempotencyGuard {
  wrap(fn: (accepted: AcceptedRequest) => Promise<AcceptResult>): (accepted: AcceptedRequest) => Promise<AcceptResult>;
  /** Lets the guard see the Lambda's remaining time (an in-progress record expires with the invocation). */
  registerLambdaContext?(context: { getRemainingTimeInMillis(): number }): void;
}

/** No guard: every call runs (handler tests; the request store still decides resend and conflict). */
export const noIdempotencyGuard: IdempotencyGuard = { wrap: (fn) => fn };

export interface Outcome {
  requestId: string;
  instanceId?: string;
  state: BeaconState | 'invalid' | 'no-targets' | 'conflict';
  summary: string;
  reasons?: string[];
  /** Shown with the outcome (pinMode none: upgrades may reset the service account). */
  warnings?: string[];
  /** Who asked for the request. */
  caller?: Caller;
}

export interface Notifier {
  /** Publishes to the notification topic and, when given, answers the chat that asked. Never throws for a chat failure. */
  notify(outcome: Outcome, replyTo?: ReplyTo): Promise<void>;
}

/** Named requests kept in SSM Parameter Store, so nobody types proxy URLs into chat. */
export interface ProfileStore {
  /** The profile JSON (a request without target and requestId), or null when there is no such profile. */
  getProfile(name: string): Promise<Record<string, unknown> | null>;
}

/** Secrets by name (Secrets Manager); adapters only read the names the stack granted. */
export interface SecretSource {
  getSecret(name: string): Promise<string>;
}

/** Small facts the triggers remember: beacons already seen, Teams messages already answered, the last drift pass. */
export interface FleetMemory {
  /** true the first time a key is marked; false afterwards (conditional write). `ttlSeconds` bounds how long it is kept. */
  markOnce(key: string, ttlSeconds?: number): Promise<boolean>;
  /** Whether `markOnce(key)` happened (and has not expired). */
  isMarked(key: string): Promise<boolean>;
  getValue(key: string): Promise<Record<string, unknown> | null>;
  putValue(key: string, value: Record<string, unknown>): Promise<void>;
}

/** Each beacon's drift baseline (lambdas/core/baseline.ts): one item per beacon, kept across requests. */
export interface BaselineStore {
  /** The baselines of these beacons (beacons without one are absent from the map). */
  getBaselines(instanceIds: string[]): Promise<Map<string, BeaconBaseline>>;
  /**
   * Records a beacon's baseline unless a newer request (by `order`) recorded one. The same content applied
   * again keeps the request it came from and only moves `lastAppliedBy`/`appliedAt` (`refreshed`).
   */
  recordBaseline(baseline: BeaconBaseline): Promise<'recorded' | 'refreshed' | 'older'>;
}

/** The drift pass's checkpoint and pages (lambdas/core/drift-pass.ts): a pass continues across invocations. */
export interface DriftPassStore {
  getCheckpoint(): Promise<DriftCheckpoint | null>;
  /** Writes when the stored version is `expectedVersion` (null: none stored yet); false when another invocation wrote first. */
  saveCheckpoint(checkpoint: DriftCheckpoint, expectedVersion: number | null): Promise<boolean>;
  putPage(page: DriftPage): Promise<void>;
  getPage(passId: string, index: number): Promise<DriftPage | null>;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/**
 * Errors with stable names that the state machine retries (Retry.ErrorEquals). The Lambda runtime reports
 * `error.name` as the error type, so the names are set explicitly (minified class names would change).
 */
export class ThrottledError extends Error {
  override readonly name = 'ThrottledError';
}

export class TransientError extends Error {
  override readonly name = 'TransientError';
}

export class BeaconBusyError extends Error {
  override readonly name = 'BeaconBusyError';
}

export const RETRYABLE_ERRORS = {
  throttled: 'ThrottledError',
  transient: 'TransientError',
  beaconBusy: 'BeaconBusyError',
} as const;

/** Structured logging (Powertools Logger in Lambda, silent or console locally). */
export interface Log {
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

export const silentLog: Log = { info: () => undefined, warn: () => undefined, error: () => undefined };
