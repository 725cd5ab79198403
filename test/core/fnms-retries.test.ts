/**
 * Retries, timeouts and the Lambda deadline of the FNMS calls: the pin gateway client (client.ts) and the
 * report adapters' caller (report-http.ts). A handler runs its calls inside `withFnmsDeadline(remaining time)`:
 * no attempt starts without 250 ms left, each attempt is cut to the time left, no backoff sleeps past it,
 * and running out of time is a retriable failure naming the last error (Step Functions retries later) rather
 * than a Lambda killed mid-call. Scripted transports, a frozen clock: no server, no real waiting except the
 * attempt timeouts that are measured.
 */
import { describe, expect, it } from 'vitest';
import { backoffDelayMs, createFnmsClient, currentFnmsDeadline, parseRetryAfter, withFnmsDeadline } from '../../lambdas/core/fnms/client.js';
import { FnmsError } from '../../lambdas/core/fnms/errors.js';
import { BeaconInventoryError } from '../../lambdas/core/fnms/inventory.js';
import { type HttpAnswer, RetryPolicySchema, createRedactor, createRetryingCaller, isLoopbackHttp, secureUrl } from '../../lambdas/core/fnms/report-http.js';
import { rejection } from '../support/refusal.js';
import { type ScriptedStep, scriptedFetch } from '../support/scripted-fetch.js';

const NOW = 1_000_000;
const BEARER = 'static-bearer-0123456789';

type Step = ScriptedStep;

function gateway(steps: Step[], config: Record<string, unknown> = {}) {
  const { fetch: fetchImpl, calls } = scriptedFetch(steps, { status: 200, body: '{}' });
  const sleeps: number[] = [];
  const clock = { ms: NOW };
  const client = createFnmsClient(
    { baseUrl: 'https://pin-gateway.corp.example', auth: { kind: 'bearer' }, ...config },
    {
      getSecret: async () => BEARER,
      fetch: fetchImpl,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      random: () => 0.5,
      now: () => clock.ms,
    },
  );
  return { client, calls, sleeps, clock, fetchImpl };
}

const SETTINGS = { status: 200, body: JSON.stringify({ approvedVersion: '13.2.0', availableVersions: ['13.2.0'] }) };
const WHAT = 'FNMS getBeaconSettings (GET /api/beacon-settings)';

describe('the FNMS call deadline (withFnmsDeadline)', () => {
  it('is visible to the calls made inside it, per invocation, and absent outside', async () => {
    expect(currentFnmsDeadline()).toBeUndefined();
    const seen = await Promise.all([
      withFnmsDeadline(111, async () => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        return currentFnmsDeadline();
      }),
      withFnmsDeadline(222, async () => currentFnmsDeadline()),
    ]);
    expect(seen).toEqual([111, 222]);
    expect(currentFnmsDeadline()).toBeUndefined();
  });
});

describe('pin gateway client under a deadline', () => {
  it('less than 250 ms left: no request is sent; a retriable timeout after 0 attempts', async () => {
    const { client, calls } = gateway([SETTINGS]);
    const error = await rejection(withFnmsDeadline(NOW + 249, () => client.getBeaconSettings()), FnmsError);
    expect(error).toBeInstanceOf(FnmsError);
    expect(error.toJSON()).toEqual({
      name: 'FnmsError',
      operation: 'getBeaconSettings',
      kind: 'timeout',
      status: null,
      retriable: true,
      attempts: 0,
      message: `${WHAT} failed (out of time for another attempt after 0 attempts)`,
    });
    expect(calls).toHaveLength(0);
  });

  it('exactly 250 ms left is enough for an attempt', async () => {
    const { client, calls } = gateway([SETTINGS]);
    await expect(withFnmsDeadline(NOW + 250, () => client.getBeaconSettings())).resolves.toMatchObject({ approvedVersion: '13.2.0' });
    expect(calls).toHaveLength(1);
  });

  it('an attempt is cut to the time left; then no backoff fits: out of time, naming the timeout', async () => {
    const { client, calls, sleeps } = gateway(['hang', SETTINGS], { timeoutMs: 10_000 });
    const error = await rejection(withFnmsDeadline(NOW + 260, () => client.getBeaconSettings()), FnmsError);
    expect(error.toJSON()).toMatchObject({ kind: 'timeout', status: null, retriable: true, attempts: 1, message: `${WHAT} failed: no answer within 260 ms (out of time for another attempt after 1 attempts)` });
    expect(calls).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('with more time left than the configured timeout, the configured timeout holds', async () => {
    const { client } = gateway(['hang'], { timeoutMs: 255, maxAttempts: 1 });
    const error = await rejection(withFnmsDeadline(NOW + 60_000, () => client.getBeaconSettings()), FnmsError);
    expect(error.message).toBe(`${WHAT} failed: no answer within 255 ms`);
  });

  it('a retry whose backoff ends exactly 250 ms before the deadline still runs; 1 ms later it does not', async () => {
    // base 250 ms, random 0.5: the first backoff is 188 ms.
    const fits = gateway([{ status: 500 }, SETTINGS]);
    await expect(withFnmsDeadline(NOW + 188 + 250, () => fits.client.getBeaconSettings())).resolves.toMatchObject({ approvedVersion: '13.2.0' });
    expect(fits.sleeps).toEqual([188]);
    const late = gateway([{ status: 500 }, SETTINGS]);
    const error = await rejection(withFnmsDeadline(NOW + 188 + 249, () => late.client.getBeaconSettings()), FnmsError);
    expect(error.toJSON()).toMatchObject({ kind: 'http', status: 500, retriable: true, attempts: 1, message: `${WHAT} failed: 500 FNMS failed on its side (out of time for another attempt after 1 attempts)` });
    expect(late.sleeps).toEqual([]);
    expect(late.calls).toHaveLength(1);
  });

  it('time passing during the retries ends them: the attempt that finds under 250 ms left is not sent', async () => {
    const g = gateway([{ status: 503 }, { status: 503 }, SETTINGS]);
    const client = createFnmsClient(
      { baseUrl: 'https://pin-gateway.corp.example', auth: { kind: 'bearer' } },
      {
        getSecret: async () => BEARER,
        fetch: g.fetchImpl,
        random: () => 0.5,
        now: () => g.clock.ms,
        sleep: async (ms) => {
          g.clock.ms += ms + 400;
        },
      },
    );
    const error = await rejection(withFnmsDeadline(NOW + 188 + 250, () => client.getBeaconSettings()), FnmsError);
    expect(error.toJSON()).toMatchObject({ kind: 'timeout', status: null, attempts: 1, message: `${WHAT} failed (out of time for another attempt after 1 attempts)` });
    expect(g.calls).toHaveLength(1);
  });
});

describe('pin gateway client: what it sends and how it gives up', () => {
  it('asks for JSON with the bearer, never follows a redirect, and reads the settings ("latest" however spelled)', async () => {
    const { client, calls } = gateway([{ status: 200, body: JSON.stringify({ approvedVersion: ' Always use the latest version ' }) }], { baseUrl: 'https://pin-gateway.corp.example/' });
    await expect(client.getBeaconSettings()).resolves.toEqual({ approvedVersion: 'latest', availableVersions: [] });
    expect(calls[0]!.url).toBe('https://pin-gateway.corp.example/api/beacon-settings');
    const headers = new Headers(calls[0]!.init.headers);
    expect(headers.get('accept')).toBe('application/json');
    expect(headers.get('authorization')).toBe(`Bearer ${BEARER}`);
    expect(calls[0]!.init.redirect).toBe('error');
    expect(calls[0]!.init.method).toBe('GET');
  });

  it('an approved release is read trimmed', async () => {
    const { client } = gateway([{ status: 200, body: JSON.stringify({ approvedVersion: ' 13.2.0 ' }) }]);
    await expect(client.getBeaconSettings()).resolves.toMatchObject({ approvedVersion: '13.2.0' });
  });

  it('a 4xx other than 401/429 is final at once: not retriable, no "gave up" suffix', async () => {
    for (const [status, hint] of [
      [400, 'FNMS rejected the request as malformed'],
      [403, "the pin gateway refused this account; check the gateway's authorisation"],
      [409, 'FNMS reports a conflicting change; retry later'],
      [418, 'FNMS refused the call'],
    ] as const) {
      const { client, calls } = gateway([{ status }]);
      const error = await rejection(client.getBeaconSettings(), FnmsError);
      expect(error.toJSON()).toMatchObject({ kind: 'http', status, retriable: false, attempts: 1, message: `${WHAT} failed: ${status} ${hint}` });
      expect(calls).toHaveLength(1);
    }
  });

  it('a single attempt (maxAttempts 1) that fails retriably says so without "gave up"', async () => {
    const { client } = gateway([{ status: 503 }], { maxAttempts: 1 });
    const error = await rejection(client.getBeaconSettings(), FnmsError);
    expect(error.toJSON()).toMatchObject({ retriable: true, attempts: 1, message: `${WHAT} failed: 503 FNMS failed on its side` });
  });

  it('429 is retried; after maxAttempts it gives up, retriable, counting every request', async () => {
    const { client, calls } = gateway([{ status: 429 }, { status: 429 }], { maxAttempts: 2 });
    const error = await rejection(client.getBeaconSettings(), FnmsError);
    expect(error.toJSON()).toMatchObject({ kind: 'http', status: 429, retriable: true, attempts: 2, message: `${WHAT} failed: 429 FNMS throttled the call (gave up after 2 attempts)` });
    expect(calls).toHaveLength(2);
  });

  it('a network failure names the cause\'s code, else the error name', async () => {
    const refused = Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    const first = gateway([{ error: refused }], { maxAttempts: 1 });
    expect((await rejection(first.client.getBeaconSettings(), FnmsError)).toJSON()).toMatchObject({ kind: 'network', retriable: true, message: `${WHAT} failed: connection failed (ECONNREFUSED)` });
    const second = gateway([{ error: Object.assign(new TypeError('fetch failed'), { cause: { code: 42 } }) }], { maxAttempts: 1 });
    expect((await rejection(second.client.getBeaconSettings(), FnmsError)).message).toBe(`${WHAT} failed: connection failed (TypeError)`);
  });

  it('the write: PUT of the release as JSON; a 204 or an empty 200 is success; an answer naming another release is a protocol error', async () => {
    const settings = { status: 200, body: JSON.stringify({ approvedVersion: 'latest', availableVersions: [] }) };
    const ok = gateway([settings, { status: 204 }]);
    await expect(ok.client.setApprovedBeaconVersion('13.2.0', { allowDowngrade: false })).resolves.toEqual({ status: 'changed', from: 'latest', to: '13.2.0' });
    expect(ok.calls[1]!.url).toBe('https://pin-gateway.corp.example/api/beacon-settings/approved-version');
    expect(ok.calls[1]!.init.method).toBe('PUT');
    expect(ok.calls[1]!.init.body).toBe('{"version":"13.2.0"}');
    expect(new Headers(ok.calls[1]!.init.headers).get('content-type')).toBe('application/json');
    const empty = gateway([settings, { status: 200, body: '  ' }]);
    await expect(empty.client.setApprovedBeaconVersion('13.2.0', { allowDowngrade: false })).resolves.toMatchObject({ status: 'changed' });
    const echoed = gateway([settings, { status: 200, body: JSON.stringify({ approvedVersion: '13.2.0' }) }]);
    await expect(echoed.client.setApprovedBeaconVersion('13.2.0', { allowDowngrade: false })).resolves.toMatchObject({ status: 'changed' });
    const other = gateway([settings, { status: 200, body: JSON.stringify({ approvedVersion: '13.1.0' }) }]);
    const error = await rejection(other.client.setApprovedBeaconVersion('13.2.0', { allowDowngrade: false }), FnmsError);
    expect(error.toJSON()).toMatchObject({
      operation: 'setApprovedBeaconVersion',
      kind: 'protocol',
      status: 200,
      retriable: false,
      message: 'FNMS setApprovedBeaconVersion answered approvedVersion "13.1.0" instead of 13.2.0',
    });
    const garbage = gateway([settings, { status: 200, body: 'not json' }]);
    expect((await rejection(garbage.client.setApprovedBeaconVersion('13.2.0', { allowDowngrade: false }), FnmsError)).message).toMatch(
      /^FNMS setApprovedBeaconVersion answered 200 with an unexpected body \(\$: .+\); check the configured path$/,
    );
  });

  it('an unexpected settings body names the field at fault, or $ when the body is not an object', async () => {
    const wrong = gateway([{ status: 200, body: JSON.stringify({ approvedVersion: '' }) }]);
    expect((await rejection(wrong.client.getBeaconSettings(), FnmsError)).message).toMatch(/^FNMS getBeaconSettings answered 200 with an unexpected body \(approvedVersion: .+\); check the configured path$/);
    const notObject = gateway([{ status: 200, body: '[1]' }]);
    expect((await rejection(notObject.client.getBeaconSettings(), FnmsError)).message).toMatch(/^FNMS getBeaconSettings answered 200 with an unexpected body \(\$: .+\)/);
  });
});

describe('Retry-After and backoff arithmetic (shared by every FNMS call)', () => {
  it('Retry-After in seconds or as an HTTP date; unusable values are ignored', () => {
    expect(parseRetryAfter(null, NOW)).toBeNull();
    expect(parseRetryAfter(' 7 ', NOW)).toBe(7000);
    expect(parseRetryAfter('0', NOW)).toBe(0);
    expect(parseRetryAfter(new Date(NOW + 5000).toUTCString(), NOW)).toBe(5000);
    expect(parseRetryAfter(new Date(NOW - 5000).toUTCString(), NOW)).toBe(0);
    expect(parseRetryAfter('soon', NOW)).toBeNull();
  });

  it('backoff: half the exponential delay fixed, half random, capped', () => {
    const config = { baseDelayMs: 100, maxDelayMs: 1000 };
    expect(backoffDelayMs(1, config, () => 0)).toBe(50);
    expect(backoffDelayMs(1, config, () => 0.999999)).toBe(100);
    expect(backoffDelayMs(3, config, () => 0)).toBe(200);
    expect(backoffDelayMs(10, config, () => 0.999999)).toBe(1000);
    expect(backoffDelayMs(0, config, () => 0)).toBe(50);
  });
});

describe('report adapters\' caller (createRetryingCaller)', () => {
  const policy = RetryPolicySchema.parse({ timeoutMs: 10_000, maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1000, maxRetryAfterMs: 5000 });
  const answer = (status: number, headers: Record<string, string> = {}): HttpAnswer => ({ status, text: '', headers: new Headers(headers) });

  function caller(options: { now?: () => number } = {}) {
    const sleeps: number[] = [];
    const c = createRetryingCaller(policy, {
      getSecret: async () => 'unused',
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      random: () => 0,
      now: options.now ?? (() => NOW),
    });
    return { c, sleeps };
  }
  const script = (...answers: Array<HttpAnswer | Error | 'hang'>) => {
    let count = 0;
    const attempt = async (signal: AbortSignal): Promise<HttpAnswer> => {
      count += 1;
      const next = answers.shift() ?? answer(200);
      if (next === 'hang') return new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted'))));
      if (next instanceof Error) throw next;
      return next;
    };
    return { attempt, count: () => count };
  };
  const options = { operation: 'executeReport' as const, what: 'Report page 1', redact: (text: string) => text };

  async function failure(promise: Promise<unknown>): Promise<ReturnType<BeaconInventoryError['toJSON']>> {
    return (await rejection(promise, BeaconInventoryError)).toJSON();
  }

  it('2xx is the answer; 5xx and 429 are retried with backoff, Retry-After honoured and capped', async () => {
    const { c, sleeps } = caller();
    const run = script(answer(503), answer(429, { 'retry-after': '60' }), answer(204));
    await expect(c.call(options, run.attempt)).resolves.toMatchObject({ status: 204 });
    expect(sleeps).toEqual([50, 5000]);
  });

  it('gives up after maxAttempts, retriable, naming the call, the status and the attempts', async () => {
    const { c } = caller();
    expect(await failure(c.call(options, script(answer(502), answer(502), answer(502)).attempt))).toMatchObject({
      code: 'INVENTORY_HTTP',
      operation: 'executeReport',
      status: 502,
      retriable: true,
      attempts: 3,
      message: 'Report page 1 failed: 502 the server failed on its side (gave up after 3 attempts)',
    });
  });

  it('other 4xx are final: the adapter\'s hint for the status first, then the default one', async () => {
    const { c } = caller();
    const hinted = { ...options, hints: { 404: 'check the report id' } };
    expect(await failure(c.call(hinted, script(answer(404)).attempt))).toMatchObject({ code: 'INVENTORY_HTTP', retriable: false, attempts: 1, message: 'Report page 1 failed: 404 check the report id' });
    expect((await failure(c.call(hinted, script(answer(403)).attempt))).message).toBe('Report page 1 failed: 403 the account is not allowed to run this report');
    expect((await failure(c.call(options, script(answer(418)).attempt))).message).toBe('Report page 1 failed: 418 the server refused the call');
  });

  it('a 401 renews the credential once (not counted as an attempt), then is an auth error', async () => {
    const { c, sleeps } = caller();
    let renewals = 0;
    const run = script(answer(401), answer(401));
    expect(await failure(c.call({ ...options, renewOn401: () => (renewals += 1) }, run.attempt))).toMatchObject({
      code: 'INVENTORY_AUTH',
      status: 401,
      retriable: false,
      attempts: 2,
      message: 'Report page 1 failed: 401 the credentials were refused',
    });
    expect(renewals).toBe(1);
    expect(sleeps).toEqual([]);
    // Without a way to renew, the first 401 is final.
    expect(await failure(c.call(options, script(answer(401)).attempt))).toMatchObject({ code: 'INVENTORY_AUTH', attempts: 1 });
  });

  it('a renewal does not use up an attempt: 401, then 503 twice, then 200 within maxAttempts 3', async () => {
    const { c } = caller();
    await expect(c.call({ ...options, renewOn401: () => undefined }, script(answer(401), answer(503), answer(503), answer(200)).attempt)).resolves.toMatchObject({ status: 200 });
  });

  it('an answer the adapter inspects as final (a SOAP fault) is thrown as is, without a retry', async () => {
    const { c } = caller();
    const fault = new BeaconInventoryError('INVENTORY_SOAP_FAULT', 'getCustomView', 'fault');
    const run = script(answer(500), answer(200));
    await expect(c.call({ ...options, inspect: (refused) => (refused.status === 500 ? fault : null) }, run.attempt)).rejects.toBe(fault);
    expect(run.count()).toBe(1);
  });

  it('an inventory error raised inside an attempt (an NTLM refusal) ends the call at once', async () => {
    const { c } = caller();
    const refused = new BeaconInventoryError('INVENTORY_AUTH', 'getCustomView', 'no NTLM');
    const run = script(refused, answer(200));
    await expect(c.call(options, run.attempt)).rejects.toBe(refused);
    expect(run.count()).toBe(1);
  });

  it('a transport failure is a retriable network error naming the code (cause, then the error\'s own, then its name)', async () => {
    const { c } = caller();
    const withCause = Object.assign(new Error('x'), { cause: { code: 'ECONNRESET' } });
    const withCode = Object.assign(new Error('x'), { code: 'EPIPE' });
    const plain = new RangeError('x');
    expect(await failure(c.call(options, script(withCause, withCode, plain).attempt))).toMatchObject({
      code: 'INVENTORY_NETWORK',
      status: null,
      retriable: true,
      attempts: 3,
      message: 'Report page 1 failed: connection failed (RangeError) (gave up after 3 attempts)',
    });
    const one = createRetryingCaller({ ...policy, maxAttempts: 1 }, { getSecret: async () => '' });
    expect((await failure(one.call(options, script(withCause).attempt))).message).toBe('Report page 1 failed: connection failed (ECONNRESET)');
    expect((await failure(one.call(options, script(withCode).attempt))).message).toBe('Report page 1 failed: connection failed (EPIPE)');
  });

  it('an attempt with no answer in time is a timeout, cut to the time left under a deadline', async () => {
    const one = createRetryingCaller({ ...policy, timeoutMs: 255, maxAttempts: 1 }, { getSecret: async () => '', now: () => NOW });
    expect(await failure(withFnmsDeadline(NOW + 60_000, () => one.call(options, script('hang').attempt)))).toMatchObject({ code: 'INVENTORY_TIMEOUT', retriable: true, message: 'Report page 1 failed: no answer within 255 ms' });
    const { c, sleeps } = caller();
    expect(await failure(withFnmsDeadline(NOW + 260, () => c.call(options, script('hang').attempt)))).toMatchObject({
      code: 'INVENTORY_TIMEOUT',
      status: null,
      retriable: true,
      attempts: 1,
      message: 'Report page 1 failed: no answer within 260 ms (out of time for another attempt after 1 attempts)',
    });
    expect(sleeps).toEqual([]);
  });

  it('under 250 ms left no attempt starts; a backoff must end 250 ms before the deadline', async () => {
    const { c } = caller();
    const none = script(answer(200));
    expect(await failure(withFnmsDeadline(NOW + 249, () => c.call(options, none.attempt)))).toEqual({
      name: 'BeaconInventoryError',
      code: 'INVENTORY_TIMEOUT',
      operation: 'executeReport',
      field: null,
      status: null,
      retriable: true,
      attempts: 0,
      message: 'Report page 1 failed (out of time for another attempt after 0 attempts)',
    });
    expect(none.count()).toBe(0);
    // random 0: the first backoff is 50 ms.
    const fits = caller();
    await expect(withFnmsDeadline(NOW + 50 + 250, () => fits.c.call(options, script(answer(503), answer(200)).attempt))).resolves.toMatchObject({ status: 200 });
    expect(fits.sleeps).toEqual([50]);
    const late = caller();
    expect(await failure(withFnmsDeadline(NOW + 50 + 249, () => late.c.call(options, script(answer(503), answer(200)).attempt)))).toMatchObject({
      code: 'INVENTORY_HTTP',
      status: 503,
      retriable: true,
      attempts: 1,
      message: 'Report page 1 failed: 503 the server failed on its side (out of time for another attempt after 1 attempts)',
    });
    expect(late.sleeps).toEqual([]);
  });

  it('every message goes through the adapter\'s redaction', async () => {
    const { c } = caller();
    const redacted = { ...options, what: 'call with SECRET', redact: (text: string) => text.replaceAll('SECRET', '[redacted]') };
    expect((await failure(c.call(redacted, script(answer(400)).attempt))).message).toBe('call with [redacted] failed: 400 the server rejected the request as malformed');
    expect((await failure(withFnmsDeadline(NOW, () => c.call(redacted, script().attempt)))).message).toBe('call with [redacted] failed (out of time for another attempt after 0 attempts)');
  });
});

describe('secrets and URLs of the report adapters', () => {
  it('a redactor removes every secret of 4 characters or more it was told, wherever it appears', () => {
    const redactor = createRedactor();
    redactor.remember('abcd');
    redactor.remember('xyz');
    redactor.remember('s3cr3t-value');
    expect(redactor.redact('abcd s3cr3t-value xyz abcd')).toBe('[redacted] [redacted] xyz [redacted]');
  });

  it('http only on loopback (the local stub); https everywhere else', () => {
    for (const url of ['http://127.0.0.1:8080/x', 'http://localhost/x', 'http://[::1]:9/x']) expect(isLoopbackHttp(url)).toBe(true);
    for (const url of ['https://127.0.0.1/x', 'http://fnms.corp.example/x', 'http://127.0.0.2/x']) expect(isLoopbackHttp(url)).toBe(false);
    expect(secureUrl.safeParse('https://fnms.corp.example').success).toBe(true);
    expect(secureUrl.safeParse('http://127.0.0.1:8080').success).toBe(true);
    const refused = secureUrl.safeParse('http://fnms.corp.example');
    expect(refused.success).toBe(false);
    expect(refused.error?.issues[0]?.message).toBe('an https URL (http only on 127.0.0.1 / localhost)');
    expect(secureUrl.safeParse('ftp://fnms.corp.example').success).toBe(false);
  });

  it('the retry policy defaults suit a Lambda with a 2-minute timeout', () => {
    expect(RetryPolicySchema.parse({})).toEqual({ timeoutMs: 20_000, maxAttempts: 4, baseDelayMs: 500, maxDelayMs: 8_000, maxRetryAfterMs: 30_000 });
  });
});
