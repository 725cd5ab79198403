/**
 * The HTTPS API and the ChatOps webhook of the stack, served by the local twin on 127.0.0.1 in front of
 * the same handlers: `curl` a request, or replay a signed Slack command, against simulated beacons.
 * API Gateway's IAM authorisation has no local equivalent: the server listens on loopback only. Behind the
 * SigV4-verifying front (local/api-gateway-front.ts) the verified caller's ARN arrives in the
 * LOCAL_PRINCIPAL_HEADER and becomes the event's requestContext.identity.userArn, as API Gateway fills it;
 * without the front the API's caller is recorded as unauthenticated.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEvent, APIGatewayProxyEventV2 } from 'aws-lambda';
import type { ChatAllowlist } from '../lambdas/core/chatops/index.js';
import { LIMITS } from '../lambdas/core/limits.js';
import { createChatOpsHandler } from '../lambdas/chatops-webhook/handler.js';
import { MemoryFleetMemory, MemoryProfileStore, MemorySecretSource } from '../lambdas/memory/ports.js';
import { createRequestsApiHandler } from '../lambdas/requests-api/handler.js';
import { loadProfiles } from './profiles.js';
import type { LocalTwin } from './twin.js';

export interface LocalServerOptions {
  port?: number;
  /** Slack signing secret; generated when absent (printed by `beacon-proxy serve`). */
  slackSigningSecret?: string;
  /** Teams outgoing-webhook security token (base64); generated when absent. */
  teamsSecurityToken?: string;
  /** Named profiles (requests without target and requestId); default: examples/profiles/*.json. */
  profiles?: Record<string, Record<string, unknown>>;
  allowlist?: ChatAllowlist;
}

export interface LocalServer {
  url: string;
  slackSigningSecret: string;
  teamsSecurityToken: string;
  profiles: string[];
  close(): Promise<void>;
}

/** Set by the local API Gateway front after it verified the signature (the only writer of this header). */
export const LOCAL_PRINCIPAL_HEADER = 'x-beacon-proxy-local-principal';

const SECRET_NAMES = { slack: 'local/slack-signing-secret', teams: 'local/teams-security-token' } as const;

async function readBody(req: IncomingMessage): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > LIMITS.maxRequestBytes * 2) return null;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function headersOf(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(req.headers)) if (typeof value === 'string') headers[key] = value;
  return headers;
}

/** A path segment decoded as API Gateway passes it to the function; a malformed %-escape stays as sent (the handler refuses it). */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/**
 * Routes of the REST API as API Gateway names them (`resource`), with their path parameters. `path` is the
 * path as sent (not dot-normalised), so `/requests/..` reaches the handler, which refuses the id.
 */
function apiRoute(method: string, path: string): { resource: string; pathParameters: Record<string, string> | null } | null {
  if (path === '/requests' && method === 'POST') return { resource: '/requests', pathParameters: null };
  if (path === '/plans' && method === 'POST') return { resource: '/plans', pathParameters: null };
  const rerun = /^\/requests\/([^/]+)\/rerun$/.exec(path);
  if (rerun && method === 'POST') return { resource: '/requests/{id}/rerun', pathParameters: { id: decodeSegment(rerun[1]!) } };
  const match = /^\/requests\/([^/]+)$/.exec(path);
  if (match && method === 'GET') return { resource: '/requests/{id}', pathParameters: { id: decodeSegment(match[1]!) } };
  const action = /^\/requests\/([^/]+)\/(cancel|go)$/.exec(path);
  if (action && method === 'POST') return { resource: `/requests/{id}/${action[2]}`, pathParameters: { id: decodeSegment(action[1]!) } };
  const confirm = /^\/pins\/([^/]+)\/confirm$/.exec(path);
  if (confirm && method === 'POST') return { resource: '/pins/{id}/confirm', pathParameters: { id: decodeSegment(confirm[1]!) } };
  const beacon = /^\/beacons\/([^/]+)(\/(rollback|retry))?$/.exec(path);
  if (beacon && method === (beacon[3] ? 'POST' : 'GET')) {
    return { resource: `/beacons/{instanceId}${beacon[2] ?? ''}`, pathParameters: { instanceId: decodeSegment(beacon[1]!) } };
  }
  return null;
}

export async function startLocalServer(twin: LocalTwin, options: LocalServerOptions = {}): Promise<LocalServer> {
  const slackSigningSecret = options.slackSigningSecret ?? randomBytes(16).toString('hex');
  const teamsSecurityToken = options.teamsSecurityToken ?? randomBytes(32).toString('base64');
  const profiles = options.profiles ?? (await loadProfiles());
  const api = createRequestsApiHandler({
    queue: twin.requestQueue,
    store: twin.store,
    beacons: twin.beaconRoutes,
    operator: { rollouts: twin.rollouts, ledger: twin.ledger, tokens: twin.tokens },
    clock: { now: () => new Date() },
  });
  const chatOps = createChatOpsHandler({
    secrets: new MemorySecretSource({ [SECRET_NAMES.slack]: slackSigningSecret, [SECRET_NAMES.teams]: teamsSecurityToken }),
    slackSecretName: SECRET_NAMES.slack,
    teamsSecretName: SECRET_NAMES.teams,
    allowlist: options.allowlist ?? { users: ['*'], channels: ['*'] },
    profiles: new MemoryProfileStore(profiles),
    queue: twin.requestQueue,
    store: twin.store,
    memory: new MemoryFleetMemory(),
    clock: { now: () => new Date() },
  });

  let baseUrl = '';
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    const body = await readBody(req);
    const send = (status: number, headers: Record<string, string | number | boolean> | undefined, text: string | undefined) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(text ?? '');
    };
    if (body === null) return send(413, undefined, JSON.stringify({ error: { code: 'INVALID_REQUEST', message: 'the body is too large', field: '$' } }));
    if (url.pathname === '/slack' || url.pathname === '/teams') {
      const event = {
        version: '2.0',
        routeKey: '$default',
        rawPath: url.pathname,
        rawQueryString: url.search.slice(1),
        headers: headersOf(req),
        body: body.toString('base64'),
        isBase64Encoded: true,
        requestContext: { http: { method, path: url.pathname, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: req.headers['user-agent'] ?? '' } },
      } as unknown as APIGatewayProxyEventV2;
      const result = await chatOps(event);
      return send(result.statusCode ?? 200, result.headers, result.body);
    }
    const rawPath = (req.url ?? '/').split('?')[0]!;
    const route = apiRoute(method, rawPath);
    if (!route) {
      return send(
        404,
        undefined,
        JSON.stringify({
          error: {
            code: 'NOT_FOUND',
            message:
              'routes: POST /requests, GET /requests/{id}, POST /requests/{id}/rerun, POST /requests/{id}/cancel, POST /requests/{id}/go, POST /pins/{id}/confirm, POST /plans, GET /beacons/{instanceId}, POST /beacons/{instanceId}/rollback, POST /beacons/{instanceId}/retry, POST /slack, POST /teams',
            field: '$',
          },
        }),
      );
    }
    const host = new URL(baseUrl);
    const event = {
      httpMethod: method,
      resource: route.resource,
      path: rawPath,
      pathParameters: route.pathParameters,
      queryStringParameters: url.searchParams.size > 0 ? Object.fromEntries(url.searchParams) : null,
      headers: headersOf(req),
      body: body.toString('utf8'),
      isBase64Encoded: false,
      requestContext: { domainName: host.host, stage: 'local', identity: { userArn: headersOf(req)[LOCAL_PRINCIPAL_HEADER] ?? null } },
    } as unknown as APIGatewayProxyEvent;
    const result = await api(event);
    // The deployed status URL carries the API stage; locally the routes sit at the root.
    const text = result.body.replace(`http://${host.host}/local/`, `${baseUrl}/`).replace(`https://${host.host}/local/`, `${baseUrl}/`);
    return send(result.statusCode, result.headers as Record<string, string>, text);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'INTERNAL', message: (error as Error).message, field: '$' } }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: baseUrl,
    slackSigningSecret,
    teamsSecurityToken,
    profiles: Object.keys(profiles),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
