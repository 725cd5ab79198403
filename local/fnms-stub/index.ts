/**
 * A local FNMS: one real HTTP server on 127.0.0.1 that speaks the wire formats the product meets.
 *  - Flexera's documented APIs: the OIDC token endpoint (`POST /oidc/token`, refresh_token and
 *    client_credentials grants, access tokens that expire), Flexera One's report execute
 *    (`GET /fnms/v1/orgs/{orgId}/reports/{reportId}/execute`, paged with skipToken), and the on-premises
 *    ComplianceAPIService SOAP `GetCustomView` behind NTLM that really checks the password.
 *  - Our pin gateway contract (not Flexera's): `GET /api/beacon-settings`, `PUT /api/beacon-settings/approved-version`.
 * Faults: failNext (any status, Retry-After), expireTokens, slowNext, endless paging, a report missing a
 * column. Used by tests, the local twin and benchmarks.
 */
import { randomBytes } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { XMLParser } from 'fast-xml-parser';
import { DEFAULT_FNMS_PATHS, type FnmsConfigInput, type FnmsPaths } from '../../lambdas/core/fnms/config.js';
import type { FlexeraOneConfigInput } from '../../lambdas/core/fnms/flexera-one.js';
import { reportExecutePath } from '../../lambdas/core/fnms/flexera-one.js';
import type { ColumnMapping, InventoryField } from '../../lambdas/core/fnms/inventory.js';
import { COMPLIANCE_API_PATH, GET_CUSTOM_VIEW_ACTION, type OnPremisesConfigInput } from '../../lambdas/core/fnms/on-premises.js';
import { LATEST_VERSION } from '../../lambdas/core/fnms/types.js';
import { type WindowsAccount, createChallenge, decodeNtlmMessage, verifyAuthenticate } from './ntlm.js';
import { type StubBeacon, customViewColumns, flexeraOneColumns, getCustomViewAnswer, jsonRow, soapFault } from './report.js';

export type { StubBeacon } from './report.js';
export type { WindowsAccount } from './ntlm.js';

/** Path of the stub's token endpoint (Flexera One's is /oidc/token on login.flexera.{com|eu|au}). */
export const STUB_TOKEN_PATH = '/oidc/token';
export const STUB_REFRESH_TOKEN = 'stub-refresh-token-0123456789';
export const STUB_CLIENT = { clientId: 'stub-service-account-client', clientSecret: 'stub-client-secret-0123456789' } as const;
export const STUB_WINDOWS_ACCOUNT: WindowsAccount = { domain: 'CORP', user: 'svc-fnms-ws', password: 'Stub-Webservice-Passw0rd!' };
export const STUB_ORG_ID = '1105';
export const STUB_REPORT_ID = '42';
export const STUB_CUSTOM_VIEW_ID = 42;

export interface FnmsStubState {
  /** The beacons FNMS knows: the rows of the saved report. */
  beacons: StubBeacon[];
  /** Held by the pin gateway: a release, or `latest` ("Always use the latest version"). */
  approvedVersion: string;
  availableVersions: string[];
}

export interface FnmsStubOptions {
  /** The refresh token the token endpoint accepts. Default STUB_REFRESH_TOKEN. */
  refreshToken?: string;
  /** The service account client the token endpoint accepts. Default STUB_CLIENT. */
  client?: { clientId: string; clientSecret: string };
  /** Static bearer tokens the pin gateway accepts. Default none. */
  bearerTokens?: string[];
  /** Lifetime of issued access tokens. Default 3600 s. */
  tokenTtlSeconds?: number;
  /** Initial state. Defaults: no beacons, `latest`, no available versions (any release accepted). */
  state?: Partial<FnmsStubState>;
  /** Rows per report execute page. Default 100. */
  pageSize?: number;
  /** Windows accounts with the Webservice role. Default STUB_WINDOWS_ACCOUNT. */
  windowsAccounts?: WindowsAccount[];
  paths?: Partial<FnmsPaths> & { token?: string };
  /** 0 (default) picks a free port. */
  port?: number;
  /** Clock for token expiry (epoch ms). Default Date.now. */
  now?: () => number;
}

/** One request as the stub saw it. Authorization values and secrets are never logged. */
export interface StubRequestRecord {
  method: string;
  path: string;
  /** skipToken of a report page, when any. */
  skipToken: string | null;
  status: number;
  /** Whether a valid credential came with it (always false for the token endpoint). */
  authorized: boolean;
  /** Whether the answer came from failNext. */
  injected: boolean;
  body: string;
  at: number;
}

interface Fault {
  path: string;
  status: number;
  remaining: number;
  retryAfter?: string;
  body?: string;
}

interface Slowdown {
  path: string;
  ms: number;
  remaining: number;
}

type ConnectionAuth = { state: 'challenged'; challenge: Buffer } | { state: 'authenticated'; user: string };

const soapParser = new XMLParser({ removeNSPrefix: true, parseTagValue: false, ignoreAttributes: true });

export class FnmsStub {
  readonly state: FnmsStubState;
  /** Every request, in arrival order. */
  readonly requests: StubRequestRecord[] = [];
  /** Every value the pin gateway was set to, in order, with the time (epoch ms): what FNMS approved when. */
  readonly approvedHistory: Array<{ version: string; at: number }> = [];
  readonly paths: FnmsPaths & { token: string; report: string; soap: string };
  /** Report columns left out of both answers (a report saved without them). */
  readonly omitColumns = new Set<InventoryField>();
  /** `new-token`: every page points to a further page; `same-token`: every page points to the same one. Null: paging ends. */
  endlessPaging: 'new-token' | 'same-token' | null = null;
  /** NTLM handshakes that failed, with the reason (for tests). */
  readonly refusedLogons: string[] = [];
  readonly orgId = STUB_ORG_ID;
  readonly reportId = STUB_REPORT_ID;
  readonly customViewId = STUB_CUSTOM_VIEW_ID;
  readonly pageSize: number;
  private readonly refreshToken: string;
  private readonly client: { clientId: string; clientSecret: string };
  private readonly bearerTokens: Set<string>;
  private readonly windowsAccounts: WindowsAccount[];
  private readonly tokenTtlSeconds: number;
  private readonly now: () => number;
  private readonly requestedPort: number;
  private readonly accessTokens = new Map<string, number>();
  private readonly skipTokens = new Map<string, number>();
  private readonly connections = new WeakMap<Socket, ConnectionAuth>();
  private faults: Fault[] = [];
  private slowdowns: Slowdown[] = [];
  private answerDelays: Slowdown[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private server: Server | null = null;
  private issued = 0;
  private boundPort = 0;

  constructor(options: FnmsStubOptions = {}) {
    this.refreshToken = options.refreshToken ?? STUB_REFRESH_TOKEN;
    this.client = options.client ?? STUB_CLIENT;
    this.bearerTokens = new Set(options.bearerTokens ?? []);
    this.windowsAccounts = options.windowsAccounts ?? [STUB_WINDOWS_ACCOUNT];
    this.tokenTtlSeconds = options.tokenTtlSeconds ?? 3600;
    this.pageSize = options.pageSize ?? 100;
    this.now = options.now ?? Date.now;
    this.requestedPort = options.port ?? 0;
    this.paths = {
      ...DEFAULT_FNMS_PATHS,
      token: STUB_TOKEN_PATH,
      report: reportExecutePath(STUB_ORG_ID, STUB_REPORT_ID),
      soap: COMPLIANCE_API_PATH,
      ...options.paths,
    };
    this.state = {
      beacons: structuredClone(options.state?.beacons ?? []),
      approvedVersion: options.state?.approvedVersion ?? LATEST_VERSION,
      availableVersions: [...(options.state?.availableVersions ?? [])],
    };
  }

  /** Starts listening on 127.0.0.1; resolves to the base URL (http://127.0.0.1:<port>). */
  async start(): Promise<string> {
    if (this.server) return this.url;
    const server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) this.send(res, 500, { error: String(error) });
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.requestedPort, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.boundPort = (server.address() as AddressInfo).port;
    return this.url;
  }

  /** Stops the server, dropping open connections and pending slow answers. */
  async stop(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  get port(): number {
    return this.boundPort;
  }

  /** Base URL of every API (the stub serves the api, login and FNMS web hosts on one port). */
  get url(): string {
    return `http://127.0.0.1:${this.boundPort}`;
  }

  get tokenUrl(): string {
    return this.url + this.paths.token;
  }

  /** Number of access tokens issued so far. */
  get tokensIssued(): number {
    return this.issued;
  }

  /** Flexera One's column keys of the stub's report. */
  get reportColumns(): ColumnMapping {
    return flexeraOneColumns(this.reportId);
  }

  /** The on-premises custom view's column names. */
  get customViewColumns(): ColumnMapping {
    return customViewColumns();
  }

  /** A pin gateway client configuration pointing at this stub (the secret is `STUB_REFRESH_TOKEN` or a bearer token). */
  clientConfig(auth: 'refreshToken' | 'bearer' = 'refreshToken', overrides: Partial<FnmsConfigInput> = {}): FnmsConfigInput {
    return {
      baseUrl: this.url,
      paths: { beaconSettings: this.paths.beaconSettings, approvedVersion: this.paths.approvedVersion },
      auth: auth === 'bearer' ? { kind: 'bearer' } : { kind: 'refreshToken', tokenUrl: this.tokenUrl },
      ...overrides,
    };
  }

  /** A Flexera One report adapter configuration pointing at this stub (secret: STUB_REFRESH_TOKEN, or STUB_CLIENT.clientSecret). */
  flexeraOneConfig(auth: 'refreshToken' | 'clientCredentials' = 'refreshToken', overrides: Partial<FlexeraOneConfigInput> = {}): FlexeraOneConfigInput {
    return {
      kind: 'flexeraOne',
      orgId: this.orgId,
      reportId: this.reportId,
      columns: this.reportColumns,
      auth: auth === 'refreshToken' ? { kind: 'refreshToken' } : { kind: 'clientCredentials', clientId: this.client.clientId },
      apiBaseUrl: this.url,
      tokenUrl: this.tokenUrl,
      ...overrides,
    };
  }

  /** An on-premises SOAP adapter configuration pointing at this stub (secret: STUB_WINDOWS_ACCOUNT.password). */
  onPremisesConfig(overrides: Partial<OnPremisesConfigInput> = {}): OnPremisesConfigInput {
    const account = this.windowsAccounts[0]!;
    return {
      kind: 'onPremises',
      url: this.url,
      servicePath: this.paths.soap,
      reportId: this.customViewId,
      account: `${account.domain}\\${account.user}`,
      columns: this.customViewColumns,
      ...overrides,
    };
  }

  /** The next `count` requests to `path` (or `*` for any path, token endpoint included) get `status`. */
  failNext(path: string, status: number, count = 1, options: { retryAfter?: string; body?: string } = {}): void {
    this.faults.push({ path, status, remaining: count, ...options });
  }

  /** The next `count` requests to `path` (or `*`) are answered after `ms` milliseconds. */
  slowNext(path: string, ms: number, count = 1): void {
    this.slowdowns.push({ path, ms, remaining: count });
  }

  /**
   * The next `count` answers on `path` (or `*`) are computed at once but reach the caller `ms` later (network
   * latency on the way back): a caller may act on a value that changed meanwhile.
   */
  delayAnswers(path: string, ms: number, count = 1): void {
    this.answerDelays.push({ path, ms, remaining: count });
  }

  /** Invalidates every issued access token, as if they had expired on the server: the next API call gets 401. */
  expireTokens(): void {
    this.accessTokens.clear();
  }

  addBearerToken(token: string): void {
    this.bearerTokens.add(token);
  }

  /** Requests to `path` (and method, when given). */
  requestsTo(path: string, method?: string): StubRequestRecord[] {
    return this.requests.filter((record) => record.path === path && (method === undefined || record.method === method));
  }

  /** Clears the request log, faults and slowdowns; keeps state and tokens. */
  clearLog(): void {
    this.requests.length = 0;
    this.refusedLogons.length = 0;
    this.faults = [];
    this.slowdowns = [];
  }

  private take<T extends { path: string; remaining: number }>(list: T[], path: string): T | undefined {
    const entry = list.find((candidate) => candidate.remaining > 0 && (candidate.path === path || candidate.path === '*'));
    if (entry) entry.remaining -= 1;
    return entry;
  }

  private send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string | string[]> = {}): void {
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(text);
  }

  private async readBody(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > 64 * 1024) throw new Error('body too large');
      chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  private bearerOf(req: IncomingMessage): string | null {
    const match = /^Bearer ([^\s]+)$/.exec(req.headers.authorization ?? '');
    return match ? match[1]! : null;
  }

  private isAccessToken(token: string | null): boolean {
    if (token === null) return false;
    const expiresAt = this.accessTokens.get(token);
    return expiresAt !== undefined && this.now() < expiresAt;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://stub');
    const path = url.pathname;
    const body = await this.readBody(req);
    const isToken = path === this.paths.token;
    const isSoap = path === this.paths.soap;
    const bearer = this.bearerOf(req);
    const authorized = isToken || isSoap ? false : this.isAccessToken(bearer) || (bearer !== null && this.bearerTokens.has(bearer));
    const record: StubRequestRecord = {
      method,
      path,
      skipToken: url.searchParams.get('skipToken'),
      status: 0,
      authorized,
      injected: false,
      body: isToken ? '[token request]' : body,
      at: this.now(),
    };
    this.requests.push(record);

    const slow = this.take(this.slowdowns, path);
    if (slow) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          resolve();
        }, slow.ms);
        this.timers.add(timer);
      });
      if (res.destroyed || !this.server) return;
    }
    const delay = this.take(this.answerDelays, path);
    const answer = (status: number, payload: unknown, headers: Record<string, string | string[]> = {}): void => {
      record.status = status;
      if (res.destroyed) return;
      if (!delay) return this.send(res, status, payload, headers);
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        if (!res.destroyed && this.server) this.send(res, status, payload, headers);
      }, delay.ms);
      this.timers.add(timer);
    };

    const fault = this.take(this.faults, path);
    if (fault) {
      record.injected = true;
      record.status = fault.status;
      if (res.destroyed) return;
      res.writeHead(fault.status, { 'content-type': isSoap ? 'text/xml; charset=utf-8' : 'application/json', ...(fault.retryAfter !== undefined ? { 'retry-after': fault.retryAfter } : {}) });
      res.end(fault.body ?? (isSoap ? '<html><body>Service Unavailable</body></html>' : JSON.stringify({ error: `injected ${fault.status}` })));
      return;
    }

    if (isToken) return this.token(method, body, answer);
    if (isSoap) return this.soap(req, res, method, body, record);
    const reportMatch = /^\/fnms\/v1\/orgs\/([^/]+)\/reports\/([^/]+)\/execute$/.exec(path);
    if (reportMatch) {
      if (method !== 'GET') return answer(405, { error: 'method_not_allowed' });
      if (!this.isAccessToken(bearer)) return answer(401, { error: 'invalid_token' }, { 'www-authenticate': 'Bearer error="invalid_token"' });
      if (reportMatch[1] !== this.orgId) return answer(403, { error: 'forbidden', message: 'no access to this organization' });
      if (reportMatch[2] !== this.reportId) return answer(404, { error: 'not_found', message: `report ${reportMatch[2]} not found` });
      return this.reportPage(url.searchParams.get('skipToken'), answer);
    }

    // Our pin gateway contract.
    const known = [this.paths.beaconSettings, this.paths.approvedVersion];
    if (!known.includes(path)) return answer(404, { error: 'not_found' });
    if (!authorized) return answer(401, { error: 'invalid_token' }, { 'www-authenticate': 'Bearer error="invalid_token"' });
    if (path === this.paths.beaconSettings) {
      if (method !== 'GET') return answer(405, { error: 'method_not_allowed' });
      return answer(200, { approvedVersion: this.state.approvedVersion, availableVersions: this.state.availableVersions });
    }
    if (method !== 'PUT') return answer(405, { error: 'method_not_allowed' });
    let version: unknown;
    try {
      version = (JSON.parse(body) as { version?: unknown }).version;
    } catch {
      return answer(400, { error: 'body must be JSON {"version": "..."}' });
    }
    if (typeof version !== 'string' || version.length === 0) return answer(400, { error: 'version is required' });
    // FNMS itself lets an administrator choose "latest"; refusing it is the adapter's job, not the server's.
    if (version !== LATEST_VERSION && this.state.availableVersions.length > 0 && !this.state.availableVersions.includes(version)) {
      return answer(400, { error: `version ${version} is not available` });
    }
    this.state.approvedVersion = version;
    this.approvedHistory.push({ version, at: Date.now() });
    return answer(200, { approvedVersion: version });
  }

  /** The OIDC token endpoint: refresh_token and client_credentials grants (form-encoded), as login.flexera.* answers. */
  private token(method: string, body: string, answer: (status: number, payload: unknown, headers?: Record<string, string>) => void): void {
    if (method !== 'POST') return answer(405, { error: 'method_not_allowed' });
    const form = new URLSearchParams(body);
    const grant = form.get('grant_type');
    if (grant === 'refresh_token') {
      if (form.get('refresh_token') !== this.refreshToken) return answer(400, { error: 'invalid_grant', error_description: 'refresh token is invalid or revoked' });
    } else if (grant === 'client_credentials') {
      if (form.get('client_id') !== this.client.clientId || form.get('client_secret') !== this.client.clientSecret) {
        return answer(401, { error: 'invalid_client', error_description: 'client authentication failed' });
      }
    } else {
      return answer(400, { error: 'unsupported_grant_type' });
    }
    const token = `stub-at-${randomBytes(12).toString('hex')}`;
    this.accessTokens.set(token, this.now() + this.tokenTtlSeconds * 1000);
    this.issued += 1;
    return answer(200, { access_token: token, token_type: 'Bearer', expires_in: this.tokenTtlSeconds });
  }

  private nextPageToken(offset: number): string {
    const token = `${offset}.${randomBytes(6).toString('base64url')}`;
    this.skipTokens.set(token, offset);
    return token;
  }

  /** One page of the report: `values` rows keyed by column key; `nextPage` carries the skipToken of the next. */
  private reportPage(skipToken: string | null, answer: (status: number, payload: unknown) => void): void {
    let offset = 0;
    if (skipToken !== null) {
      const known = this.skipTokens.get(skipToken);
      if (known === undefined) return answer(400, { error: 'invalid_skip_token' });
      offset = known;
    }
    const rows = this.state.beacons.slice(offset, offset + this.pageSize).map((beacon) => jsonRow(beacon, this.reportColumns, this.omitColumns));
    const end = offset + this.pageSize;
    let next: string | null = end < this.state.beacons.length ? this.nextPageToken(end) : null;
    if (this.endlessPaging === 'new-token') next = this.nextPageToken(Math.min(end, this.state.beacons.length));
    if (this.endlessPaging === 'same-token') next = skipToken ?? this.nextPageToken(Math.min(end, this.state.beacons.length));
    const payload: Record<string, unknown> = { values: rows };
    if (next !== null) payload.nextPage = `${this.paths.report}?skipToken=${encodeURIComponent(next)}`;
    return answer(200, payload);
  }

  /** ComplianceAPIService.asmx behind IIS Windows authentication (NTLM, per connection). */
  private soap(req: IncomingMessage, res: ServerResponse, method: string, body: string, record: StubRequestRecord): void {
    const reply = (status: number, xml: string, headers: Record<string, string | string[]> = {}): void => {
      record.status = status;
      if (res.destroyed) return;
      res.writeHead(status, { 'content-type': 'text/xml; charset=utf-8', ...headers });
      res.end(xml);
    };
    const socket = req.socket;
    const authorization = req.headers.authorization;
    const connection = this.connections.get(socket);
    const challengeAgain = { 'www-authenticate': ['Negotiate', 'NTLM'] };
    if (authorization !== undefined) {
      const negotiate = decodeNtlmMessage(authorization, 1);
      if (negotiate) {
        const { header, challenge } = createChallenge(this.windowsAccounts[0]!.domain, 'FNMS01');
        this.connections.set(socket, { state: 'challenged', challenge });
        return reply(401, '', { 'www-authenticate': header });
      }
      const authenticate = decodeNtlmMessage(authorization, 3);
      if (!authenticate) return reply(401, '', challengeAgain);
      if (connection?.state !== 'challenged') {
        // NTLM authenticates the connection: an answer on another connection than its challenge fails.
        this.refusedLogons.push('type 3 message without a challenge on this connection');
        return reply(401, '', challengeAgain);
      }
      const verdict = verifyAuthenticate(authenticate, connection.challenge, this.windowsAccounts);
      if (!verdict.ok) {
        this.connections.delete(socket);
        this.refusedLogons.push(verdict.reason);
        return reply(401, '', challengeAgain);
      }
      this.connections.set(socket, { state: 'authenticated', user: `${verdict.domain}\\${verdict.user}` });
    } else if (connection?.state !== 'authenticated') {
      return reply(401, '', challengeAgain);
    }
    record.authorized = true;
    if (method !== 'POST') return reply(405, soapFault('soap:Client', 'GET is not supported; POST a SOAP request'));
    const action = (req.headers.soapaction ?? '').toString().replace(/^"|"$/g, '');
    if (action !== GET_CUSTOM_VIEW_ACTION) return reply(500, soapFault('soap:Client', `Server did not recognize the value of HTTP Header SOAPAction: ${action}.`));
    let call: Record<string, unknown> | undefined;
    try {
      call = (soapParser.parse(body) as { Envelope?: { Body?: { GetCustomView?: Record<string, unknown> } } }).Envelope?.Body?.GetCustomView;
    } catch {
      call = undefined;
    }
    if (!call) return reply(500, soapFault('soap:Client', 'Server was unable to read request: no GetCustomView element in the body.'));
    const customViewId = Number(call.customViewID);
    const rowLimit = Number(call.rowLimit);
    if (!Number.isInteger(customViewId) || !Number.isInteger(rowLimit)) return reply(500, soapFault('soap:Client', 'Server was unable to read request: customViewID and rowLimit must be integers.'));
    if (customViewId !== this.customViewId) return reply(500, soapFault('soap:Server', `Server was unable to process request. ---> Custom view ${customViewId} does not exist or is not shared with this account.`));
    const rows = rowLimit > 0 ? this.state.beacons.slice(0, rowLimit) : this.state.beacons;
    return reply(200, getCustomViewAnswer(rows, this.customViewColumns, this.omitColumns));
  }
}

/** Creates and starts a stub; resolves once it listens. */
export async function startFnmsStub(options: FnmsStubOptions = {}): Promise<FnmsStub> {
  const stub = new FnmsStub(options);
  await stub.start();
  return stub;
}
