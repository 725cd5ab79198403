import { describe, expect, test } from 'vitest';
import { DEFAULT_PARAMETER_NAME, configuredBeacon, freshBeacon, type BeaconFaults, type FreshBeaconOptions } from '../../local/beacon-model.js';
import type { DesiredState } from '../../lambdas/core/desired-state.js';
import { beaconState, comparableState, configure, desiredState, newBeacon, scenarioDir } from './helpers.js';

interface FaultCase {
  rule: string;
  faults: BeaconFaults;
  beacon?: FreshBeaconOptions;
  state?: () => DesiredState;
  code: string;
  step: RegExp;
}

// Failures after the capture: the beacon must end exactly as it was (absent values stay absent).
const AFTER_CAPTURE: FaultCase[] = [
  { rule: 'the service failing to start as the account', faults: { serviceFailsToStart: true }, code: 'SERVICE_START_FAILED', step: /^service$/ },
  { rule: 'access denied on the Launcher key', faults: { accessDeniedOnKey: 'Launcher\\CurrentVersion' }, code: 'UNEXPECTED', step: /^apply:registry:Launcher\\CurrentVersion\\https_proxy$/ },
  { rule: 'a task whose principal cannot be changed', faults: { taskUpdateFails: 'Upload Flexera logs and inventories' }, code: 'UNEXPECTED', step: /^apply:task:Upload Flexera logs and inventories$/ },
  { rule: 'LSA refusing to grant a right', faults: { lsaAccessDenied: true }, code: 'UNEXPECTED', step: /^apply:right:SeServiceLogonRight$/ },
  { rule: 'Administrators membership denied', faults: { groupAccessDenied: true }, code: 'UNEXPECTED', step: /^apply:group:Administrators$/ },
  { rule: 'a write that does not stick (seen only by the read-back)', faults: { ignoreWrite: 'UploadSettings\\ReplicatorParent\\Proxy' }, code: 'VERIFY_FAILED', step: /^verify$/ },
  { rule: 'profile creation failing', faults: { profileCreateFails: true }, beacon: { account: { profile: 'missing' } }, code: 'UNEXPECTED', step: /^apply:profile$/ },
  {
    rule: 'a failure after a local account, its profile and its hive were created',
    faults: { serviceFailsToStart: true },
    beacon: { account: { kind: 'local', name: 'svc-beacon', exists: false } },
    state: () => desiredState({ account: { kind: 'local', name: 'svc-beacon', passwordParameterName: DEFAULT_PARAMETER_NAME } }),
    code: 'SERVICE_START_FAILED',
    step: /^service$/,
  },
  {
    rule: 'a failure in machine scope (policy key created by the run)',
    faults: { serviceFailsToStart: true },
    state: () => desiredState({ wininetScope: 'machine' }),
    code: 'SERVICE_START_FAILED',
    step: /^service$/,
  },
  {
    rule: 'a failure with the hive busy at unload',
    faults: { serviceFailsToStart: true, hiveUnloadBusy: 1 },
    code: 'SERVICE_START_FAILED',
    step: /^service$/,
  },
];

describe.concurrent('a failure after the capture rolls the beacon back to exactly what it was', () => {
  for (const fault of AFTER_CAPTURE) {
    test(`${fault.rule}: result names the failure, rollback restores the previous state`, async () => {
      const before = freshBeacon({ ...fault.beacon, faults: fault.faults });
      const path = newBeacon(scenarioDir('fault'), before);
      const { run, result, verdict, model } = await configure(path, fault.state ? fault.state() : desiredState());
      expect(run.exitCode).not.toBe(0);
      expect(result.ok).toBe(false);
      expect(result.error?.code).toBe(fault.code);
      expect(result.error?.step).toMatch(fault.step);
      expect(result.rollback).toMatchObject({ attempted: true, ok: true, error: null });
      expect(verdict.status).toBe('rolled-back');
      expect(comparableState(model)).toEqual(comparableState(before));
    });
  }

  test('rollback gives the service back to LocalSystem and restarts it before removing the profile and account the run created', async () => {
    const before = freshBeacon({ account: { kind: 'local', name: 'svc-beacon', exists: false }, faults: { serviceFailsToStart: true } });
    const path = newBeacon(scenarioDir('fault-order'), before);
    const { result, model } = await configure(path, desiredState({ account: { kind: 'local', name: 'svc-beacon', passwordParameterName: DEFAULT_PARAMETER_NAME } }));
    expect(result.rollback?.ok).toBe(true);
    const journal = model.journal;
    const logonBack = journal.lastIndexOf('service logon BeaconEngine = LocalSystem');
    const started = journal.lastIndexOf('service start BeaconEngine');
    const profileGone = journal.findIndex((line) => line.startsWith('profile removed'));
    const accountGone = journal.findIndex((line) => line.startsWith('account removed'));
    expect(logonBack).toBeGreaterThan(-1);
    expect(started).toBeGreaterThan(logonBack);
    expect(profileGone).toBeGreaterThan(started);
    expect(accountGone).toBeGreaterThan(profileGone);
  });

  test('a failed https run on a beacon configured for http puts the http values back and leaves https absent', async () => {
    const http = desiredState({ requestId: 'req-http', protocol: 'http' });
    // Common is switched first; the Launcher key then refuses the write.
    const before = configuredBeacon(http, { faults: { accessDeniedOnKey: 'Launcher\\CurrentVersion' } });
    const path = newBeacon(scenarioDir('fault-switch'), before);
    const { result, model } = await configure(path, desiredState({ requestId: 'req-https', proxy: 'proxy2.corp.example:8080' }));
    expect(result.error?.step).toBe('apply:registry:Launcher\\CurrentVersion\\http_proxy');
    expect(result.rollback?.ok).toBe(true);
    expect(result.rollback?.restored).toEqual(expect.arrayContaining(['registry:Common\\http_proxy', 'registry:Common\\https_proxy']));
    expect(comparableState(model)).toEqual(comparableState(before));
  });
});

describe.concurrent('a failure before anything changes leaves the beacon untouched', () => {
  test('a required task missing is reported (TASK_NOT_FOUND) and nothing is changed', async () => {
    const before = freshBeacon({ faults: { taskMissing: 'Upload third party inventory data' } });
    const path = newBeacon(scenarioDir('task-missing'), before);
    const { run, result, model } = await configure(path, desiredState());
    expect(run.exitCode).not.toBe(0);
    expect(result.error).toMatchObject({ code: 'TASK_NOT_FOUND', step: 'plan' });
    expect(result.error?.message).toContain('Upload third party inventory data');
    expect(result.changed).toEqual([]);
    expect(beaconState(model)).toEqual(beaconState(before));
  });

  test('a password secret that cannot be read is reported (SECRET_NOT_FOUND) and nothing is changed', async () => {
    const before = freshBeacon({ faults: { secretNotFound: true } });
    const path = newBeacon(scenarioDir('secret'), before);
    const { run, result, model } = await configure(path, desiredState());
    expect(run.exitCode).not.toBe(0);
    expect(result.error).toMatchObject({ code: 'SECRET_NOT_FOUND', step: 'secret' });
    expect(result.changed).toEqual([]);
    expect(beaconState(model)).toEqual(beaconState(before));
  });

  test('a domain account that does not exist is reported (ACCOUNT_NOT_FOUND), never created', async () => {
    const before = freshBeacon({ account: { exists: false } });
    const path = newBeacon(scenarioDir('no-account'), before);
    const { result, model } = await configure(path, desiredState());
    expect(result.error?.code).toBe('ACCOUNT_NOT_FOUND');
    expect(beaconState(model)).toEqual(beaconState(before));
  });
});
