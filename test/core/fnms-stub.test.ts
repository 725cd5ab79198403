import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import ntlm from '@ewsjs/ntlm-client';

const { createType1Message, createType3Message, decodeType2Message } = ntlm;
import { Client } from 'undici';
import { GET_CUSTOM_VIEW_ACTION, createOnPremisesInventory, getCustomViewEnvelope } from '../../lambdas/core/fnms/on-premises.js';
import { FnmsStub, STUB_CLIENT, STUB_REFRESH_TOKEN, STUB_WINDOWS_ACCOUNT, startFnmsStub } from '../../local/fnms-stub.js';
import { ROOT } from '../support/requests.js';

let stub: FnmsStub | undefined;
afterEach(async () => {
  await stub?.stop();
  stub = undefined;
});

async function token(s: FnmsStub): Promise<string> {
  const response = await fetch(s.tokenUrl, { method: 'POST', body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: STUB_REFRESH_TOKEN }) });
  expect(response.status).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}

describe('local FNMS stub server', () => {
  it('listens on 127.0.0.1 on a free port and reports it', async () => {
    stub = await startFnmsStub();
    expect(stub.port).toBeGreaterThan(0);
    expect(stub.url).toBe(`http://127.0.0.1:${stub.port}`);
  });

  it('refuses API calls without a valid bearer and unknown refresh tokens', async () => {
    stub = await startFnmsStub();
    expect((await fetch(`${stub.url}/api/beacon-settings`)).status).toBe(401);
    expect((await fetch(`${stub.url}/api/beacon-settings`, { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
    const bad = await fetch(stub.tokenUrl, { method: 'POST', body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'wrong' }) });
    expect(bad.status).toBe(400);
  });

  it('serves state to a token it issued, and lets an administrator set "latest"', async () => {
    stub = await startFnmsStub({ state: { approvedVersion: '13.2.0', availableVersions: ['13.2.0'] } });
    const headers = { authorization: `Bearer ${await token(stub)}`, 'content-type': 'application/json' };
    expect(await (await fetch(`${stub.url}/api/beacon-settings`, { headers })).json()).toEqual({ approvedVersion: '13.2.0', availableVersions: ['13.2.0'] });
    expect((await fetch(`${stub.url}/api/beacon-settings/approved-version`, { method: 'PUT', headers, body: '{"version":"99.0"}' })).status).toBe(400);
    expect((await fetch(`${stub.url}/api/beacon-settings/approved-version`, { method: 'PUT', headers, body: '{"version":"latest"}' })).status).toBe(200);
    expect(stub.state.approvedVersion).toBe('latest');
    expect((await fetch(`${stub.url}/api/beacon-settings`, { method: 'DELETE', headers })).status).toBe(405);
  });

  it('tokens expire with the stub clock', async () => {
    const clock = { ms: 0 };
    stub = await startFnmsStub({ tokenTtlSeconds: 10, now: () => clock.ms });
    const headers = { authorization: `Bearer ${await token(stub)}` };
    expect((await fetch(`${stub.url}/api/beacon-settings`, { headers })).status).toBe(200);
    clock.ms = 10_001;
    expect((await fetch(`${stub.url}/api/beacon-settings`, { headers })).status).toBe(401);
  });

  it('injects faults for a path or for any path (*), then recovers', async () => {
    stub = await startFnmsStub({ bearerTokens: ['b-123456'] });
    const headers = { authorization: 'Bearer b-123456' };
    stub.failNext('*', 503, 2, { retryAfter: '7' });
    const first = await fetch(stub.tokenUrl, { method: 'POST' });
    expect(first.status).toBe(503);
    expect(first.headers.get('retry-after')).toBe('7');
    expect((await fetch(`${stub.url}/api/beacon-settings`, { headers })).status).toBe(503);
    expect((await fetch(`${stub.url}/api/beacon-settings`, { headers })).status).toBe(200);
    expect(stub.requests.map((r) => [r.path, r.status, r.injected])).toEqual([
      ['/oidc/token', 503, true],
      ['/api/beacon-settings', 503, true],
      ['/api/beacon-settings', 200, false],
    ]);
  });

  it('never logs a credential', async () => {
    stub = await startFnmsStub();
    const access = await token(stub);
    await fetch(`${stub.url}/api/beacon-settings`, { headers: { authorization: `Bearer ${access}` } });
    const log = JSON.stringify(stub.requests);
    expect(log).not.toContain(STUB_REFRESH_TOKEN);
    expect(log).not.toContain(access);
  });

  it('stop() ends pending slow answers and can be called twice', async () => {
    stub = await startFnmsStub({ bearerTokens: ['b-123456'] });
    stub.slowNext('/api/beacon-settings', 60_000);
    const pending = fetch(`${stub.url}/api/beacon-settings`, { headers: { authorization: 'Bearer b-123456' } }).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await stub.stop();
    await stub.stop();
    expect(await pending).toBeInstanceOf(Error);
  });

  it('runs from the command line and prints where it listens', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'local', 'fnms-stub.ts')], { cwd: ROOT });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (chunk) => {
          out += chunk;
          if (out.includes('\n')) resolve(out.split('\n')[0]!);
        });
        child.on('error', reject);
        child.on('close', (code) => reject(new Error(`exited ${code}`)));
      });
      const info = JSON.parse(line) as { url: string; tokenUrl: string; refreshToken: string; paths: { report: string } };
      const issued = await fetch(info.tokenUrl, { method: 'POST', body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: info.refreshToken }) });
      const { access_token: access } = (await issued.json()) as { access_token: string };
      const answer = await fetch(`${info.url}${info.paths.report}`, { headers: { authorization: `Bearer ${access}` } });
      expect(((await answer.json()) as { values: unknown[] }).values).toHaveLength(2);
    } finally {
      child.kill('SIGTERM');
    }
  });
});

describe('local FNMS stub: the documented wire formats', () => {
  const beacons = [
    { name: 'BEACON01', computerName: 'BEACON01', version: '13.2.0', status: 'Active', lastContact: '2026-11-27T08:00:00Z' },
    { name: 'BEACON02', computerName: 'BEACON02', version: null, status: 'Inactive', lastContact: null },
    { name: 'BEACON03', computerName: 'BEACON03', version: '13.3.0', status: 'Active', lastContact: '2026-11-27T09:00:00Z' },
  ];

  it('Flexera One report execute: values keyed R2_<hash>_<Table>_<Column>, paged through nextPage skipToken, Bearer required', async () => {
    stub = await startFnmsStub({ state: { beacons }, pageSize: 2 });
    expect((await fetch(`${stub.url}${stub.paths.report}`)).status).toBe(401);
    const headers = { authorization: `Bearer ${await token(stub)}` };
    const first = (await (await fetch(`${stub.url}${stub.paths.report}`, { headers })).json()) as { values: Array<Record<string, unknown>>; nextPage?: string };
    expect(first.values).toHaveLength(2);
    for (const key of Object.keys(first.values[0]!)) expect(key).toMatch(/^R2_[0-9a-f]{8}_Beacon_[A-Za-z]+$/);
    expect(first.nextPage).toMatch(/execute\?skipToken=/);
    const second = (await (await fetch(`${stub.url}${first.nextPage}`, { headers })).json()) as { values: unknown[]; nextPage?: string };
    expect(second.values).toHaveLength(1);
    expect(second.nextPage).toBeUndefined();
    expect((await fetch(`${stub.url}${stub.paths.report}?skipToken=forged`, { headers })).status).toBe(400);
    expect((await fetch(`${stub.url}/fnms/v1/orgs/999/reports/${stub.reportId}/execute`, { headers })).status).toBe(403);
    expect((await fetch(`${stub.url}/fnms/v1/orgs/${stub.orgId}/reports/7/execute`, { headers })).status).toBe(404);
  });

  it('the token endpoint takes a service account client (client_credentials) and refuses a wrong client secret with 401', async () => {
    stub = await startFnmsStub();
    const grant = (secret: string) =>
      fetch(stub!.tokenUrl, { method: 'POST', body: new URLSearchParams({ grant_type: 'client_credentials', client_id: STUB_CLIENT.clientId, client_secret: secret }) });
    expect((await grant(STUB_CLIENT.clientSecret)).status).toBe(200);
    expect((await grant('wrong')).status).toBe(401);
  });

  it('GetCustomView needs NTLM on one connection: negotiate, challenge, authenticate; the password is really checked', async () => {
    stub = await startFnmsStub({ state: { beacons } });
    const account = STUB_WINDOWS_ACCOUNT;
    const envelope = getCustomViewEnvelope(stub.customViewId, 100);
    const soapHeaders = { 'content-type': 'text/xml; charset=utf-8', soapaction: `"${GET_CUSTOM_VIEW_ACTION}"` };
    const handshake = async (password: string, sameConnection = true) => {
      const first = new Client(stub!.url, { pipelining: 1 });
      const second = sameConnection ? first : new Client(stub!.url, { pipelining: 1 });
      try {
        const negotiate = await first.request({ path: stub!.paths.soap, method: 'POST', headers: { ...soapHeaders, authorization: createType1Message('TESTHOST', account.domain) }, body: '' });
        await negotiate.body.text();
        expect(negotiate.statusCode).toBe(401);
        const type2 = decodeType2Message(String(negotiate.headers['www-authenticate']));
        const answer = await second.request({
          path: stub!.paths.soap,
          method: 'POST',
          headers: { ...soapHeaders, authorization: createType3Message(type2, account.user, password, 'TESTHOST', account.domain) },
          body: envelope,
        });
        return { status: answer.statusCode, text: await answer.body.text() };
      } finally {
        await first.destroy();
        if (second !== first) await second.destroy();
      }
    };
    const anonymous = await fetch(`${stub.url}${stub.paths.soap}`, { method: 'POST', headers: soapHeaders, body: envelope });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/NTLM/);
    const ok = await handshake(account.password);
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('<xs:schema id="NewDataSet"');
    expect(ok.text).toContain('<SearchResults diffgr:id="SearchResults1"');
    expect(ok.text).toContain('Beacon_x0020_name');
    expect((await handshake('not-the-password')).status).toBe(401);
    expect(stub.refusedLogons).toContain('wrong password');
    expect((await handshake(account.password, false)).status).toBe(401);
    expect(stub.refusedLogons).toContain('type 3 message without a challenge on this connection');
  });

  it('GetCustomView answers a SOAP fault for an unknown custom view and for a wrong SOAPAction', async () => {
    stub = await startFnmsStub({ state: { beacons } });
    const adapter = createOnPremisesInventory(stub.onPremisesConfig({ reportId: 4242 }), { getSecret: async () => STUB_WINDOWS_ACCOUNT.password, sleep: async () => {} });
    await expect(adapter.listBeacons()).rejects.toMatchObject({ code: 'INVENTORY_SOAP_FAULT' });
    expect(stub.requestsTo(stub.paths.soap).at(-1)?.status).toBe(500);
  });
});
