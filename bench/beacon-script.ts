/**
 * The configure document under pwsh against a modelled beacon, the way SSM Agent runs it (a fresh pwsh
 * process per run): first run on a fresh beacon, idempotent second run, and the share of PowerShell
 * start-up in each.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeDesiredState, renderDesiredState } from '../lambdas/core/desired-state.js';
import { DOCUMENT_PARAMETERS } from '../lambdas/core/document-contract.js';
import { parseRequestJson } from '../lambdas/core/request.js';
import { judgeResult } from '../lambdas/core/result.js';
import { freshBeacon, writeBeaconModel } from '../local/beacon-model.js';
import { PWSH_ARGS, PWSH_ENV, resolvePwsh } from '../local/pwsh.js';
import { runBeaconDocument, type BeaconDocumentRun } from '../local/run-document.js';
import { type Figure, median } from './stats.js';

export interface BeaconScriptCost {
  firstMs: number;
  secondMs: number;
  startupMs: number;
  /** The same runs inside a warm pwsh worker (fresh runspace, no process start): the script's own cost. */
  workerFirstMs: number;
  workerSecondMs: number;
  runs: number;
}

function pwshStartup(): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(resolvePwsh(), ['-NoProfile', '-NonInteractive', '-Command', 'exit'], { env: { ...process.env, ...PWSH_ENV }, stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(performance.now() - started) : reject(new Error(`pwsh exited with ${code}`))));
  });
}

function assertOk(run: BeaconDocumentRun, which: string, changes: 'some' | 'none'): void {
  const verdict = judgeResult(run.stdout);
  if (verdict.status !== 'ok') throw new Error(`the ${which} configure run was not ok: ${JSON.stringify(verdict.reasons)}\n${run.stderr}`);
  if (changes === 'none' && verdict.changed.length > 0) throw new Error(`the second configure run changed ${verdict.changed.join(', ')}: not idempotent`);
  if (changes === 'some' && verdict.changed.length === 0) throw new Error('the first configure run on a fresh beacon changed nothing');
}

export async function measureBeaconScript(root: string, runs = 5): Promise<BeaconScriptCost> {
  const request = parseRequestJson(readFileSync(join(root, 'examples', 'https-one-proxy.json'), 'utf8'));
  const parameters = { [DOCUMENT_PARAMETERS.desiredState.name]: encodeDesiredState(renderDesiredState(request)) };
  const dir = mkdtempSync(join(tmpdir(), 'beacon-proxy-bench-script-'));
  const samples = { first: [] as number[], second: [] as number[], workerFirst: [] as number[], workerSecond: [] as number[], startup: [] as number[] };
  try {
    for (const isolation of ['worker', 'process'] as const) {
      // One unmeasured pair per mode: the worker starts, the script file and the disk cache warm up.
      for (let run = -1; run < runs; run += 1) {
        const modelPath = writeBeaconModel(dir, `${isolation}-${run + 1}`, freshBeacon({ captureDir: join(dir, `${isolation}-${run + 1}.captures`) }));
        const first = await runBeaconDocument({ document: 'configure', parameters, modelPath, isolation });
        assertOk(first, 'first', 'some');
        const second = await runBeaconDocument({ document: 'configure', parameters, modelPath, isolation });
        assertOk(second, 'second', 'none');
        if (run < 0) continue;
        if (isolation === 'process') {
          samples.first.push(first.durationMs);
          samples.second.push(second.durationMs);
          samples.startup.push(await pwshStartup());
        } else {
          samples.workerFirst.push(first.durationMs);
          samples.workerSecond.push(second.durationMs);
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    firstMs: median(samples.first),
    secondMs: median(samples.second),
    startupMs: median(samples.startup),
    workerFirstMs: median(samples.workerFirst),
    workerSecondMs: median(samples.workerSecond),
    runs,
  };
}

export function beaconScriptFigures(cost: BeaconScriptCost): Figure[] {
  const share = (total: number) => `${Math.round((100 * cost.startupMs) / total)} % start-up`;
  return [
    { name: `configure, first run (fresh pwsh, median of ${cost.runs})`, value: `${cost.firstMs.toFixed(0)} ms`, note: share(cost.firstMs) },
    { name: `configure, second run (idempotent)`, value: `${cost.secondMs.toFixed(0)} ms`, note: share(cost.secondMs) },
    { name: `pwsh -NoProfile -Command exit (start-up)`, value: `${cost.startupMs.toFixed(0)} ms` },
    { name: `first run in a warm runspace (script only)`, value: `${cost.workerFirstMs.toFixed(0)} ms` },
    { name: `second run in a warm runspace (script only)`, value: `${cost.workerSecondMs.toFixed(0)} ms` },
  ];
}
