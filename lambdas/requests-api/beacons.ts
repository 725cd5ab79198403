/**
 * Per-beacon day-2 routes of the HTTPS API (read: GET; submit: POST, as every route):
 *   GET  /beacons/{instanceId}           the beacon's history across requests, newest first, paginated
 *   POST /beacons/{instanceId}/rollback  restore its last capture with the Rollback document, under its lock
 *   POST /beacons/{instanceId}/retry     run its last request again, as a new run linked to the old one
 * Rollback and retry start the per-beacon workflow directly (one beacon, known already: nothing for the
 * intake to expand), after recording the request and the link on both sides.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { BeaconCommandError, parseInstanceId, parsePageSize } from '../core/beacon-history.js';
import { type BeaconCommandDeps, startBeaconCommand } from '../core/beacon-commands.js';
import { callerFromApiContext } from '../core/caller.js';

export type BeaconRoutesDeps = BeaconCommandDeps;

export const BEACON_ROUTES = {
  history: 'GET /beacons/{instanceId}',
  rollback: 'POST /beacons/{instanceId}/rollback',
  retry: 'POST /beacons/{instanceId}/retry',
} as const;

type Json = (statusCode: number, body: unknown) => APIGatewayProxyResult;


/** Rollback and retry take no body (an empty one or `{}`): everything they act on is in the beacon's history. */
function refuseBody(event: APIGatewayProxyEvent): void {
  const text = event.body ? (event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body).trim() : '';
  if (text === '' || text === '{}') return;
  throw new BeaconCommandError('INVALID_REQUEST', 'this command takes no body: it acts on the beacon\'s own history', '$', 400);
}

/** Answers a beacon route, or null when the route is not one of them. */
export function createBeaconRoutes(deps: BeaconRoutesDeps, json: Json, statusUrl: (event: APIGatewayProxyEvent, requestId: string) => string) {
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
    const kind = route === BEACON_ROUTES.rollback ? 'rollback' : 'retry';
    const started = await startBeaconCommand(deps, { kind, instanceId, caller: callerFromApiContext(event.requestContext?.identity), source: 'api' });
    return json(202, {
      requestId: started.requestId,
      instanceId,
      [kind === 'rollback' ? 'restores' : 'retries']: started.linkedTo,
      statusUrl: statusUrl(event, started.requestId),
    });
  };
}
