import { existsSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { DEFAULT_ACCOUNT, configuredBeacon, freshBeacon, readBeaconModel, writeBeaconModel } from '../../local/beacon-model.js';
import { InvalidDocumentParameters, runBeaconDocument } from '../../local/run-document.js';
import { beaconState, captureFiles, comparableState, configure, desiredState, failedChecks, newBeacon, readText, rollback, runDocument, scenarioDir, verify } from './helpers.js';

describe.concurrent('rollback document', () => {
  test('restores the capture of a successful configure run: the beacon is back to fresh, absent values absent again', async () => {
    const before = freshBeacon();
    const path = newBeacon(scenarioDir('rollback'), before);
    const configured = await configure(path, desiredState());
    expect(configured.result.ok).toBe(true);
    expect(captureFiles(path)).toHaveLength(1);

    const undone = await rollback(path, 'req-ssm-test');
    expect(undone.run.exitCode, undone.run.stdout).toBe(0);
    expect(undone.result).toMatchObject({ ok: true, document: 'rollback', captureId: 'req-ssm-test', error: null });
    expect(undone.result.rollback).toMatchObject({ attempted: true, ok: true });
    expect(undone.result.changed).toEqual(expect.arrayContaining(['service:logon', 'registry:Common\\https_proxy', 'wininet:AutoConfigURL']));
    expect(failedChecks(undone.result)).toEqual([]);
    expect(comparableState(undone.model)).toEqual(comparableState(before));
    expect(undone.model.services[0]!.state).toBe('Running');

    const again = await rollback(path, 'req-ssm-test');
    expect(again.result.ok).toBe(true);
    expect(again.result.changed).toEqual([]);
  });

  test('a re-run of the same request keeps the first capture, so rollback still returns to the state before the request', async () => {
    const before = freshBeacon();
    const path = newBeacon(scenarioDir('recapture'), before);
    await configure(path, desiredState());
    await configure(path, desiredState());
    const undone = await rollback(path, 'req-ssm-test');
    expect(comparableState(undone.model)).toEqual(comparableState(before));
  });

  test('an unknown capture id is reported as CAPTURE_NOT_FOUND with a non-zero exit', async () => {
    const path = newBeacon(scenarioDir('no-capture'), freshBeacon());
    const { run, result } = await rollback(path, 'never-captured');
    expect(run.exitCode).not.toBe(0);
    expect(result.error?.code).toBe('CAPTURE_NOT_FOUND');
  });
});

describe.concurrent('verify document', () => {
  test('a configured beacon verifies ok and verify changes nothing', async () => {
    const state = desiredState();
    const before = configuredBeacon(state);
    const path = newBeacon(scenarioDir('verify-ok'), before);
    const { run, result, model } = await verify(path, state);
    expect(run.exitCode, run.stdout).toBe(0);
    expect(result).toMatchObject({ ok: true, document: 'verify', changed: [], error: null });
    expect(result.checks.length).toBeGreaterThan(15);
    expect(beaconState(model)).toEqual(beaconState(before));
    expect(captureFiles(path)).toEqual([]);
  });

  test('after a beacon upgrade reset the service and tasks to LocalSystem, verify reports the drift and changes nothing', async () => {
    const state = desiredState();
    const upgraded = configuredBeacon(state);
    upgraded.beaconVersion = '14.0.0';
    upgraded.services[0]!.startName = 'LocalSystem';
    upgraded.services[0]!.passwordSha256 = null;
    for (const task of upgraded.tasks) Object.assign(task, { userId: 'SYSTEM', logonType: 'ServiceAccount', passwordSha256: null });
    const path = newBeacon(scenarioDir('drift'), upgraded);
    const { run, result, verdict, model } = await verify(path, state);
    expect(run.exitCode).not.toBe(0);
    expect(result.error?.code).toBe('DRIFT');
    expect(result.beaconVersion).toBe('14.0.0');
    expect(failedChecks(result)).toEqual(['service:logon', 'task:Upload third party inventory data', 'task:Upload Flexera logs and inventories']);
    expect(result.checks.find((check) => check.name === 'service:logon')).toMatchObject({ expected: 'CORP\\svc-beacon', actual: 'LocalSystem' });
    expect(verdict.status).toBe('failed');
    expect(beaconState(model)).toEqual(beaconState(upgraded));
  });

  test('a right taken away later (for example by a Group Policy refresh) shows as drift', async () => {
    const state = desiredState();
    const beacon = configuredBeacon(state);
    beacon.rights[DEFAULT_ACCOUNT.sid] = ['SeServiceLogonRight'];
    const path = newBeacon(scenarioDir('gpo'), beacon);
    const { result } = await verify(path, state);
    expect(result.error?.code).toBe('DRIFT');
    expect(failedChecks(result)).toEqual(['right:SeBatchLogonRight']);
  });

  test('verify on a fresh beacon lists every setting that is missing', async () => {
    const path = newBeacon(scenarioDir('verify-fresh'), freshBeacon());
    const { result } = await verify(path, desiredState());
    expect(result.ok).toBe(false);
    expect(failedChecks(result)).toEqual(
      expect.arrayContaining(['right:SeServiceLogonRight', 'group:Administrators', 'registry:Common\\https_proxy', 'wininet:ProxyServer', 'wininet:DefaultConnectionSettings', 'service:logon']),
    );
    expect(failedChecks(result)).not.toContain('registry:Common\\http_proxy');
  });
});

describe.concurrent('document parameters and the layer', () => {
  test('parameters that break the allowedPattern are refused before anything runs (as SendCommand does)', async () => {
    const path = writeBeaconModel(scenarioDir('params'), 'beacon', freshBeacon());
    await expect(runBeaconDocument({ document: 'rollback', parameters: { CaptureId: "x'; Remove-Item C:\\ -Recurse; '" }, modelPath: path })).rejects.toBeInstanceOf(InvalidDocumentParameters);
    await expect(runBeaconDocument({ document: 'configure', parameters: {}, modelPath: path })).rejects.toThrow(/DesiredState is missing/);
  });

  test('a desired state that is not JSON, or of an unknown schema, is refused before anything changes', async () => {
    const before = freshBeacon();
    const path = newBeacon(scenarioDir('bad-state'), before);
    const garbage = await runDocument('configure', path, { DesiredState: Buffer.from('not json at all').toString('base64') });
    expect(garbage.result.error?.code).toBe('INVALID_PARAMETER');
    const future = await runDocument('configure', path, { DesiredState: Buffer.from(JSON.stringify({ ...desiredState(), schema: 2 })).toString('base64') });
    expect(future.result.error?.code).toBe('UNSUPPORTED_DESIRED_STATE');
    expect(future.run.exitCode).not.toBe(0);
    expect(beaconState(future.model)).toEqual(beaconState(before));
  });

  test('off Windows without the fake layer the document reports LAYER_MISSING and touches nothing', async () => {
    const before = freshBeacon();
    const path = newBeacon(scenarioDir('no-layer'), before);
    const { run, result } = await runDocument('configure', path, { DesiredState: Buffer.from(JSON.stringify(desiredState())).toString('base64') }, { BEACON_PROXY_FAKE_LAYER: '' });
    expect(run.exitCode).not.toBe(0);
    expect(result.error?.code).toBe('LAYER_MISSING');
    expect(beaconState(readBeaconModel(path))).toEqual(beaconState(before));
    expect(existsSync(path)).toBe(true);
  });

  test('a run in a pwsh worker runspace gives the same result line and end state as a run in its own pwsh process (as SSM Agent runs it)', async () => {
    const parameters = { DesiredState: Buffer.from(JSON.stringify(desiredState())).toString('base64') };
    // A failing run exercises apply, the failure and the rollback: the most state a runspace could leak.
    const [inProcess, inWorker] = await Promise.all(
      (['process', 'worker'] as const).map(async (isolation) => {
        const path = writeBeaconModel(scenarioDir(`isolation-${isolation}`), 'beacon', freshBeacon({ faults: { serviceFailsToStart: true } }));
        const run = await runBeaconDocument({ document: 'configure', parameters, modelPath: path, isolation });
        return { stdout: run.stdout, exitCode: run.exitCode, state: beaconState(readBeaconModel(path)) };
      }),
    );
    expect(inProcess!.exitCode).toBe(1);
    expect(JSON.parse(inProcess!.stdout)).toMatchObject({ error: { code: 'SERVICE_START_FAILED' }, rollback: { ok: true } });
    expect(inWorker).toEqual(inProcess);
  });

  test('the capture file holds what was there before, keyed by request id', async () => {
    const path = newBeacon(scenarioDir('capture'), freshBeacon());
    await configure(path, desiredState());
    const [file] = captureFiles(path);
    expect(file).toMatch(/req-ssm-test\.json$/);
    const capture = JSON.parse(readText(file!)) as { captureId: string; service: { startName: string }; entries: { id: string; before: unknown }[] };
    expect(capture.captureId).toBe('req-ssm-test');
    expect(capture.service.startName).toBe('LocalSystem');
    expect(capture.entries.find((entry) => entry.id === 'registry:Common\\https_proxy')?.before).toBeNull();
    expect(capture.entries.find((entry) => entry.id === 'wininet:AutoConfigURL')?.before).toEqual({ type: 'String', data: 'http://wpad.corp.example/proxy.pac' });
    expect(capture.entries.find((entry) => entry.id === 'right:SeServiceLogonRight')).toMatchObject({ sid: DEFAULT_ACCOUNT.sid, before: false });
  });
});
