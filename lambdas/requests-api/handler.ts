/**
 * The HTTPS API (API Gateway REST, IAM auth): POST /requests enqueues (202 + status URL), GET /requests/{id}
 * shows the request with its per-beacon status and checks, POST /plans renders the desired state without
 * changing anything. Every refusal is `{ error: { code, message, field } }`.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { documentParameters, renderDesiredState } from '../core/desired-state.js';
import { isBeaconCommandError } from '../core/beacon-history.js';
import { isRequestError } from '../core/errors.js';
import { type Log, type RequestQueue, type RequestStore, silentLog } from '../core/ports.js';
import { PATTERNS, parseRequestJson } from '../core/request.js';
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
  log?: Log;
  /** Counts a request the API refused (accepted ones are counted by the intake, source api). */
  countRefused?: () => void;
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

export function createRequestsApiHandler(deps: RequestsApiDeps) {
  const logger = deps.log ?? silentLog;
  const beaconRoute = deps.beacons ? createBeaconRoutes(deps.beacons, json, statusUrl) : null;

  async function route(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
    const route = `${event.httpMethod} ${event.resource}`;
    const beaconAnswer = await beaconRoute?.(route, event);
    if (beaconAnswer) return beaconAnswer;
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
        return json(200, { ...status.request, beacons: status.beacons, audit: status.audit });
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
      if (isBeaconCommandError(error)) return json(error.status, error.toJSON());
      if (isRequestError(error)) {
        deps.countRefused?.();
        return json(400, error.toJSON());
      }
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
    log,
    countRefused: () => countMetric(METRICS.requests, 1, { [METRIC_DIMENSIONS.source]: 'api', [METRIC_DIMENSIONS.outcome]: 'invalid' }),
  }),
);
