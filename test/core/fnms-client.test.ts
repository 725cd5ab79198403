import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RequestError } from '../../lambdas/core/errors.js';
import { type FnmsClient, type FnmsConfigInput, FnmsError, createFnmsClient, pinBeaconVersion } from '../../lambdas/core/fnms/index.js';
import { FnmsStub, STUB_REFRESH_TOKEN, type FnmsStubState } from '../../local/fnms-stub.js';

const PATHS = { settings: '/api/beacon-settings', approved: '/api/beacon-settings/approved-version', token: '/oidc/token' };
const BEARER = 'gateway-bearer-token-abcdef123456';

interface Harness {
  stub: FnmsStub;
  client: FnmsClient;
  clock: { ms: number };
  sleeps: number[];
  secretReads: number;
  /** Every Authorization header the client sent. */
  sentCredentials: string[];
}

let harness: Harness;

async function setUp(
  state: Partial<FnmsStubState> = {},
  options: { auth?: 'refreshToken' | 'bearer'; config?: Partial<FnmsConfigInput>; secret?: string; tokenTtlSeconds?: number } = {},
): Promise<Harness> {
  const clock = { ms: Date.parse('2026-11-27T12:00:00Z') };
  const stub = new FnmsStub({ state, now: () => clock.ms, bearerTokens: [BEARER], tokenTtlSeconds: options.tokenTtlSeconds ?? 3600 });
  await stub.start();
  const h: Harness = { stub, clock, sleeps: [], secretReads: 0, sentCredentials: [], client: undefined as unknown as FnmsClient };
  const auth = options.auth ?? 'refreshToken';
  h.client = createFnmsClient(stub.clientConfig(auth, { timeoutMs: 2000, ...options.config }), {
    getSecret: async () => {
      h.secretReads += 1;
      return options.secret ?? (auth === 'bearer' ? BEARER : STUB_REFRESH_TOKEN);
    },
    sleep: async (ms) => {
      h.sleeps.push(ms);
    },
    random: () => 0.5,
    now: () => clock.ms,
    fetch: async (input, init) => {
      const value = new Headers(init?.headers).get('authorization');
      if (value) h.sentCredentials.push(value.replace(/^Bearer /, ''));
      return fetch(input, init);
    },
  });
  harness = h;
  return h;
}

afterEach(async () => {
  await harness?.stub.stop();
});

const BEACONS: FnmsStubState['beacons'] = [
  { name: 'BEACON01', computerName: 'BEACON01', version: '13.2.0', status: 'Active', lastContact: '2026-11-27T11:00:00Z' },
  { name: 'BEACON02', computerName: 'BEACON02', version: null, status: null, lastContact: null },
];
const AVAILABLE = ['13.1.0', '13.2.0', '13.3.0'];

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

function expectNoSecretIn(text: string): void {
  expect(text).not.toContain(STUB_REFRESH_TOKEN);
  expect(text).not.toContain(BEARER);
  for (const credential of harness.sentCredentials) expect(text).not.toContain(credential);
  expect(text).not.toMatch(/stub-at-[0-9a-f]{24}/);
}

describe('pin gateway client (our contract, not a Flexera API) against the local stub: reads', () => {
  beforeEach(async () => {
    await setUp({ beacons: BEACONS, approvedVersion: '13.2.0', availableVersions: AVAILABLE });
  });

  it('reads the approved version and the available releases', async () => {
    await expect(harness.client.getBeaconSettings()).resolves.toEqual({ approvedVersion: '13.2.0', availableVersions: AVAILABLE });
  });

  it('caches the access token: one token request for many calls', async () => {
    await harness.client.getBeaconSettings();
    await harness.client.getBeaconSettings();
    await harness.client.getBeaconSettings();
    expect(harness.stub.tokensIssued).toBe(1);
    expect(harness.stub.requestsTo(PATHS.token)).toHaveLength(1);
  });

  it('concurrent calls share one token request', async () => {
    await Promise.all([harness.client.getBeaconSettings(), harness.client.getBeaconSettings(), harness.client.getBeaconSettings(), harness.client.getBeaconSettings()]);
    expect(harness.stub.tokensIssued).toBe(1);
  });

  it('renews the token shortly before it expires, without a 401 first', async () => {
    await harness.client.getBeaconSettings();
    harness.clock.ms += (3600 - 30) * 1000; // inside the 60 s renewal margin
    await harness.client.getBeaconSettings();
    expect(harness.stub.tokensIssued).toBe(2);
    expect(harness.stub.requests.filter((r) => r.status === 401)).toHaveLength(0);
  });

  it('renews the token once when FNMS answers 401 (token revoked or expired server-side) and the call succeeds', async () => {
    await harness.client.getBeaconSettings();
    harness.stub.expireTokens();
    await expect(harness.client.getBeaconSettings()).resolves.toMatchObject({ approvedVersion: '13.2.0' });
    expect(harness.stub.tokensIssued).toBe(2);
    expect(harness.stub.requestsTo(PATHS.settings).map((r) => r.status)).toEqual([200, 401, 200]);
  });
});

describe('pin gateway client: retries, no retries, timeouts', () => {
  beforeEach(async () => {
    await setUp({ beacons: BEACONS, approvedVersion: '13.2.0', availableVersions: AVAILABLE });
  });

  it('429 then 200: retried after the Retry-After delay', async () => {
    harness.stub.failNext(PATHS.settings, 429, 1, { retryAfter: '2' });
    await expect(harness.client.getBeaconSettings()).resolves.toMatchObject({ availableVersions: expect.any(Array) });
    expect(harness.stub.requestsTo(PATHS.settings).map((r) => r.status)).toEqual([429, 200]);
    expect(harness.sleeps).toEqual([2000]);
  });

  it('a Retry-After longer than maxRetryAfterMs is capped', async () => {
    harness.stub.failNext(PATHS.settings, 429, 1, { retryAfter: '3600' });
    await harness.client.getBeaconSettings();
    expect(harness.sleeps).toEqual([30_000]);
  });

  it('5xx without Retry-After: jittered exponential backoff', async () => {
    harness.stub.failNext(PATHS.settings, 502, 3);
    await harness.client.getBeaconSettings();
    // base 250 ms, doubling, equal jitter with random() = 0.5 -> 3/4 of the cap
    expect(harness.sleeps).toEqual([188, 375, 750]);
  });

  it('503 twice then 200 on the write: pinned once', async () => {
    harness.stub.state.approvedVersion = 'latest';
    harness.stub.failNext(PATHS.approved, 503, 2);
    const outcome = await pinBeaconVersion(harness.client, { pin: 'current', beaconVersion: '13.2.0', allowDowngrade: false });
    expect(outcome).toEqual({ status: 'changed', from: 'latest', to: '13.2.0' });
    const puts = harness.stub.requestsTo(PATHS.approved, 'PUT');
    expect(puts.map((r) => r.status)).toEqual([503, 503, 200]);
    expect(puts.filter((r) => r.status === 200)).toHaveLength(1);
    expect(harness.stub.state.approvedVersion).toBe('13.2.0');
  });

  it.each([400, 403, 404, 409, 422])('%i is not retried and the error names the operation', async (status) => {
    harness.stub.failNext(PATHS.settings, status, 5);
    const error = await rejection(harness.client.getBeaconSettings());
    expect(error).toBeInstanceOf(FnmsError);
    expect(error).toMatchObject({ operation: 'getBeaconSettings', kind: 'http', status, retriable: false, attempts: 1 });
    expect((error as Error).message).toContain('getBeaconSettings');
    expect((error as Error).message).toContain(PATHS.settings);
    expect(harness.stub.requestsTo(PATHS.settings)).toHaveLength(1);
    expect(harness.sleeps).toEqual([]);
  });

  it('gives up after maxAttempts on a persistent 500, marked retriable for the workflow', async () => {
    harness.stub.failNext(PATHS.settings, 500, 100);
    const error = await rejection(harness.client.getBeaconSettings());
    expect(error).toMatchObject({ operation: 'getBeaconSettings', status: 500, retriable: true, attempts: 4 });
    expect((error as Error).message).toMatch(/gave up after 4 attempts/);
    expect(harness.stub.requestsTo(PATHS.settings)).toHaveLength(4);
  });

  it('a slow answer times out, is retried, and the error says timeout', async () => {
    await harness.stub.stop();
    await setUp({ beacons: BEACONS }, { config: { timeoutMs: 150, maxAttempts: 2 } });
    harness.stub.slowNext(PATHS.settings, 1000, 5);
    const started = Date.now();
    const error = await rejection(harness.client.getBeaconSettings());
    expect(Date.now() - started).toBeLessThan(900);
    expect(error).toMatchObject({ operation: 'getBeaconSettings', kind: 'timeout', status: null, retriable: true, attempts: 2 });
    expect(harness.stub.requestsTo(PATHS.settings)).toHaveLength(2);
  });

  it('one slow answer then a fast one: the retry succeeds', async () => {
    await harness.stub.stop();
    await setUp({ beacons: BEACONS }, { config: { timeoutMs: 150 } });
    harness.stub.slowNext(PATHS.settings, 1000, 1);
    await expect(harness.client.getBeaconSettings()).resolves.toMatchObject({ availableVersions: expect.any(Array) });
  });

  it('no server: network error after maxAttempts', async () => {
    const { url } = harness.stub;
    await harness.stub.stop();
    const client = createFnmsClient({ baseUrl: url, auth: { kind: 'bearer' }, maxAttempts: 3 }, { getSecret: async () => BEARER, sleep: async () => {} });
    const error = await rejection(client.getBeaconSettings());
    expect(error).toMatchObject({ operation: 'getBeaconSettings', kind: 'network', retriable: true, attempts: 3 });
    expect((error as Error).message).toMatch(/ECONNREFUSED/);
  });

  it('an answer that is not the contract is a protocol error, not retried', async () => {
    harness.stub.failNext(PATHS.settings, 200, 1, { body: '<html>login page</html>' });
    const error = await rejection(harness.client.getBeaconSettings());
    expect(error).toMatchObject({ operation: 'getBeaconSettings', kind: 'protocol', retriable: false });
  });

  it('a wrongly configured path gives 404 naming the path', async () => {
    await harness.stub.stop();
    await setUp({}, { config: { paths: { beaconSettings: '/api/v9/beacon-settings' } } });
    const error = await rejection(harness.client.getBeaconSettings());
    expect(error).toMatchObject({ status: 404, retriable: false });
    expect((error as Error).message).toContain('/api/v9/beacon-settings');
  });
});

describe('pin gateway client: credentials', () => {
  it('static bearer (on-premises gateway): no token endpoint, secret read once', async () => {
    await setUp({ beacons: BEACONS }, { auth: 'bearer' });
    await harness.client.getBeaconSettings();
    await harness.client.getBeaconSettings();
    expect(harness.stub.requestsTo(PATHS.token)).toHaveLength(0);
    expect(harness.secretReads).toBe(1);
    expect(harness.sentCredentials).toEqual([BEARER, BEARER]);
  });

  it('a bearer FNMS refuses: re-read once (rotation), then 401 without the token in the error', async () => {
    await setUp({}, { auth: 'bearer', secret: 'rotated-away-bearer-token-999' });
    const error = await rejection(harness.client.getBeaconSettings());
    expect(error).toMatchObject({ operation: 'getBeaconSettings', status: 401, retriable: false });
    expect(harness.secretReads).toBe(2);
    expect(harness.stub.requestsTo(PATHS.settings)).toHaveLength(2);
    expect((error as Error).message).not.toContain('rotated-away-bearer-token-999');
    expect(JSON.stringify(error)).not.toContain('rotated-away-bearer-token-999');
  });

  it('a refresh token the token endpoint refuses: operation token, not retried, token not in the message', async () => {
    await setUp({}, { secret: 'revoked-refresh-token-777' });
    const error = await rejection(harness.client.getBeaconSettings());
    expect(error).toBeInstanceOf(FnmsError);
    expect(error).toMatchObject({ operation: 'token', kind: 'auth', status: 400, retriable: false });
    expect((error as Error).message).toMatch(/getBeaconSettings/);
    expect((error as Error).message).not.toContain('revoked-refresh-token-777');
    expect(harness.stub.requestsTo(PATHS.settings)).toHaveLength(0);
  });

  it('the token endpoint throttled: retried like any call', async () => {
    await setUp({ beacons: BEACONS });
    harness.stub.failNext(PATHS.token, 429, 1, { retryAfter: '1' });
    await expect(harness.client.getBeaconSettings()).resolves.toMatchObject({ availableVersions: expect.any(Array) });
    expect(harness.stub.requestsTo(PATHS.token).map((r) => r.status)).toEqual([429, 200]);
  });

  it('a secret store failure is an auth error that names the operation', async () => {
    await setUp({});
    const client = createFnmsClient(harness.stub.clientConfig(), {
      getSecret: async () => {
        const failure = new Error('secret string is not JSON: Zm9vYmFyLXNlY3JldC12YWx1ZQ');
        failure.name = 'AccessDeniedException';
        throw failure;
      },
    });
    const error = await rejection(client.getBeaconSettings());
    expect(error).toMatchObject({ operation: 'getBeaconSettings', kind: 'auth' });
    expect((error as Error).message).toMatch(/secret could not be read \(AccessDeniedException\)/);
    expect((error as Error).message).not.toContain('Zm9vYmFy');
  });

  it('no token or secret appears in any error, whatever fails', async () => {
    await setUp({ beacons: BEACONS, approvedVersion: '13.2.0', availableVersions: AVAILABLE });
    const errors: unknown[] = [];
    await harness.client.getBeaconSettings();
    for (const status of [400, 401, 403, 404, 500, 503]) {
      harness.stub.failNext('*', status, 10, { body: JSON.stringify({ echo: harness.sentCredentials.at(-1), refresh: STUB_REFRESH_TOKEN }) });
      errors.push(await rejection(harness.client.getBeaconSettings()));
      harness.stub.clearLog();
    }
    expect(errors).toHaveLength(6);
    for (const error of errors) {
      expect(error).toBeInstanceOf(FnmsError);
      expectNoSecretIn((error as Error).message);
      expectNoSecretIn(JSON.stringify(error));
      expectNoSecretIn(String((error as Error).stack));
    }
    expect(harness.sentCredentials.length).toBeGreaterThan(0);
  });
});

describe('FNMS version pin through the client', () => {
  const pin = (p: string, beaconVersion: string | null, allowDowngrade = false) =>
    pinBeaconVersion(harness.client, { pin: p, beaconVersion, allowDowngrade });

  it('"latest" is refused as a target before any call', async () => {
    await setUp({ approvedVersion: '13.2.0', availableVersions: AVAILABLE });
    for (const target of ['latest', 'Latest', 'Always use the latest version']) {
      const error = await rejection(harness.client.setApprovedBeaconVersion(target, { allowDowngrade: true }));
      expect(error).toBeInstanceOf(RequestError);
      expect(error).toMatchObject({ code: 'INVALID_REQUEST', field: 'beaconVersion.pin' });
    }
    await expect(pin('latest', '13.2.0')).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    expect(harness.stub.requests).toHaveLength(0);
  });

  it('pin "current" while FNMS says "Always use the latest version": pinned to the beacon\'s version', async () => {
    await setUp({ approvedVersion: 'latest', availableVersions: AVAILABLE });
    await expect(pin('current', '13.2.0')).resolves.toEqual({ status: 'changed', from: 'latest', to: '13.2.0' });
    expect(harness.stub.state.approvedVersion).toBe('13.2.0');
    expect(JSON.parse(harness.stub.requestsTo(PATHS.approved, 'PUT')[0]!.body)).toEqual({ version: '13.2.0' });
  });

  it('a second pin changes nothing and sends no write', async () => {
    await setUp({ approvedVersion: 'latest', availableVersions: AVAILABLE });
    await pin('current', '13.2.0');
    await expect(pin('current', '13.2.0')).resolves.toEqual({ status: 'unchanged', version: '13.2.0' });
    await expect(pin('13.2.0', '13.2.0')).resolves.toEqual({ status: 'unchanged', version: '13.2.0' });
    expect(harness.stub.requestsTo(PATHS.approved, 'PUT')).toHaveLength(1);
  });

  it('a release older than the approved one is a downgrade: refused, nothing written', async () => {
    await setUp({ approvedVersion: '13.3.0', availableVersions: AVAILABLE });
    const error = await rejection(pin('13.2.0', '13.2.0'));
    expect(error).toBeInstanceOf(RequestError);
    expect(error).toMatchObject({ code: 'DOWNGRADE_REFUSED', field: 'beaconVersion.pin' });
    expect((error as Error).message).toMatch(/allowDowngrade/);
    expect(harness.stub.requestsTo(PATHS.approved, 'PUT')).toHaveLength(0);
    expect(harness.stub.state.approvedVersion).toBe('13.3.0');
  });

  it('a release older than the beacon runs is a downgrade even when FNMS says latest', async () => {
    await setUp({ approvedVersion: 'latest', availableVersions: AVAILABLE });
    await expect(pin('13.1.0', '13.3.0')).rejects.toMatchObject({ code: 'DOWNGRADE_REFUSED' });
    expect(harness.stub.requestsTo(PATHS.approved, 'PUT')).toHaveLength(0);
  });

  it('a downgrade the request allows explicitly is written', async () => {
    await setUp({ approvedVersion: '13.3.0', availableVersions: AVAILABLE });
    await expect(pin('13.2.0', '13.3.0', true)).resolves.toEqual({ status: 'changed', from: '13.3.0', to: '13.2.0' });
    expect(harness.stub.state.approvedVersion).toBe('13.2.0');
  });

  it('an upgrade needs no flag', async () => {
    await setUp({ approvedVersion: '13.1.0', availableVersions: AVAILABLE });
    await expect(pin('13.3.0', '13.2.0')).resolves.toEqual({ status: 'changed', from: '13.1.0', to: '13.3.0' });
  });

  it('a release FNMS does not offer is refused with the list', async () => {
    await setUp({ approvedVersion: '13.1.0', availableVersions: AVAILABLE });
    await expect(pin('14.0.0', '13.2.0')).rejects.toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringContaining('13.1.0, 13.2.0, 13.3.0') });
  });
});
