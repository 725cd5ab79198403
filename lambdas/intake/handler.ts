/**
 * Intake: one SQS message = one request. Validates it, records it, and starts one workflow per target
 * beacon. Tag targets are expanded here (SSM managed instances carrying the tag), so every workflow works
 * on exactly one beacon; the workflow's ResolveTarget step then checks that beacon is Windows, online and
 * tagged. An invalid message is recorded with its error and reported as processed: retrying cannot fix it.
 */
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { isRequestError, RequestError } from '../core/errors.js';
import {
  type BeaconCommands,
  type Clock,
  type Log,
  type Notifier,
  type ReplyTo,
  type RequestSource,
  type RequestStore,
  type WorkflowStarter,
  silentLog,
} from '../core/ports.js';
import { type BeaconRequest, PATTERNS, parseRequestJson } from '../core/request.js';
import { MESSAGE_ATTRIBUTES } from './message-attributes.js';
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
  instanceIds: string[];
  started: number;
}

/** Wraps the accept step so one requestId is processed once (Powertools idempotency in Lambda). */
export interface IdempotencyGuard {
  wrap(fn: (accepted: AcceptedRequest) => Promise<AcceptResult>): (accepted: AcceptedRequest) => Promise<AcceptResult>;
  registerLambdaContext?(context: Context): void;
}

export const noIdempotencyGuard: IdempotencyGuard = { wrap: (fn) => fn };

export interface IntakeDeps {
  store: RequestStore;
  commands: BeaconCommands;
  workflows: WorkflowStarter;
  notifier: Notifier;
  clock: Clock;
  idempotency?: IdempotencyGuard;
  log?: Log;
  /** Counts accepted and invalid requests (Powertools Metrics in Lambda). */
  count?: (metric: 'RequestsAccepted' | 'RequestsInvalid' | 'WorkflowsStarted', value: number) => void;
  /** Counts each request once, by where it came from and what became of it (the dashboard's requests by source and outcome). */
  countRequest?: (source: RequestSource, outcome: RequestOutcome) => void;
  /** Beacons' histories, for per-beacon commands sent through the queue (chat rollback / retry); without it they are refused. */
  history?: BeaconHistory;
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
      return { kind: 'slack', responseUrl: parsed.responseUrl };
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

  async function targetInstanceIds(accepted: AcceptedRequest): Promise<string[]> {
    if (accepted.target.kind === 'instances') return accepted.target.instanceIds;
    const found = await deps.commands.findManagedInstances({ tag: { key: accepted.target.key, value: accepted.target.value } });
    return found.map((instance) => instance.instanceId).sort();
  }

  const accept = guard.wrap(async (accepted: AcceptedRequest): Promise<AcceptResult> => {
    const at = deps.clock.now().toISOString();
    const previous = await deps.store.getRequestStatus(accepted.requestId);
    // A redelivered request keeps the beacons it expanded to the first time.
    const instanceIds = previous?.request.instanceIds ?? (await targetInstanceIds(accepted));
    if (!previous) {
      const recorded = await deps.store.recordRequest({
        requestId: accepted.requestId,
        state: instanceIds.length === 0 ? 'no-targets' : 'accepted',
        source: accepted.source,
        receivedAt: at,
        request: accepted.request,
        instanceIds,
      });
      await deps.store.appendAudit({ requestId: accepted.requestId, at, event: 'request.accepted', detail: { source: accepted.source, instanceIds, dryRun: accepted.dryRun } });
      // Counted by the delivery whose record won: a duplicate delivered at the same moment is not a second request.
      if (recorded === 'created') countRequest(accepted.source, instanceIds.length === 0 ? 'no-targets' : 'accepted');
    }
    if (instanceIds.length === 0) {
      await deps.notifier.notify(
        { requestId: accepted.requestId, state: 'no-targets', summary: 'no SSM managed instance carries the target tag; nothing to do' },
        accepted.replyTo ?? undefined,
      );
      return { requestId: accepted.requestId, instanceIds, started: 0 };
    }
    let started = 0;
    for (const instanceId of instanceIds) {
      if (!previous?.beacons.some((b) => b.instanceId === instanceId)) {
        await deps.store.putBeaconStatus({ requestId: accepted.requestId, instanceId, state: 'queued', updatedAt: at });
      }
      const result = await deps.workflows.startBeaconWorkflow({
        requestId: accepted.requestId,
        instanceId,
        request: accepted.request,
        source: accepted.source,
        dryRun: accepted.dryRun,
        replyTo: accepted.replyTo,
        // A redelivered request keeps its first arrival time: requests for a beacon apply in arrival order.
        receivedAt: previous?.request.receivedAt ?? at,
      });
      if (result.started) started += 1;
    }
    count('RequestsAccepted', 1);
    count('WorkflowsStarted', started);
    log.info('request accepted', { requestId: accepted.requestId, instanceIds, started });
    return { requestId: accepted.requestId, instanceIds, started };
  });

  /** A per-beacon command (lambdas/intake/beacon-command.ts) rather than a request: true when it was one. */
  async function processBeaconCommand(record: SQSRecord): Promise<boolean> {
    const meta = { source: sourceOf(record), replyTo: replyToOf(record), record };
    try {
      const message = parseBeaconCommandMessage(record.body);
      if (!message) return false;
      if (!deps.history) throw new Error('this intake has no beacon history: per-beacon commands cannot run');
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
    if (await processBeaconCommand(record)) return;
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

// Lambda's active tracing records every invocation. X-Ray subsegments for each SDK call come only with the stack
// setting traceSdkCalls: the X-Ray SDK under Powertools Tracer costs about 60 ms of cold init (npm run bench).
const tracing = optionalEnv(ENV.traceSdkCalls) === 'true' ? await import('../aws/tracing.js') : null;
tracing?.traceSdkClients();

const intake = lambdaEntry(() =>
  createIntakeHandler({
    store: awsDynamo.requestStore(),
    // Only tag targets (SSM) and refused or empty requests (SNS) need these: their clients load on first use.
    commands: lazyPort(() => import('../aws/clients/ssm.js').then((ssm) => ssm.beaconCommands())),
    workflows: awsSfn.workflowStarter(),
    notifier: lazyPort(() => import('../aws/clients/sns.js').then((sns) => sns.notifier())),
    clock: awsSdk.clock,
    idempotency: powertoolsIdempotency(env(ENV.idempotencyTableName)),
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
