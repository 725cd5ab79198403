import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FnmsStub, STUB_REFRESH_TOKEN, startFnmsStub } from '../../local/fnms-stub.js';
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
    expect((await fetch(`${stub.url}/api/beacons`)).status).toBe(401);
    expect((await fetch(`${stub.url}/api/beacons`, { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
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
    expect((await fetch(`${stub.url}/api/beacons`, { method: 'DELETE', headers })).status).toBe(405);
  });

  it('tokens expire with the stub clock', async () => {
    const clock = { ms: 0 };
    stub = await startFnmsStub({ tokenTtlSeconds: 10, now: () => clock.ms });
    const headers = { authorization: `Bearer ${await token(stub)}` };
    expect((await fetch(`${stub.url}/api/beacons`, { headers })).status).toBe(200);
    clock.ms = 10_001;
    expect((await fetch(`${stub.url}/api/beacons`, { headers })).status).toBe(401);
  });

  it('injects faults for a path or for any path (*), then recovers', async () => {
    stub = await startFnmsStub({ bearerTokens: ['b-123456'] });
    const headers = { authorization: 'Bearer b-123456' };
    stub.failNext('*', 503, 2, { retryAfter: '7' });
    const first = await fetch(stub.tokenUrl, { method: 'POST' });
    expect(first.status).toBe(503);
    expect(first.headers.get('retry-after')).toBe('7');
    expect((await fetch(`${stub.url}/api/beacons`, { headers })).status).toBe(503);
    expect((await fetch(`${stub.url}/api/beacons`, { headers })).status).toBe(200);
    expect(stub.requests.map((r) => [r.path, r.status, r.injected])).toEqual([
      ['/oidc/token', 503, true],
      ['/api/beacons', 503, true],
      ['/api/beacons', 200, false],
    ]);
  });

  it('never logs a credential', async () => {
    stub = await startFnmsStub();
    const access = await token(stub);
    await fetch(`${stub.url}/api/beacons`, { headers: { authorization: `Bearer ${access}` } });
    const log = JSON.stringify(stub.requests);
    expect(log).not.toContain(STUB_REFRESH_TOKEN);
    expect(log).not.toContain(access);
  });

  it('stop() ends pending slow answers and can be called twice', async () => {
    stub = await startFnmsStub({ bearerTokens: ['b-123456'] });
    stub.slowNext('/api/beacons', 60_000);
    const pending = fetch(`${stub.url}/api/beacons`, { headers: { authorization: 'Bearer b-123456' } }).catch((error: unknown) => error);
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
      const info = JSON.parse(line) as { url: string; bearerToken: string };
      const answer = await fetch(`${info.url}/api/beacons`, { headers: { authorization: `Bearer ${info.bearerToken}` } });
      expect(((await answer.json()) as { beacons: unknown[] }).beacons).toHaveLength(2);
    } finally {
      child.kill('SIGTERM');
    }
  });
});
