/**
 * The beacon inventory adapters against the local stub over real HTTP: Flexera One's report execute (all
 * pages, token refresh, regional hosts, throttling, faults, loop guard) and the on-premises GetCustomView
 * SOAP call behind NTLM. A missing column, an unreadable or empty answer is an error naming what is wrong,
 * never an empty fleet.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  BeaconInventoryError,
  type BeaconInventory,
  type FlexeraOneConfigInput,
  type OnPremisesConfigInput,
  createFlexeraOneInventory,
  createReportInventory,
  parseColumnMapping,
  skipTokenOf,
} from '../../lambdas/core/fnms/index.js';
import { createOnPremisesInventory, decodeXmlName, parseGetCustomViewAnswer } from '../../lambdas/core/fnms/on-premises.js';
import { FnmsStub, STUB_CLIENT, STUB_REFRESH_TOKEN, STUB_WINDOWS_ACCOUNT, type StubBeacon } from '../../local/fnms-stub.js';

const BEACONS: StubBeacon[] = [
  { name: 'BEACON01', computerName: 'BEACON01', version: '13.2.0', status: 'Active', lastContact: '2026-11-27T08:00:00Z' },
  { name: 'BEACON02', computerName: 'beacon02.corp.example', version: null, status: 'Inactive', lastContact: null },
  { name: 'BEACON03', computerName: 'BEACON03', version: '13.3.0', status: 'Active', lastContact: '2026-11-27T09:00:00Z' },
  { name: 'BEACON04', computerName: 'BEACON04', version: '13.2.0', status: 'Active', lastContact: '2026-11-27T10:00:00Z' },
  { name: 'BEACON05', computerName: 'BEACON05', version: '13.1.0', status: 'Active', lastContact: '2026-11-27T11:00:00Z' },
];

interface Harness {
  stub: FnmsStub;
  clock: { ms: number };
  sleeps: number[];
  secretReads: number;
  /** URLs the adapter fetched (Flexera One). */
  urls: string[];
}

let harness: Harness | undefined;

afterEach(async () => {
  await harness?.stub.stop();
  harness = undefined;
});

async function startStub(options: { beacons?: StubBeacon[]; pageSize?: number; tokenTtlSeconds?: number } = {}): Promise<Harness> {
  const clock = { ms: Date.parse('2026-11-27T12:00:00Z') };
  const stub = new FnmsStub({ state: { beacons: options.beacons ?? BEACONS }, pageSize: options.pageSize ?? 2, now: () => clock.ms, tokenTtlSeconds: options.tokenTtlSeconds ?? 3600 });
  await stub.start();
  harness = { stub, clock, sleeps: [], secretReads: 0, urls: [] };
  return harness;
}

function deps(h: Harness, secret: string, onFetch?: (url: string) => void) {
  return {
    getSecret: async () => {
      h.secretReads += 1;
      return secret;
    },
    sleep: async (ms: number) => {
      h.sleeps.push(ms);
    },
    random: () => 0.5,
    now: () => h.clock.ms,
    fetch: (async (input: string | URL | Request, init?: RequestInit) => {
      const url = String(input);
      h.urls.push(url);
      onFetch?.(url);
      return fetch(input, init);
    }) as typeof fetch,
  };
}

function flexeraOne(h: Harness, overrides: Partial<FlexeraOneConfigInput> = {}, secret = STUB_REFRESH_TOKEN, onFetch?: (url: string) => void): BeaconInventory {
  return createFlexeraOneInventory(h.stub.flexeraOneConfig(overrides.auth?.kind === 'clientCredentials' ? 'clientCredentials' : 'refreshToken', { retry: { timeoutMs: 2000 }, ...overrides }), deps(h, secret, onFetch));
}

function onPremises(h: Harness, overrides: Partial<OnPremisesConfigInput> = {}, secret = STUB_WINDOWS_ACCOUNT.password): BeaconInventory {
  return createOnPremisesInventory(h.stub.onPremisesConfig({ retry: { timeoutMs: 2000 }, ...overrides }), deps(h, secret));
}

async function failure(promise: Promise<unknown>): Promise<BeaconInventoryError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(BeaconInventoryError);
    return error as BeaconInventoryError;
  }
  throw new Error('expected the inventory read to fail');
}

const expected = BEACONS.map((b) => ({ ...b }));

describe('Flexera One report execute (REST) against the stub', () => {
  it('reads every page through nextPage/skipToken and maps the configured columns', async () => {
    const h = await startStub();
    await expect(flexeraOne(h).listBeacons()).resolves.toEqual(expected);
    const pages = h.stub.requestsTo(h.stub.paths.report);
    expect(pages.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(pages[0]!.skipToken).toBeNull();
    expect(pages.slice(1).every((r) => r.skipToken !== null)).toBe(true);
    expect(h.stub.tokensIssued).toBe(1);
  });

  it('a service account (client_credentials grant) reads the report; a wrong client secret is an auth error on the token call, not retried', async () => {
    const h = await startStub();
    await expect(flexeraOne(h, { auth: { kind: 'clientCredentials', clientId: STUB_CLIENT.clientId } }, STUB_CLIENT.clientSecret).listBeacons()).resolves.toHaveLength(5);
    const error = await failure(flexeraOne(h, { auth: { kind: 'clientCredentials', clientId: STUB_CLIENT.clientId } }, 'wrong-client-secret-123').listBeacons());
    expect(error).toMatchObject({ code: 'INVENTORY_AUTH', operation: 'token', status: 401, retriable: false, field: 'fnmsSecretName' });
    expect(error.message).toMatch(/client id or secret/);
    expect(JSON.stringify(error)).not.toContain('wrong-client-secret-123');
  });

  it('a revoked refresh token: the token call is named, the token is not in the message, no page is requested', async () => {
    const h = await startStub();
    const error = await failure(flexeraOne(h, {}, 'revoked-refresh-token-777').listBeacons());
    expect(error).toMatchObject({ code: 'INVENTORY_AUTH', operation: 'token', status: 400 });
    expect(error.message).toMatch(/Flexera One token request/);
    expect(error.message).not.toContain('revoked-refresh-token-777');
    expect(h.stub.requestsTo(h.stub.paths.report)).toHaveLength(0);
  });

  it('renews the access token before it expires, in the middle of paging, without a 401', async () => {
    const h = await startStub();
    let pages = 0;
    const inventory = flexeraOne(h, {}, STUB_REFRESH_TOKEN, (url) => {
      if (url.includes('/execute') && ++pages === 2) h.clock.ms += 3400 * 1000; // page 2 is read 57 minutes later
    });
    await expect(inventory.listBeacons()).resolves.toHaveLength(5);
    expect(h.stub.tokensIssued).toBe(2);
    expect(h.stub.requests.filter((r) => r.status === 401)).toEqual([]);
  });

  it('a token the server expired early: 401, one renewal, the read completes', async () => {
    const h = await startStub();
    const inventory = flexeraOne(h);
    await inventory.listBeacons();
    h.stub.expireTokens();
    await expect(inventory.listBeacons()).resolves.toHaveLength(5);
    expect(h.stub.requestsTo(h.stub.paths.report).map((r) => r.status)).toEqual([200, 200, 200, 401, 200, 200, 200]);
    expect(h.stub.tokensIssued).toBe(2);
  });

  it('429 with Retry-After: waits as told, then reads on', async () => {
    const h = await startStub();
    h.stub.failNext(h.stub.paths.report, 429, 1, { retryAfter: '3' });
    await expect(flexeraOne(h).listBeacons()).resolves.toHaveLength(5);
    expect(h.sleeps).toEqual([3000]);
  });

  it('503 twice: jittered exponential backoff, then the page is read', async () => {
    const h = await startStub();
    h.stub.failNext(h.stub.paths.report, 503, 2);
    await expect(flexeraOne(h).listBeacons()).resolves.toHaveLength(5);
    expect(h.sleeps).toEqual([375, 750]);
  });

  it('a persistent 503 gives up after maxAttempts, retriable, naming the call and the page', async () => {
    const h = await startStub();
    h.stub.failNext(h.stub.paths.report, 503, 100);
    const error = await failure(flexeraOne(h).listBeacons());
    expect(error).toMatchObject({ code: 'INVENTORY_HTTP', operation: 'executeReport', status: 503, retriable: true, attempts: 4 });
    expect(error.message).toMatch(/Flexera One report execute \(GET \/fnms\/v1\/orgs\/1105\/reports\/42\/execute, page 1\) failed: 503.*gave up after 4 attempts/);
  });

  it.each([403, 404])('%i is not retried and says what to check', async (status) => {
    const h = await startStub();
    h.stub.failNext(h.stub.paths.report, status, 5);
    const error = await failure(flexeraOne(h).listBeacons());
    expect(error).toMatchObject({ code: 'INVENTORY_HTTP', operation: 'executeReport', status, retriable: false, attempts: 1 });
    expect(error.message).toMatch(status === 403 ? /FNMS role/ : /fnmsReportId/);
    expect(h.sleeps).toEqual([]);
  });

  it('a wrong report id: 404 from the server, naming the org and report', async () => {
    const h = await startStub();
    const error = await failure(flexeraOne(h, { reportId: '7' }).listBeacons());
    expect(error).toMatchObject({ status: 404, retriable: false });
    expect(error.message).toMatch(/report 7 not found/);
  });

  it('a page that never ends (a new skipToken every time): the loop guard stops it', async () => {
    const h = await startStub();
    h.stub.endlessPaging = 'new-token';
    const error = await failure(flexeraOne(h, { maxPages: 6 }).listBeacons());
    expect(error).toMatchObject({ code: 'INVENTORY_PAGING_LOOP', operation: 'executeReport' });
    expect(error.message).toMatch(/did not end after 6 pages/);
    expect(h.stub.requestsTo(h.stub.paths.report)).toHaveLength(6);
  });

  it('a page that points back to itself (the same skipToken): stopped at once', async () => {
    const h = await startStub();
    h.stub.endlessPaging = 'same-token';
    const error = await failure(flexeraOne(h).listBeacons());
    expect(error).toMatchObject({ code: 'INVENTORY_PAGING_LOOP' });
    expect(error.message).toMatch(/repeated skipToken/);
    expect(h.stub.requestsTo(h.stub.paths.report)).toHaveLength(2);
  });

  it('a report saved without a mapped column: an error naming the column and the mapping field, never an empty fleet', async () => {
    const h = await startStub();
    h.stub.omitColumns.add('version');
    const error = await failure(flexeraOne(h).listBeacons());
    expect(error).toMatchObject({ code: 'INVENTORY_COLUMN_MISSING', field: 'fnmsReportColumns.version', retriable: false });
    expect(error.message).toContain(h.stub.reportColumns.version);
    expect(error.message).toContain(h.stub.reportColumns.name);
  });

  it('a report with no rows is an error (FNMS always knows a beacon), not an empty fleet', async () => {
    const h = await startStub({ beacons: [] });
    const error = await failure(flexeraOne(h).listBeacons());
    expect(error).toMatchObject({ code: 'INVENTORY_EMPTY', field: 'fnmsReportId' });
  });

  it('an answer that is not a report page (a login page with 200) is unreadable, not retried', async () => {
    const h = await startStub();
    h.stub.failNext(h.stub.paths.report, 200, 1, { body: '<html>sign in</html>' });
    const error = await failure(flexeraOne(h).listBeacons());
    expect(error).toMatchObject({ code: 'INVENTORY_UNREADABLE', operation: 'executeReport', retriable: false });
  });

  it('no token or secret appears in any error', async () => {
    const h = await startStub();
    const inventory = flexeraOne(h);
    await inventory.listBeacons();
    const issued = h.stub.requestsTo(h.stub.paths.report).length;
    expect(issued).toBeGreaterThan(0);
    for (const status of [400, 401, 403, 500]) {
      h.stub.failNext('*', status, 20, { body: JSON.stringify({ echo: STUB_REFRESH_TOKEN }) });
      const error = await failure(inventory.listBeacons());
      expect(JSON.stringify(error) + error.message).not.toContain(STUB_REFRESH_TOKEN);
      expect(error.message).not.toMatch(/stub-at-[0-9a-f]{24}/);
      h.stub.clearLog();
    }
  });
});

describe('Flexera One hosts and configuration', () => {
  const page = { values: [{ N: 'B1', C: 'B1', V: '13.2.0', S: 'Active', L: null }] };
  const columns = { name: 'N', computerName: 'C', version: 'V', status: 'S', lastContact: 'L' };

  it.each(['com', 'eu', 'au'] as const)('region %s: the token comes from that region\'s login host, the report from its api host', async (region) => {
    const urls: string[] = [];
    const fakeFetch = (async (input: string | URL | Request, init?: RequestInit) => {
      urls.push(`${init?.method ?? 'GET'} ${String(input)}`);
      const body = String(input).includes('/oidc/token') ? { access_token: 'at-123456', expires_in: 3600, token_type: 'Bearer' } : page;
      return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
    }) as typeof fetch;
    const inventory = createFlexeraOneInventory({ kind: 'flexeraOne', region, orgId: '1105', reportId: '42', columns, auth: { kind: 'refreshToken' } }, { getSecret: async () => 'rt-123456', fetch: fakeFetch });
    await expect(inventory.listBeacons()).resolves.toEqual([{ name: 'B1', computerName: 'B1', version: '13.2.0', status: 'Active', lastContact: null }]);
    expect(urls).toEqual([`POST https://login.flexera.${region}/oidc/token`, `GET https://api.flexera.${region}/fnms/v1/orgs/1105/reports/42/execute`]);
  });

  it('only the skipToken is taken from nextPage: a nextPage on another host never receives the token', () => {
    expect(skipTokenOf('https://evil.example/steal?skipToken=abc%3D%3D&x=1')).toBe('abc==');
    expect(skipTokenOf('/fnms/v1/orgs/1/reports/2/execute?skipToken=p2')).toBe('p2');
    expect(skipTokenOf('skipToken=p3')).toBe('p3');
    expect(skipTokenOf(null)).toBeNull();
    expect(skipTokenOf('')).toBeNull();
  });

  it('refuses an http host that is not loopback, a non-numeric org id and a missing column in the mapping', () => {
    const base = { kind: 'flexeraOne' as const, orgId: '1', reportId: '2', columns, auth: { kind: 'refreshToken' as const } };
    expect(() => createFlexeraOneInventory({ ...base, apiBaseUrl: 'http://api.flexera.com' }, { getSecret: async () => 'x' })).toThrow(/apiBaseUrl: an https URL/);
    expect(() => createFlexeraOneInventory({ ...base, orgId: 'org-1' }, { getSecret: async () => 'x' })).toThrow(/orgId/);
    expect(() => createFlexeraOneInventory({ ...base, columns: { ...columns, status: undefined } as never }, { getSecret: async () => 'x' })).toThrow(/columns\.status/);
  });

  it('the column mapping reads name=COL,... and JSON, and names an unknown or missing field', () => {
    expect(parseColumnMapping('name=N, computerName=C,version=V,status=S,lastContact=L')).toEqual(columns);
    expect(parseColumnMapping(JSON.stringify(columns))).toEqual(columns);
    expect(() => parseColumnMapping('name=N,computerName=C,version=V,status=S')).toThrow(/lastContact/);
    expect(() => parseColumnMapping({ ...columns, owner: 'O' })).toThrow(/known fields/);
    expect(() => parseColumnMapping('name')).toThrow(/not field=column/);
  });
});

describe('FNMS on premises: GetCustomView (SOAP) with Windows authentication against the stub', () => {
  it('runs the NTLM handshake, reads the DataSet, decodes column names and keeps empty cells as null', async () => {
    const h = await startStub();
    await expect(onPremises(h).listBeacons()).resolves.toEqual(expected);
    expect(h.stub.refusedLogons).toEqual([]);
    const calls = h.stub.requestsTo(h.stub.paths.soap);
    expect(calls.map((r) => r.status)).toEqual([401, 200]);
    expect(calls[1]!.body).toContain('<customViewID>42</customViewID>');
  });

  it('a UPN account (name@dns.domain) authenticates too', async () => {
    const h = await startStub();
    await expect(onPremises(h, { account: `${STUB_WINDOWS_ACCOUNT.user}@corp.example` }).listBeacons()).resolves.toHaveLength(5);
  });

  it('the configured adapter (createReportInventory, as the functions build it) loads the SOAP adapter on first use and reads the report', async () => {
    const h = await startStub();
    const inventory = createReportInventory(h.stub.onPremisesConfig({ retry: { timeoutMs: 2000 } }), deps(h, STUB_WINDOWS_ACCOUNT.password));
    expect(inventory.source).toBe('onPremises');
    expect(h.stub.requestsTo(h.stub.paths.soap)).toEqual([]);
    await expect(inventory.listBeacons()).resolves.toEqual(expected);
    await expect(inventory.listBeacons()).resolves.toEqual(expected);
    expect(h.stub.requestsTo(h.stub.paths.soap).map((r) => r.status)).toEqual([401, 200, 401, 200]);
  });

  it('a wrong password is refused by the server: re-read once (rotation), then an auth error without the password', async () => {
    const h = await startStub();
    const error = await failure(onPremises(h, {}, 'Wrong-Passw0rd!').listBeacons());
    expect(error).toMatchObject({ code: 'INVENTORY_AUTH', operation: 'getCustomView', status: 401, retriable: false });
    expect(error.message).toMatch(/CORP\\svc-fnms-ws or its password was refused/);
    expect(JSON.stringify(error) + error.message).not.toContain('Wrong-Passw0rd!');
    expect(h.stub.refusedLogons).toEqual(['wrong password', 'wrong password']);
    expect(h.secretReads).toBe(2);
  });

  it('an unknown account is refused', async () => {
    const h = await startStub();
    const error = await failure(onPremises(h, { account: 'CORP\\someone-else' }).listBeacons());
    expect(error).toMatchObject({ code: 'INVENTORY_AUTH', status: 401 });
    expect(h.stub.refusedLogons[0]).toMatch(/unknown account/);
  });

  it('503 then 200: the whole handshake is retried with backoff', async () => {
    const h = await startStub();
    h.stub.failNext(h.stub.paths.soap, 503, 1);
    await expect(onPremises(h).listBeacons()).resolves.toHaveLength(5);
    expect(h.sleeps).toEqual([375]);
  });

  it('429 with Retry-After is honoured', async () => {
    const h = await startStub();
    h.stub.failNext(h.stub.paths.soap, 429, 1, { retryAfter: '2' });
    await expect(onPremises(h).listBeacons()).resolves.toHaveLength(5);
    expect(h.sleeps).toEqual([2000]);
  });

  it('a SOAP fault (unknown custom view) is final: not retried, the fault text and the setting named', async () => {
    const h = await startStub();
    const error = await failure(onPremises(h, { reportId: 4242 }).listBeacons());
    expect(error).toMatchObject({ code: 'INVENTORY_SOAP_FAULT', operation: 'getCustomView', status: 500, retriable: false, field: 'fnmsReportId' });
    expect(error.message).toMatch(/Custom view 4242 does not exist/);
    expect(h.sleeps).toEqual([]);
  });

  it('a custom view without a mapped column: named from the DataSet schema even though null cells are absent from rows', async () => {
    const h = await startStub();
    h.stub.omitColumns.add('lastContact');
    const error = await failure(onPremises(h).listBeacons());
    expect(error).toMatchObject({ code: 'INVENTORY_COLUMN_MISSING', field: 'fnmsReportColumns.lastContact' });
    expect(error.message).toMatch(/no column "Last contact"/);
    expect(error.message).toMatch(/Beacon name, Computer name, Status, Version/);
  });

  it('an answer at the row limit may be truncated: refused, with the setting to raise', async () => {
    const h = await startStub();
    const error = await failure(onPremises(h, { rowLimit: 5 }).listBeacons());
    expect(error).toMatchObject({ code: 'INVENTORY_TRUNCATED', field: 'fnmsRowLimit' });
  });

  it('an empty custom view is an error, not an empty fleet', async () => {
    const h = await startStub({ beacons: [] });
    await expect(onPremises(h).listBeacons()).rejects.toMatchObject({ code: 'INVENTORY_EMPTY' });
  });

  it('no server: a network error after the attempts, retriable', async () => {
    const h = await startStub();
    const config = h.stub.onPremisesConfig({ retry: { maxAttempts: 2, timeoutMs: 2000 } });
    await h.stub.stop();
    const error = await failure(createOnPremisesInventory(config, deps(h, STUB_WINDOWS_ACCOUNT.password)).listBeacons());
    expect(error).toMatchObject({ code: 'INVENTORY_NETWORK', retriable: true, attempts: 2 });
    expect(error.message).toMatch(/ECONNREFUSED/);
  });

  it('an https URL is required except on loopback', () => {
    expect(() => createReportInventory({ ...harnessFreeConfig(), url: 'http://fnms.corp.example' }, { getSecret: async () => 'x' })).toThrow(/url: an https URL/);
    expect(() => createReportInventory({ ...harnessFreeConfig(), account: 'not a valid account' }, { getSecret: async () => 'x' })).toThrow(/account/);
  });
});

function harnessFreeConfig(): OnPremisesConfigInput {
  return { kind: 'onPremises', url: 'https://fnms.corp.example', reportId: 1, account: 'CORP\\svc', columns: { name: 'a', computerName: 'b', version: 'c', status: 'd', lastContact: 'e' } };
}

describe('GetCustomView answers', () => {
  const what = 'GetCustomView';
  it('reads a DataSet without a diffgram (NewDataSet directly under the result) and decodes XmlConvert names', () => {
    const xml =
      '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetCustomViewResponse xmlns="http://tempuri.org/"><GetCustomViewResult>' +
      '<xs:schema id="NewDataSet" xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="NewDataSet"><xs:complexType><xs:choice>' +
      '<xs:element name="SearchResults"><xs:complexType><xs:sequence><xs:element name="Beacon_x0020_name" /><xs:element name="Ver" /></xs:sequence></xs:complexType></xs:element>' +
      '</xs:choice></xs:complexType></xs:element></xs:schema>' +
      '<NewDataSet xmlns=""><SearchResults><Beacon_x0020_name>B &amp; 1</Beacon_x0020_name><Ver /></SearchResults></NewDataSet>' +
      '</GetCustomViewResult></GetCustomViewResponse></soap:Body></soap:Envelope>';
    expect(parseGetCustomViewAnswer(xml, what)).toEqual({ columns: ['Beacon name', 'Ver'], rows: [{ 'Beacon name': 'B & 1', Ver: '' }] });
    expect(decodeXmlName('Last_x0020_contact_x0020__x0028_UTC_x0029_')).toBe('Last contact (UTC)');
  });

  it.each([
    ['not XML', 'Service Unavailable', /no soap:Envelope|not well-formed/],
    ['a DTD', '<!DOCTYPE x [<!ENTITY a "aaaa">]><soap:Envelope/>', /DTD/],
    ['no schema', '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetCustomViewResponse><GetCustomViewResult /></GetCustomViewResponse></soap:Body></soap:Envelope>', /no DataSet schema|no GetCustomViewResult/],
  ])('%s is unreadable, named', (_label, xml, message) => {
    let thrown: unknown;
    try {
      parseGetCustomViewAnswer(xml, what);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ code: 'INVENTORY_UNREADABLE', operation: 'getCustomView' });
    expect((thrown as Error).message).toMatch(message);
  });
});
