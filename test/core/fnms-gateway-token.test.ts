/**
 * The pin gateway client's credentials and answers (lambdas/core/fnms/client.ts), with a scripted
 * transport: the refresh-token exchange and when the access token is renewed, which token failures are a
 * credential problem and which are retriable, the secret's own failures, and that no secret or token ever
 * appears in a message.
 */
import { describe, expect, it } from 'vitest';
import { createFnmsClient, parseRetryAfter } from '../../lambdas/core/fnms/client.js';
import { FnmsError } from '../../lambdas/core/fnms/errors.js';
import { rejection } from '../support/refusal.js';
import { type ScriptedStep, scriptedFetch } from '../support/scripted-fetch.js';

const BASE = 'https://pin-gateway.corp.example';
const TOKEN_URL = 'https://login.corp.example/oidc/token';
const REFRESH = 'refresh-token-0123456789';
const ACCESS = 'access-token-abcdef';
const SETTINGS = { status: 200, body: { approvedVersion: '13.2.0', availableVersions: ['13.2.0'] } };
const WHAT = 'FNMS getBeaconSettings (GET /api/beacon-settings)';

type Step = ScriptedStep;
const tokenOk = (expiresIn = 3600): Step => ({ status: 200, body: { access_token: ACCESS, expires_in: expiresIn } });

function setUp(steps: Step[], config: Record<string, unknown> = {}, secret: () => Promise<string> = async () => REFRESH, deps: Record<string, unknown> = {}) {
  const { fetch, calls } = scriptedFetch(steps, { status: 500 });
  const clock = { ms: 1_000_000 };
  let reads = 0;
  const client = createFnmsClient({ baseUrl: BASE, auth: { kind: 'refreshToken', tokenUrl: TOKEN_URL, refreshSkewSeconds: 60 }, maxAttempts: 1, ...config } as never, {
    getSecret: async () => {
      reads += 1;
      return secret();
    },
    sleep: async () => undefined,
    random: () => 0.5,
    now: () => clock.ms,
    fetch,
    ...deps,
  });
  return { client, calls, clock, reads: () => reads };
}

async function failure(promise: Promise<unknown>): Promise<ReturnType<FnmsError['toJSON']>> {
  return (await rejection(promise, FnmsError)).toJSON();
}

const tokenCalls = (calls: Array<{ url: string }>) => calls.filter((call) => call.url === TOKEN_URL).length;

describe('the refresh-token exchange', () => {
  it('the trimmed refresh token goes as a form to the token URL; the access token as the bearer', async () => {
    const { client, calls } = setUp([tokenOk(), SETTINGS], {}, async () => ` ${REFRESH}\n`);
    await client.getBeaconSettings();
    expect(calls[0]!.url).toBe(TOKEN_URL);
    expect(calls[0]!.init.method).toBe('POST');
    expect(new Headers(calls[0]!.init.headers).get('content-type')).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(new URLSearchParams(String(calls[0]!.init.body)))).toEqual({ grant_type: 'refresh_token', refresh_token: REFRESH });
    expect(new Headers(calls[1]!.init.headers).get('authorization')).toBe(`Bearer ${ACCESS}`);
  });

  it('a static bearer secret is trimmed too', async () => {
    const { client, calls } = setUp([SETTINGS], { auth: { kind: 'bearer' } }, async () => '  static-bearer-1234 ');
    await client.getBeaconSettings();
    expect(new Headers(calls[0]!.init.headers).get('authorization')).toBe('Bearer static-bearer-1234');
  });

  it('the access token is kept until the margin before expiry, never more than half its lifetime early', async () => {
    // expires_in 100 s, skew 60 s: renewed 50 s after it was issued.
    const { client, calls, clock } = setUp([tokenOk(100), SETTINGS, SETTINGS, tokenOk(100), SETTINGS]);
    await client.getBeaconSettings();
    clock.ms += 49_999;
    await client.getBeaconSettings();
    expect(tokenCalls(calls)).toBe(1);
    clock.ms += 1;
    await client.getBeaconSettings();
    expect(tokenCalls(calls)).toBe(2);
  });

  it('with a long lifetime the configured skew is the margin', async () => {
    const { client, calls, clock } = setUp([tokenOk(3600), SETTINGS, SETTINGS, tokenOk(3600), SETTINGS]);
    await client.getBeaconSettings();
    clock.ms += (3600 - 60) * 1000 - 1;
    await client.getBeaconSettings();
    expect(tokenCalls(calls)).toBe(1);
    clock.ms += 1;
    await client.getBeaconSettings();
    expect(tokenCalls(calls)).toBe(2);
  });

  it('the token endpoint refusing the refresh token (4xx but 429): renew it, not retried, named as the token call', async () => {
    for (const status of [400, 401, 499]) {
      const { client } = setUp([{ status }], { maxAttempts: 3 });
      expect(await failure(client.getBeaconSettings())).toEqual({
        name: 'FnmsError',
        operation: 'token',
        kind: 'auth',
        status,
        retriable: false,
        attempts: 1,
        message: `FNMS token request (for getBeaconSettings) was refused with ${status}: renew the refresh token in the FNMS secret`,
      });
    }
  });

  it('a 3xx from the token endpoint is not a refused refresh token: the token call failed, renew nothing', async () => {
    for (const status of [300, 302, 399]) {
      const { client } = setUp([{ status }], { maxAttempts: 3 });
      const error = await failure(client.getBeaconSettings());
      expect(error).toMatchObject({ operation: 'token', kind: 'http', status, retriable: false, message: expect.stringMatching(/^FNMS token request \(for getBeaconSettings\) failed: /) });
      expect(error.message).not.toContain('renew the refresh token');
    }
  });

  it('the token endpoint failing (5xx), throttling (429) or unreachable: the call\'s own retriable failure', async () => {
    for (const status of [500, 503, 429]) {
      const { client } = setUp([{ status }]);
      expect(await failure(client.getBeaconSettings())).toMatchObject({ operation: 'token', kind: 'http', status, retriable: true, message: expect.stringMatching(/^FNMS token request \(for getBeaconSettings\) failed: /) });
    }
    const { client } = setUp([{ error: new TypeError('fetch failed') }]);
    expect(await failure(client.getBeaconSettings())).toMatchObject({ operation: 'token', kind: 'network', status: null, retriable: true, message: 'FNMS token request (for getBeaconSettings) failed: connection failed (TypeError)' });
  });

  it('a token answer without access_token or expires_in is a protocol error of the token call', async () => {
    for (const body of [{ access_token: ACCESS }, { expires_in: 60 }, 'not json']) {
      const { client } = setUp([{ status: 200, body }]);
      expect(await failure(client.getBeaconSettings())).toEqual({
        name: 'FnmsError',
        operation: 'token',
        kind: 'protocol',
        status: 200,
        retriable: false,
        attempts: 1,
        message: 'FNMS token request (for getBeaconSettings) answered without access_token/expires_in',
      });
    }
  });
});

describe('the secret', () => {
  it('unreadable: a retriable auth error naming only the error type, no request sent', async () => {
    const { client, calls } = setUp([], {}, async () => {
      throw new SyntaxError(`bad JSON near ${REFRESH}`);
    });
    expect(await failure(client.getBeaconSettings())).toEqual({
      name: 'FnmsError',
      operation: 'getBeaconSettings',
      kind: 'auth',
      status: null,
      retriable: true,
      attempts: 0,
      message: 'FNMS getBeaconSettings: the FNMS secret could not be read (SyntaxError)',
    });
    expect(calls).toHaveLength(0);
  });

  it('empty or blank: a final auth error', async () => {
    const { client } = setUp([], { auth: { kind: 'bearer' } }, async () => ' \n');
    expect(await failure(client.getBeaconSettings())).toEqual({
      name: 'FnmsError',
      operation: 'getBeaconSettings',
      kind: 'auth',
      status: null,
      retriable: false,
      attempts: 0,
      message: 'FNMS getBeaconSettings: the FNMS secret is empty',
    });
  });

  it('a 401 re-reads the secret once and does not use up an attempt', async () => {
    const { client, reads } = setUp([{ status: 401 }, { status: 503 }, SETTINGS], { auth: { kind: 'bearer' }, maxAttempts: 2 }, async () => 'static-bearer-1234');
    await expect(client.getBeaconSettings()).resolves.toMatchObject({ approvedVersion: '13.2.0' });
    expect(reads()).toBe(2);
  });
});

describe('no secret or token in a message, whatever a transport error says', () => {
  const echo = (text: string): Step => ({ error: Object.assign(new TypeError('fetch failed'), { cause: { code: `E_${text}` } }) });

  it('the refresh token, the access token and a bearer of 4 characters are redacted as [redacted]', async () => {
    const onToken = setUp([echo(REFRESH)]);
    expect((await failure(onToken.client.getBeaconSettings())).message).toBe('FNMS token request (for getBeaconSettings) failed: connection failed (E_[redacted])');
    const onCall = setUp([tokenOk(), echo(ACCESS)]);
    expect((await failure(onCall.client.getBeaconSettings())).message).toBe(`${WHAT} failed: connection failed (E_[redacted])`);
    const short = setUp([echo('abcd')], { auth: { kind: 'bearer' } }, async () => 'abcd');
    expect((await failure(short.client.getBeaconSettings())).message).toBe(`${WHAT} failed: connection failed (E_[redacted])`);
  });

  it('a secret under 4 characters is not looked for (it would redact ordinary words)', async () => {
    const tiny = setUp([echo('abc')], { auth: { kind: 'bearer' } }, async () => 'abc');
    expect((await failure(tiny.client.getBeaconSettings())).message).toBe(`${WHAT} failed: connection failed (E_abc)`);
  });

  it('an error without a cause is named by its type', async () => {
    const { client } = setUp([{ error: new RangeError('boom') }], { auth: { kind: 'bearer' } });
    expect((await failure(client.getBeaconSettings())).message).toBe(`${WHAT} failed: connection failed (RangeError)`);
  });
});

describe('answers', () => {
  it('a 300 is not success (only 2xx is)', async () => {
    const { client } = setUp([{ status: 300, body: SETTINGS.body }], { auth: { kind: 'bearer' } });
    expect(await failure(client.getBeaconSettings())).toMatchObject({ kind: 'http', status: 300, retriable: false, message: `${WHAT} failed: 300 FNMS refused the call` });
  });

  it('the base URL loses every trailing slash', async () => {
    const { client, calls } = setUp([SETTINGS], { auth: { kind: 'bearer' }, baseUrl: `${BASE}//` });
    await client.getBeaconSettings();
    expect(calls[0]!.url).toBe(`${BASE}/api/beacon-settings`);
  });

  it('an unexpected settings body names the nested field', async () => {
    const { client } = setUp([{ status: 200, body: { approvedVersion: '13.2.0', availableVersions: [1] } }], { auth: { kind: 'bearer' } });
    expect((await failure(client.getBeaconSettings())).message).toMatch(/^FNMS getBeaconSettings answered 200 with an unexpected body \(availableVersions\.0: .+\); check the configured path$/);
  });

  it('a failed write is named as the PUT of its path', async () => {
    const { client } = setUp([{ status: 200, body: { approvedVersion: 'latest' } }, { status: 409 }], { auth: { kind: 'bearer' } });
    expect(await failure(client.setApprovedBeaconVersion('13.2.0', { allowDowngrade: false }))).toMatchObject({
      operation: 'setApprovedBeaconVersion',
      kind: 'http',
      status: 409,
      message: 'FNMS setApprovedBeaconVersion (PUT /api/beacon-settings/approved-version) failed: 409 FNMS reports a conflicting change; retry later',
    });
  });

  it('Retry-After: only a whole number of seconds or an HTTP date', () => {
    expect(parseRetryAfter('Wed, 02 Dec 2026 10:00:05 +0000', Date.parse('2026-12-02T10:00:00Z'))).toBe(5000);
    expect(parseRetryAfter('120abc', 0)).toBeNull();
    expect(parseRetryAfter('999999', 0)).toBe(999_999_000);
    expect(parseRetryAfter('1234567', 0)).toBeNull();
  });

  it('without an injected sleep the backoff really waits', async () => {
    // A lower bound only (a slow machine only waits longer): half of 400 ms with the random draw at 0.5.
    const { client } = setUp([{ status: 503 }, SETTINGS], { auth: { kind: 'bearer' }, maxAttempts: 2, baseDelayMs: 400, maxDelayMs: 400 }, async () => 'static-bearer-1234', { sleep: undefined });
    const started = performance.now();
    await client.getBeaconSettings();
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
  });
});
