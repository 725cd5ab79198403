/**
 * Timeouts and retries of the report adapters (Flexera One REST, on-premises SOAP): each attempt under a
 * deadline; 429 and 5xx retried with jittered exponential backoff honouring Retry-After; no retry on other
 * 4xx; a 401 may renew the credential once (not counted as an attempt). Failures are BeaconInventoryError
 * naming the call. The backoff and Retry-After arithmetic is the gateway client's (client.ts), imported.
 */
import * as z from 'zod/mini';
import { backoffDelayMs, currentFnmsDeadline, MIN_FNMS_ATTEMPT_MS, parseRetryAfter } from './client.js';
import { BeaconInventoryError, type InventoryErrorCode, type InventoryOperation } from './inventory.js';

/** Retry policy of a report adapter; the defaults suit a Lambda with a 2-minute timeout. */
export const RetryPolicySchema = z.strictObject({
  /** Per-attempt deadline of one HTTP exchange (for SOAP, the whole NTLM handshake). */
  timeoutMs: z._default(z.int().check(z.minimum(1), z.maximum(120_000)), 20_000),
  /** Attempts per call, the first included; 1 disables retries. */
  maxAttempts: z._default(z.int().check(z.minimum(1), z.maximum(10)), 4),
  baseDelayMs: z._default(z.int().check(z.minimum(0), z.maximum(60_000)), 500),
  maxDelayMs: z._default(z.int().check(z.minimum(0), z.maximum(300_000)), 8_000),
  /** A Retry-After longer than this is capped to it. */
  maxRetryAfterMs: z._default(z.int().check(z.minimum(0), z.maximum(300_000)), 30_000),
});
export type RetryPolicy = z.infer<typeof RetryPolicySchema>;

/** What an adapter needs from its host: the secret, and (for tests) transport, time and randomness. */
export interface ReportAdapterDeps {
  /** The refresh token, client secret or Windows password, read from Secrets Manager by the handler. Called again after a refused credential. */
  getSecret(): Promise<string>;
  /** Defaults to global fetch (Flexera One). */
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  now?: () => number;
}

export interface HttpAnswer {
  status: number;
  text: string;
  headers: Headers;
}

/** One attempt: resolves to the answer, rejects on transport failure. Gets an AbortSignal that fires at the deadline. */
export type Attempt = (signal: AbortSignal) => Promise<HttpAnswer>;

export interface CallOptions {
  operation: InventoryOperation;
  /** Names the call in messages, e.g. `Flexera One report execute (page 3)`. */
  what: string;
  /** Called on a 401 the first time: renew the credential; the call is repeated at once. */
  renewOn401?: () => void;
  /** A non-2xx answer that is final whatever its status (a SOAP fault): return the error to throw. */
  inspect?: (answer: HttpAnswer) => BeaconInventoryError | null;
  /** What a refused status means to the operator, by status. */
  hints?: Partial<Record<number, string>>;
  /** Scrubs secrets out of a message. */
  redact: (text: string) => string;
}

const DEFAULT_HINTS: Record<number, string> = {
  400: 'the server rejected the request as malformed',
  401: 'the credentials were refused',
  403: 'the account is not allowed to run this report',
  404: 'not found; check the configured host, org id and report id',
  429: 'the server throttled the call',
};

function hintFor(status: number, hints: Partial<Record<number, string>> | undefined): string {
  return hints?.[status] ?? DEFAULT_HINTS[status] ?? (status >= 500 ? 'the server failed on its side' : 'the server refused the call');
}

export interface RetryingCaller {
  call(options: CallOptions, attempt: Attempt): Promise<HttpAnswer>;
  sleep(ms: number): Promise<void>;
  now(): number;
}

export function createRetryingCaller(policy: RetryPolicy, deps: ReportAdapterDeps): RetryingCaller {
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = deps.random ?? Math.random;
  const now = deps.now ?? Date.now;

  async function once(attempt: Attempt, timeoutMs: number): Promise<{ answer: HttpAnswer } | { failure: 'timeout' | 'network'; detail: string }> {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    try {
      return { answer: await attempt(controller.signal) };
    } catch (error) {
      if (error instanceof BeaconInventoryError) throw error;
      if (timedOut) return { failure: 'timeout', detail: `no answer within ${timeoutMs} ms` };
      const cause = (error as { cause?: { code?: unknown } }).cause;
      const code = typeof cause?.code === 'string' ? cause.code : typeof (error as { code?: unknown }).code === 'string' ? (error as { code: string }).code : (error as Error).name;
      return { failure: 'network', detail: `connection failed (${code})` };
    } finally {
      clearTimeout(timer);
    }
  }

  async function call(options: CallOptions, attempt: Attempt): Promise<HttpAnswer> {
    const { operation, what, redact } = options;
    let attempts = 0;
    let requests = 0;
    let renewed = false;
    // Inside withFnmsDeadline (a Lambda's remaining time): attempts are cut to the time left and no retry
    // starts past it; out of time, the call fails retriable instead of running until the Lambda is killed.
    const deadline = currentFnmsDeadline();
    let last: { code: InventoryErrorCode; message: string; status: number | null } | null = null;
    const outOfTime = () =>
      new BeaconInventoryError(last?.code ?? 'INVENTORY_TIMEOUT', operation, redact(`${last ? last.message : `${what} failed`} (out of time for another attempt after ${requests} attempts)`), {
        status: last?.status ?? null,
        retriable: true,
        attempts: requests,
      });
    for (;;) {
      if (deadline !== undefined && deadline - now() < MIN_FNMS_ATTEMPT_MS) throw outOfTime();
      attempts += 1;
      requests += 1;
      const result = await once(attempt, deadline === undefined ? policy.timeoutMs : Math.max(1, Math.min(policy.timeoutMs, deadline - now())));
      let code: InventoryErrorCode;
      let message: string;
      let status: number | null = null;
      let retriable: boolean;
      let retryAfterMs: number | null = null;
      if ('answer' in result) {
        const answer = result.answer;
        status = answer.status;
        if (status >= 200 && status < 300) return answer;
        if (status === 401 && options.renewOn401 && !renewed) {
          renewed = true;
          options.renewOn401();
          attempts -= 1;
          continue;
        }
        const final = options.inspect?.(answer);
        if (final) throw final;
        retriable = status === 429 || status >= 500;
        code = status === 401 ? 'INVENTORY_AUTH' : 'INVENTORY_HTTP';
        message = `${what} failed: ${status} ${hintFor(status, options.hints)}`;
        retryAfterMs = parseRetryAfter(answer.headers.get('retry-after'), now());
      } else {
        retriable = true;
        code = result.failure === 'timeout' ? 'INVENTORY_TIMEOUT' : 'INVENTORY_NETWORK';
        message = `${what} failed: ${result.detail}`;
      }
      if (!retriable || attempts >= policy.maxAttempts) {
        const suffix = retriable && attempts > 1 ? ` (gave up after ${requests} attempts)` : '';
        throw new BeaconInventoryError(code, operation, redact(message + suffix), { status, retriable, attempts: requests });
      }
      const delay = retryAfterMs !== null ? Math.min(retryAfterMs, policy.maxRetryAfterMs) : backoffDelayMs(attempts, policy, random);
      last = { code, message, status };
      if (deadline !== undefined && now() + delay + MIN_FNMS_ATTEMPT_MS > deadline) throw outOfTime();
      await sleep(delay);
    }
  }

  return { call, sleep, now };
}

/** Collects secrets as they are read and removes them from any text. */
export function createRedactor(): { remember(secret: string): void; redact(text: string): string } {
  const secrets = new Set<string>();
  return {
    remember(secret: string): void {
      if (secret.length >= 4) secrets.add(secret);
    },
    redact(text: string): string {
      let out = text;
      for (const secret of secrets) out = out.split(secret).join('[redacted]');
      return out;
    },
  };
}

/** True for http URLs on a loopback host (the local stub); every other FNMS URL must be https. */
export function isLoopbackHttp(url: string): boolean {
  const parsed = new URL(url);
  return parsed.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname);
}

/** An https URL, or http on loopback (the local stub): credentials never travel in clear text to a real server. */
export const secureUrl = z.url({ protocol: /^https?$/ }).check(
  z.refine((url) => url.startsWith('https://') || isLoopbackHttp(url), 'an https URL (http only on 127.0.0.1 / localhost)'),
);
