/**
 * The module file reaches a beacon through the documents' first step (aws:downloadContent from the stack's
 * module bucket) and runs only when its SHA-256 is the one the document pins: real pwsh, the generated
 * documents, the S3 stand-in of local/module-bucket.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { judgeCommand } from '../../lambdas/core/command-result.js';
import { encodeDesiredState } from '../../lambdas/core/desired-state.js';
import { freshBeacon, readBeaconModel } from '../../local/beacon-model.js';
import { BUILTIN_BEACON_VERSION } from '../../local/builtin-fleet.js';
import { deployedModuleBucket, documentsFor } from '../../local/module-bucket.js';
import { runBeaconDocument } from '../../local/run-document.js';
import { loadModuleFile, moduleLocationOf, moduleObjectKey, sha256Hex } from '../../ssm-documents/documents.js';
import { type Harness, requestFor, startTwin } from '../e2e/twin-harness.js';
import { desiredState, newBeacon, resultLine, scenarioDir } from './helpers.js';

const parameters = () => ({ DesiredState: encodeDesiredState(desiredState()) });

describe('the beacon module is downloaded and checked by its SHA-256 before anything runs', () => {
  test('the module as the stack deploys it: downloaded into the command\'s folder, accepted, the run goes on', async () => {
    const path = newBeacon(scenarioDir('module-ok'), freshBeacon());
    const run = await runBeaconDocument({ document: 'verify', parameters: parameters(), modelPath: path });
    expect(run.download).toMatchObject({ status: 'Success' });
    expect(resultLine(run)).toMatchObject({ document: 'verify' });
    expect(resultLine(run).error?.code).not.toMatch(/^MODULE_/);
  });

  test('a tampered module (same key, other bytes) is refused with MODULE_HASH_MISMATCH: none of its code runs, the beacon is unchanged, the verdict is "not run"', async () => {
    const dir = scenarioDir('module-tampered');
    const path = newBeacon(dir, freshBeacon());
    const before = readFileSync(path, 'utf8');
    const bucket = deployedModuleBucket();
    const sha256 = sha256Hex(loadModuleFile());
    // Someone with write access to the bucket appends code that would run at load: it must never run.
    const marker = join(dir, 'tampered-code-ran');
    bucket.put(moduleObjectKey(sha256), Buffer.concat([loadModuleFile(), Buffer.from(`\n[System.IO.File]::WriteAllText('${marker}', 'ran')\n`)]));
    const run = await runBeaconDocument({ document: 'configure', parameters: parameters(), modelPath: path, moduleBucket: bucket });
    expect(run.download).toMatchObject({ status: 'Success' });
    const line = resultLine(run);
    expect(line).toMatchObject({ ok: false, document: 'configure', changed: [], error: { code: 'MODULE_HASH_MISMATCH', step: 'module' } });
    expect(line.error!.message).toContain(sha256);
    expect(run.exitCode).toBe(1);
    expect(existsSync(marker)).toBe(false);
    expect(readFileSync(path, 'utf8')).toBe(before);
    expect(readBeaconModel(path).journal).toEqual(freshBeacon().journal);
    const verdict = judgeCommand('configure', { status: 'Failed', statusDetails: 'Failed', stdout: run.stdout, stderr: run.stderr, executionStartedAt: '2026-12-02T06:00:00Z' });
    expect(verdict).toMatchObject({ status: 'not-run', notRun: 'module-refused', changed: [] });
    expect(verdict.reasons[0]).toMatch(/^MODULE_HASH_MISMATCH: /);
  });

  test('a module that was not downloaded (no object under the pinned key) is refused with MODULE_NOT_FOUND; the download step failed, the script still reports', async () => {
    const path = newBeacon(scenarioDir('module-missing'), freshBeacon());
    const before = readFileSync(path, 'utf8');
    const bucket = deployedModuleBucket();
    bucket.delete(moduleObjectKey(sha256Hex(loadModuleFile())));
    const run = await runBeaconDocument({ document: 'rollback', parameters: { CaptureId: 'req-1' }, modelPath: path, moduleBucket: bucket });
    expect(run.download).toMatchObject({ status: 'Failed' });
    expect(run.download!.output).toContain('NoSuchKey');
    expect(resultLine(run)).toMatchObject({ ok: false, document: 'rollback', error: { code: 'MODULE_NOT_FOUND', step: 'module' } });
    expect(run.exitCode).toBe(1);
    expect(readFileSync(path, 'utf8')).toBe(before);
  });

  test('the documents the stack registers name the bucket it deployed to and the content-addressed key of the module file', () => {
    const bucket = deployedModuleBucket('bucket-of-this-stack');
    const sha256 = sha256Hex(loadModuleFile());
    for (const document of Object.values(documentsFor(bucket))) {
      expect(moduleLocationOf(document)).toEqual({ url: `https://bucket-of-this-stack.s3.local.amazonaws.com/${moduleObjectKey(sha256)}`, sha256 });
      expect(bucket.download(moduleLocationOf(document).url).equals(loadModuleFile())).toBe(true);
    }
  });

  test('a beacon role without the stack\'s policy: the agent\'s ListObjects is denied, the download step fails with AccessDenied, the script refuses with MODULE_NOT_FOUND and changes nothing', async () => {
    const path = newBeacon(scenarioDir('module-denied'), freshBeacon());
    const before = readFileSync(path, 'utf8');
    // The instance role has SSM's managed core policy only: no statement of BeaconInstancePolicyArn.
    const bucket = deployedModuleBucket(undefined, []);
    const run = await runBeaconDocument({ document: 'configure', parameters: parameters(), modelPath: path, moduleBucket: bucket });
    expect(run.download).toMatchObject({ status: 'Failed' });
    expect(run.download!.output).toContain('AccessDenied');
    expect(resultLine(run)).toMatchObject({ ok: false, document: 'configure', changed: [], error: { code: 'MODULE_NOT_FOUND', step: 'module' } });
    expect(resultLine(run).error!.message).toContain('BeaconInstancePolicyArn');
    expect(readFileSync(path, 'utf8')).toBe(before);
  });
});

describe('the local twin downloads the module like a beacon\'s agent', () => {
  const BEACON = 'i-0de10000000000a01';
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.twin.stop();
    harness = undefined;
  });

  test('a request against a bucket whose module was changed after the deployment: the beacon is reported "not run" with MODULE_HASH_MISMATCH, unchanged, its lock released, nothing rolled back', async () => {
    const bucket = deployedModuleBucket();
    const key = moduleObjectKey(sha256Hex(loadModuleFile()));
    bucket.put(key, Buffer.concat([loadModuleFile(), Buffer.from('\n# changed after the deployment\n')]));
    harness = await startTwin([{ instanceId: BEACON, computerName: 'E2E-MOD', model: freshBeacon({ computerName: 'E2E-MOD', beaconVersion: BUILTIN_BEACON_VERSION }) }], { moduleBucket: bucket, pinMode: 'none' });
    const before = readFileSync(harness.modelPath(BEACON), 'utf8');
    harness.twin.submit(requestFor([BEACON], { requestId: 'e2e-module-tampered' }));
    await harness.twin.drain();
    const status = await harness.twin.store.getRequestStatus('e2e-module-tampered');
    const beacon = status!.beacons[0]!;
    expect(beacon.state).toBe('not-run');
    expect(beacon.reasons!.join(' ')).toContain('MODULE_HASH_MISMATCH');
    expect(readFileSync(harness.modelPath(BEACON), 'utf8')).toBe(before);
    // The lock is free: another request (a later order) takes it at once.
    expect(await harness.twin.lock.acquire(BEACON, 'next-request', 60, '9999')).toMatchObject({ acquired: true });
    // Only the configure command was sent: a refusal is not a failed configure, so no rollback command follows.
    expect(harness.twin.ssm.sent.map((command) => command.kind)).toEqual(['configure']);
  });
});
