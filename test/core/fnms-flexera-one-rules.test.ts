/**
 * The Flexera One report adapter's own rules (lambdas/core/fnms/flexera-one.ts), with a scripted transport:
 * what the token and page requests carry, when the access token is renewed, how a refused or unreadable
 * token or page is named, where paging ends, and that no secret or token ever appears in a message.
 */
import { describe, expect, it } from 'vitest';
import { createFlexeraOneInventory, skipTokenOf } from '../../lambdas/core/fnms/flexera-one.js';
import { BeaconInventoryError } from '../../lambdas/core/fnms/inventory.js';
import { rejection } from '../support/refusal.js';
import { type ScriptedStep, scriptedFetch } from '../support/scripted-fetch.js';

const COLUMNS = { name: 'N', computerName: 'C', version: 'V', status: 'S', lastContact: 'L' };
const API = 'http://127.0.0.1:9';
const TOKEN_URL = 'http://127.0.0.1:9/oidc/token';
const REFRESH = 'refresh-token-0123456789';
const ACCESS = 'access-token-abcdef';
const EXECUTE = `${API}/fnms/v1/orgs/12/reports/34/execute`;
const PAGE_WHAT = 'Flexera One report execute (GET /fnms/v1/orgs/12/reports/34/execute, page 1)';

type Step = ScriptedStep;
const tokenOk = (expiresIn = 3600): Step => ({ status: 200, body: { access_token: ACCESS, expires_in: expiresIn } });
const page = (values: unknown[], nextPage?: string | null): Step => ({ status: 200, body: { values, nextPage } });
const row = (name: string) => ({ N: name, C: name, V: '13.2.0', S: 'Active', L: null });

function setUp(steps: Step[], config: Record<string, unknown> = {}, secret: () => Promise<string> = async () => REFRESH) {
  const { fetch, calls } = scriptedFetch(steps, { status: 500 });
  const clock = { ms: 1_000_000 };
  const inventory = createFlexeraOneInventory(
    { kind: 'flexeraOne', orgId: '12', reportId: '34', columns: COLUMNS, auth: { kind: 'refreshToken' }, apiBaseUrl: API, tokenUrl: TOKEN_URL, retry: { maxAttempts: 1 }, ...config } as never,
    {
      getSecret: secret,
      sleep: async () => undefined,
      random: () => 0.5,
      now: () => clock.ms,
      fetch,
    },
  );
  return { inventory, calls, clock };
}

async function failure(promise: Promise<unknown>): Promise<ReturnType<BeaconInventoryError['toJSON']>> {
  return (await rejection(promise, BeaconInventoryError)).toJSON();
}

describe('what the token and page requests carry', () => {
  it('a refresh token (trimmed) is exchanged as a form; pages ask for JSON with the bearer', async () => {
    const { inventory, calls } = setUp([tokenOk(), page([row('B1')])], {}, async () => ` ${REFRESH}\n`);
    await expect(inventory.listBeacons()).resolves.toEqual([{ name: 'B1', computerName: 'B1', version: '13.2.0', status: 'Active', lastContact: null }]);
    expect(calls[0]!.url).toBe(TOKEN_URL);
    expect(calls[0]!.init.method).toBe('POST');
    const tokenHeaders = new Headers(calls[0]!.init.headers);
    expect(tokenHeaders.get('content-type')).toBe('application/x-www-form-urlencoded');
    expect(tokenHeaders.get('accept')).toBe('application/json');
    expect(Object.fromEntries(new URLSearchParams(String(calls[0]!.init.body)))).toEqual({ grant_type: 'refresh_token', refresh_token: REFRESH });
    expect(calls[1]!.url).toBe(EXECUTE);
    const pageHeaders = new Headers(calls[1]!.init.headers);
    expect(pageHeaders.get('accept')).toBe('application/json');
    expect(pageHeaders.get('authorization')).toBe(`Bearer ${ACCESS}`);
    expect(calls[1]!.init.redirect).toBe('error');
  });

  it('a service account sends the client credentials grant with its client id', async () => {
    const { inventory, calls } = setUp([tokenOk(), page([row('B1')])], { auth: { kind: 'clientCredentials', clientId: 'client-1' } });
    await inventory.listBeacons();
    expect(Object.fromEntries(new URLSearchParams(String(calls[0]!.init.body)))).toEqual({ grant_type: 'client_credentials', client_id: 'client-1', client_secret: REFRESH });
  });

  it('the configured API host loses its trailing slashes; the skipToken is sent encoded', async () => {
    const { inventory, calls } = setUp([tokenOk(), page([row('B1')], `${EXECUTE}?skipToken=a%2Bb%3D`), page([row('B2')])], { apiBaseUrl: `${API}//` });
    await expect(inventory.listBeacons()).resolves.toHaveLength(2);
    expect(calls[1]!.url).toBe(EXECUTE);
    expect(calls[2]!.url).toBe(`${EXECUTE}?skipToken=a%2Bb%3D`);
  });
});

describe('the access token', () => {
  it('is kept until shortly before it expires: never more than half its lifetime early', async () => {
    const { inventory, calls, clock } = setUp([tokenOk(100), page([row('B1')]), page([row('B1')]), tokenOk(100), page([row('B1')])]);
    await inventory.listBeacons();
    clock.ms += 49_999;
    await inventory.listBeacons();
    expect(calls.filter((call) => call.url === TOKEN_URL)).toHaveLength(1);
    clock.ms += 1;
    await inventory.listBeacons();
    expect(calls.filter((call) => call.url === TOKEN_URL)).toHaveLength(2);
  });

  it('the configured margin applies when it is under half the lifetime', async () => {
    const { inventory, calls, clock } = setUp([tokenOk(3600), page([row('B1')]), page([row('B1')]), tokenOk(3600), page([row('B1')])]);
    await inventory.listBeacons();
    clock.ms += (3600 - 300) * 1000 - 1;
    await inventory.listBeacons();
    expect(calls.filter((call) => call.url === TOKEN_URL)).toHaveLength(1);
    clock.ms += 1;
    await inventory.listBeacons();
    expect(calls.filter((call) => call.url === TOKEN_URL)).toHaveLength(2);
  });
});

describe('token refusals and failures, named', () => {
  it('a refused refresh token: revoked or expired, create a new one', async () => {
    const { inventory } = setUp([{ status: 400 }]);
    expect(await failure(inventory.listBeacons())).toMatchObject({
      code: 'INVENTORY_AUTH',
      operation: 'token',
      field: 'fnmsSecretName',
      status: 400,
      retriable: false,
      message: `Flexera One token request (POST ${TOKEN_URL}) was refused with 400: the refresh token in the secret is revoked or expired; create a new one in Flexera One and store it in the secret`,
    });
  });

  it('a 3xx from the token endpoint is not a credential problem: nothing tells the operator to replace the secret', async () => {
    for (const status of [300, 302, 399]) {
      const { inventory } = setUp([{ status }]);
      const error = await failure(inventory.listBeacons());
      expect(error).toMatchObject({ code: 'INVENTORY_HTTP', operation: 'token', status });
      expect(error.message).not.toContain('store it in the secret');
    }
  });

  it('a token endpoint that fails (5xx) or throttles (429) is a retriable failure of the token call, not a credential problem', async () => {
    for (const status of [500, 503, 429]) {
      const { inventory } = setUp([{ status }]);
      expect(await failure(inventory.listBeacons())).toMatchObject({ code: 'INVENTORY_HTTP', operation: 'token', status, retriable: true });
    }
    const retried = setUp([{ status: 429 }, tokenOk(), page([row('B1')])], { retry: { maxAttempts: 2 } });
    await expect(retried.inventory.listBeacons()).resolves.toHaveLength(1);
  });

  it('a token answer without access_token or expires_in is unreadable, naming the call and status', async () => {
    for (const body of [{ access_token: ACCESS }, 'not json', { expires_in: 10 }]) {
      const { inventory } = setUp([{ status: 200, body }]);
      expect(await failure(inventory.listBeacons())).toMatchObject({
        code: 'INVENTORY_UNREADABLE',
        operation: 'token',
        status: 200,
        message: `Flexera One token request (POST ${TOKEN_URL}) answered 200 without access_token/expires_in`,
      });
    }
  });

  it('the secret: unreadable is retriable naming only the error type; empty (or blank) is final', async () => {
    const broken = setUp([], {}, async () => {
      throw new TypeError(`cannot parse ${REFRESH}`);
    });
    expect(await failure(broken.inventory.listBeacons())).toEqual({
      name: 'BeaconInventoryError',
      code: 'INVENTORY_AUTH',
      operation: 'token',
      field: 'fnmsSecretName',
      status: null,
      retriable: true,
      attempts: 1,
      message: 'Flexera One token request: the secret could not be read (TypeError)',
    });
    const empty = setUp([], {}, async () => '  ');
    expect(await failure(empty.inventory.listBeacons())).toMatchObject({ code: 'INVENTORY_AUTH', operation: 'token', field: 'fnmsSecretName', retriable: false, message: 'Flexera One token request: the secret is empty' });
    expect(empty.calls).toHaveLength(0);
  });

  it('neither the refresh token nor the access token appears in a message, whatever a transport error says', async () => {
    const echo = (text: string): Step => ({ error: Object.assign(new TypeError('fetch failed'), { cause: { code: `E_${text}` } }) });
    const onToken = setUp([echo(REFRESH)]);
    expect((await failure(onToken.inventory.listBeacons())).message).toBe(`Flexera One token request (POST ${TOKEN_URL}) failed: connection failed (E_[redacted])`);
    const onPage = setUp([tokenOk(), echo(ACCESS)]);
    expect((await failure(onPage.inventory.listBeacons())).message).toBe(`${PAGE_WHAT} failed: connection failed (E_[redacted])`);
  });
});

describe('pages', () => {
  it('a 401 after one renewal names what to check', async () => {
    const { inventory } = setUp([tokenOk(), { status: 401 }, tokenOk(), { status: 401 }]);
    expect(await failure(inventory.listBeacons())).toMatchObject({
      code: 'INVENTORY_AUTH',
      operation: 'executeReport',
      status: 401,
      message: `${PAGE_WHAT} failed: 401 the access token was refused even after renewing it; check the secret and that the account may use the FNMS API`,
    });
  });

  it('a body that is not a report page names the field at fault, or $ for the whole', async () => {
    const wrongRows = setUp([tokenOk(), { status: 200, body: { values: [1] } }]);
    expect(await failure(wrongRows.inventory.listBeacons())).toMatchObject({
      code: 'INVENTORY_UNREADABLE',
      operation: 'executeReport',
      status: 200,
      message: expect.stringMatching(/^Flexera One report execute \(GET \/fnms\/v1\/orgs\/12\/reports\/34\/execute, page 1\) answered 200 with a body that is not a report page \(values\.0: .+\)$/),
    });
    const html = setUp([tokenOk(), { status: 200, body: '<html>sign in</html>' }]);
    expect((await failure(html.inventory.listBeacons())).message).toMatch(/ with a body that is not a report page \(\$: .+\)$/);
  });

  it('paging ends on an empty skipToken, or a nextPage without one', async () => {
    for (const nextPage of [`${EXECUTE}?skipToken=`, `${EXECUTE}?other=1`, '   ', null]) {
      const { inventory, calls } = setUp([tokenOk(), page([row('B1')], nextPage)]);
      await expect(inventory.listBeacons()).resolves.toHaveLength(1);
      expect(calls).toHaveLength(2);
    }
    expect(skipTokenOf(' skipToken=p2 ')).toBe('p2');
    expect(skipTokenOf('?skipToken=p3')).toBe('p3');
  });

  it('the page guard: exactly maxPages pages are read; one more is a paging loop naming the setting', async () => {
    const ok = setUp([tokenOk(), page([row('B1')], 'skipToken=2'), page([row('B2')])], { maxPages: 2 });
    await expect(ok.inventory.listBeacons()).resolves.toHaveLength(2);
    const loop = setUp([tokenOk(), page([row('B1')], 'skipToken=2'), page([row('B2')], 'skipToken=3')], { maxPages: 2 });
    expect(await failure(loop.inventory.listBeacons())).toMatchObject({
      code: 'INVENTORY_PAGING_LOOP',
      operation: 'executeReport',
      field: 'maxPages',
      message: 'Flexera One report 34: paging did not end after 2 pages; check the report (or raise the page guard if the fleet is that large)',
    });
  });

  it('a repeated skipToken stops paging at once, naming the page', async () => {
    const { inventory } = setUp([tokenOk(), page([row('B1')], 'skipToken=x'), page([row('B2')], 'skipToken=x')]);
    expect(await failure(inventory.listBeacons())).toMatchObject({ code: 'INVENTORY_PAGING_LOOP', operation: 'executeReport', message: 'Flexera One report 34: page 2 pointed back to a page already read (repeated skipToken); paging stopped' });
  });

  it('no rows, a missing column, a row without a name: each named for the report, the row counted from 1 across pages', async () => {
    const empty = setUp([tokenOk(), page([])]);
    expect(await failure(empty.inventory.listBeacons())).toMatchObject({
      code: 'INVENTORY_EMPTY',
      operation: 'executeReport',
      field: 'fnmsReportId',
      message: "Flexera One report 34 answered no rows; FNMS knows at least one beacon, so check the report's filters and that the account may see beacons",
    });
    const missing = setUp([tokenOk(), page([{ N: 'B1', C: 'B1', V: '1', S: 'x' }])]);
    expect(await failure(missing.inventory.listBeacons())).toMatchObject({ code: 'INVENTORY_COLUMN_MISSING', operation: 'executeReport', field: 'fnmsReportColumns.lastContact' });
    const nameless = setUp([tokenOk(), page([row('B1')], 'skipToken=2'), page([{ ...row('B2'), N: '' }])]);
    expect(await failure(nameless.inventory.listBeacons())).toMatchObject({ code: 'INVENTORY_UNREADABLE', operation: 'executeReport', message: expect.stringMatching(/^Flexera One report 34: row 2 has an empty "N"/) });
  });

  it('a column present in any page counts, though rows omit empty cells', async () => {
    const { inventory } = setUp([tokenOk(), page([{ N: 'B1', C: 'B1', V: '1', S: 'x' }], 'skipToken=2'), page([{ N: 'B2', L: 'yesterday' }])]);
    await expect(inventory.listBeacons()).resolves.toEqual([
      { name: 'B1', computerName: 'B1', version: '1', status: 'x', lastContact: null },
      { name: 'B2', computerName: 'B2', version: null, status: null, lastContact: 'yesterday' },
    ]);
  });

  it('an invalid configuration is refused at creation, naming the field or $', () => {
    expect(() => createFlexeraOneInventory(null as never, { getSecret: async () => 'x' })).toThrow(/^invalid Flexera One inventory configuration at \$: /);
  });
});
