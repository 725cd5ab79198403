/**
 * Intake: one SQS message = one request. Validates it, records it, and starts the request's workflow (one
 * execution named after the request, so a redelivered message starts nothing twice). The workflow expands
 * the target page by page with a checkpoint and starts one workflow per beacon in waves: a tag of any size
 * fits, since nothing here depends on the fleet's size. An invalid message is recorded with its error and
 * reported as processed: retrying cannot fix it. A message of kind `operator` is an operator's command from
 * chat (cancel, go, confirm-pin), applied here and answered in the chat that sent it.
 */
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { isRequestError, RequestError } from '../core/errors.js';
import {
  type Clock,
  type Log,
  type Notifier,
  type PinLedger,
  type ReplyTo,
  type RequestSource,
  type RequestStore,
  type RequestWorkflowStarter,
  type RolloutStore,
  type TaskTokens,
  silentLog,
} from '../core/ports.js';
import { type BeaconRequest, PATTERNS, parseRequestJson } from '../core/request.js';
import { type OperatorResult, OperatorCommandSchema, isOperatorActionError, runOperatorCommand } from '../core/rollout-control.js';
import { MESSAGE_ATTRIBUTES, OPERATOR_MESSAGE_KIND } from './message-attributes.js';
import * as awsDynamo from '../aws/clients/dynamo.js';
import * as awsSdk from '../aws/clients/sdk.js';
import * as awsSfn from '../aws/clients/sfn.js';
import * as awsSns from '../aws/clients/sns.js';
import { ENV, METRICS, METRIC_DIMENSIONS, type RequestOutcome } from '../aws/env-names.js';
import { powertoolsIdempotency } from '../aws/idempotency.js';
import { countMetric, env, lambdaEntry, log } from '../aws/runtime.js';

export { MESSAGE_ATTRIBUTES };

export interface AcceptedRequest {
  requestId: string;
  /** The request in input form with the requestId filled in. */
  request: Record<string, unknown>;
  dryRun: boolean;
  source: RequestSource;
  replyTo: ReplyTo | null;
  target: BeaconRequest['target'];
}

export interface AcceptResult {
  requestId: string;
  /** The request workflow's execution name. */
  execution: string;
  started: boolean;
}

/** Wraps the accept step so one requestId is processed once (Powertools idempotency in Lambda). */
export interface IdempotencyGuard {
  wrap(fn: (accepted: AcceptedRequest) => Promise<AcceptResult>): (accepted: AcceptedRequest) => Promise<AcceptResult>;
  registerLambdaContext?(context: Context): void;
}

export const noIdempotencyGuard: IdempotencyGuard = { wrap: (fn) => fn };

export interface IntakeDeps {
  store: RequestStore;
  requests: RequestWorkflowStarter;
  notifier: Notifier;
  clock: Clock;
  /** Operators' commands from chat: the rollout, the pin ledger and the task tokens of the waits. */
  operator: { rollouts: RolloutStore; ledger: PinLedger; tokens: TaskTokens };
  idempotency?: IdempotencyGuard;
  log?: Log;
  /** Counts accepted and invalid requests (Powertools Metrics in Lambda). */
  count?: (metric: 'RequestsAccepted' | 'RequestsInvalid' | 'WorkflowsStarted', value: number) => void;
  /** Counts each request once, by where it came from and what became of it (the dashboard's requests by source and outcome). */
  countRequest?: (source: RequestSource, outcome: RequestOutcome) => void;
}

const SOURCES: readonly RequestSource[] = ['queue', 'api', 'chatops', 'new-beacon', 'drift', 'local'];

function sourceOf(record: SQSRecord): RequestSource {
  const value = record.messageAttributes?.[MESSAGE_ATTRIBUTES.source]?.stringValue;
  return SOURCES.includes(value as RequestSource) ? (value as RequestSource) : 'queue';
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

  const accept = guard.wrap(async (accepted: AcceptedRequest): Promise<AcceptResult> => {
    const at = deps.clock.now().toISOString();
    const previous = await deps.store.getRequestStatus(accepted.requestId);
    const instanceIds = accepted.target.kind === 'instances' ? accepted.target.instanceIds : undefined;
    if (!previous) {
      const recorded = await deps.store.recordRequest({
        requestId: accepted.requestId,
        state: 'accepted',
        source: accepted.source,
        receivedAt: at,
        request: accepted.request,
        ...(instanceIds ? { instanceIds } : {}),
      });
      await deps.store.appendAudit({ requestId: accepted.requestId, at, event: 'request.accepted', detail: { source: accepted.source, target: accepted.target, dryRun: accepted.dryRun } });
      // Counted by the delivery whose record won: a duplicate delivered at the same moment is not a second request.
      if (recorded === 'created') countRequest(accepted.source, 'accepted');
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
    });
    count('RequestsAccepted', 1);
    if (started) count('WorkflowsStarted', 1);
    log.info('request accepted', { requestId: accepted.requestId, execution: executionName, started });
    return { requestId: accepted.requestId, execution: executionName, started };
  });

  /** An operator's command from chat: applied once (conditional writes), answered in the chat that sent it. */
  async function runCommand(record: SQSRecord): Promise<void> {
    const replyTo = replyToOf(record) ?? undefined;
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
    const command = parsed.data;
    const target = command.action === 'confirm-pin' ? command.pinId : command.requestId;
    let result: OperatorResult;
    try {
      result = await runOperatorCommand({ ...deps.operator, clock: deps.clock, audit: (event) => deps.store.appendAudit(event) }, command);
    } catch (error) {
      if (!isOperatorActionError(error)) throw error;
      log.warn('operator command refused', { command: command.action, target, error: error.toJSON().error });
      const requestId = command.action === 'confirm-pin' ? command.pinId : command.requestId;
      await deps.notifier.notify({ requestId, kind: 'request', state: 'invalid', summary: `${command.action} ${target} refused: ${error.code}`, lines: [error.message] }, replyTo);
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
    await deps.notifier.notify({ requestId, kind: 'request', state: result.action === 'cancel' ? 'stopping' : 'running', summary: `${command.action} ${target}: done`, lines }, replyTo);
  }

  async function recordInvalid(error: RequestError, record: SQSRecord): Promise<void> {
    const requestId = invalidRecordId(record.body, record.messageId);
    const at = deps.clock.now().toISOString();
    const created = await deps.store.recordRequest({ requestId, state: 'invalid', source: sourceOf(record), receivedAt: at, error: error.toJSON().error });
    if (created === 'created') {
      await deps.store.appendAudit({ requestId, at, event: 'request.refused', detail: { ...error.toJSON().error } });
      await deps.notifier.notify({ requestId, state: 'invalid', summary: `request refused: ${error.message}`, reasons: [`${error.code} at ${error.field}`] }, replyToOf(record) ?? undefined);
      countRequest(sourceOf(record), 'invalid');
    }
    count('RequestsInvalid', 1);
    log.warn('request refused', { requestId, messageId: record.messageId, error: error.toJSON().error });
  }

  async function processRecord(record: SQSRecord): Promise<void> {
    if (record.messageAttributes?.[MESSAGE_ATTRIBUTES.kind]?.stringValue === OPERATOR_MESSAGE_KIND) return runCommand(record);
    let request: BeaconRequest;
    let input: Record<string, unknown>;
    try {
      request = parseRequestJson(record.body);
      input = { ...(JSON.parse(record.body) as Record<string, unknown>), requestId: request.requestId };
    } catch (error) {
      if (!isRequestError(error)) throw error;
      await recordInvalid(error, record);
      return;
    }
    await accept({
      requestId: request.requestId,
      request: input,
      dryRun: request.dryRun,
      source: sourceOf(record),
      replyTo: replyToOf(record),
      target: request.target,
    });
  }

  return async function intakeHandler(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
    guard.registerLambdaContext?.(context);
    const processor = new BatchProcessor(EventType.SQS);
    return processPartialResponse(event, processRecord, processor, { context, throwOnFullBatchFailure: false });
  };
}

// The intake is the front door every request passes: its SDK calls are traced (X-Ray subsegments). The other
// functions rely on Lambda's active tracing alone, which keeps the X-Ray SDK out of their bundles.
const tracer = new Tracer({ serviceName: 'beacon-proxy' });
awsSdk.instrumentClients((client) => tracer.captureAWSv3Client(client));

const intake = lambdaEntry(() =>
  createIntakeHandler({
    store: awsDynamo.requestStore(),
    requests: awsSfn.requestStarter(),
    operator: { rollouts: awsDynamo.rolloutStore(), ledger: awsDynamo.pinLedger(), tokens: awsSfn.taskTokens() },
    notifier: awsSns.notifier(),
    clock: awsSdk.clock,
    idempotency: powertoolsIdempotency(env(ENV.idempotencyTableName)),
    log,
    count: (metric, value) => countMetric(metric, value),
    countRequest: (source, outcome) => countMetric(METRICS.requests, 1, { [METRIC_DIMENSIONS.source]: source, [METRIC_DIMENSIONS.outcome]: outcome }),
  }),
);

export const handler: typeof intake = async (event, context) => {
  tracer.annotateColdStart();
  return intake(event, context);
};
