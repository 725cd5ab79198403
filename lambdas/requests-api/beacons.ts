/**
 * Per-beacon day-2 routes of the HTTPS API (read: GET; submit: POST, as every route):
 *   GET  /beacons/{instanceId}           the beacon's history across requests, newest first, paginated
 *   POST /beacons/{instanceId}/rollback  restore its last capture with the Rollback document, under its lock
 *   POST /beacons/{instanceId}/retry     run its last request again, as a new run linked to the old one
 * Rollback and retry start the per-beacon workflow directly (one beacon, known already: nothing for the
 * intake to expand), after recording the request and the link on both sides.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import {
  type BeaconHistory,
  type BeaconHistoryEntry,
  BeaconCommandError,
  HISTORY_LIMITS,
  decideRetry,
  decideRollback,
  linkedRun,
  linkedRunId,
  parseInstanceId,
  parsePageSize,
} from '../core/beacon-history.js';
import type { Clock, RequestStore, WorkflowStarter } from '../core/ports.js';
import { parseRequest } from '../core/request.js';

export interface BeaconRoutesDeps {
  history: BeaconHistory;
  store: RequestStore;
  workflows: WorkflowStarter;
  clock: Clock;
}

export const BEACON_ROUTES = {
  history: 'GET /beacons/{instanceId}',
  rollback: 'POST /beacons/{instanceId}/rollback',
  retry: 'POST /beacons/{instanceId}/retry',
} as const;

type Json = (statusCode: number, body: unknown) => APIGatewayProxyResult;

/** The caller's IAM identity as API Gateway passed it (IAM authorization), for the record. */
function caller(event: APIGatewayProxyEvent): string | null {
  return event.requestContext.identity?.userArn ?? null;
}

/** Rollback and retry take no body (an empty one or `{}`): everything they act on is in the beacon's history. */
function refuseBody(event: APIGatewayProxyEvent): void {
  const text = event.body ? (event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body).trim() : '';
  if (text === '' || text === '{}') return;
  throw new BeaconCommandError('INVALID_REQUEST', 'this command takes no body: it acts on the beacon\'s own history', '$', 400);
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

/** Answers a beacon route, or null when the route is not one of them. */
export function createBeaconRoutes(deps: BeaconRoutesDeps, json: Json, statusUrl: (event: APIGatewayProxyEvent, requestId: string) => string) {
  async function start(run: ReturnType<typeof linkedRun>): Promise<void> {
    await deps.store.recordRequest(run.record);
    for (const audit of run.audit) await deps.store.appendAudit(audit);
    await deps.store.putBeaconStatus({ requestId: run.input.requestId, instanceId: run.input.instanceId, state: 'queued', updatedAt: run.input.receivedAt });
    await deps.workflows.startBeaconWorkflow(run.input);
  }

  return async function beaconRoute(route: string, event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult | null> {
    if (!(Object.values(BEACON_ROUTES) as string[]).includes(route)) return null;
    const instanceId = parseInstanceId(event.pathParameters?.instanceId);
    if (route === BEACON_ROUTES.history) {
      const query = event.queryStringParameters ?? {};
      const limit = parsePageSize(query.limit ?? undefined);
      const page = await deps.history.beaconHistory(instanceId, { limit, cursor: query.cursor ?? null });
      return json(200, { instanceId, entries: page.entries, nextCursor: page.nextCursor });
    }
    refuseBody(event);
    const now = deps.clock.now();
    const at = now.toISOString();
    const entries = await recentHistory(deps.history, instanceId);
    if (route === BEACON_ROUTES.rollback) {
      const { captureId } = decideRollback(entries, instanceId);
      const requestId = linkedRunId('rollback', instanceId, now);
      const run = linkedRun({ requestId, instanceId, link: { kind: 'rollback', requestId: captureId }, action: { kind: 'rollback', captureId }, requestedBy: caller(event), source: 'api', at });
      await start(run);
      return json(202, { requestId, instanceId, restores: captureId, statusUrl: statusUrl(event, requestId) });
    }
    const last = decideRetry(entries, instanceId);
    const requestId = linkedRunId('retry', instanceId, now);
    // Validated again as a new request: a rule tightened since the first run refuses it here, with its code.
    const request = { ...(last.applied ?? {}), requestId, target: { instanceIds: [instanceId] } };
    parseRequest(request);
    const run = linkedRun({ requestId, instanceId, link: { kind: 'retry', requestId: last.requestId }, request, requestedBy: caller(event), source: 'api', at });
    await start(run);
    return json(202, { requestId, instanceId, retries: last.requestId, statusUrl: statusUrl(event, requestId) });
  };
}
