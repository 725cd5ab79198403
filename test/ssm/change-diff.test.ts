import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { trimText, trimmedCharacters, type DiffEntry } from '../../lambdas/core/change-diff.js';
import { encodeDesiredState, renderDesiredState } from '../../lambdas/core/desired-state.js';
import { RESULT_LINE } from '../../lambdas/core/document-contract.js';
import { LIMITS } from '../../lambdas/core/limits.js';
import { parseRequest, type RequestInput } from '../../lambdas/core/request.js';
import {
  DEFAULT_ACCOUNT,
  DEFAULT_SECRET_ARN,
  WININET_KEY,
  MACHINE_WININET_KEY,
  WOW_MACHINE_WININET_KEY,
  encodeConnectionSettings,
  flexnetRoot,
  freshBeacon,
  sha256Hex,
  type BeaconModel,
} from '../../local/beacon-model.js';
import { SSM_OUTPUT_LIMITS } from '../../local/ssm-shim.js';
import { largestRequest } from '../support/requests.js';
import { configure, desiredState, failedChecks, loadModuleScript, newBeacon, rollback, runPwshScript, scenarioDir, verify } from './helpers.js';

const ROOT = flexnetRoot('64');
const byId = (diff: DiffEntry[] | undefined) => Object.fromEntries((diff ?? []).map((entry) => [entry.id, `${entry.before} -> ${entry.after}`]));

/** The biggest request the rules allow, as a desired state (request JSON within 16 KB, desired state within its parameter). */
function largestState() {
  const request = largestRequest((candidate) => {
    if (Buffer.byteLength(JSON.stringify(candidate), 'utf8') > LIMITS.maxRequestBytes) return false;
    try {
      encodeDesiredState(renderDesiredState(parseRequest(candidate)));
      return true;
    } catch {
      return false;
    }
  });
  return { request, state: renderDesiredState(parseRequest(request)) };
}

/** A beacon that already holds long, different proxy settings in both machine views (a long legacy bypass list). */
function beaconWithLongSettings(options: Parameters<typeof freshBeacon>[0] = {}): BeaconModel {
  const model = freshBeacon({ account: { kind: 'local', name: 'svc-beacon', exists: false }, ...options });
  const legacy = Array.from({ length: 40 }, (_, index) => `legacy-host-${String(index).padStart(2, '0')}-${'l'.repeat(150)}.old.example`).join(';');
  for (const key of [MACHINE_WININET_KEY, WOW_MACHINE_WININET_KEY]) {
    model.registry[key] = { ProxyEnable: { type: 'DWord', data: 1 }, ProxyServer: { type: 'String', data: 'old-proxy.old.example:3128' }, ProxyOverride: { type: 'String', data: legacy } };
    const blob = encodeConnectionSettings({ version: 0x46, counter: 12, flags: 0x0b, proxyServer: 'old-proxy.old.example:3128', bypass: legacy, autoConfigUrl: '' });
    model.registry[`${key}\\Connections`] = {
      DefaultConnectionSettings: { type: 'Binary', data: blob.toString('base64') },
      SavedLegacySettings: { type: 'Binary', data: blob.toString('base64') },
    };
  }
  model.registry[`${ROOT}\\Common`]!.http_proxy = { type: 'String', data: `http://old-proxy.old.example:3128/${'q'.repeat(2000)}` };
  return model;
}

describe.concurrent('the result line shows each change, before -> after', () => {
  test('configure lists every entry it changed with its value before and as read back after, rendered for people', async () => {
    const path = newBeacon(scenarioDir('diff-configure'), freshBeacon());
    const { result } = await configure(path, desiredState());
    expect(result.ok).toBe(true);
    const diff = result.diff ?? [];
    // Exactly one entry per change the run reports, in the same order.
    expect(diff.map((entry) => entry.id)).toEqual(result.changed);
    const changes = byId(diff);
    expect(changes['registry:Common\\https_proxy']).toBe('absent -> REG_SZ https://proxy.corp.example:8080');
    expect(changes['registry:Launcher\\CurrentVersion\\https_proxy']).toBe('absent -> REG_SZ http://proxy.corp.example:8080');
    expect(changes['wininet:ProxyEnable']).toBe('REG_DWORD 0 -> REG_DWORD 1');
    expect(changes['wininet:AutoConfigURL']).toBe('REG_SZ http://wpad.corp.example/proxy.pac -> absent');
    // The WinINet blob decoded: flags, proxy, bypass, auto-config URL.
    expect(changes['wininet:DefaultConnectionSettings']).toBe(
      'flags direct+auto-config+auto-detect, proxy none, bypass none, auto-config URL http://wpad.corp.example/proxy.pac -> ' +
        'flags direct+proxy+auto-detect, proxy proxy.corp.example:8080, bypass *.corp.example;<local>, auto-config URL none',
    );
    expect(changes['right:SeServiceLogonRight']).toBe('absent -> present');
    expect(changes['group:Administrators']).toBe('absent -> present');
    // Accounts as DOMAIN\name; a task's user, logon type and run level.
    expect(changes['service:logon']).toBe('NT AUTHORITY\\SYSTEM -> CORP\\svc-beacon');
    expect(changes['task:Upload third party inventory data']).toBe('NT AUTHORITY\\SYSTEM (ServiceAccount, run level Highest) -> CORP\\svc-beacon (Password, run level Highest)');
    // Never the secret: the applied credential only says it was updated.
    expect(changes.credential).toBe('none -> updated');
    expect(changes['service:restarted']).toBe('Running -> Running (restarted)');
    expect(JSON.stringify(diff)).not.toContain(DEFAULT_SECRET_ARN);

    const again = await configure(path, desiredState());
    expect(again.result.changed).toEqual([]);
    expect(again.result.diff).toEqual([]);
  });

  test('a plan (verify) lists every value a run would change, current -> wanted, and nothing for a beacon already right', async () => {
    const path = newBeacon(scenarioDir('diff-plan'), freshBeacon());
    const plan = await verify(path, desiredState());
    const changes = byId(plan.result.diff);
    // Every failed check of a setting is a planned change (the service state and endpoint checks aside).
    expect(Object.keys(changes).sort()).toEqual(failedChecks(plan.result).sort());
    expect(changes['registry:Common\\https_proxy']).toBe('absent -> REG_SZ https://proxy.corp.example:8080');
    expect(changes['service:logon']).toBe('NT AUTHORITY\\SYSTEM -> CORP\\svc-beacon');
    // The blob a run would write keeps auto-detect as the beacon has it.
    expect(changes['wininet:DefaultConnectionSettings']).toMatch(/-> flags direct\+proxy\+auto-detect, proxy proxy\.corp\.example:8080, bypass \*\.corp\.example;<local>, auto-config URL none$/);
    expect(changes['wininet:SavedLegacySettings']).toMatch(/^absent -> flags direct\+proxy\+auto-detect/);

    const configured = await configure(path, desiredState());
    expect(configured.result.ok).toBe(true);
    const noChange = await verify(path, desiredState());
    expect(noChange.result.ok).toBe(true);
    expect(noChange.result.diff).toEqual([]);
  });

  test('a plan for an account without a profile lists the profile and every WinINet value a run would create', async () => {
    const path = newBeacon(scenarioDir('diff-plan-no-profile'), freshBeacon({ account: { profile: 'missing' } }));
    const plan = await verify(path, desiredState());
    const changes = byId(plan.result.diff);
    expect(changes.profile).toBe('absent -> present');
    expect(changes['wininet:ProxyServer']).toBe('absent -> REG_SZ proxy.corp.example:8080');
    expect(changes['wininet:DefaultConnectionSettings']).toBe('absent -> flags direct+proxy+auto-detect, proxy proxy.corp.example:8080, bypass *.corp.example;<local>, auto-config URL none');
    // Values a run removes that do not exist are no change.
    expect(changes['wininet:AutoConfigURL']).toBeUndefined();
  });

  test('the Rollback document lists what it put back, before -> restored', async () => {
    const path = newBeacon(scenarioDir('diff-rollback'), freshBeacon());
    expect((await configure(path, desiredState())).result.ok).toBe(true);
    const undone = await rollback(path, 'req-ssm-test');
    expect(undone.result.ok).toBe(true);
    const restored = undone.result.rollback?.diff ?? [];
    expect(restored.map((entry) => entry.id)).toEqual(undone.result.rollback?.restored);
    const changes = byId(restored);
    expect(changes['registry:Common\\https_proxy']).toBe('REG_SZ https://proxy.corp.example:8080 -> absent');
    expect(changes['service:logon']).toBe('CORP\\svc-beacon -> NT AUTHORITY\\SYSTEM');
    expect(changes['wininet:AutoConfigURL']).toBe('absent -> REG_SZ http://wpad.corp.example/proxy.pac');
    expect(changes.credential).toBe('set -> none');
    expect(undone.verdict.status === 'ok' && undone.verdict.restoredDiff).toEqual(restored);
  });

  test('a run that fails and rolls back by itself shows what it changed and what its rollback restored', async () => {
    const path = newBeacon(scenarioDir('diff-self-rollback'), freshBeacon({ faults: { serviceFailsToStart: true } }));
    const { result, verdict } = await configure(path, desiredState());
    expect(verdict.status).toBe('rolled-back');
    const applied = byId(result.diff);
    expect(applied['service:logon']).toBe('NT AUTHORITY\\SYSTEM -> CORP\\svc-beacon');
    const restored = byId(result.rollback?.diff);
    expect(restored['service:logon']).toBe('CORP\\svc-beacon -> NT AUTHORITY\\SYSTEM');
    expect(restored['registry:Common\\https_proxy']).toBe('REG_SZ https://proxy.corp.example:8080 -> absent');
    expect(Object.keys(restored).sort()).toEqual([...(result.rollback?.restored ?? [])].sort());
  });

  test('a rotated secret shows as credential: updated, and the logons set again say so; no secret appears', async () => {
    const path = newBeacon(scenarioDir('diff-rotation'), freshBeacon());
    expect((await configure(path, desiredState())).result.ok).toBe(true);
    const rotated = 'Rotated#Pa55-2';
    const model = JSON.parse(readFileSync(path, 'utf8')) as BeaconModel;
    model.secrets[DEFAULT_SECRET_ARN] = rotated;
    model.secretVersions = { [DEFAULT_SECRET_ARN]: 'v2' };
    model.accounts.find((account) => account.name === 'CORP\\svc-beacon')!.passwordSha256 = sha256Hex(rotated);
    writeFileSync(path, JSON.stringify(model));
    const { run, result } = await configure(path, desiredState({ requestId: 'req-rotated' }));
    expect(result.ok).toBe(true);
    const changes = byId(result.diff);
    expect(changes.credential).toBe('set -> updated');
    expect(changes['service:logon']).toBe('CORP\\svc-beacon -> CORP\\svc-beacon (credential updated)');
    expect(changes['task:Upload third party inventory data']).toBe('CORP\\svc-beacon (Password, run level Highest) -> CORP\\svc-beacon (Password, run level Highest) (credential updated)');
    expect(run.stdout).not.toContain(rotated);
  });

  test('a local account is created and shown as COMPUTER\\name; its rights and tasks too', async () => {
    const request: Partial<RequestInput> = { account: { kind: 'local', name: 'svc-beacon', passwordSecretArn: DEFAULT_SECRET_ARN } };
    const path = newBeacon(scenarioDir('diff-local'), freshBeacon({ account: { kind: 'local', name: 'svc-beacon', exists: false } }));
    const plan = await verify(path, desiredState(request));
    expect(byId(plan.result.diff)['account:svc-beacon']).toBe('absent -> present');
    const { result } = await configure(path, desiredState(request));
    expect(result.ok).toBe(true);
    const changes = byId(result.diff);
    expect(changes['account:svc-beacon']).toBe('absent -> present');
    expect(changes.profile).toBe('absent -> present');
    expect(changes['service:logon']).toBe('NT AUTHORITY\\SYSTEM -> BEACON01\\svc-beacon');
  });

  test('a user name and password in a proxy address found on the beacon are never shown, in a plan, a run or a rollback', async () => {
    const beacon = freshBeacon();
    beacon.registry[`${ROOT}\\Common`]!.https_proxy = { type: 'String', data: 'http://olduser:S3cret-Proxy!@old-proxy.old.example:3128' };
    const connections = beacon.hives[DEFAULT_ACCOUNT.sid]!.keys[`${WININET_KEY}\\Connections`]!;
    connections.DefaultConnectionSettings = {
      type: 'Binary',
      data: encodeConnectionSettings({ version: 0x46, counter: 2, flags: 0x03, proxyServer: 'http=olduser:S3cret-Proxy!@old-proxy.old.example:3128', bypass: '', autoConfigUrl: '' }).toString('base64'),
    };
    const path = newBeacon(scenarioDir('diff-userinfo'), beacon);
    for (const { run, result } of [await verify(path, desiredState()), await configure(path, desiredState()), await rollback(path, 'req-ssm-test')]) {
      expect(run.stdout).not.toContain('S3cret-Proxy!');
      expect(run.stdout).not.toContain('olduser');
      expect(JSON.stringify([result.diff, result.rollback?.diff])).toMatch(/http:\/\/\*\*\*@old-proxy\.old\.example:3128/);
    }
  });
});

describe('one trim rule on both sides', () => {
  test('the beacon cuts a long value exactly as the pipeline does (the marker of the contract)', async () => {
    const value = `REG_SZ ${'a'.repeat(300)};<local>`;
    const run = await runPwshScript(`${loadModuleScript()}\n[Console]::Out.Write((Limit-BpText '${value}' ${RESULT_LINE.minValueLength}))`);
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe(trimText(value, RESULT_LINE.minValueLength));
  });
});

describe('the result line stays within its budget with the biggest request the rules allow', () => {
  const { request, state } = largestState();

  test('the largest request is as big as the limits allow', () => {
    expect(Buffer.byteLength(JSON.stringify(request), 'utf8')).toBeLessThanOrEqual(LIMITS.maxRequestBytes);
    expect(encodeDesiredState(state).length).toBeGreaterThan(LIMITS.maxDesiredStateBase64Length - 600);
    expect(state.wininet.bypass.join(';').length).toBeGreaterThan(9000);
  });

  for (const scenario of ['configure', 'self-rollback'] as const) {
    test(`${scenario}: long values are trimmed with a marker, no diff entry is dropped, the line fits ${RESULT_LINE.maxLength} characters (SSM returns ${SSM_OUTPUT_LIMITS.stdout})`, async () => {
      const path = newBeacon(scenarioDir(`diff-largest-${scenario}`), beaconWithLongSettings(scenario === 'self-rollback' ? { faults: { serviceFailsToStart: true } } : {}));
      const { run, result, verdict } = await configure(path, state);
      const line = run.stdout.trim();
      console.log(`${scenario}: result line ${line.length} characters, ${result.diff?.length} changes, ${result.rollback?.diff?.length ?? 0} restored, ${result.checks.length} checks (${result.checksOmitted ?? 0} omitted)`);
      expect(line.length).toBeLessThanOrEqual(RESULT_LINE.maxLength);
      expect(run.stdout.length).toBeLessThan(SSM_OUTPUT_LIMITS.stdout);
      expect(verdict.status).toBe(scenario === 'configure' ? 'ok' : 'rolled-back');
      // Every change has its entry; the long ones carry the marker with what was cut.
      expect(result.diff!.map((entry) => entry.id)).toEqual(scenario === 'configure' ? result.changed : result.diff!.map((entry) => entry.id));
      expect(result.diff!.length).toBeGreaterThanOrEqual(24);
      const values = [...result.diff!, ...(result.rollback?.diff ?? [])].flatMap((entry) => [entry.before, entry.after]);
      const trimmed = values.filter((value) => trimmedCharacters(value) > 0);
      expect(trimmed.length).toBeGreaterThan(0);
      for (const value of trimmed) expect(value.length).toBeGreaterThanOrEqual(RESULT_LINE.minValueLength);
      const override = byId(result.diff)['wininet:ProxyOverride']!;
      expect(override.startsWith('REG_SZ legacy-host-00-')).toBe(true);
      if (scenario === 'self-rollback') {
        expect(result.rollback?.diff?.map((entry) => entry.id)).toEqual(result.rollback?.restored);
        expect(verdict.status === 'rolled-back' && verdict.restoredDiff.length).toBe(result.rollback?.restored?.length);
      }
    });
  }

  test('a plan of the largest request on that beacon fits too, and lists every value it would change', async () => {
    const path = newBeacon(scenarioDir('diff-largest-plan'), beaconWithLongSettings());
    const { run, result } = await verify(path, state);
    expect(run.stdout.trim().length).toBeLessThanOrEqual(RESULT_LINE.maxLength);
    const planned = (result.diff ?? []).map((entry) => entry.id);
    expect(planned).toEqual(expect.arrayContaining(['wininet:ProxyOverride', 'wininet32:ProxyOverride', 'wininet:DefaultConnectionSettings', 'wininet32:SavedLegacySettings', 'registry:Common\\http_proxy']));
  });
});
