/**
 * A stand-in for API Gateway's front door in front of the local server: what the deployed API does before
 * the Lambda runs, so the operator CLI can be tested against real HTTP. It
 *  - verifies AWS Signature Version 4 (computed here from the specification with node:crypto, independently
 *    of the SDK that signs): scope, service `execute-api`, region, a 5-minute clock skew, the payload hash,
 *    the session token, and the signature itself;
 *  - authorizes with the API's resource policy and the caller's own IAM policy as API Gateway does within
 *    one account (an explicit Deny in either refuses; otherwise an Allow in either admits);
 *  - serves the stage prefix (`/v1/...`) and forwards to the local server's routes.
 * Refusals use API Gateway's own shape: 403 `{"message": "..."}`.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type PolicyStatementJson, evaluatePolicies } from './iam-policy.js';

/** The caller API Gateway authenticated, as the front hands it to the local server (requestContext.identity.userArn in AWS). */
export const CALLER_HEADER = 'x-beacon-proxy-caller';

export interface FrontIdentity {
  secretAccessKey: string;
  /** When set, requests must carry it as X-Amz-Security-Token (temporary credentials). */
  sessionToken?: string;
  /** The IAM role or user the access key belongs to (aws:PrincipalArn). */
  principalArn: string;
  /** That principal's own IAM policy statements (e.g. execute-api:Invoke on *). */
  identityPolicy?: PolicyStatementJson[];
}

export interface ApiGatewayFrontOptions {
  /** Base URL of the local server (its routes sit at the root). */
  target: string;
  region: string;
  stage: string;
  accountId: string;
  apiId?: string;
  /** Access key id -> identity. */
  identities: Record<string, FrontIdentity>;
  /** The API's resource policy statements (from the synthesized stack). */
  resourcePolicy: PolicyStatementJson[];
  /** Allowed difference between X-Amz-Date and now. Default 300 s. */
  clockSkewSeconds?: number;
  now?: () => Date;
}

export interface ApiGatewayFront {
  /** Base URL with the stage and a trailing slash, as the stack's ApiUrl output. */
  url: string;
  /** Every decision, newest last (principal, method, path, outcome). */
  log: Array<{ principal: string | null; method: string; path: string; status: number; reason: string }>;
  close(): Promise<void>;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
const SERVICE = 'execute-api';

export const GATEWAY_MESSAGES = {
  missingToken: 'Missing Authentication Token',
  invalidToken: 'The security token included in the request is invalid.',
  signatureMismatch:
    'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
} as const;

class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly principal: string | null = null,
  ) {
    super(message);
  }
}

const sha256Hex = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();

/** RFC 3986 encoding as SigV4 wants it: unreserved characters stay, everything else is %XX (upper case). */
function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Canonical URI for every service but S3: each segment of the path as sent is encoded once more. */
function canonicalUri(rawPath: string): string {
  return rawPath
    .split('/')
    .map((segment) => uriEncode(segment))
    .join('/');
}

function canonicalQuery(rawQuery: string): string {
  if (!rawQuery) return '';
  return rawQuery
    .split('&')
    .filter(Boolean)
    .map((pair) => {
      const [key = '', value = ''] = pair.split('=');
      return [uriEncode(decodeURIComponent(key.replace(/\+/g, ' '))), uriEncode(decodeURIComponent(value.replace(/\+/g, ' ')))] as const;
    })
    .sort(([ak, av], [bk, bv]) => (ak === bk ? (av < bv ? -1 : av > bv ? 1 : 0) : ak < bk ? -1 : 1))
    .map(([key, value]) => `${key}=${value}`)
    .join('&');
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

interface ParsedAuthorization {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  terminator: string;
  signedHeaders: string[];
  signature: string;
}

function parseAuthorization(header: string): ParsedAuthorization {
  if (!header.startsWith(`${ALGORITHM} `)) throw new Refusal(403, GATEWAY_MESSAGES.missingToken);
  const fields = Object.fromEntries(
    header
      .slice(ALGORITHM.length + 1)
      .split(',')
      .map((part) => part.trim().split('=') as [string, string]),
  );
  const [accessKeyId, date, region, service, terminator] = String(fields.Credential ?? '').split('/');
  if (!accessKeyId || !date || !region || !service || !terminator || !fields.SignedHeaders || !fields.Signature) {
    throw new Refusal(403, `Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters. Authorization=${header.slice(0, 40)}...`);
  }
  return { accessKeyId, date, region, service, terminator, signedHeaders: fields.SignedHeaders.split(';'), signature: fields.Signature };
}

/** Verifies the request's SigV4 signature; returns the identity it was made with. */
export function verifySignature(req: IncomingMessage, body: Buffer, options: ApiGatewayFrontOptions): FrontIdentity {
  const authorization = headerValue(req, 'authorization');
  if (!authorization) throw new Refusal(403, GATEWAY_MESSAGES.missingToken);
  const auth = parseAuthorization(authorization);
  const identity = options.identities[auth.accessKeyId];
  if (!identity) throw new Refusal(403, GATEWAY_MESSAGES.invalidToken);
  if (identity.sessionToken !== undefined && headerValue(req, 'x-amz-security-token') !== identity.sessionToken) throw new Refusal(403, GATEWAY_MESSAGES.invalidToken);
  if (auth.service !== SERVICE || auth.terminator !== 'aws4_request') {
    throw new Refusal(403, `Credential should be scoped to correct service: '${SERVICE}'.`);
  }
  if (auth.region !== options.region) throw new Refusal(403, `Credential should be scoped to a valid region, not '${auth.region}'.`);
  const amzDate = headerValue(req, 'x-amz-date');
  if (!amzDate || !/^\d{8}T\d{6}Z$/.test(amzDate) || amzDate.slice(0, 8) !== auth.date) throw new Refusal(403, GATEWAY_MESSAGES.signatureMismatch);
  if (!auth.signedHeaders.includes('host') || !auth.signedHeaders.includes('x-amz-date')) throw new Refusal(403, GATEWAY_MESSAGES.signatureMismatch);
  const signedAt = Date.parse(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
  const now = (options.now ?? (() => new Date()))().getTime();
  if (Math.abs(now - signedAt) > (options.clockSkewSeconds ?? 300) * 1000) {
    throw new Refusal(403, `Signature expired: ${amzDate} is now earlier than the allowed window around ${new Date(now).toISOString()}`);
  }

  const payloadHash = sha256Hex(body);
  const declaredHash = headerValue(req, 'x-amz-content-sha256');
  if (declaredHash !== undefined && declaredHash !== payloadHash) throw new Refusal(403, GATEWAY_MESSAGES.signatureMismatch);
  const [rawPath = '/', rawQuery = ''] = (req.url ?? '/').split('?');
  const canonicalHeaders = auth.signedHeaders.map((name) => `${name}:${(headerValue(req, name) ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const canonicalRequest = [req.method ?? 'GET', canonicalUri(rawPath), canonicalQuery(rawQuery), canonicalHeaders, auth.signedHeaders.join(';'), payloadHash].join('\n');
  const scope = `${auth.date}/${auth.region}/${auth.service}/aws4_request`;
  const stringToSign = [ALGORITHM, amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${identity.secretAccessKey}`, auth.date), auth.region), auth.service), 'aws4_request');
  const expected = Buffer.from(createHmac('sha256', signingKey).update(stringToSign, 'utf8').digest('hex'));
  const given = Buffer.from(auth.signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw new Refusal(403, GATEWAY_MESSAGES.signatureMismatch);
  return identity;
}

/**
 * API Gateway's decision for a caller in the API's own account (IAM authorization plus a resource policy):
 * an explicit Deny in either policy refuses; otherwise an Allow in either admits. The resource policy names
 * resources as `execute-api:/<stage>/<METHOD>/<path>`, which API Gateway expands to the API's ARN prefix.
 */
export function apiGatewayDecision(
  resourcePolicy: PolicyStatementJson[],
  identityPolicy: PolicyStatementJson[],
  call: { principalArn: string; resource: string; apiPrefix: string },
): 'allow' | 'explicit-deny' | 'implicit-deny' {
  const expanded = resourcePolicy.map((statement) => ({
    ...statement,
    ...(statement.Resource !== undefined ? { Resource: ([] as string[]).concat(statement.Resource).map((r) => r.replace(/^execute-api:\//, call.apiPrefix)) } : {}),
  }));
  const request = { principal: { arn: call.principalArn }, action: 'execute-api:Invoke', resource: call.resource };
  const byResource = evaluatePolicies(expanded, request);
  const byIdentity = evaluatePolicies(identityPolicy, request);
  if (byResource === 'explicit-deny' || byIdentity === 'explicit-deny') return 'explicit-deny';
  return byResource === 'allow' || byIdentity === 'allow' ? 'allow' : 'implicit-deny';
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function startApiGatewayFront(options: ApiGatewayFrontOptions): Promise<ApiGatewayFront> {
  const apiId = options.apiId ?? 'localapi01';
  const stagePrefix = `/${options.stage}`;
  const log: ApiGatewayFront['log'] = [];

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const method = req.method ?? 'GET';
    const [rawPath = '/'] = (req.url ?? '/').split('?');
    const refuse = (refusal: Refusal) => {
      log.push({ principal: refusal.principal, method, path: rawPath, status: refusal.status, reason: refusal.message });
      res.writeHead(refusal.status, { 'content-type': 'application/json', 'x-amzn-errortype': 'AccessDeniedException' });
      res.end(JSON.stringify({ message: refusal.message }));
    };
    try {
      if (!rawPath.startsWith(`${stagePrefix}/`)) throw new Refusal(403, GATEWAY_MESSAGES.missingToken);
      const identity = verifySignature(req, body, options);
      const resourcePath = rawPath.slice(stagePrefix.length);
      const resource = `arn:aws:execute-api:${options.region}:${options.accountId}:${apiId}/${options.stage}/${method}${resourcePath}`;
      const decision = apiGatewayDecision(options.resourcePolicy, identity.identityPolicy ?? [], { principalArn: identity.principalArn, resource, apiPrefix: `arn:aws:execute-api:${options.region}:${options.accountId}:${apiId}/` });
      if (decision !== 'allow') {
        const why = decision === 'explicit-deny' ? ' with an explicit deny' : '';
        throw new Refusal(403, `User: ${identity.principalArn} is not authorized to perform: execute-api:Invoke on resource: ${resource}${why}`, identity.principalArn);
      }
      const target = new URL(options.target);
      const forwarded = await new Promise<{ status: number; headers: Record<string, string>; body: Buffer }>((resolve, reject) => {
        const outbound = httpRequest(
          { host: target.hostname, port: target.port, method, path: `${resourcePath}${(req.url ?? '').includes('?') ? `?${(req.url ?? '').split('?')[1]}` : ''}`, headers: { 'content-type': headerValue(req, 'content-type') ?? 'application/json', [CALLER_HEADER]: identity.principalArn } },
          (response) => {
            readBody(response)
              .then((data) => resolve({ status: response.statusCode ?? 502, headers: { 'content-type': String(response.headers['content-type'] ?? 'application/json') }, body: data }))
              .catch(reject);
          },
        );
        outbound.on('error', reject);
        outbound.end(body);
      });
      log.push({ principal: identity.principalArn, method, path: rawPath, status: forwarded.status, reason: 'forwarded' });
      res.writeHead(forwarded.status, forwarded.headers);
      res.end(forwarded.body);
    } catch (error) {
      if (error instanceof Refusal) return refuse(error);
      throw error;
    }
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: `Internal server error: ${(error as Error).message}` }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${stagePrefix}/`,
    log,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
