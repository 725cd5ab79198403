/**
 * The HTTPS API (API Gateway REST, IAM auth): POST /requests enqueues (202 + status URL), GET /requests/{id}
 * shows the request with its rollout (phase, counters, halt, cancel, pin, outcome) and per-beacon status and
 * checks, POST /plans renders the desired state without changing anything. Operators' actions, recorded
 * with the caller's IAM principal: POST /requests/{id}/cancel `{"rollback": true|false}`, POST
 * /requests/{id}/go, POST /pins/{id}/confirm. Every refusal is `{ error: { code, message, field } }`.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { documentParameters, renderDesiredState } from '../core/desired-state.js';
import { isRequestError } from '../core/errors.js';
import * as z from 'zod/mini';
import { PIN_ID_PATTERN } from '../core/fnms/pin-ledger.js';
import { type Clock, type Log, type PinLedger, type RequestQueue, type RequestStore, type RolloutStore, type TaskTokens, silentLog } from '../core/ports.js';
import { PATTERNS, parseRequestJson } from '../core/request.js';
import { type OperatorResult, isOperatorActionError, runOperatorCommand } from '../core/rollout-control.js';
import * as awsDynamo from '../aws/clients/dynamo.js';
import * as awsSdk from '../aws/clients/sdk.js';
import * as awsSfn from '../aws/clients/sfn.js';
import * as awsSqs from '../aws/clients/sqs.js';
import { METRICS, METRIC_DIMENSIONS } from '../aws/env-names.js';
import { countMetric, lambdaEntry, log } from '../aws/runtime.js';

export interface RequestsApiDeps {
  queue: RequestQueue;
  store: RequestStore;
  /** Operators' actions: the rollout, the pin ledger and the waits' task tokens. */
  operator: { rollouts: RolloutStore; ledger: PinLedger; tokens: TaskTokens };
  clock: Clock;
  log?: Log;
  /** Counts a request the API refused (accepted ones are counted by the intake, source api). */
  countRefused?: () => void;
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

/** Body of POST /requests/{id}/cancel. */
const CancelBodySchema = z.strictObject({ rollback: z.boolean() });

/** Who called: the IAM principal API Gateway authenticated (SigV4). */
export function callerOf(event: APIGatewayProxyEvent): string {
  const identity = event.requestContext.identity as Partial<APIGatewayProxyEvent['requestContext']['identity']> | undefined;
  return identity?.userArn ?? identity?.caller ?? 'an unidentified API caller';
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
  const operator = () => ({ ...deps.operator, clock: deps.clock, audit: (event: Parameters<RequestStore['appendAudit']>[0]) => deps.store.appendAudit(event) });
  const actionAnswer = (result: OperatorResult) => json(200, result);

  async function route(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
    const route = `${event.httpMethod} ${event.resource}`;
    switch (route) {
      case 'POST /requests': {
        const request = parseRequestJson(bodyText(event));
        const input = { ...(JSON.parse(bodyText(event)) as Record<string, unknown>), requestId: request.requestId };
        await deps.queue.enqueue(input, { source: 'api' });
        return json(202, { requestId: request.requestId, statusUrl: statusUrl(event, request.requestId) });
      }
      case 'GET /requests/{id}': {
        const id = event.pathParameters?.id ?? '';
        if (!PATTERNS.requestId.test(id)) return json(400, errorBody('INVALID_REQUEST', 'the request id is 1-64 letters, digits, . _ or -', 'id'));
        const status = await deps.store.getRequestStatus(id);
        if (!status) return json(404, errorBody('NOT_FOUND', `no request ${id}; it may still be in the queue, try again in a few seconds`, 'id'));
        return json(200, { ...status.request, ...(status.rollout ? { state: status.rollout.outcome?.state ?? status.rollout.phase, rollout: status.rollout } : {}), beacons: status.beacons, audit: status.audit });
      }
      case 'POST /requests/{id}/cancel': {
        const id = event.pathParameters?.id ?? '';
        if (!PATTERNS.requestId.test(id)) return json(400, errorBody('INVALID_REQUEST', 'the request id is 1-64 letters, digits, . _ or -', 'id'));
        const body = CancelBodySchema.safeParse(bodyObject(event));
        if (!body.success) return json(400, errorBody('INVALID_REQUEST', 'the body is {"rollback": true} (roll back what running beacons change) or {"rollback": false}', 'rollback'));
        return actionAnswer(await runOperatorCommand(operator(), { action: 'cancel', requestId: id, rollback: body.data.rollback, by: callerOf(event) }));
      }
      case 'POST /requests/{id}/go': {
        const id = event.pathParameters?.id ?? '';
        if (!PATTERNS.requestId.test(id)) return json(400, errorBody('INVALID_REQUEST', 'the request id is 1-64 letters, digits, . _ or -', 'id'));
        return actionAnswer(await runOperatorCommand(operator(), { action: 'go', requestId: id, by: callerOf(event) }));
      }
      case 'POST /pins/{id}/confirm': {
        const id = event.pathParameters?.id ?? '';
        if (!PIN_ID_PATTERN.test(id)) return json(400, errorBody('INVALID_REQUEST', 'a pin id is pin-<requestId>, as the pin message names it', 'id'));
        return actionAnswer(await runOperatorCommand(operator(), { action: 'confirm-pin', pinId: id, by: callerOf(event) }));
      }
      case 'POST /plans': {
        const request = parseRequestJson(bodyText(event));
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
      if (isRequestError(error)) {
        deps.countRefused?.();
        return json(400, error.toJSON());
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
    operator: { rollouts: awsDynamo.rolloutStore(), ledger: awsDynamo.pinLedger(), tokens: awsSfn.taskTokens() },
    clock: awsSdk.clock,
    log,
    countRefused: () => countMetric(METRICS.requests, 1, { [METRIC_DIMENSIONS.source]: 'api', [METRIC_DIMENSIONS.outcome]: 'invalid' }),
  }),
);
