/**
 * Intake: one SQS message = one request. Validates it (identity: the same id with other content is refused
 * REQUEST_CONFLICT; a re-run is linked), records it with its caller, and starts the request's workflow (one
 * execution named after the request, so a redelivered message starts nothing twice). The workflow expands
 * the target page by page with a checkpoint and starts one workflow per beacon in waves: a tag of any size
 * fits, since nothing here depends on the fleet's size. An invalid message is recorded with its error and
 * reported as processed: retrying cannot fix it. Two other kinds of message: an operator's command from chat
 * (kind `operator`: cancel, go, confirm-pin), applied here and answered in the chat that sent it, and a
 * per-beacon day-2 command (chat rollback / retry), which starts that beacon's workflow itself.
 */
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { isRequestError, RequestError } from '../core/errors.js';
import {
  type AcceptedRequest,
  type AcceptResult,
  type Clock,
  type IdempotencyGuard,
  type Log,
  type Notifier,
  type PinLedger,
  type ReplyTo,
  type RequestSource,
  type RequestStatus,
  type RequestStore,
  type RequestWorkflowStarter,
  type RolloutStore,
  type TaskTokens,
  type WorkflowStarter,
  noIdempotencyGuard,
  silentLog,
} from '../core/ports.js';
import { type BeaconRequest, PATTERNS, parseRequestJson } from '../core/request.js';
import { decideIdentity, isRequestConflict, requestConflict, requestContentHash } from '../core/request-identity.js';
import { type Caller, callerFromQueue, describeCaller } from '../core/caller.js';
import { type OperatorResult, OperatorCommandSchema, isOperatorActionError, runOperatorCommand } from '../core/rollout-control.js';
import { MESSAGE_ATTRIBUTES, OPERATOR_MESSAGE_KIND } from './message-attributes.js';
import { parseBeaconCommandMessage } from '../core/beacon-commands.js';
import { type BeaconHistory, isBeaconCommandError } from '../core/beacon-history.js';
import { refuse, runQueuedBeaconCommand } from './beacon-command.js';
import * as awsDynamo from '../aws/clients/dynamo.js';
import * as awsSdk from '../aws/clients/sdk.js';
import { lazyPort } from '../aws/clients/lazy.js';
import * as awsSfn from '../aws/clients/sfn.js';
import { ENV, METRICS, METRIC_DIMENSIONS, type RequestOutcome } from '../aws/env-names.js';
import { powertoolsIdempotency } from '../aws/idempotency.js';
import { countMetric, env, lambdaEntry, log, optionalEnv } from '../aws/runtime.js';

export { MESSAGE_ATTRIBUTES };

export type { AcceptedRequest, AcceptResult, IdempotencyGuard };
export { noIdempotencyGuard };

export interface IntakeDeps {
  store: RequestStore;
  /** The request workflow: one execution per request. */
  requests: RequestWorkflowStarter;
  /** The per-beacon workflow, for per-beacon commands (chat rollback / retry) only; without it they are refused. */
  workflows?: WorkflowStarter;
  /** Operators' commands from chat: the rollout, the pin ledger and the task tokens of the waits. */
  operator: { rollouts: RolloutStore; ledger: PinLedger; tokens: TaskTokens };
  notifier: Notifier;
  clock: Clock;
  idempotency?: IdempotencyGuard;
  /**
   * IAM role ids (AROA...) of the stack's own producers (API, ChatOps, triggers): only a message whose SQS
   * SenderId is one of their sessions may name its caller in the `caller` attribute. Default: none.
   */
  trustedSenderRoleIds?: readonly string[];
  log?: Log;
  /** Counts accepted and invalid requests (Powertools Metrics in Lambda). */
  count?: (metric: 'RequestsAccepted' | 'RequestsInvalid' | 'WorkflowsStarted', value: number) => void;
  /** Counts each request once, by where it came from and what became of it (the dashboard's requests by source and outcome); a conflict counts each refused delivery. */
  countRequest?: (source: RequestSource, outcome: RequestOutcome) => void;
  /** Beacons' histories, for per-beacon commands sent through the queue (chat rollback / retry); without it they are refused. */
  history?: BeaconHistory;
}

const SOURCES: readonly RequestSource[] = ['queue', 'api', 'chatops', 'new-beacon', 'drift', 'local'];

function sourceOf(record: SQSRecord): RequestSource {
  const value = record.messageAttributes?.[MESSAGE_ATTRIBUTES.source]?.stringValue;
  return SOURCES.includes(value as RequestSource) ? (value as RequestSource) : 'queue';
}

/** The request an explicit re-run names (message attribute); the intake links it only when the content matches. */
function rerunOfOf(record: SQSRecord): string | null {
  const value = record.messageAttributes?.[MESSAGE_ATTRIBUTES.rerunOf]?.stringValue;
  return value !== undefined && PATTERNS.requestId.test(value) ? value : null;
}

/** Who sent the message: the SenderId system attribute, or the caller a trusted producer vouched for. */
function callerOf(record: SQSRecord, trustedRoleIds: readonly string[]): Caller {
  return callerFromQueue(record.attributes?.SenderId, record.messageAttributes?.[MESSAGE_ATTRIBUTES.caller]?.stringValue, trustedRoleIds);
}

/** When the message was first sent (SQS SentTimestamp: the same on every redelivery); dates a content-derived id. */
function sentAtOf(record: SQSRecord, clock: Clock): Date {
  const sent = Number(record.attributes?.SentTimestamp);
  return Number.isFinite(sent) && sent > 0 ? new Date(sent) : clock.now();
}

function replyToOf(record: SQSRecord): ReplyTo | null {
  const value = record.messageAttributes?.[MESSAGE_ATTRIBUTES.replyTo]?.stringValue;
  if (!value) return null;
  try {
    const parsed = JSON.parse(value) as Partial<ReplyTo>;
    if (parsed.kind === 'slack' && typeof parsed.responseUrl === 'string' && parsed.responseUrl.startsWith('https://hooks.slack.com/')) {
      return {
        kind: 'slack',
        responseUrl: parsed.responseUrl,
        ...(typeof parsed.channelId === 'string' && /^[A-Z0-9]{1,32}$/.test(parsed.channelId) ? { channelId: parsed.channelId } : {}),
        ...(typeof parsed.issuedAt === 'string' && !Number.isNaN(Date.parse(parsed.issuedAt)) ? { issuedAt: parsed.issuedAt } : {}),
      };
    }
  } catch {
    // A malformed attribute only loses the chat answer; the topic still gets the outcome.
  }
  return null;
}

/** The id under which an invalid message is recorded: its own requestId when usable, else the message id. */
function invalidRecordId(body: string, messageId: string): string {
  try {
    const value = (JSON.parse(body) as { requestId?: unknown }).requestId;
    if (typeof value === 'string' && PATTERNS.requestId.test(value)) return value;
  } catch {
    // not JSON: fall through
  }
  return `invalid-${messageId}`.slice(0, 64);
}

export function createIntakeHandler(deps: IntakeDeps) {
  const log = deps.log ?? silentLog;
  const guard = deps.idempotency ?? noIdempotencyGuard;
  const count = deps.count ?? (() => undefined);
  const countRequest = deps.countRequest ?? (() => undefined);
  const trusted = deps.trustedSenderRoleIds ?? [];

  /** Throws REQUEST_CONFLICT when the id is recorded with other content (or was refused); nothing is written then. */
  function requireSameContent(previous: RequestStatus | null, accepted: AcceptedRequest): void {
    if (!previous) return;
    const existing = previous.request.state === 'invalid' ? null : (previous.request.request ?? null);
    if (decideIdentity(existing, accepted.contentHash) === 'conflict') throw requestConflict(accepted.requestId);
  }

  /** A re-run is linked to the request it names only when that request exists with the same content. */
  async function rerunLink(accepted: AcceptedRequest): Promise<string | null> {
    if (!accepted.rerunOf || accepted.rerunOf === accepted.requestId) return null;
    const original = await deps.store.getRequestStatus(accepted.rerunOf);
    const content = original?.request.request;
    return content && requestContentHash(content) === accepted.contentHash ? accepted.rerunOf : null;
  }

  const accept = guard.wrap(async (accepted: AcceptedRequest): Promise<AcceptResult> => {
    const at = deps.clock.now().toISOString();
    let previous = await deps.store.getRequestStatus(accepted.requestId);
    requireSameContent(previous, accepted);
    // A tag is expanded by the request workflow (pages, checkpoint), never here.
    const instanceIds = accepted.target.kind === 'instances' ? accepted.target.instanceIds : undefined;
    if (!previous) {
      const rerunOf = await rerunLink(accepted);
      const recorded = await deps.store.recordRequest({
        requestId: accepted.requestId,
        state: 'accepted',
        source: accepted.source,
        receivedAt: at,
        request: accepted.request,
        contentHash: accepted.contentHash,
        ...(instanceIds ? { instanceIds } : {}),
        ...(rerunOf ? { rerunOf } : {}),
        caller: accepted.caller,
      });
      if (recorded === 'exists') {
        // Another delivery recorded this id meanwhile: it must be the same request, and its record stands.
        previous = await deps.store.getRequestStatus(accepted.requestId);
        requireSameContent(previous, accepted);
      } else {
        const caller = accepted.caller;
        await deps.store.appendAudit({ requestId: accepted.requestId, at, event: 'request.accepted', caller, detail: { source: accepted.source, target: accepted.target, dryRun: accepted.dryRun, ...(rerunOf ? { rerunOf } : {}) } });
        if (rerunOf) await deps.store.appendAudit({ requestId: rerunOf, at, event: 'request.rerun', caller, detail: { rerunId: accepted.requestId, source: accepted.source } });
        // Counted by the delivery whose record won: a duplicate delivered at the same moment is not a second request.
        countRequest(accepted.source, 'accepted');
      }
    }
    const { executionName, started } = await deps.requests.startRequestWorkflow({
      requestId: accepted.requestId,
      request: accepted.request,
      source: accepted.source,
      dryRun: accepted.dryRun,
      replyTo: accepted.replyTo,
      // A redelivered request keeps its first arrival time: requests for a beacon apply in arrival order.
      receivedAt: previous?.request.receivedAt ?? at,
      generation: 0,
      // Who asked, as recorded first: the request's notifications and summary name it.
      caller: previous?.request.caller ?? accepted.caller,
    });
    count('RequestsAccepted', 1);
    if (started) count('WorkflowsStarted', 1);
    log.info('request accepted', { requestId: accepted.requestId, execution: executionName, started });
    return { requestId: accepted.requestId, execution: executionName, started };
  });

  /**
   * An operator's command from chat: applied once (conditional writes), answered in the chat that sent it.
   * Who acted is the caller SQS vouches for (identity's rule), never the body's `by`.
   */
  async function runCommand(record: SQSRecord): Promise<void> {
    const replyTo = replyToOf(record) ?? undefined;
    const caller = callerOf(record, trusted);
    let body: unknown;
    try {
      body = JSON.parse(record.body);
    } catch {
      body = undefined;
    }
    const parsed = OperatorCommandSchema.safeParse(body);
    if (!parsed.success) {
      log.warn('operator command refused: not a command', { messageId: record.messageId });
      return;
    }
    const command = { ...parsed.data, by: describeCaller(caller).slice(0, 300) };
    const target = command.action === 'confirm-pin' ? command.pinId : command.requestId;
    let result: OperatorResult;
    try {
      result = await runOperatorCommand({ ...deps.operator, clock: deps.clock, audit: (event) => deps.store.appendAudit({ ...event, caller }) }, command);
    } catch (error) {
      if (!isOperatorActionError(error)) throw error;
      log.warn('operator command refused', { command: command.action, target, error: error.toJSON().error });
      const requestId = command.action === 'confirm-pin' ? command.pinId : command.requestId;
      await deps.notifier.notify({ requestId, kind: 'request', state: 'invalid', summary: `${command.action} ${target} refused: ${error.code}`, lines: [error.message], caller }, replyTo);
      return;
    }
    log.info('operator command applied', { ...result });
    const requestId = result.action === 'confirm-pin' ? result.pinId : result.requestId;
    const lines =
      result.action === 'confirm-pin'
        ? [`${result.already ? 'Already confirmed' : 'Confirmed'}: FNMS approves ${result.version} (by ${result.by} at ${result.at}).`, result.requests.length ? `Requests waiting on it go on: ${result.requests.join(', ')}.` : 'No request was waiting on it.']
        : result.action === 'go'
          ? [`Go given by ${result.by} at ${result.at}: the rollout starts its next wave.`]
          : [`Cancelled by ${result.by} at ${result.at}: nothing new starts; running beacons finish their document${result.rollback ? ' and are rolled back' : ''}. The summary follows.`];
    await deps.notifier.notify({ requestId, kind: 'request', state: result.action === 'cancel' ? 'stopping' : 'running', summary: `${command.action} ${target}: done`, lines, caller }, replyTo);
  }

  /** A per-beacon command (lambdas/intake/beacon-command.ts) rather than a request: true when it was one. */
  async function processBeaconCommand(record: SQSRecord): Promise<boolean> {
    // Who asked comes from SQS (SenderId, or the caller a trusted producer vouched for), never from the body.
    const meta = { source: sourceOf(record), replyTo: replyToOf(record), record, caller: callerOf(record, trusted) };
    try {
      const message = parseBeaconCommandMessage(record.body);
      if (!message) return false;
      if (!deps.history || !deps.workflows) throw new Error('this intake has no beacon history or beacon workflow: per-beacon commands cannot run');
      await runQueuedBeaconCommand({ history: deps.history, store: deps.store, workflows: deps.workflows, clock: deps.clock, notifier: deps.notifier }, message, meta);
      return true;
    } catch (error) {
      // A malformed command message: recorded as refused under its id (or the message id), never retried.
      if (!isBeaconCommandError(error)) throw error;
      await refuse(deps, invalidRecordId(record.body, record.messageId), meta, error.toJSON().error);
      return true;
    }
  }

  async function recordInvalid(error: RequestError, record: SQSRecord): Promise<void> {
    const requestId = invalidRecordId(record.body, record.messageId);
    const at = deps.clock.now().toISOString();
    const caller = callerOf(record, trusted);
    const created = await deps.store.recordRequest({ requestId, state: 'invalid', source: sourceOf(record), receivedAt: at, error: error.toJSON().error, caller });
    // A redelivery of this refusal changes nothing; a refused message naming another request's id is kept in that id's trail.
    const existing = created === 'exists' ? (await deps.store.getRequestStatus(requestId))?.request : undefined;
    const redelivered = existing?.state === 'invalid' && existing.error?.code === error.code && existing.error.field === error.field;
    if (!redelivered) {
      await deps.store.appendAudit({ requestId, at, event: 'request.refused', caller, detail: { ...error.toJSON().error, source: sourceOf(record) } });
      await deps.notifier.notify({ requestId, state: 'invalid', summary: `request refused: ${error.message}`, reasons: [`${error.code} at ${error.field}`], caller }, replyToOf(record) ?? undefined);
      countRequest(sourceOf(record), 'invalid');
    }
    count('RequestsInvalid', 1);
    log.warn('request refused', { requestId, messageId: record.messageId, error: error.toJSON().error });
  }

  /**
   * The same requestId with other content: refused with REQUEST_CONFLICT and kept (the refused content in the
   * audit trail of that id, the requester told); the recorded request and every beacon stay as they are.
   */
  async function recordConflict(error: RequestError, accepted: AcceptedRequest): Promise<void> {
    const at = deps.clock.now().toISOString();
    await deps.store.appendAudit({
      requestId: accepted.requestId,
      at,
      event: 'request.conflict',
      caller: accepted.caller,
      detail: { ...error.toJSON().error, source: accepted.source, contentHash: accepted.contentHash, request: accepted.request },
    });
    await deps.notifier.notify(
      { requestId: accepted.requestId, state: 'conflict', summary: `request refused: ${error.message}`, reasons: [`${error.code} at ${error.field}`], caller: accepted.caller },
      accepted.replyTo ?? undefined,
    );
    countRequest(accepted.source, 'conflict');
    log.warn('request refused: id taken by other content', { requestId: accepted.requestId, contentHash: accepted.contentHash });
  }

  async function processRecord(record: SQSRecord): Promise<void> {
    if (record.messageAttributes?.[MESSAGE_ATTRIBUTES.kind]?.stringValue === OPERATOR_MESSAGE_KIND) return runCommand(record);
    if (await processBeaconCommand(record)) return;
    let request: BeaconRequest;
    let input: Record<string, unknown>;
    try {
      request = parseRequestJson(record.body, { sentAt: sentAtOf(record, deps.clock) });
      input = { ...(JSON.parse(record.body) as Record<string, unknown>), requestId: request.requestId };
    } catch (error) {
      if (!isRequestError(error)) throw error;
      await recordInvalid(error, record);
      return;
    }
    const accepted: AcceptedRequest = {
      requestId: request.requestId,
      request: input,
      contentHash: requestContentHash(input),
      dryRun: request.dryRun,
      source: sourceOf(record),
      replyTo: replyToOf(record),
      rerunOf: rerunOfOf(record),
      caller: callerOf(record, trusted),
      target: request.target,
    };
    try {
      await accept(accepted);
    } catch (error) {
      if (!isRequestConflict(error)) throw error;
      await recordConflict(error, accepted);
    }
  }

  return async function intakeHandler(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
    guard.registerLambdaContext?.(context);
    const processor = new BatchProcessor(EventType.SQS);
    return processPartialResponse(event, processRecord, processor, { context, throwOnFullBatchFailure: false });
  };
}

// Lambda's active tracing records every invocation. X-Ray subsegments for each SDK call come only with the stack
// setting traceSdkCalls: the X-Ray SDK under Powertools Tracer costs about 60 ms of cold init (npm run bench).
const tracing = optionalEnv(ENV.traceSdkCalls) === 'true' ? await import('../aws/tracing.js') : null;
tracing?.traceSdkClients();

const intake = lambdaEntry(() =>
  createIntakeHandler({
    store: awsDynamo.requestStore(),
    requests: awsSfn.requestStarter(),
    workflows: awsSfn.workflowStarter(),
    operator: { rollouts: awsDynamo.rolloutStore(), ledger: awsDynamo.pinLedger(), tokens: awsSfn.taskTokens() },
    // Only refused requests and operator commands (SNS) need this: its client loads on first use.
    notifier: lazyPort(() => import('../aws/clients/sns.js').then((sns) => sns.notifier())),
    clock: awsSdk.clock,
    idempotency: powertoolsIdempotency(env(ENV.idempotencyTableName)),
    trustedSenderRoleIds: (process.env[ENV.trustedSenderRoleIds] ?? '').split(',').filter((id) => id.length > 0),
    log,
    count: (metric, value) => countMetric(metric, value),
    countRequest: (source, outcome) => countMetric(METRICS.requests, 1, { [METRIC_DIMENSIONS.source]: source, [METRIC_DIMENSIONS.outcome]: outcome }),
    history: awsDynamo.beaconHistory(),
  }),
);

export const handler: typeof intake = async (event, context) => {
  tracing?.annotateColdStart();
  return intake(event, context);
};
