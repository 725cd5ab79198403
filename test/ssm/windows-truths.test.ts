// Behaviour of Windows Server 2016-2022 (PowerShell 5.1, .NET Framework 4.6.2, SSM Agent as LocalSystem)
// that the documents must survive. The fake layer reproduces each behaviour by default; every test here
// failed against the documents before their fix (see the notes of issue 11).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  ADMINISTRATORS_SID,
  DEFAULT_ACCOUNT,
  DEFAULT_PARAMETER_NAME,
  DEFAULT_PASSWORD,
  DEFAULT_SECRET_ARN,
  MACHINE_WININET_KEY,
  WININET_KEY,
  configuredBeacon,
  decodeConnectionSettings,
  flexnetRoot,
  freshBeacon,
  registryValue,
  sha256Hex,
  type BeaconModel,
} from '../../local/beacon-model.js';
import { encodeDesiredState } from '../../lambdas/core/desired-state.js';
import { runBeaconDocument } from '../../local/run-document.js';
import { beaconState, captureFiles, comparableState, configure, desiredState, failedChecks, newBeacon, resultLine, rollback, scenarioDir, verify } from './helpers.js';

const SID = DEFAULT_ACCOUNT.sid;
const ROOT = flexnetRoot('64');
const WOW_WININET_KEY = 'HKLM\\SOFTWARE\\WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\Internet Settings';

function blob(data: unknown) {
  return decodeConnectionSettings(Buffer.from(String(data), 'base64'));
}

const OLD_ACCOUNT = { name: 'CORP\\old-svc', sid: 'S-1-5-21-3623811015-3361044348-30300820-1044', password: 'Old-svc#Pa55', arn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:beacon/old-svc-XyZ123' };

/** A beacon whose service and tasks already run as another domain account with a password. */
function beaconOnOldAccount(options: Parameters<typeof freshBeacon>[0] = {}): BeaconModel {
  const model = freshBeacon({ ...options, secrets: { [DEFAULT_SECRET_ARN]: DEFAULT_PASSWORD, [OLD_ACCOUNT.arn]: OLD_ACCOUNT.password } });
  model.accounts.push({ name: OLD_ACCOUNT.name, aliases: [], sid: OLD_ACCOUNT.sid, kind: 'domain', passwordSha256: sha256Hex(OLD_ACCOUNT.password) });
  model.rights[OLD_ACCOUNT.sid] = ['SeServiceLogonRight', 'SeBatchLogonRight'];
  model.groups[ADMINISTRATORS_SID]!.members.push(OLD_ACCOUNT.sid);
  Object.assign(model.services[0]!, { startName: OLD_ACCOUNT.name, passwordSha256: sha256Hex(OLD_ACCOUNT.password) });
  for (const task of model.tasks) Object.assign(task, { userId: OLD_ACCOUNT.name, logonType: 'Password', passwordSha256: sha256Hex(OLD_ACCOUNT.password) });
  return model;
}

describe.concurrent('security: what the beacon never gives away or trusts', () => {
  test('a secret that starts with { or is malformed JSON never reaches the result line, although 5.1 quotes the input in its parse error', async () => {
    const leak = 'Leak-Me-7f3b!';
    for (const secret of [`{"password": "${leak}"`, `{${leak}}`]) {
      const before = freshBeacon({ secrets: { [DEFAULT_SECRET_ARN]: secret } });
      const path = newBeacon(scenarioDir('secret-json'), before);
      const { run, result, model } = await configure(path, desiredState());
      expect(run.stdout + run.stderr).not.toContain(leak);
      expect(result.error).toMatchObject({ code: 'SECRET_FORMAT', step: 'secret' });
      expect(beaconState(model)).toEqual(beaconState(before));
    }
  });

  test('a JSON secret with a "password" field gives that password to the service and the tasks', async () => {
    const path = newBeacon(scenarioDir('secret-object'), freshBeacon({ secrets: { [DEFAULT_SECRET_ARN]: JSON.stringify({ username: 'CORP\\svc-beacon', password: DEFAULT_PASSWORD }) } }));
    const { result, model } = await configure(path, desiredState());
    expect(result.ok).toBe(true);
    expect(model.services[0]!.passwordSha256).toBe(sha256Hex(DEFAULT_PASSWORD));
  });

  test('a capture file planted in the capture folder is refused by the Rollback document (CAPTURE_UNTRUSTED) and nothing changes', async () => {
    const before = freshBeacon();
    const path = newBeacon(scenarioDir('planted'), before);
    const dir = `${path.replace(/\.json$/, '')}.captures`;
    mkdirSync(dir, { recursive: true });
    const planted = {
      schema: 1,
      captureId: 'planted',
      root: 'SOFTWARE\\WOW6432Node\\ManageSoft Corp\\ManageSoft',
      service: { name: 'BeaconEngine', startName: 'LocalSystem', state: 'Running' },
      entries: [
        { id: 'registry:run', concern: 'registry', desired: null, hive: null, before: { type: 'String', data: 'C:\\Users\\Public\\evil.exe' }, path: 'HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run', name: 'Updater', keyExisted: true },
      ],
    };
    writeFileSync(join(dir, 'planted.json'), JSON.stringify(planted));
    const { run, result, model } = await rollback(path, 'planted');
    expect(run.exitCode).not.toBe(0);
    expect(result.error?.code).toBe('CAPTURE_UNTRUSTED');
    expect(beaconState(model)).toEqual(beaconState(before));
  });

  test('a capture whose entries leave the allow-list (registry outside the FlexNet and WinINet keys, other groups, other services) is refused (CAPTURE_REFUSED)', async () => {
    const before = freshBeacon();
    const path = newBeacon(scenarioDir('allow-list'), before);
    const configured = await configure(path, desiredState());
    expect(configured.result.ok).toBe(true);
    const [file] = captureFiles(path);
    const capture = JSON.parse(readFileSync(file!, 'utf8')) as { entries: Array<Record<string, unknown>> };
    const tampered = [
      { id: 'registry:run', concern: 'registry', desired: null, hive: null, before: { type: 'String', data: 'C:\\evil.exe' }, path: 'HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run', name: 'Updater', keyExisted: true },
      { id: 'group:Backup', concern: 'group', desired: true, hive: null, before: true, sid: 'S-1-5-21-1-2-3-1111', group: 'S-1-5-32-551' },
      { id: 'service:logon', concern: 'serviceLogon', desired: 'x', hive: null, before: 'CORP\\attacker', service: 'Spooler' },
    ];
    for (const entry of tampered) {
      writeFileSync(file!, JSON.stringify({ ...capture, entries: [...capture.entries, entry] }));
      const { run, result, model } = await rollback(path, 'req-ssm-test');
      expect(run.exitCode, entry.id).not.toBe(0);
      expect(result.error?.code, entry.id).toBe('CAPTURE_REFUSED');
      expect(result.changed).toEqual([]);
      expect(beaconState(model)).toEqual(beaconState(configured.model));
    }
  });
});

describe.concurrent('accounts and passwords', () => {
  test('a service or task running as another password account is refused before any change unless the request names its secret', async () => {
    const before = beaconOnOldAccount();
    const path = newBeacon(scenarioDir('old-account'), before);
    const { run, result, model } = await configure(path, desiredState());
    expect(run.exitCode).not.toBe(0);
    expect(result.error?.code).toBe('PREVIOUS_ACCOUNT_SECRET_REQUIRED');
    expect(result.error?.message).toContain('CORP\\old-svc');
    expect(result.changed).toEqual([]);
    expect(beaconState(model)).toEqual(beaconState(before));
  });

  test("with the previous account's secret named, a failed run gives the service and tasks back to that account with its password and the service runs again", async () => {
    const before = beaconOnOldAccount({ faults: { ignoreWrite: 'UploadSettings\\ReplicatorParent\\Proxy' } });
    const path = newBeacon(scenarioDir('old-account-rollback'), before);
    const state = desiredState({ previousAccount: { name: OLD_ACCOUNT.name, passwordSecretArn: OLD_ACCOUNT.arn } });
    const { result, model } = await configure(path, state);
    expect(result.error?.code).toBe('VERIFY_FAILED');
    expect(result.rollback).toMatchObject({ attempted: true, ok: true });
    expect(model.services[0]).toMatchObject({ startName: OLD_ACCOUNT.name, passwordSha256: sha256Hex(OLD_ACCOUNT.password), state: 'Running' });
    for (const task of model.tasks) expect(task).toMatchObject({ userId: OLD_ACCOUNT.name, passwordSha256: sha256Hex(OLD_ACCOUNT.password) });
    const { secrets: _secrets, ...afterState } = model;
    expect(JSON.stringify(afterState)).not.toContain(OLD_ACCOUNT.password);
  });

  test('the Rollback document puts the previous password account back with the secret the configure run named', async () => {
    const before = beaconOnOldAccount();
    const path = newBeacon(scenarioDir('old-account-document'), before);
    const configured = await configure(path, desiredState({ previousAccount: { name: OLD_ACCOUNT.name, passwordSecretArn: OLD_ACCOUNT.arn } }));
    expect(configured.result.ok).toBe(true);
    const undone = await rollback(path, 'req-ssm-test');
    expect(undone.result.ok).toBe(true);
    expect(undone.model.services[0]).toMatchObject({ startName: OLD_ACCOUNT.name, passwordSha256: sha256Hex(OLD_ACCOUNT.password), state: 'Running' });
    for (const capture of captureFiles(path)) expect(readFileSync(capture, 'utf8')).not.toContain(OLD_ACCOUNT.password);
  });

  test('a rotated password reaches the service and the tasks on the next run, reported as a change', async () => {
    const path = newBeacon(scenarioDir('rotation'), freshBeacon());
    const first = await configure(path, desiredState());
    expect(first.result.ok).toBe(true);
    const rotated = 'Rotated#Pa55-2';
    const model = JSON.parse(readFileSync(path, 'utf8')) as BeaconModel;
    model.secrets[DEFAULT_SECRET_ARN] = rotated;
    model.secretVersions = { [DEFAULT_SECRET_ARN]: 'v2' };
    model.accounts.find((account) => account.sid === SID)!.passwordSha256 = sha256Hex(rotated);
    writeFileSync(path, JSON.stringify(model));
    const second = await configure(path, desiredState({ requestId: 'req-rotated' }));
    expect(second.result.ok, JSON.stringify(second.result.error)).toBe(true);
    expect(second.result.changed).toEqual(expect.arrayContaining(['credential', 'service:logon', 'task:Upload third party inventory data', 'service:restarted']));
    expect(second.model.services[0]).toMatchObject({ passwordSha256: sha256Hex(rotated), state: 'Running' });
    for (const task of second.model.tasks) expect(task.passwordSha256).toBe(sha256Hex(rotated));
    const { secrets: _secrets, ...state } = second.model;
    expect(JSON.stringify(state)).not.toContain(rotated);
    const third = await configure(path, desiredState({ requestId: 'req-rotated' }));
    expect(third.result.changed).toEqual([]);
  });

  test('upload tasks run with the highest privileges: a Limited task is raised to Highest, and verify reports a Limited one', async () => {
    const before = freshBeacon();
    before.tasks[0]!.runLevel = 'Limited';
    const path = newBeacon(scenarioDir('run-level'), before);
    const { result, model } = await configure(path, desiredState());
    expect(result.ok).toBe(true);
    for (const task of model.tasks) expect(task.runLevel).toBe('Highest');

    const state = desiredState();
    const drifted = configuredBeacon(state);
    drifted.tasks[1]!.runLevel = 'Limited';
    const checked = await verify(newBeacon(scenarioDir('run-level-verify'), drifted), state);
    expect(failedChecks(checked.result)).toEqual(['task:Upload Flexera logs and inventories']);
  });
});

describe.concurrent('machine scope, services, hives and the seed procedure', () => {
  test('machine scope writes both registry views of Internet Settings and always bypasses IMDS and the SSM endpoints', async () => {
    const before = freshBeacon();
    const path = newBeacon(scenarioDir('machine-views'), before);
    const { result, model } = await configure(path, desiredState({ wininetScope: 'machine' }));
    expect(result.ok).toBe(true);
    for (const key of [MACHINE_WININET_KEY, WOW_WININET_KEY]) {
      expect(registryValue(model.registry, key, 'ProxyServer')?.data, key).toBe('proxy.corp.example:8080');
      expect(registryValue(model.registry, key, 'ProxyEnable')?.data, key).toBe(1);
      const bypass = String(registryValue(model.registry, key, 'ProxyOverride')?.data).split(';');
      expect(bypass).toEqual(expect.arrayContaining(['169.254.169.254', 'ssm.*.amazonaws.com', 'ssmmessages.*.amazonaws.com', 'ec2messages.*.amazonaws.com', '*.corp.example', '<local>']));
      expect(bypass.at(-1)).toBe('<local>');
      expect(blob(registryValue(model.registry, `${key}\\Connections`, 'DefaultConnectionSettings')?.data).proxyServer).toBe('proxy.corp.example:8080');
    }
    expect(result.checks.map((check) => check.name)).toContain('wininet32:ProxyServer');
  });

  test('a service stuck in Stop Pending ends the run within its bound with SERVICE_STOP_TIMEOUT instead of hanging', async () => {
    const path = newBeacon(scenarioDir('stop-pending'), freshBeacon({ faults: { servicePendingForever: 'stop' } }));
    const run = await runBeaconDocument({ document: 'configure', parameters: { DesiredState: encodeDesiredState(desiredState()) }, modelPath: path, timeoutMs: 30_000 });
    expect(run.exitCode, run.stderr).toBe(1);
    const result = resultLine(run);
    expect(result.error).toMatchObject({ code: 'SERVICE_STOP_TIMEOUT', step: 'service' });
    expect(result.rollback?.attempted).toBe(true);
  });

  test('a service that does not answer the start request reports the Win32 error (1053) in the result', async () => {
    const path = newBeacon(scenarioDir('win32-error'), freshBeacon({ faults: { serviceFailsToStart: true } }));
    const { result } = await configure(path, desiredState());
    expect(result.error?.code).toBe('SERVICE_START_FAILED');
    expect(result.error?.message).toMatch(/Win32 error 1053/);
  });

  test("rollback waits until Windows has unloaded the account's hive before deleting the profile the run created", async () => {
    const before = freshBeacon({ account: { kind: 'local', name: 'svc-beacon', exists: false }, faults: { ignoreWrite: 'UploadSettings\\ReplicatorParent\\Proxy' } });
    const path = newBeacon(scenarioDir('hive-race'), before);
    const { result, model } = await configure(path, desiredState({ account: { kind: 'local', name: 'svc-beacon', passwordParameterName: DEFAULT_PARAMETER_NAME } }));
    expect(result.error?.code).toBe('VERIFY_FAILED');
    expect(model.journal).toContain('profile loaded by service BeaconEngine');
    expect(result.rollback).toMatchObject({ attempted: true, ok: true });
    expect(comparableState(model)).toEqual(comparableState(before));
  });

  test('the CRL value is left exactly as it is unless the request sets it', async () => {
    const before = freshBeacon();
    before.registry[`${ROOT}\\Common`]!.CheckCertificateRevocation = { type: 'String', data: 'False' };
    const path = newBeacon(scenarioDir('crl-kept'), before);
    const { result, model } = await configure(path, desiredState());
    expect(result.ok).toBe(true);
    expect(registryValue(model.registry, `${ROOT}\\Common`, 'CheckCertificateRevocation')).toEqual({ type: 'String', data: 'False' });
    expect(result.changed).not.toContain('registry:Common\\CheckCertificateRevocation');
    const explicit = await configure(path, desiredState({ requestId: 'req-crl-on', checkCertificateRevocation: { disable: false } }));
    expect(explicit.result.changed).toContain('registry:Common\\CheckCertificateRevocation');
    expect(registryValue(explicit.model.registry, `${ROOT}\\Common`, 'CheckCertificateRevocation')).toBeUndefined();
  });

  test("a new connection blob keeps Windows' default auto-detect, and SavedLegacySettings is written to agree", async () => {
    const beacon = freshBeacon();
    beacon.hives[SID]!.keys[`${WININET_KEY}\\Connections`] = {};
    const path = newBeacon(scenarioDir('new-blob'), beacon);
    const { result, model } = await configure(path, desiredState());
    expect(result.ok).toBe(true);
    const connections = model.hives[SID]!.keys[`${WININET_KEY}\\Connections`]!;
    const current = blob(connections.DefaultConnectionSettings!.data);
    expect(current).toMatchObject({ version: 0x46, counter: 1, flags: 0x0b, proxyServer: 'proxy.corp.example:8080' });
    const legacy = blob(connections.SavedLegacySettings?.data);
    expect(legacy).toMatchObject({ flags: current.flags, proxyServer: current.proxyServer, bypass: current.bypass, autoConfigUrl: '' });
  });

  test('a blob put back by rollback gets the current counter + 1, so WinINet sees the change', async () => {
    const before = freshBeacon();
    const path = newBeacon(scenarioDir('blob-counter'), before);
    const configured = await configure(path, desiredState());
    const counterNow = blob(configured.model.hives[SID]!.keys[`${WININET_KEY}\\Connections`]!.DefaultConnectionSettings!.data).counter;
    const undone = await rollback(path, 'req-ssm-test');
    expect(undone.result.ok).toBe(true);
    const restored = blob(undone.model.hives[SID]!.keys[`${WININET_KEY}\\Connections`]!.DefaultConnectionSettings!.data);
    const original = blob(before.hives[SID]!.keys[`${WININET_KEY}\\Connections`]!.DefaultConnectionSettings!.data);
    expect(restored).toEqual({ ...original, counter: counterNow + 1 });
    expect(comparableState(undone.model)).toEqual(comparableState(before));
  });
});

