// A real proxy in the loop: the probe code of the documents (module Probe.ps1) runs under pwsh through a
// real HTTP proxy server on loopback (the `proxy` package: forwarding and CONNECT) to the FNMS stub.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { join } from 'node:path';
import { encodeDesiredState } from '../../lambdas/core/desired-state.js';
import { configuredBeacon, freshBeacon } from '../../local/beacon-model.js';
import { type FnmsStub, startFnmsStub } from '../../local/fnms-stub.js';
import { type LocalHttpProxy, startHttpProxy } from '../../local/http-proxy.js';
import { SOURCE_DIR } from '../../ssm-documents/documents.js';
import { beaconState, comparableState, desiredState, failedChecks, loadModuleScript, newBeacon, runDocument, runPwshScript, scenarioDir } from './helpers.js';

/** Nothing listens here: a proxy address with the wrong port. */
const DEAD = '127.0.0.1:9';

let fnms: FnmsStub;
let proxy: LocalHttpProxy;
let refusing: LocalHttpProxy;

beforeAll(async () => {
  [fnms, proxy, refusing] = await Promise.all([startFnmsStub({}), startHttpProxy(), startHttpProxy({ refuse: true })]);
});

afterAll(async () => {
  await Promise.all([fnms.stop(), proxy.stop(), refusing.stop()]);
});

interface Probe {
  ok: boolean;
  status: number | string;
  proxy: string;
  detail?: string;
}

async function probe(url: string, proxyServer: string): Promise<Probe> {
  const layer = join(SOURCE_DIR, 'WindowsLayer.ps1').replace(/'/g, "''");
  const run = await runPwshScript(`${loadModuleScript()}. '${layer}'\n[Console]::Out.WriteLine((ConvertTo-BpJson (Invoke-BpEndpointProbe '${url}' '${proxyServer}')))`);
  if (run.exitCode !== 0) throw new Error(run.stderr);
  return JSON.parse(run.stdout.trim()) as Probe;
}

describe('the endpoint probe goes through the configured proxy', () => {
  test('through a working proxy FNMS answers (any HTTP status below 500 proves the path), and the proxy saw the request', async () => {
    const url = `${fnms.url}/ManageSoftRL/`;
    const answer = await probe(url, proxy.hostPort);
    expect(answer).toMatchObject({ ok: true, proxy: proxy.hostPort });
    expect(proxy.requests).toContainEqual({ method: 'GET', target: url });
  });

  test('a proxy address with the wrong port gives unreachable', async () => {
    expect(await probe(`${fnms.url}/ManageSoftRL/`, DEAD)).toMatchObject({ ok: false, status: 'unreachable' });
  });

  test('a proxy that refuses the beacon (407) gives unreachable, not a reachable FNMS', async () => {
    const answer = await probe(`${fnms.url}/ManageSoftRL/`, refusing.hostPort);
    expect(answer).toMatchObject({ ok: false, status: 'unreachable', detail: 'the proxy refused the beacon (407)' });
    expect(refusing.requests.length).toBeGreaterThan(0);
  });

  test('per-protocol ProxyServer: an https URL takes the https= entry (CONNECT), an http URL the http= entry', async () => {
    const host = fnms.url.replace('http://', '');
    const before = proxy.requests.length;
    await probe(`https://${host}/ManageSoftRL/`, `http=${DEAD};https=${proxy.hostPort}`);
    expect(proxy.requests.slice(before)).toContainEqual({ method: 'CONNECT', target: host });
    const plain = await probe(`${fnms.url}/ManageSoftDL/`, `http=${proxy.hostPort};https=${DEAD}`);
    expect(plain.ok).toBe(true);
  });
});

describe('configure probes FNMS through the proxy it just configured', () => {
  const hosts = (target: string) => ({ BEACON_PROXY_HOSTS: JSON.stringify({ 'proxy.corp.example:8080': target }) });

  test('FNMS reachable through the proxy: the run is ok and reports the endpoint check', async () => {
    const path = newBeacon(scenarioDir('probe-ok'), freshBeacon());
    const state = { ...desiredState(), probe: { url: `${fnms.url}/ManageSoftRL/` } };
    const { result } = await runDocument('configure', path, { DesiredState: encodeDesiredState(state) }, hosts(proxy.hostPort));
    expect(result.ok).toBe(true);
    expect(result.checks.find((check) => check.name === 'endpoint')).toMatchObject({ ok: true });
  });

  test('FNMS unreachable through the proxy (it refuses): ENDPOINT_UNREACHABLE and the beacon is rolled back', async () => {
    const before = freshBeacon();
    const path = newBeacon(scenarioDir('probe-refused'), before);
    const state = { ...desiredState(), probe: { url: `${fnms.url}/ManageSoftRL/` } };
    const { run, result, model } = await runDocument('configure', path, { DesiredState: encodeDesiredState(state) }, hosts(refusing.hostPort));
    expect(run.exitCode).not.toBe(0);
    expect(result.error).toMatchObject({ code: 'ENDPOINT_UNREACHABLE', step: 'probe' });
    expect(result.rollback).toMatchObject({ attempted: true, ok: true });
    expect(comparableState(model)).toEqual(comparableState(before));
  });

  test('verify with CheckEndpoint reports the probe as a check, and a wrong proxy port as drift', async () => {
    const state = desiredState();
    const beacon = configuredBeacon(state);
    const path = newBeacon(scenarioDir('verify-probe'), beacon);
    const parameters = { DesiredState: encodeDesiredState(state), CheckEndpoint: `${fnms.url}/ManageSoftRL` };
    const reached = await runDocument('verify', path, parameters, hosts(proxy.hostPort));
    expect(reached.result.ok).toBe(true);
    expect(reached.result.checks.find((check) => check.name === 'endpoint')).toMatchObject({ ok: true });
    const missed = await runDocument('verify', path, parameters, hosts(DEAD));
    expect(failedChecks(missed.result)).toEqual(['endpoint']);
    expect(beaconState(missed.model)).toEqual(beaconState(beacon));
  });
});
