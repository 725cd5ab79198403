import { AsyncLocalStorage } from 'node:async_hooks';
import * as z from 'zod/mini';
import { type FnmsClientDeps, type FnmsConfig, type FnmsConfigInput, parseFnmsConfig } from './config.js';
import { FnmsError, type FnmsFailureKind, type FnmsOperation } from './errors.js';
import { decidePin, isLatestVersion } from './pin.js';
import { type BeaconSettings, type FnmsApi, LATEST_VERSION, type PinOutcome, type SetApprovedVersionOptions } from './types.js';

const SettingsSchema = z.looseObject({
  approvedVersion: z.string().check(z.minLength(1)),
  availableVersions: z.optional(z.array(z.string())),
});
const PutAnswerSchema = z.looseObject({ approvedVersion: z.string().check(z.minLength(1)) });
const TokenAnswerSchema = z.looseObject({
  access_token: z.string().check(z.minLength(1)),
  expires_in: z.coerce.number().check(z.positive()),
});

/** The epoch-ms deadline of the FNMS calls made inside `withFnmsDeadline` (per invocation, safe under concurrency). */
const callDeadline = new AsyncLocalStorage<number>();


/**
 * Runs `fn` with every FNMS call inside bounded by `deadlineMs` (epoch ms): each attempt's timeout is cut to
 * the time left, no backoff sleeps past it, and when no time is left the call fails with a retriable
 * `timeout` FnmsError instead of running on. A Lambda handler passes its remaining time minus a reserve, so
 * the client's own retries end before the function is killed.
 */
export function withFnmsDeadline<T>(deadlineMs: number, fn: () => Promise<T>): Promise<T> {
  return callDeadline.run(deadlineMs, fn);
}

/** The deadline set by the enclosing `withFnmsDeadline`, if any (the report adapters budget their calls by it too). */
export function currentFnmsDeadline(): number | undefined {
  return callDeadline.getStore();
}

/** An attempt needs at least this long to be worth making (shared with the report adapters). */
export const MIN_FNMS_ATTEMPT_MS = 250;

/** An FNMS client: the adapter contract plus control over the token cache. */
export interface FnmsClient extends FnmsApi {
  /** Forgets the cached access token / bearer secret; the next call fetches a fresh one. */
  invalidateCredentials(): void;
}

interface Credential {
  value: string;
  /** Epoch ms after which it is not used any more; Infinity for a static bearer. */
  renewAt: number;
}

interface HttpAnswer {
  status: number;
  text: string;
}

type Attempt = { answer: HttpAnswer; retryAfterMs: number | null } | { failure: 'timeout' | 'network'; detail: string };

const STATUS_HINTS: Record<number, string> = {
  400: 'FNMS rejected the request as malformed',
  401: 'the pin gateway did not accept the access token, even after renewing it; check the gateway secret',
  403: 'the pin gateway refused this account; check the gateway\'s authorisation',
  404: 'not found; check the configured pin gateway URL and path (the gateway implements our contract, see the README)',
  409: 'FNMS reports a conflicting change; retry later',
  429: 'FNMS throttled the call',
};

function hintFor(status: number): string {
  return STATUS_HINTS[status] ?? (status >= 500 ? 'FNMS failed on its side' : 'FNMS refused the call');
}

function joinUrl(baseUrl: string, path: string): string {
  return baseUrl.replace(/\/+$/, '') + path;
}

/** Retry-After in seconds or as an HTTP date; null when absent or unusable. */
export function parseRetryAfter(header: string | null, nowMs: number): number | null {
  if (header === null) return null;
  const trimmed = header.trim();
  if (/^\d{1,6}$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - nowMs);
}

/** Full-range backoff with equal jitter: half the exponential delay fixed, half random. */
export function backoffDelayMs(attempt: number, config: Pick<FnmsConfig, 'baseDelayMs' | 'maxDelayMs'>, random: () => number): number {
  const cap = Math.min(config.maxDelayMs, config.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(cap / 2 + random() * (cap / 2));
}

/**
 * The pin gateway HTTP client: calls a customer-provided gateway that implements OUR contract
 * (getBeaconSettings / setApprovedBeaconVersion); Flexera publishes no such API. Auth: a refresh token
 * (exchanged at the gateway's token endpoint, cached until shortly before expiry, renewed once on a 401) or a static bearer; the secret
 * comes from `deps.getSecret()`. Every call: per-attempt timeout, retries on 429/5xx/timeouts/network errors
 * with jittered exponential backoff honouring Retry-After, none on other 4xx. Failures throw FnmsError naming
 * the operation; messages never contain a token. `setApprovedBeaconVersion` reads, decides with `decidePin`,
 * and writes (PUT, idempotent) only when FNMS approves something else.
 */
export function createFnmsClient(configInput: FnmsConfigInput | FnmsConfig, deps: FnmsClientDeps): FnmsClient {
  const config = parseFnmsConfig(configInput);
  const doFetch = deps.fetch ?? globalThis.fetch;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = deps.random ?? Math.random;
  const now = deps.now ?? Date.now;
  const secrets = new Set<string>();
  let credential: Credential | null = null;
  let pendingCredential: Promise<Credential> | null = null;

  function remember(secret: string): void {
    if (secret.length >= 4) secrets.add(secret);
  }

  /** Error texts may echo what was sent; no token ever leaves in a message. */
  function redact(text: string): string {
    let out = text;
    for (const secret of secrets) out = out.split(secret).join('[redacted]');
    return out;
  }

  function fail(operation: FnmsOperation, kind: FnmsFailureKind, message: string, status: number | null, retriable: boolean, attempts: number): FnmsError {
    return new FnmsError(operation, kind, redact(message), status, retriable, attempts);
  }

  async function attemptOnce(url: string, init: RequestInit, timeoutMs: number): Promise<Attempt> {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    try {
      const response = await doFetch(url, { ...init, signal: controller.signal, redirect: 'error' });
      // The body is read under the same timeout: a server that stalls mid-answer is a timeout too.
      const text = await response.text();
      return { answer: { status: response.status, text }, retryAfterMs: parseRetryAfter(response.headers.get('retry-after'), now()) };
    } catch (error) {
      if (timedOut) return { failure: 'timeout', detail: `no answer within ${timeoutMs} ms` };
      const cause = (error as { cause?: { code?: unknown } }).cause;
      const code = typeof cause?.code === 'string' ? cause.code : (error as Error).name;
      return { failure: 'network', detail: `connection failed (${code})` };
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * One logical call with retries. `authorize` adds the credential; a 401 renews it once (that renewal
   * does not count as an attempt). `what` names the call in messages.
   */
  async function call(operation: FnmsOperation, what: string, url: string, init: RequestInit, authorize: boolean): Promise<HttpAnswer> {
    let attempt = 0;
    let requests = 0;
    let renewed = false;
    const deadline = callDeadline.getStore();
    const outOfTime = (last: FnmsError | null) =>
      fail(operation, last?.kind ?? 'timeout', `${last ? last.message : `FNMS ${what} failed`} (out of time for another attempt after ${requests} attempts)`, last?.status ?? null, true, requests);
    for (;;) {
      attempt += 1;
      if (deadline !== undefined && deadline - now() < MIN_FNMS_ATTEMPT_MS) throw outOfTime(null);
      const headers = new Headers(init.headers);
      headers.set('accept', 'application/json');
      if (authorize) {
        const current = await getCredential(operation);
        headers.set('authorization', `Bearer ${current.value}`);
      }
      requests += 1;
      const timeoutMs = deadline === undefined ? config.timeoutMs : Math.max(1, Math.min(config.timeoutMs, deadline - now()));
      const result = await attemptOnce(url, { ...init, headers }, timeoutMs);
      let retryAfterMs: number | null = null;
      let failure: FnmsError;
      if ('answer' in result) {
        const { status } = result.answer;
        if (status >= 200 && status < 300) return result.answer;
        if (status === 401 && authorize && !renewed) {
          renewed = true;
          invalidateCredentials();
          attempt -= 1;
          continue;
        }
        const retriable = status === 429 || status >= 500;
        retryAfterMs = result.retryAfterMs;
        failure = fail(operation, 'http', `FNMS ${what} failed: ${status} ${hintFor(status)}`, status, retriable, requests);
      } else {
        failure = fail(operation, result.failure, `FNMS ${what} failed: ${result.detail}`, null, true, requests);
      }
      if (!failure.retriable || attempt >= config.maxAttempts) {
        if (failure.retriable && attempt > 1) {
          throw fail(operation, failure.kind, `${failure.message} (gave up after ${requests} attempts)`, failure.status, true, requests);
        }
        throw failure;
      }
      const delay = retryAfterMs !== null ? Math.min(retryAfterMs, config.maxRetryAfterMs) : backoffDelayMs(attempt, config, random);
      if (deadline !== undefined && now() + delay + MIN_FNMS_ATTEMPT_MS > deadline) throw outOfTime(failure);
      await sleep(delay);
    }
  }

  async function readSecret(operation: FnmsOperation): Promise<string> {
    let secret: string;
    try {
      secret = (await deps.getSecret()).trim();
    } catch (error) {
      // Only the error's name: a secret store's message may quote what it failed to parse.
      const name = error instanceof Error ? error.name : typeof error;
      throw fail(operation, 'auth', `FNMS ${operation}: the FNMS secret could not be read (${name})`, null, true, 0);
    }
    if (secret.length === 0) throw fail(operation, 'auth', `FNMS ${operation}: the FNMS secret is empty`, null, false, 0);
    remember(secret);
    return secret;
  }

  async function fetchCredential(operation: FnmsOperation): Promise<Credential> {
    const auth = config.auth;
    if (auth.kind === 'bearer') {
      return { value: await readSecret(operation), renewAt: Number.POSITIVE_INFINITY };
    }
    const refreshToken = await readSecret(operation);
    const issuedAt = now();
    let answer: HttpAnswer;
    try {
      answer = await call(
        'token',
        `token request (for ${operation})`,
        auth.tokenUrl,
        {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }).toString(),
        },
        false,
      );
    } catch (error) {
      if (error instanceof FnmsError && error.status !== null && error.status >= 400 && error.status < 500 && error.status !== 429) {
        throw fail('token', 'auth', `FNMS token request (for ${operation}) was refused with ${error.status}: renew the refresh token in the FNMS secret`, error.status, false, error.attempts);
      }
      throw error;
    }
    const parsed = TokenAnswerSchema.safeParse(safeJson(answer.text));
    if (!parsed.success) {
      throw fail('token', 'protocol', `FNMS token request (for ${operation}) answered without access_token/expires_in`, answer.status, false, 1);
    }
    const { access_token: value, expires_in: expiresIn } = parsed.data;
    remember(value);
    // Renew ahead of expiry, but never spend more than half the lifetime on the margin.
    const marginSeconds = Math.min(auth.refreshSkewSeconds, expiresIn / 2);
    return { value, renewAt: issuedAt + (expiresIn - marginSeconds) * 1000 };
  }

  async function getCredential(operation: FnmsOperation): Promise<Credential> {
    if (credential !== null && now() < credential.renewAt) return credential;
    // Concurrent calls share one token request.
    pendingCredential ??= fetchCredential(operation).finally(() => {
      pendingCredential = null;
    });
    const fresh = await pendingCredential;
    credential = fresh;
    return fresh;
  }

  function invalidateCredentials(): void {
    credential = null;
  }

  function safeJson(text: string): unknown {
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  }

  function parseAnswer<T>(operation: FnmsOperation, schema: z.ZodMiniType<T>, answer: HttpAnswer): T {
    const parsed = schema.safeParse(safeJson(answer.text));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue ? `${issue.path.join('.') || '$'}: ${issue.message}` : 'not JSON';
      throw fail(operation, 'protocol', `FNMS ${operation} answered ${answer.status} with an unexpected body (${where}); check the configured path`, answer.status, false, 1);
    }
    return parsed.data;
  }

  async function getBeaconSettings(): Promise<BeaconSettings> {
    const answer = await call('getBeaconSettings', `getBeaconSettings (GET ${config.paths.beaconSettings})`, joinUrl(config.baseUrl, config.paths.beaconSettings), { method: 'GET' }, true);
    const settings = parseAnswer('getBeaconSettings', SettingsSchema, answer);
    return {
      approvedVersion: isLatestVersion(settings.approvedVersion) ? LATEST_VERSION : settings.approvedVersion.trim(),
      availableVersions: [...(settings.availableVersions ?? [])],
    };
  }

  return {
    invalidateCredentials,


    getBeaconSettings,

    async setApprovedBeaconVersion(version: string, opts: SetApprovedVersionOptions): Promise<PinOutcome> {
      // Refuse "latest" and malformed targets before any call.
      decidePin({ approvedVersion: LATEST_VERSION, availableVersions: [] }, version, { allowDowngrade: true });
      const settings = await getBeaconSettings();
      const decision = decidePin(settings, version, opts);
      if (decision.action === 'keep') return { status: 'unchanged', version: decision.version };
      const path = config.paths.approvedVersion;
      const answer = await call(
        'setApprovedBeaconVersion',
        `setApprovedBeaconVersion (PUT ${path})`,
        joinUrl(config.baseUrl, path),
        { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ version: decision.to }) },
        true,
      );
      if (answer.status !== 204 && answer.text.trim().length > 0) {
        const written = parseAnswer('setApprovedBeaconVersion', PutAnswerSchema, answer);
        if (written.approvedVersion !== decision.to) {
          throw fail('setApprovedBeaconVersion', 'protocol', `FNMS setApprovedBeaconVersion answered approvedVersion ${JSON.stringify(written.approvedVersion)} instead of ${decision.to}`, answer.status, false, 1);
        }
      }
      return { status: 'changed', from: decision.from, to: decision.to };
    },
  };
}
