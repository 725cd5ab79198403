import { describe, expect, test } from 'vitest';
import { LIMITS } from '../../lambdas/core/limits.js';
import {
  ADMINISTRATORS_SID,
  DEFAULT_ACCOUNT,
  DEFAULT_PARAMETER_NAME,
  DEFAULT_PASSWORD,
  MACHINE_WININET_KEY,
  WININET_KEY,
  WININET_POLICY_KEY,
  configuredBeacon,
  decodeConnectionSettings,
  encodeConnectionSettings,
  flexnetRoot,
  freshBeacon,
  registryValue,
  sha256Hex,
  type BeaconModel,
} from '../../local/beacon-model.js';
import { beaconState, configure, desiredState, failedChecks, newBeacon, scenarioDir } from './helpers.js';

const ROOT = flexnetRoot('64');
const SID = DEFAULT_ACCOUNT.sid;

function value(model: BeaconModel, key: string, name: string): unknown {
  return registryValue(model.registry, key, name)?.data;
}

function hiveValue(model: BeaconModel, sid: string, key: string, name: string): unknown {
  return registryValue(model.hives[sid]!.keys, key, name)?.data;
}

function blob(data: unknown) {
  return decodeConnectionSettings(Buffer.from(String(data), 'base64'));
}

describe.concurrent('configure on a fresh beacon', () => {
  test('https with one proxy writes the vendor table exactly, the http values stay absent, every check is ok', async () => {
    const path = newBeacon(scenarioDir('https'), freshBeacon());
    const { run, result, verdict, model } = await configure(path, desiredState());
    expect(run.exitCode, run.stderr).toBe(0);
    expect(verdict.status).toBe('ok');
    expect(result.ok).toBe(true);
    expect(failedChecks(result)).toEqual([]);
    expect(run.stdout.trim().length).toBeLessThan(LIMITS.maxResultLineLength);
    expect(result.captureId).toBe('req-ssm-test');
    expect(result.beaconVersion).toBe('13.2.0');

    expect(value(model, `${ROOT}\\Common`, 'https_proxy')).toBe('https://proxy.corp.example:8080');
    expect(registryValue(model.registry, `${ROOT}\\Common`, 'http_proxy')).toBeUndefined();
    expect(registryValue(model.registry, `${ROOT}\\Common`, 'CheckCertificateRevocation')).toBeUndefined();
    expect(value(model, `${ROOT}\\Common\\DownloadSettings\\ReplicatorParent`, 'Proxy')).toBe('https://proxy.corp.example:8080');
    expect(value(model, `${ROOT}\\Common\\UploadSettings\\ReplicatorParent`, 'Proxy')).toBe('https://proxy.corp.example:8080');
    expect(value(model, `${ROOT}\\Launcher\\CurrentVersion`, 'https_proxy')).toBe('http://proxy.corp.example:8080');
    expect(registryValue(model.registry, `${ROOT}\\Launcher\\CurrentVersion`, 'http_proxy')).toBeUndefined();
    // Values the request does not own are left alone.
    expect(value(model, `${ROOT}\\Launcher\\CurrentVersion`, 'Version')).toBe('13.2.0');
    expect(registryValue(model.registry, `${ROOT}\\Common`, 'https_proxy')?.type).toBe('String');
  });

  test('the account gets Administrators, service and batch logon rights, but no interactive logon unless asked', async () => {
    const path = newBeacon(scenarioDir('rights'), freshBeacon());
    const { model } = await configure(path, desiredState());
    expect(model.groups[ADMINISTRATORS_SID]!.members).toContain(SID);
    expect(model.rights[SID]).toEqual(['SeServiceLogonRight', 'SeBatchLogonRight']);

    const asked = newBeacon(scenarioDir('interactive'), freshBeacon());
    const second = await configure(asked, desiredState({ account: { kind: 'domain', name: 'CORP\\svc-beacon', passwordSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:beacon/svc-beacon-AbCdEf', interactiveLogon: true } }));
    expect(second.result.ok).toBe(true);
    expect(second.model.rights[SID]).toEqual(['SeServiceLogonRight', 'SeBatchLogonRight', 'SeInteractiveLogonRight']);
  });

  test('rights the request does not manage are left alone (an interactive right granted before stays)', async () => {
    const beacon = freshBeacon();
    beacon.rights[SID] = ['SeInteractiveLogonRight'];
    const path = newBeacon(scenarioDir('keep-rights'), beacon);
    const { result, model } = await configure(path, desiredState());
    expect(result.ok).toBe(true);
    expect(model.rights[SID]).toEqual(['SeInteractiveLogonRight', 'SeServiceLogonRight', 'SeBatchLogonRight']);
  });

  test('the service and both upload tasks run as the account with its password, and the service is restarted and running', async () => {
    const path = newBeacon(scenarioDir('service'), freshBeacon());
    const { result, model } = await configure(path, desiredState());
    const service = model.services[0]!;
    expect(service).toMatchObject({ startName: 'CORP\\svc-beacon', state: 'Running', passwordSha256: sha256Hex(DEFAULT_PASSWORD) });
    for (const task of model.tasks) {
      expect(task).toMatchObject({ userId: 'CORP\\svc-beacon', logonType: 'Password', runLevel: 'Highest', passwordSha256: sha256Hex(DEFAULT_PASSWORD) });
    }
    expect(result.tasksFound).toEqual(['Upload third party inventory data', 'Upload Flexera logs and inventories']);
    expect(result.changed).toContain('service:restarted');
    expect(model.journal.filter((line) => line.startsWith('service start'))).toHaveLength(1);
  });

  test("WinINet in the account's unloaded hive: proxy on, bypass list, PAC URL removed, auto-detect kept, blob consistent, our hive load undone", async () => {
    const path = newBeacon(scenarioDir('wininet'), freshBeacon({ account: { profile: 'unloaded' } }));
    const { result, model } = await configure(path, desiredState());
    expect(result.ok).toBe(true);
    expect(hiveValue(model, SID, WININET_KEY, 'ProxyEnable')).toBe(1);
    expect(hiveValue(model, SID, WININET_KEY, 'ProxyServer')).toBe('proxy.corp.example:8080');
    expect(hiveValue(model, SID, WININET_KEY, 'ProxyOverride')).toBe('*.corp.example;<local>');
    expect(registryValue(model.hives[SID]!.keys, WININET_KEY, 'AutoConfigURL')).toBeUndefined();
    const settings = blob(hiveValue(model, SID, `${WININET_KEY}\\Connections`, 'DefaultConnectionSettings'));
    // Was 0x0d (direct + PAC + auto-detect) at counter 7: now direct + proxy + auto-detect, counter 8.
    expect(settings).toMatchObject({ version: 0x46, counter: 8, flags: 0x0b, proxyServer: 'proxy.corp.example:8080', bypass: '*.corp.example;<local>', autoConfigUrl: '' });
    // The service now runs as the account, so Windows holds its hive; the loads the script made are undone.
    expect(model.hives[SID]!.loaded).toBe(true);
    expect(model.journal).toContain('profile loaded by service BeaconEngine');
    const hiveEvents = model.journal.filter((line) => line.startsWith('reg '));
    expect(hiveEvents.length).toBeGreaterThan(0);
    // Every load is undone by an unload before the next one.
    hiveEvents.forEach((line, index) => expect(line).toBe(index % 2 === 0 ? `reg load HKU\\${SID}` : `reg unload HKU\\${SID}`));
    expect(hiveEvents.length % 2).toBe(0);
  });

  test('auto-detect that was off stays off in the connection blob', async () => {
    const beacon = freshBeacon();
    const keys = beacon.hives[SID]!.keys;
    keys[`${WININET_KEY}\\Connections`] = {
      DefaultConnectionSettings: { type: 'Binary', data: encodeConnectionSettings({ version: 0x46, counter: 0, flags: 0x01, proxyServer: '', bypass: '', autoConfigUrl: '' }).toString('base64') },
    };
    const path = newBeacon(scenarioDir('autodetect-off'), beacon);
    const { model } = await configure(path, desiredState());
    const settings = blob(hiveValue(model, SID, `${WININET_KEY}\\Connections`, 'DefaultConnectionSettings'));
    expect(settings).toMatchObject({ version: 0x46, counter: 1, flags: 0x03 });
  });

  test('a loaded hive (account logged on) is written in place and not unloaded', async () => {
    const path = newBeacon(scenarioDir('loaded'), freshBeacon({ account: { profile: 'loaded' } }));
    const { result, model } = await configure(path, desiredState());
    expect(result.ok).toBe(true);
    expect(model.hives[SID]!.loaded).toBe(true);
    expect(model.journal.filter((line) => line.startsWith('reg '))).toEqual([]);
    expect(hiveValue(model, SID, WININET_KEY, 'ProxyServer')).toBe('proxy.corp.example:8080');
  });

  test('a missing profile is created, its hive written, loaded and unloaded again', async () => {
    const path = newBeacon(scenarioDir('no-profile'), freshBeacon({ account: { profile: 'missing' } }));
    const { result, model } = await configure(path, desiredState());
    expect(result.ok).toBe(true);
    expect(result.changed).toContain('profile');
    expect(model.profiles[SID]).toEqual({ path: 'C:\\Users\\svc-beacon' });
    const loads = model.journal.filter((line) => line === `reg load HKU\\${SID}`).length;
    expect(loads).toBeGreaterThan(0);
    expect(model.journal.filter((line) => line === `reg unload HKU\\${SID}`).length).toBe(loads);
    expect(hiveValue(model, SID, WININET_KEY, 'ProxyServer')).toBe('proxy.corp.example:8080');
    expect(blob(hiveValue(model, SID, `${WININET_KEY}\\Connections`, 'DefaultConnectionSettings')).flags).toBe(0x0b);
  });

  test('a hive that is busy at unload is retried until it unloads', async () => {
    const path = newBeacon(scenarioDir('unload-busy'), freshBeacon({ faults: { hiveUnloadBusy: 2 } }));
    const { result, model } = await configure(path, desiredState());
    expect(result.ok).toBe(true);
    expect(model.journal.filter((line) => line.endsWith('denied'))).toHaveLength(2);
    expect(model.journal.filter((line) => line === `reg unload HKU\\${SID}`).length).toBe(model.journal.filter((line) => line === `reg load HKU\\${SID}`).length);
  });

  test('a second run with the same desired state changes nothing and says so', async () => {
    const path = newBeacon(scenarioDir('idempotent'), freshBeacon());
    const first = await configure(path, desiredState());
    expect(first.result.changed.length).toBeGreaterThan(10);
    const second = await configure(path, desiredState());
    expect(second.run.exitCode).toBe(0);
    expect(second.result.changed).toEqual([]);
    expect(failedChecks(second.result)).toEqual([]);
    expect(beaconState(second.model)).toEqual(beaconState(first.model));
    expect(second.model.journal.filter((line) => line.startsWith('service'))).toEqual(first.model.journal.filter((line) => line.startsWith('service')));
  });

  test('configure on a beacon built by configuredBeacon() changes nothing (the model factory agrees with the scripts)', async () => {
    const state = desiredState();
    const path = newBeacon(scenarioDir('preconfigured'), configuredBeacon(state));
    const { result } = await configure(path, state);
    expect(result.ok).toBe(true);
    expect(result.changed).toEqual([]);
  });

  test('switching http to https removes the http values (exactly one of the two)', async () => {
    const path = newBeacon(scenarioDir('switch'), freshBeacon());
    const http = await configure(path, desiredState({ requestId: 'req-http', protocol: 'http' }));
    expect(value(http.model, `${ROOT}\\Common`, 'http_proxy')).toBe('http://proxy.corp.example:8080');
    expect(value(http.model, `${ROOT}\\Launcher\\CurrentVersion`, 'http_proxy')).toBe('http://proxy.corp.example:8080');
    expect(value(http.model, `${ROOT}\\Common\\UploadSettings\\ReplicatorParent`, 'Proxy')).toBe('http://proxy.corp.example:8080');
    expect(registryValue(http.model.registry, `${ROOT}\\Common`, 'https_proxy')).toBeUndefined();

    const https = await configure(path, desiredState({ requestId: 'req-https' }));
    expect(https.result.ok).toBe(true);
    expect(https.result.changed).toEqual(expect.arrayContaining(['registry:Common\\http_proxy', 'registry:Launcher\\CurrentVersion\\http_proxy']));
    expect(registryValue(https.model.registry, `${ROOT}\\Common`, 'http_proxy')).toBeUndefined();
    expect(registryValue(https.model.registry, `${ROOT}\\Launcher\\CurrentVersion`, 'http_proxy')).toBeUndefined();
    expect(value(https.model, `${ROOT}\\Common`, 'https_proxy')).toBe('https://proxy.corp.example:8080');
    expect(value(https.model, `${ROOT}\\Launcher\\CurrentVersion`, 'https_proxy')).toBe('http://proxy.corp.example:8080');
  });

  test('CheckCertificateRevocation = False is written only when the desired state disables the CRL check', async () => {
    const path = newBeacon(scenarioDir('crl'), freshBeacon());
    const { result, model } = await configure(
      path,
      desiredState({ checkCertificateRevocation: { disable: true, acknowledgeRisk: true, reason: 'CA unreachable, ticket 123' } }),
    );
    expect(result.ok).toBe(true);
    expect(registryValue(model.registry, `${ROOT}\\Common`, 'CheckCertificateRevocation')).toEqual({ type: 'String', data: 'False' });

    // A later request that asks for the check (disable: false) puts the default back: the value is removed.
    const later = await configure(path, desiredState({ requestId: 'req-crl-default', checkCertificateRevocation: { disable: false } }));
    expect(later.result.changed).toContain('registry:Common\\CheckCertificateRevocation');
    expect(registryValue(later.model.registry, `${ROOT}\\Common`, 'CheckCertificateRevocation')).toBeUndefined();
  });

  test('split endpoints: each value points at its own proxy and WinINet gets a per-protocol ProxyServer', async () => {
    const path = newBeacon(scenarioDir('split'), freshBeacon());
    const { result, model } = await configure(
      path,
      desiredState({
        endpoints: { download: 'dl-proxy.corp.example:8080', upload: 'ul-proxy.corp.example:8443', launcher: 'proxy.corp.example:8080', wininet: 'batch-proxy.corp.example:3128' },
      }),
    );
    expect(result.ok).toBe(true);
    expect(value(model, `${ROOT}\\Common\\DownloadSettings\\ReplicatorParent`, 'Proxy')).toBe('https://dl-proxy.corp.example:8080');
    expect(value(model, `${ROOT}\\Common\\UploadSettings\\ReplicatorParent`, 'Proxy')).toBe('https://ul-proxy.corp.example:8443');
    expect(hiveValue(model, SID, WININET_KEY, 'ProxyServer')).toBe('http=proxy.corp.example:8080;https=batch-proxy.corp.example:3128');
    expect(blob(hiveValue(model, SID, `${WININET_KEY}\\Connections`, 'DefaultConnectionSettings')).proxyServer).toBe('http=proxy.corp.example:8080;https=batch-proxy.corp.example:3128');
  });

  test('gMSA with machine scope: no password fetched, DOMAIN\\name$ logon, no interactive right, per-machine proxy policy', async () => {
    const gmsaSid = 'S-1-5-21-3623811015-3361044348-30300820-2104';
    // secretNotFound would fail any secret fetch: a gMSA run must not try one.
    const path = newBeacon(scenarioDir('gmsa'), freshBeacon({ account: { kind: 'gmsa', name: 'CORP\\gmsa-beacon$', profile: 'missing' }, faults: { secretNotFound: true } }));
    const { run, result, model } = await configure(path, desiredState({ account: { kind: 'gmsa', name: 'CORP\\gmsa-beacon$' }, wininetScope: 'machine' }));
    expect(run.exitCode, run.stdout).toBe(0);
    expect(model.services[0]).toMatchObject({ startName: 'CORP\\gmsa-beacon$', passwordSha256: null, state: 'Running' });
    for (const task of model.tasks) expect(task).toMatchObject({ userId: 'CORP\\gmsa-beacon$', logonType: 'Password', passwordSha256: null });
    expect(model.rights[gmsaSid]).toEqual(['SeServiceLogonRight', 'SeBatchLogonRight']);
    expect(registryValue(model.registry, WININET_POLICY_KEY, 'ProxySettingsPerUser')).toEqual({ type: 'DWord', data: 0 });
    expect(value(model, MACHINE_WININET_KEY, 'ProxyServer')).toBe('proxy.corp.example:8080');
    expect(value(model, MACHINE_WININET_KEY, 'ProxyEnable')).toBe(1);
    expect(blob(value(model, `${MACHINE_WININET_KEY}\\Connections`, 'DefaultConnectionSettings'))).toMatchObject({ flags: 0x0b, counter: 4 });
    expect(model.profiles[gmsaSid]).toBeUndefined();
    expect(result.changed).not.toContain('profile');
  });

  test('a local account that does not exist is created with the fetched password and runs the service as .\\name', async () => {
    const localSid = 'S-1-5-21-1111111111-2222222222-3333333333-1001';
    const path = newBeacon(scenarioDir('local'), freshBeacon({ account: { kind: 'local', name: 'svc-beacon', exists: false } }));
    const { run, result, model } = await configure(path, desiredState({ account: { kind: 'local', name: 'svc-beacon', passwordParameterName: DEFAULT_PARAMETER_NAME } }));
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(result.changed.slice(0, 1)).toEqual(['account:svc-beacon']);
    expect(model.accounts).toEqual([{ name: 'svc-beacon', sid: localSid, kind: 'local', aliases: [], passwordSha256: sha256Hex(DEFAULT_PASSWORD) }]);
    expect(model.services[0]).toMatchObject({ startName: '.\\svc-beacon', state: 'Running' });
    for (const task of model.tasks) expect(task.userId).toBe('BEACON01\\svc-beacon');
    expect(model.groups[ADMINISTRATORS_SID]!.members).toContain(localSid);
    expect(model.profiles[localSid]).toBeDefined();
  });

  test('a domain account given as name@dns.domain logs the service and tasks on as DOMAIN\\name', async () => {
    const path = newBeacon(scenarioDir('upn'), freshBeacon());
    const { result, model } = await configure(
      path,
      desiredState({ account: { kind: 'domain', name: 'svc-beacon@corp.example', passwordSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:beacon/svc-beacon-AbCdEf' } }),
    );
    expect(result.ok).toBe(true);
    expect(model.services[0]!.startName).toBe('CORP\\svc-beacon');
    for (const task of model.tasks) expect(task.userId).toBe('CORP\\svc-beacon');
  });

  test('32-bit Windows: the values go under the root without WOW6432Node', async () => {
    const path = newBeacon(scenarioDir('x86'), freshBeacon({ root: '32' }));
    const { result, model } = await configure(path, desiredState());
    expect(result.ok).toBe(true);
    expect(value(model, `${flexnetRoot('32')}\\Common`, 'https_proxy')).toBe('https://proxy.corp.example:8080');
    expect(Object.keys(model.registry).some((key) => key.includes('WOW6432Node'))).toBe(false);
  });

  test('tasks are matched by alias (older "FlexNet" names) and optional upload tasks are configured when present', async () => {
    const names = ['Upload third party inventory data', 'Upload FlexNet logs and inventories', 'Upload FlexNet Beacon status'];
    const path = newBeacon(scenarioDir('aliases'), freshBeacon({ tasks: names }));
    const { result, model } = await configure(path, desiredState());
    expect(result.ok).toBe(true);
    expect(result.tasksFound).toEqual(names);
    for (const task of model.tasks) expect(task.userId).toBe('CORP\\svc-beacon');
  });

  test('a beacon without FlexNet registry root is refused before anything changes', async () => {
    const beacon = freshBeacon();
    for (const key of Object.keys(beacon.registry)) if (key.includes('ManageSoft')) delete beacon.registry[key];
    const path = newBeacon(scenarioDir('no-root'), beacon);
    const { run, result, model } = await configure(path, desiredState());
    expect(run.exitCode).not.toBe(0);
    expect(result.error).toMatchObject({ code: 'REGISTRY_ROOT_NOT_FOUND', step: 'plan' });
    expect(result.changed).toEqual([]);
    expect(beaconState(model)).toEqual(beaconState(beacon));
  });
});
