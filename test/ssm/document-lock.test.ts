// One document at a time on a beacon (issue 9): configure, verify and rollback hold one named mutex for the
// whole time they read or change the box. Real pwsh processes, as SSM Agent starts them, on one modelled
// beacon; the fake layer traces when each run entered and left its critical section.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { DOCUMENT_LOCK } from '../../lambdas/core/document-contract.js';
import { encodeDesiredState } from '../../lambdas/core/desired-state.js';
import { freshBeacon, readBeaconModel } from '../../local/beacon-model.js';
import { runBeaconDocument } from '../../local/run-document.js';
import { BEACON_DOCUMENT_KINDS, FAKE_LAYER_PATH, documentScriptText, loadBeaconDocuments, scriptStep } from '../../ssm-documents/documents.js';
import { PWSH_ARGS, PWSH_ENV, resolvePwsh } from '../../local/pwsh.js';
import { beaconState, desiredState, loadModuleScript, newBeacon, resultLine, runPwshScript, scenarioDir } from './helpers.js';

interface Section {
  pid: number;
  enter: number;
  leave: number;
}

/** The critical sections the fake layer traced (enter/leave per process, in ticks). */
function sections(modelPath: string): Section[] {
  const trace = `${modelPath}.trace`;
  if (!existsSync(trace)) return [];
  const open = new Map<number, number>();
  const done: Section[] = [];
  for (const line of readFileSync(trace, 'utf8').split('\n').filter(Boolean)) {
    const [event, pid, ticks] = line.split(' ');
    if (event === 'enter') open.set(Number(pid), Number(ticks));
    else done.push({ pid: Number(pid), enter: open.get(Number(pid))!, leave: Number(ticks) });
  }
  return done.sort((a, b) => a.enter - b.enter);
}

/** The mutex the fake layer gives this modelled beacon (the contract's name + a digest of the model path). */
function lockName(modelPath: string): string {
  return `${DOCUMENT_LOCK.name}-${createHash('sha256').update(resolve(modelPath)).digest('hex').toUpperCase().slice(0, 16)}`;
}

const configureParameters = () => ({ DesiredState: encodeDesiredState(desiredState()) });

describe('the document lock', () => {
  test('its wait is below every document execution timeout, and every document carries the contract', () => {
    for (const kind of BEACON_DOCUMENT_KINDS) {
      const document = loadBeaconDocuments()[kind];
      expect(DOCUMENT_LOCK.waitSeconds).toBeLessThan(Number(scriptStep(document).inputs.timeoutSeconds));
      const script = documentScriptText(document);
      expect(script).toContain(JSON.stringify(DOCUMENT_LOCK.name).slice(1, -1));
      expect(script).toContain(`"busyCode":"${DOCUMENT_LOCK.busyCode}"`);
    }
  });

  test('two documents started at once on one beacon never overlap: each waits for the other', async () => {
    const path = newBeacon(scenarioDir('lock-serial'), freshBeacon({ faults: { holdLockMs: 1500 } }));
    const runs = await Promise.all([
      runBeaconDocument({ document: 'configure', parameters: configureParameters(), modelPath: path, isolation: 'process' }),
      runBeaconDocument({ document: 'verify', parameters: configureParameters(), modelPath: path, isolation: 'process' }),
    ]);
    for (const run of runs) expect(resultLine(run).error?.code ?? null, run.stdout).not.toBe(DOCUMENT_LOCK.busyCode);
    expect(resultLine(runs[0]!).ok).toBe(true);
    const traced = sections(path);
    expect(traced).toHaveLength(2);
    expect(traced[0]!.leave).toBeLessThanOrEqual(traced[1]!.enter);
  });

  test('a document that cannot take the lock within its wait changes nothing and reports BEACON_BUSY with a non-zero exit', async () => {
    const before = freshBeacon();
    const path = newBeacon(scenarioDir('lock-busy'), before);
    // Another document holds the beacon's lock (a process that keeps it until it is killed).
    const holder = spawn(resolvePwsh(), [...PWSH_ARGS, '-Command', `$m = New-Object System.Threading.Mutex($false, '${lockName(path)}'); [void]$m.WaitOne(); [Console]::Out.WriteLine('held'); Start-Sleep -Seconds 120`], {
      detached: true,
      stdio: ['ignore', 'pipe', 'ignore'],
      env: { ...process.env, ...PWSH_ENV },
    });
    try {
      await new Promise<void>((done, fail) => {
        holder.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('held') && done());
        holder.on('exit', () => fail(new Error('the lock holder ended early')));
      });
      const run = await runBeaconDocument({ document: 'configure', parameters: configureParameters(), modelPath: path, isolation: 'process', env: { BEACON_PROXY_LOCK_WAIT_SECONDS: '1' } });
      expect(run.exitCode).toBe(1);
      const result = resultLine(run);
      expect(result.error).toMatchObject({ code: DOCUMENT_LOCK.busyCode, step: 'lock' });
      expect(result.changed).toEqual([]);
      expect(sections(path)).toEqual([]);
      expect(beaconState(readBeaconModel(path))).toEqual(beaconState(before));
    } finally {
      process.kill(-holder.pid!, 'SIGKILL');
    }
  });

  test('a lock left by a run that ended without releasing it is taken over, and the result says so', async () => {
    const path = newBeacon(scenarioDir('lock-abandoned'), freshBeacon());
    // A thread takes the beacon's mutex and ends without releasing it (as a killed document would); then
    // the verify document runs in the same process, on the fake layer.
    const script = `${loadModuleScript()}
$env:BEACON_PROXY_FAKE_MODEL = '${path}'
. '${FAKE_LAYER_PATH}'
$runspace = [runspacefactory]::CreateRunspace()
$runspace.ThreadOptions = 'UseNewThread'
$runspace.Open()
$shell = [powershell]::Create()
$shell.Runspace = $runspace
[void]$shell.AddScript('param($name) $m = New-Object System.Threading.Mutex($false, $name); [void]$m.WaitOne()').AddArgument('${lockName(path)}')
[void]$shell.Invoke()
$runspace.Close()
$script:BpLayerError = $null
[void](Invoke-BpDocument 'verify' @{ DesiredState = '${encodeDesiredState(desiredState())}'; CheckEndpoint = 'none' })
`;
    const run = await runPwshScript(script);
    const result = resultLine({ ...run, durationMs: 0 });
    expect((result as { warnings?: string[] }).warnings?.[0], run.stderr).toMatch(/^DOCUMENT_LOCK_ABANDONED: /);
    expect(sections(path)).toHaveLength(1);
  });
});
