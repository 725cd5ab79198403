/**
 * A local FNMS: a real HTTP server on 127.0.0.1 that implements the adapter's HTTP contract
 * (lambdas/core/fnms/config.ts DEFAULT_FNMS_PATHS) and its auth (Flexera One style token endpoint and/or
 * static bearer tokens), with state, fault injection and a request log. Used by tests, the local twin and
 * benchmarks. Run `tsx local/fnms-stub.ts [port]` to serve a demo state from the command line.
 */
import { randomBytes } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { DEFAULT_FNMS_PATHS, type FnmsConfigInput, type FnmsPaths } from '../lambdas/core/fnms/config.js';
import { type FnmsBeacon, LATEST_VERSION } from '../lambdas/core/fnms/types.js';

/** Path of the stub's token endpoint (Flexera One's is /oidc/token on login.flexera.com). */
export const STUB_TOKEN_PATH = '/oidc/token';
export const STUB_REFRESH_TOKEN = 'stub-refresh-token-0123456789';

export interface FnmsStubState {
  beacons: FnmsBeacon[];
  /** A release, or `latest` ("Always use the latest version"). */
  approvedVersion: string;
  availableVersions: string[];
}

export interface FnmsStubOptions {
  /** The refresh token the token endpoint accepts. Default STUB_REFRESH_TOKEN. */
  refreshToken?: string;
  /** Static bearer tokens accepted on API paths (on-premises gateway mode). Default none. */
  bearerTokens?: string[];
  /** Lifetime of issued access tokens. Default 3600 s. */
  tokenTtlSeconds?: number;
  /** Initial state. Defaults: no beacons, `latest`, no available versions (any release accepted). */
  state?: Partial<FnmsStubState>;
  paths?: Partial<FnmsPaths> & { token?: string };
  /** 0 (default) picks a free port. */
  port?: number;
  /** Clock for token expiry (epoch ms). Default Date.now. */
  now?: () => number;
}

/** One request as the stub saw it. Authorization values are never logged. */
export interface StubRequestRecord {
  method: string;
  path: string;
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

export class FnmsStub {
  readonly state: FnmsStubState;
  /** Every request, in arrival order. */
  readonly requests: StubRequestRecord[] = [];
  readonly paths: FnmsPaths & { token: string };
  private readonly refreshToken: string;
  private readonly bearerTokens: Set<string>;
  private readonly tokenTtlSeconds: number;
  private readonly now: () => number;
  private readonly requestedPort: number;
  private readonly accessTokens = new Map<string, number>();
  private faults: Fault[] = [];
  private slowdowns: Slowdown[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private server: Server | null = null;
  private issued = 0;
  private boundPort = 0;

  constructor(options: FnmsStubOptions = {}) {
    this.refreshToken = options.refreshToken ?? STUB_REFRESH_TOKEN;
    this.bearerTokens = new Set(options.bearerTokens ?? []);
    this.tokenTtlSeconds = options.tokenTtlSeconds ?? 3600;
    this.now = options.now ?? Date.now;
    this.requestedPort = options.port ?? 0;
    this.paths = { ...DEFAULT_FNMS_PATHS, token: STUB_TOKEN_PATH, ...options.paths };
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

  /** Base URL of the API; the client's `baseUrl`. */
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

  /** A client configuration pointing at this stub (the secret is `STUB_REFRESH_TOKEN` or a bearer token). */
  clientConfig(auth: 'refreshToken' | 'bearer' = 'refreshToken', overrides: Partial<FnmsConfigInput> = {}): FnmsConfigInput {
    return {
      baseUrl: this.url,
      paths: { beacons: this.paths.beacons, beaconSettings: this.paths.beaconSettings, approvedVersion: this.paths.approvedVersion },
      auth: auth === 'bearer' ? { kind: 'bearer' } : { kind: 'refreshToken', tokenUrl: this.tokenUrl },
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
    this.faults = [];
    this.slowdowns = [];
  }

  private take<T extends { path: string; remaining: number }>(list: T[], path: string): T | undefined {
    const entry = list.find((candidate) => candidate.remaining > 0 && (candidate.path === path || candidate.path === '*'));
    if (entry) entry.remaining -= 1;
    return entry;
  }

  private send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
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

  private isAuthorized(req: IncomingMessage): boolean {
    const match = /^Bearer ([^\s]+)$/.exec(req.headers.authorization ?? '');
    if (!match) return false;
    const token = match[1]!;
    if (this.bearerTokens.has(token)) return true;
    const expiresAt = this.accessTokens.get(token);
    return expiresAt !== undefined && this.now() < expiresAt;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const path = new URL(req.url ?? '/', 'http://stub').pathname;
    const body = await this.readBody(req);
    const isToken = path === this.paths.token;
    const authorized = !isToken && this.isAuthorized(req);
    const record: StubRequestRecord = { method, path, status: 0, authorized, injected: false, body: isToken ? '[token request]' : body, at: this.now() };
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
    const answer = (status: number, payload: unknown, headers: Record<string, string> = {}): void => {
      record.status = status;
      if (res.destroyed) return;
      this.send(res, status, payload, headers);
    };

    const fault = this.take(this.faults, path);
    if (fault) {
      record.injected = true;
      record.status = fault.status;
      if (res.destroyed) return;
      res.writeHead(fault.status, { 'content-type': 'application/json', ...(fault.retryAfter !== undefined ? { 'retry-after': fault.retryAfter } : {}) });
      res.end(fault.body ?? JSON.stringify({ error: `injected ${fault.status}` }));
      return;
    }

    if (isToken) {
      if (method !== 'POST') return answer(405, { error: 'method_not_allowed' });
      const form = new URLSearchParams(body);
      if (form.get('grant_type') !== 'refresh_token') return answer(400, { error: 'unsupported_grant_type' });
      if (form.get('refresh_token') !== this.refreshToken) return answer(400, { error: 'invalid_grant' });
      const token = `stub-at-${randomBytes(12).toString('hex')}`;
      this.accessTokens.set(token, this.now() + this.tokenTtlSeconds * 1000);
      this.issued += 1;
      return answer(200, { access_token: token, token_type: 'Bearer', expires_in: this.tokenTtlSeconds });
    }

    const known = [this.paths.beacons, this.paths.beaconSettings, this.paths.approvedVersion];
    if (!known.includes(path)) return answer(404, { error: 'not_found' });
    if (!authorized) return answer(401, { error: 'invalid_token' }, { 'www-authenticate': 'Bearer error="invalid_token"' });

    if (path === this.paths.beacons) {
      if (method !== 'GET') return answer(405, { error: 'method_not_allowed' });
      return answer(200, { beacons: this.state.beacons });
    }
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
    return answer(200, { approvedVersion: version });
  }
}

/** Creates and starts a stub; resolves once it listens. */
export async function startFnmsStub(options: FnmsStubOptions = {}): Promise<FnmsStub> {
  const stub = new FnmsStub(options);
  await stub.start();
  return stub;
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) {
  const port = Number(process.argv[2] ?? 0);
  const stub = await startFnmsStub({
    port,
    bearerTokens: ['stub-bearer-token-0123456789'],
    state: {
      approvedVersion: LATEST_VERSION,
      availableVersions: ['13.1.0', '13.2.0', '13.3.0'],
      beacons: [
        { id: '1', name: 'BEACON01', computerName: 'BEACON01', version: '13.2.0', lastContact: new Date().toISOString() },
        { id: '2', name: 'BEACON02', computerName: 'BEACON02', version: '13.2.0', lastContact: new Date().toISOString() },
      ],
    },
  });
  console.log(JSON.stringify({ url: stub.url, tokenUrl: stub.tokenUrl, paths: stub.paths, refreshToken: STUB_REFRESH_TOKEN, bearerToken: 'stub-bearer-token-0123456789' }));
  const shutdown = (): void => {
    void stub.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}
