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
import type { HaltReason, RequestOutcomeState, RolloutSpec } from './rollout.js';
import type { OperatorCommand } from './rollout-control.js';

/** Where a request came from; kept in the audit trail. */
export type RequestSource = 'queue' | 'api' | 'chatops' | 'new-beacon' | 'drift' | 'local';

/**
 * Where the outcome goes besides the notification topic. Only Slack answers asynchronously: its
 * response_url takes 5 posts within 30 minutes of `issuedAt`; with a bot token the stack posts to
 * `channelId` instead (chat.postMessage).
 */
export type ReplyTo = { kind: 'slack'; responseUrl: string; channelId?: string; issuedAt?: string };

/** Lifecycle of a request as a whole. */
export type RequestState = 'accepted' | 'invalid' | 'no-targets';

/**
 * Lifecycle of one beacon within a request. Terminal: skipped, busy, superseded, not-run, dry-run, ok,
 * pin-failed, rolled-back, failed, error, not-started, cancelled. `superseded`: a newer request for the
 * beacon took it first, so this older one changed nothing. `not-run`: the document never ran (not delivered
 * in time, cancelled before it started, or the beacon was busy with another document): nothing changed.
 * `not-started`: the rollout halted before this beacon's turn; `cancelled`: an operator cancelled the request
 * before the beacon was changed. Both: nothing changed. (`pin-failed` is kept for records written before the
 * pin moved to the request.)
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
  | 'error'
  | 'not-started'
  | 'cancelled';

/** Whether a status write may replace the recorded one: never a final state by one that is not (RequestStore.putBeaconStatus). */
export function statusWriteAllowed(recorded: BeaconState | undefined, next: BeaconState): boolean {
  return recorded === undefined || TERMINAL_BEACON_STATES.includes(next) || !TERMINAL_BEACON_STATES.includes(recorded);
}

export const TERMINAL_BEACON_STATES: readonly BeaconState[] = [
  'skipped',
  'busy',
  'superseded',
  'not-run',
  'dry-run',
  'ok',
  'pin-failed',
  'rolled-back',
  'failed',
  'error',
  'not-started',
  'cancelled',
];

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
  /** The beacon's position in its request's rollout (the order its target expanded to). */
  seq?: number;
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
  /** The request's rollout (waves, counters, halt, cancel, pin, outcome); absent before its workflow started. */
  rollout?: RolloutRecord | null;
}

/** Request, per-beacon status and audit trail. Every write is idempotent: writing the same thing twice changes nothing. */
export interface RequestStore {
  /** 'exists' when a request with this id was recorded before (the first record wins). */
  recordRequest(record: RequestRecord): Promise<'created' | 'exists'>;
  /**
   * Writes a beacon's status in a request. A final state (TERMINAL_BEACON_STATES) is never replaced by one
   * that is not: a late write from an invocation Step Functions gave up on (task timeout, a Lambda retry
   * whose first attempt ran after all) changes nothing once the beacon's outcome is recorded. A final state
   * may replace another (a cancel's rollback turns ok into rolled-back).
   */
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
  /**
   * One page of the managed instances carrying a tag (DescribeInstanceInformation, at most 50 per page), in
   * the service's order; `nextToken` null on the last page. Large fleets are read page by page with a checkpoint.
   */
  listManagedInstancesPage(tag: { key: string; value: string }, nextToken: string | null, pageSize: number): Promise<{ instances: ManagedInstance[]; nextToken: string | null }>;
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
  /** Where the beacon stands in its request's rollout: its position and whether it is in the canary. */
  rollout?: { seq: number; canary: boolean };
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
  /** Enqueues an operator's command (cancel, go, confirm-pin) for the intake to apply (message attribute kind=operator); the caller travels as for a request. */
  enqueueCommand(command: OperatorCommand, meta: Omit<EnqueueMeta, 'rerunOf'>): Promise<void>;
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
  /** The request workflow's execution name. */
  execution: string;
  /** false when a redelivery found it started already. */
  started: boolean;
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

/**
 * What a notification is about (SNS message attribute `kind`, so subscriptions can filter): one beacon's
 * outcome, or the request as a whole (its start, a go or pin the operator is asked for, its summary).
 */
export type NotificationKind = 'beacon' | 'request';

/** Request-level notifications (SNS attribute `event`). */
export type RequestEvent = 'refused' | 'no-targets' | 'started' | 'awaiting-go' | 'pin-confirmation' | 'pin-reminder' | 'summary';

export interface Outcome {
  requestId: string;
  instanceId?: string;
  /** Defaults to `beacon` when instanceId is set, else `request`. */
  kind?: NotificationKind;
  event?: RequestEvent;
  state: BeaconState | 'invalid' | 'no-targets' | 'conflict' | RolloutPhase | RequestOutcomeState;
  summary: string;
  reasons?: string[];
  /** Shown with the outcome (pinMode none: upgrades may reset the service account). */
  warnings?: string[];
  /** Who asked for the request. */
  caller?: Caller;
  /** A request message's body, line by line (`summary` is then its title). */
  lines?: string[];
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

/** The kind of a notification: explicit, or by whether it names a beacon. */
export function notificationKind(outcome: Pick<Outcome, 'kind' | 'instanceId'>): NotificationKind {
  return outcome.kind ?? (outcome.instanceId ? 'beacon' : 'request');
}

/** Input of one request-level workflow execution (generation 0 is named after the request). */
export interface RequestExecutionInput {
  requestId: string;
  request: Record<string, unknown>;
  source: RequestSource;
  dryRun: boolean;
  replyTo: ReplyTo | null;
  receivedAt: string;
  /** 0, then 1, 2... when an execution continues as a new one (Step Functions' history limit). */
  generation: number;
  /** Who asked (the intake's caller): the request's notifications and summary name it. */
  caller?: Caller;
}

/** The request workflow's execution name: the request id (a redelivery cannot start it twice), then `--g<n>` for continuations. */
export function requestExecutionName(requestId: string, generation = 0): string {
  return generation === 0 ? requestId : `${requestId}--g${generation}`;
}

export interface RequestWorkflowStarter {
  /** Deterministic name: starting it again is a no-op. */
  startRequestWorkflow(input: RequestExecutionInput): Promise<{ executionName: string; started: boolean }>;
}

/** Step Functions task tokens: an operator's go or pin confirmation completes a waiting Task state. */
export interface TaskTokens {
  /** `gone`: the wait already ended (timed out, completed, or the execution is over). */
  sendTaskSuccess(token: string, output: Record<string, unknown>): Promise<'sent' | 'gone'>;
}

/** Where a request's rollout stands. */
export type RolloutPhase = 'expanding' | 'running' | 'awaiting-go' | 'stopping' | 'pinning' | 'awaiting-pin' | 'ended';

export interface OperatorAction {
  /** Who: `slack:U123 (name)`, `teams:<id>`, or the IAM principal ARN of an API caller. */
  by: string;
  at: string;
}

/** The pin step's result for a request, kept with its rollout. */
export interface RequestPinRecord {
  /**
   * `pinned`: written through the gateway; `unchanged`: already approved; `awaiting`: an operator is asked
   * (`pinId`); `confirmed`: the operator confirmed; `unconfirmed`: nobody confirmed in time; `refused`: the
   * release rules refused it; `failed`: FNMS or the gateway failed; `skipped`: nothing to pin (dry run, no ok
   * beacon); `none`: the stack pins nothing (pinMode none).
   */
  status: 'pinned' | 'unchanged' | 'awaiting' | 'confirmed' | 'unconfirmed' | 'refused' | 'failed' | 'skipped' | 'none';
  mode: 'gateway' | 'operator' | 'none';
  version: string | null;
  pinId?: string | null;
  from?: string | null;
  confirmedBy?: string | null;
  confirmedAt?: string | null;
  code?: string | null;
  reason?: string | null;
  warning?: string | null;
  /** The highest release known deployed when it was decided (the operator's message names it). */
  highestDeployed?: string | null;
  /** An older pending value this pin replaced. */
  supersedes?: { pinId: string; version: string } | null;
}

/**
 * A request's rollout, kept with the request (one item): the expansion checkpoint, the plan's inputs, the
 * counters (moved only in the transaction that makes a beacon row final), operator actions, the halt, the
 * pin and the outcome. Beacons are numbered 0..total-1 in the order the target expanded to.
 */
export interface RolloutRecord {
  requestId: string;
  phase: RolloutPhase;
  spec: RolloutSpec;
  dryRun: boolean;
  /** The current request workflow execution and its generation (continuations). */
  generation: number;
  execution: string;
  /** Pages of the target written so far; `done` once the target is fully expanded. */
  expansion: { pages: number; total: number; nextToken: string | null; done: boolean };
  /** Beacons in the canary (known once the target is expanded). */
  canary: number;
  /** Beacons started: positions [0, started). The cursor moves before the executions start (see pendingStart). */
  started: number;
  /**
   * Positions the reconciler claimed and is starting: set with the cursor move, cleared once every
   * execution of the range is started. A step that ended in between leaves it set, and the next one starts
   * the range again (deterministic names: an execution already started is not started twice).
   */
  pendingStart: { from: number; to: number } | null;
  finished: number;
  failed: number;
  canaryFailed: number;
  /** Finished beacons by final state. */
  counts: Record<string, number>;
  /** Releases read on the beacons that ended ok, with how many run each. */
  okVersions: Record<string, number>;
  /** Beacons that ended ok without a usable release. */
  unknownVersions: number;
  go: OperatorAction | null;
  goTimedOut: boolean;
  cancel: (OperatorAction & { rollback: boolean }) | null;
  halt: { reason: HaltReason; detail: string; at: string } | null;
  /** Positions from here on that were never started still wait for their final not-started / cancelled row. */
  notStartedFrom: number;
  /** The task token of the wait for a go (Step Functions), while waiting. */
  goToken: string | null;
  pin: RequestPinRecord | null;
  outcome: { state: RequestOutcomeState; reason: string; at: string } | null;
  replyTo: ReplyTo | null;
  /** Who asked (the request workflow's input): the request's messages and summary name it. */
  caller?: Caller | null;
  createdAt: string;
  updatedAt: string;
}

/** Fields of a rollout that steps set (counters move only through recordBeaconFinal). */
export type RolloutPatch = Partial<
  Pick<RolloutRecord, 'phase' | 'generation' | 'execution' | 'expansion' | 'canary' | 'started' | 'pendingStart' | 'go' | 'goTimedOut' | 'cancel' | 'halt' | 'notStartedFrom' | 'goToken' | 'pin' | 'outcome'>
> & { updatedAt: string };

/** What must hold for a patch to apply (a conditional write). */
export interface RolloutCondition {
  phaseIn?: RolloutPhase[];
  /** These fields are not set yet. */
  unset?: Array<'go' | 'cancel' | 'halt' | 'outcome'>;
  startedEquals?: number;
  generationEquals?: number;
  pagesEquals?: number;
}

/** How a final beacon row moves its request's counters. */
export interface BeaconFinalEffect {
  /** Counts toward maxErrors. */
  error: boolean;
  /** The beacon is in the canary. */
  canary: boolean;
  /** For an ok beacon: the release it runs (null: not usable). Undefined for other states. */
  okVersion?: string | null;
}

/** The request's rollout, its expanded targets (pages of positions) and the final beacon rows with their counters. */
export interface RolloutStore {
  /** The first write wins. */
  createRollout(record: RolloutRecord): Promise<'created' | 'exists'>;
  getRollout(requestId: string): Promise<RolloutRecord | null>;
  /** false when the condition did not hold (nothing written). */
  patchRollout(requestId: string, patch: RolloutPatch, condition?: RolloutCondition): Promise<boolean>;
  /**
   * Writes one page of the expanded target: a queued row per beacon and the page item (positions
   * index*pageSize...), then moves the checkpoint from `index` pages to `index + 1` with the page's next
   * token. Idempotent: a page written again has the same content; `stale` when the checkpoint had moved on.
   */
  recordTargetPage(requestId: string, page: { index: number; instanceIds: string[]; nextToken: string | null; pageSize: number }, at: string): Promise<'recorded' | 'stale'>;
  /** Instance ids at positions [from, to). */
  targetsAt(requestId: string, from: number, to: number, pageSize: number): Promise<Array<{ seq: number; instanceId: string }>>;
  /**
   * Makes a beacon row final and moves the request's counters in one transaction, only when the row is not
   * final yet: a repeated call counts nothing (`already-final`). Without a rollout (an older request) only the
   * row is written.
   */
  recordBeaconFinal(status: BeaconStatusRecord, effect: BeaconFinalEffect): Promise<'recorded' | 'already-final'>;
  /** Gives rows still `queued` at positions [from, to) their final state (not-started or cancelled); returns how many changed. */
  finalizeNotStarted(requestId: string, targets: Array<{ seq: number; instanceId: string }>, state: 'not-started' | 'cancelled', reasons: string[], at: string): Promise<number>;
  /** Up to `limit` beacon rows of the request in the given states (the summary's failed beacons). */
  beaconsInStates(requestId: string, states: readonly BeaconState[], limit: number): Promise<BeaconStatusRecord[]>;
}

/**
 * What beacon-proxy knows about FNMS's "Beacon version approved for use", across requests: the release last
 * confirmed (by the gateway's answer or an operator), the one an operator is asked to set (pending), the
 * requests waiting for that confirmation (their task tokens), and every release a configure run reported.
 */
export interface PinLedgerState {
  confirmed: { version: string; pinId: string | null; by: string; at: string } | null;
  pending: { pinId: string; version: string; requestId: string; at: string; supersedes: string | null } | null;
  /** By request id: the task token of its wait and the release it needs. */
  waiters: Record<string, { token: string; version: string }>;
  /** Releases configure runs reported on beacons that ended ok (any request). */
  configuredVersions: string[];
  revision: number;
}

export interface PinLedger {
  get(): Promise<PinLedgerState>;
  /** Writes confirmed, pending and waiters when the revision is still `expected` (then revision + 1); false otherwise. */
  update(next: Pick<PinLedgerState, 'confirmed' | 'pending' | 'waiters'>, expected: number): Promise<boolean>;
  /** Adds a release to configuredVersions (a set: adding it again changes nothing). */
  noteConfiguredVersion(version: string): Promise<void>;
  /** After an intended downgrade: configuredVersions becomes exactly this release. */
  resetConfiguredVersions(version: string): Promise<void>;
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
