/**
 * The HTTPS API (API Gateway REST, IAM auth): POST /requests enqueues (202 + status URL; a resend of a
 * recorded request is 200 with that request, the same id with other content 409 REQUEST_CONFLICT),
 * POST /requests/{id}/rerun enqueues a new run of a recorded request linked to it, GET /requests/{id} shows
 * the request with its rollout (phase, counters, halt, cancel, pin, outcome) and per-beacon status and
 * checks, POST /plans renders the desired state without changing anything. Operators' actions, recorded with
 * the caller's IAM principal: POST /requests/{id}/cancel `{"rollback": true|false}`, POST /requests/{id}/go,
 * POST /pins/{id}/confirm. Per-beacon day-2 routes: lambdas/requests-api/beacons.ts. Every refusal is
 * `{ error: { code, message, field } }`.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { documentParameters, renderDesiredState } from '../core/desired-state.js';
import { isBeaconCommandError } from '../core/beacon-history.js';
import { isRequestError } from '../core/errors.js';
import * as z from 'zod/mini';
import { PIN_ID_PATTERN } from '../core/fnms/pin-ledger.js';
import { type Clock, type Log, type PinLedger, type RequestQueue, type RequestStatus, type RequestStore, type RolloutStore, type TaskTokens, silentLog, systemClock } from '../core/ports.js';
import { PATTERNS, REQUEST_ID_RULE, parseRequestJson } from '../core/request.js';
import { decideIdentity, requestConflict, requestContentHash, rerunRequestId } from '../core/request-identity.js';
import { callerFromApiContext, describeCaller } from '../core/caller.js';
import { type OperatorResult, isOperatorActionError, runOperatorCommand } from '../core/rollout-control.js';
import { requestDisplayState } from '../core/rollout-summary.js';
import * as awsDynamo from '../aws/clients/dynamo.js';
import * as awsSdk from '../aws/clients/sdk.js';
import * as awsSfn from '../aws/clients/sfn.js';
import { type BeaconRoutesDeps, createBeaconRoutes } from './beacons.js';
import * as awsSqs from '../aws/clients/sqs.js';
import { METRICS, METRIC_DIMENSIONS } from '../aws/env-names.js';
import { countMetric, lambdaEntry, log } from '../aws/runtime.js';

export interface RequestsApiDeps {
  queue: RequestQueue;
  store: RequestStore;
  clock?: Clock;
  /** Operators' actions: the rollout, the pin ledger and the waits' task tokens. */
  operator?: { rollouts: RolloutStore; ledger: PinLedger; tokens: TaskTokens };
  log?: Log;
  /** Counts a request the API refused (accepted ones are counted by the intake, source api). */
  countRefused?: (outcome: 'invalid' | 'conflict') => void;
  /** The per-beacon day-2 routes (beacons.ts); without them those routes answer 404. */
  beacons?: BeaconRoutesDeps;
}

type ApiError = { error: { code: string; message: string; field: string } };

function json(statusCode: number, body: unknown): APIGatewayProxyResult {
  return { statusCode, headers: { 'content-type': 'application/json', 'cache-control': 'no-store' }, body: JSON.stringify(body) };
}

const errorBody = (code: string, message: string, field: string): ApiError => ({ error: { code, message, field } });

function bodyText(event: APIGatewayProxyEvent): string {
  if (!event.body) return '';
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
}

/** Where the caller polls: the same API, stage included. */
export function statusUrl(event: APIGatewayProxyEvent, requestId: string): string {
  const { domainName, stage } = event.requestContext;
  return `https://${domainName}/${stage}/requests/${encodeURIComponent(requestId)}`;
}

/**
 * The request as GET /requests/{id} shows it: the record, its rollout (its `state` is then the rollout's
 * outcome, else its phase), each beacon, the audit trail, and the re-run links both ways.
 */
export function requestView(status: RequestStatus): Record<string, unknown> {
  const reruns = status.audit.filter((event) => event.event === 'request.rerun').map((event) => String(event.detail?.rerunId));
  return {
    ...status.request,
    ...(status.rollout ? { state: requestDisplayState(status.request.state, status.rollout), rollout: status.rollout } : {}),
    ...(reruns.length > 0 ? { reruns } : {}),
    beacons: status.beacons,
    audit: status.audit,
  };
}

/** Body of POST /requests/{id}/cancel. */
const CancelBodySchema = z.strictObject({ rollback: z.boolean() });

/** Who acted: the IAM principal API Gateway authenticated (SigV4), as identity's caller describes it. */
export function callerOf(event: APIGatewayProxyEvent): string {
  return describeCaller(callerFromApiContext(event.requestContext?.identity));
}

function bodyObject(event: APIGatewayProxyEvent): unknown {
  const text = bodyText(event).trim();
  if (text === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    return Symbol.for('invalid');
  }
}
export function createRequestsApiHandler(deps: RequestsApiDeps) {
  const logger = deps.log ?? silentLog;
  const beaconRoute = deps.beacons ? createBeaconRoutes(deps.beacons, json, statusUrl) : null;
  const clock = deps.clock ?? systemClock;

  /** The {id} path parameter, validated: `.`, `..`, slashes and anything outside the id pattern are 400. */
  function pathId(event: APIGatewayProxyEvent): string | APIGatewayProxyResult {
    const id = event.pathParameters?.id ?? '';
    return PATTERNS.requestId.test(id) ? id : json(400, errorBody('INVALID_REQUEST', `the request id is ${REQUEST_ID_RULE}`, 'id'));
  }

  const operator = () => {
    if (!deps.operator) throw new Error('operator actions are not wired in this handler (deps.operator)');
    return { ...deps.operator, clock, audit: (event: Parameters<RequestStore['appendAudit']>[0]) => deps.store.appendAudit(event) };
  };
  const actionAnswer = (result: OperatorResult) => json(200, result);

  async function route(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
    const route = `${event.httpMethod} ${event.resource}`;
    const beaconAnswer = await beaconRoute?.(route, event);
    if (beaconAnswer) return beaconAnswer;
    switch (route) {
      case 'POST /requests': {
        const request = parseRequestJson(bodyText(event), { sentAt: clock.now() });
        const input = { ...(JSON.parse(bodyText(event)) as Record<string, unknown>), requestId: request.requestId };
        const existing = await deps.store.getRequestStatus(request.requestId);
        if (existing) {
          // Recorded already: the same content is a resend (the existing request, nothing queued); other content is refused.
          const content = existing.request.state === 'invalid' ? null : (existing.request.request ?? null);
          if (decideIdentity(content, requestContentHash(input)) === 'conflict') throw requestConflict(request.requestId);
          return json(200, { requestId: request.requestId, statusUrl: statusUrl(event, request.requestId), resend: true, state: existing.request.state });
        }
        // Not recorded yet (or still in the queue): the intake decides, and records a conflict there.
        await deps.queue.enqueue(input, { source: 'api', caller: callerFromApiContext(event.requestContext?.identity) });
        return json(202, { requestId: request.requestId, statusUrl: statusUrl(event, request.requestId) });
      }
      case 'POST /requests/{id}/rerun': {
        const id = pathId(event);
        if (typeof id !== 'string') return id;
        const status = await deps.store.getRequestStatus(id);
        if (!status) return json(404, errorBody('NOT_FOUND', `no request ${id} to re-run; it may still be in the queue, try again in a few seconds`, 'id'));
        const content = status.request.request;
        if (status.request.state === 'invalid' || !content) {
          return json(400, errorBody('INVALID_REQUEST', `request ${id} was refused (${status.request.error?.code ?? 'invalid'}); fix it and send it as a new request`, 'id'));
        }
        const rerunId = rerunRequestId(id, clock.now());
        await deps.queue.enqueue({ ...content, requestId: rerunId }, { source: 'api', rerunOf: id, caller: callerFromApiContext(event.requestContext?.identity) });
        return json(202, { requestId: rerunId, rerunOf: id, statusUrl: statusUrl(event, rerunId) });
      }
      case 'GET /requests/{id}': {
        const id = pathId(event);
        if (typeof id !== 'string') return id;
        const status = await deps.store.getRequestStatus(id);
        if (!status) return json(404, errorBody('NOT_FOUND', `no request ${id}; it may still be in the queue, try again in a few seconds`, 'id'));
        return json(200, requestView(status));
      }
      case 'POST /requests/{id}/cancel': {
        const id = pathId(event);
        if (typeof id !== 'string') return id;
        const body = CancelBodySchema.safeParse(bodyObject(event));
        if (!body.success) return json(400, errorBody('INVALID_REQUEST', 'the body is {"rollback": true} (roll back what running beacons change) or {"rollback": false}', 'rollback'));
        return actionAnswer(await runOperatorCommand(operator(), { action: 'cancel', requestId: id, rollback: body.data.rollback, by: callerOf(event) }));
      }
      case 'POST /requests/{id}/go': {
        const id = pathId(event);
        if (typeof id !== 'string') return id;
        return actionAnswer(await runOperatorCommand(operator(), { action: 'go', requestId: id, by: callerOf(event) }));
      }
      case 'POST /pins/{id}/confirm': {
        const id = event.pathParameters?.id ?? '';
        if (!PIN_ID_PATTERN.test(id)) return json(400, errorBody('INVALID_REQUEST', 'a pin id is pin-<requestId>, as the pin message names it', 'id'));
        return actionAnswer(await runOperatorCommand(operator(), { action: 'confirm-pin', pinId: id, by: callerOf(event) }));
      }
      case 'POST /plans': {
        const request = parseRequestJson(bodyText(event), { sentAt: clock.now() });
        const desiredState = renderDesiredState(request);
        return json(200, { requestId: request.requestId, target: request.target, desiredState, documentParameters: documentParameters(desiredState), changed: false });
      }
      default:
        return json(404, errorBody('NOT_FOUND', `no route ${route}`, '$'));
    }
  }

  return async function requestsApi(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
    try {
      return await route(event);
    } catch (error) {
      if (isBeaconCommandError(error)) return json(error.status, error.toJSON());
      if (isRequestError(error)) {
        const conflict = error.code === 'REQUEST_CONFLICT';
        deps.countRefused?.(conflict ? 'conflict' : 'invalid');
        return json(conflict ? 409 : 400, error.toJSON());
      }
      if (isOperatorActionError(error)) return json(error.status, error.toJSON());
      logger.error('request failed', { error: (error as Error).message, path: event.path });
      return json(500, errorBody('INTERNAL', 'the request could not be handled; try again, and report the time if it persists', '$'));
    }
  };
}

export const handler = lambdaEntry(() =>
  createRequestsApiHandler({
    queue: awsSqs.requestQueue(),
    store: awsDynamo.requestStore(),
    beacons: { history: awsDynamo.beaconHistory(), store: awsDynamo.requestStore(), workflows: awsSfn.workflowStarter(), clock: awsSdk.clock },
    operator: { rollouts: awsDynamo.rolloutStore(), ledger: awsDynamo.pinLedger(), tokens: awsSfn.taskTokens() },
    clock: awsSdk.clock,
    log,
    countRefused: (outcome) => countMetric(METRICS.requests, 1, { [METRIC_DIMENSIONS.source]: 'api', [METRIC_DIMENSIONS.outcome]: outcome }),
  }),
);
