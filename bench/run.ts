/**
 * `npm run bench`: every figure of issue 6, medians over repeated runs, printed and written to
 * bench/results.md with the machine they came from. Not part of `npm test`: timings belong here.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadWorkflow } from '../local/workflow-definition.js';
import { beaconScriptFigures, measureBeaconScript } from './beacon-script.js';
import { bundleFigures, bundleFunctions, coldInitFigures, loadSummary, measureColdInit, stackFunctions } from './bundles.js';
import { FUNCTION_NODE_OPTIONS } from '../infra/constructs/beacon-function.js';
import { driftScaleFigures } from './drift-pass.js';
import { measureCoreThroughput } from './core-throughput.js';
import { WORKFLOW_CONSTANTS } from '../lambdas/core/timing.js';
import { type FleetRunOptions, type FleetRunResult, throttleRetryWindowSeconds } from './fleet.js';
import { type Figure, formatBytes, markdownTable, median, printFigures } from './stats.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const BENCH_DIR = join(ROOT, '.beacon-proxy', 'bench');
const FLEET_TARGET_SHARE = 0.9;

const sections: Array<{ title: string; figures: Figure[]; notes: string[] }> = [];
function report(title: string, figures: Figure[], notes: string[] = []): void {
  printFigures(title, figures);
  for (const note of notes) console.log(`  - ${note}`);
  sections.push({ title, figures, notes });
}

function machine(): Record<string, string> {
  const [one, five] = loadavg();
  return {
    CPU: `${cpus()[0]?.model ?? 'unknown'}`,
    Cores: String(availableParallelism()),
    Memory: formatBytes(totalmem()),
    Node: process.version,
    Date: new Date().toISOString(),
    'Load average at start (1 min, 5 min)': `${one!.toFixed(2)}, ${five!.toFixed(2)}`,
  };
}

/** One fleet run in a fresh process (node --expose-gc), so its memory figures are its own. */
function fleetRun(options: FleetRunOptions): Promise<FleetRunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', join(ROOT, 'bench', 'fleet-run.ts'), JSON.stringify(options)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const last = stdout.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !last.startsWith('{')) return reject(new Error(`the fleet run exited with ${code}: ${stdout.slice(-500)}`));
      resolve(JSON.parse(last) as FleetRunResult);
    });
  });
}

async function fleetSection(deadlineAt: number): Promise<void> {
  const { definition } = await loadWorkflow();
  const retryWindow = throttleRetryWindowSeconds(definition as never);
  const rate = 100;
  const figures: Figure[] = [];
  const perBeacon: Array<{ beacons: number; retainedHeap: number; peakHeap: number; finished: boolean }> = [];
  for (const [beacons, runs] of [[1_000, 3], [10_000, 1]] as const) {
    const boundSeconds = beacons / rate;
    // Retry intervals are scaled workflow time, the SendCommand rate is real time: the shortest retry window
    // (jitter 0.5x) must cover the bound, or beacons run out of attempts before their turn. The twin is one
    // process, and every retry is interpreted work: at 10,000 beacons twice that margin keeps the retry
    // storm within its CPU (with half of it the event loop saturated in some runs and the fleet stalled).
    const msPerSecond = Math.max(20, Math.ceil((boundSeconds * 1000) / (0.25 * retryWindow)));
    const results: FleetRunResult[] = [];
    for (let run = 0; run < runs; run += 1) {
      const deadlineMs = Math.max(30_000, Math.min(beacons >= 10_000 ? 240_000 : 60_000, deadlineAt - Date.now()));
      const options: FleetRunOptions = { beacons, sendCommandPerSecond: rate, maxConcurrentInvocations: 50, deliveryLatencyMs: 50, documentLatencyMs: 200, msPerSecond, retryJitter: true, progress: beacons >= 10_000, deadlineMs };
      results.push(await fleetRun(options));
    }
    const m = (pick: (r: FleetRunResult) => number) => median(results.map(pick));
    const finished = results.every((r) => r.finished);
    const ok = results.map((r) => r.outcomes.ok ?? 0);
    const completion = m((r) => r.completionMs);
    const share = results[0]!.boundMs / completion;
    const allOk = ok.every((count) => count === beacons);
    figures.push({
      name: `${beacons.toLocaleString('en')} beacons, ${rate}/s (median of ${runs})`,
      value: finished ? `${(completion / 1000).toFixed(1)} s` : `> ${(completion / 1000).toFixed(0)} s`,
      target: `bound ${boundSeconds} s; >= ${FLEET_TARGET_SHARE * 100} % of it`,
      met: finished && allOk && share >= FLEET_TARGET_SHARE,
      note: [
        finished ? `${(share * 100).toFixed(0)} % of the bound` : `did not finish: ${m((r) => r.done)} of ${beacons} workflows ended, ${m((r) => r.sendCalls)} SendCommands, when the bench stopped waiting`,
        `ok ${ok.join('/')} of ${beacons}`,
        `first SendCommand after ${(m((r) => r.firstSendMs) / 1000).toFixed(1)} s, SendCommands over ${(m((r) => r.sendSpanMs) / 1000).toFixed(1)} s, last SendCommand to done ${finished ? `${(m((r) => r.afterLastSendMs) / 1000).toFixed(1)} s` : 'n/a'}`,
        `${m((r) => r.throttled)} throttled calls retried`,
        `msPerSecond ${msPerSecond}`,
        `CPU ${(m((r) => r.cpuUserMs + r.cpuSystemMs) / 1000).toFixed(1)} s (${(m((r) => r.cpuUserMs + r.cpuSystemMs) / Math.max(1, m((r) => r.done))).toFixed(1)} ms per workflow)`,
        `event-loop delay p99 ${m((r) => r.loopDelayP99Ms).toFixed(0)} ms`,
      ].join('; '),
    });
    const retainedHeap = m((r) => r.heapAfterBytes - r.heapBeforeBytes) / beacons;
    const peakHeap = m((r) => r.peakHeapBytes - r.heapBeforeBytes) / beacons;
    perBeacon.push({ beacons, retainedHeap, peakHeap, finished });
    figures.push({
      name: `  memory per beacon at ${beacons.toLocaleString('en')}`,
      value: formatBytes(finished ? retainedHeap : peakHeap),
      note: `${finished ? 'retained heap after GC' : 'heap in flight (unfinished)'}; peak heap growth ${formatBytes(peakHeap)}/beacon; peak heap ${formatBytes(m((r) => r.peakHeapBytes))}, peak RSS ${formatBytes(m((r) => r.peakRssBytes))}`,
    });
  }
  const [small, large] = perBeacon;
  const comparable = small!.finished && large!.finished;
  const ratio = comparable ? large!.retainedHeap / small!.retainedHeap : large!.peakHeap / small!.peakHeap;
  figures.push({
    name: `memory flat (${comparable ? 'retained' : 'peak'} heap/beacon, 10k vs 1k)`,
    value: `${ratio.toFixed(2)}x`,
    target: '<= 1.5x',
    met: ratio <= 1.5,
  });
  report('Fleet scale in the local twin (one tag request, synthetic beacons)', figures, [
    `Shim: SendCommand ${rate}/s (token bucket, 1 s burst), 50 invocations at once, delivery latency 50 ms; synthetic configure run 200 ms, then a valid result line (ok, no change, checks ok).`,
    'One tag-target request: intake expands the tag, one workflow per beacon (the synthesized state machine, real handlers in-process, the FNMS stub over HTTP for the pin).',
    `Bound = beacons / rate. The twin scales Wait and Retry by msPerSecond; the SendCommand rate is real time. A throttled SendConfigure throws ThrottledError, which the state machine's SendCommand Retry catches (${WORKFLOW_CONSTANTS.sendThrottleRetry.maxAttempts} attempts, waits capped at ${WORKFLOW_CONSTANTS.sendThrottleRetry.maxDelaySeconds} s; the twin waits each retrier's mean interval, ${Math.round(retryWindow)} workflow-seconds in all, spread 0.5-1.5x per execution by TwinOptions.retryJitter as Step Functions' full jitter spreads them in AWS). msPerSecond is chosen so that half the shortest retry window covers the bound (the twin's one process must also keep up with the retries); smaller leaves beacons out of attempts before their turn (they end as 'error'), larger lengthens the tail.`,
    'Memory: each run in its own process (node --expose-gc); heap after GC before the request and after completion; what stays per beacon is the twin\'s record of it (store rows and audit, shim invocation, execution result, FNMS stub request log). Peak: sampled every 250 ms while running.',
  ]);
}

async function main(): Promise<void> {
  const started = Date.now();
  const host = machine();
  console.log('beacon-proxy benchmarks');
  for (const [key, value] of Object.entries(host)) console.log(`  ${key}: ${value}`);

  // The functions the stack deploys (synthesized from infra), each bundled both ways: the SDK left to the runtime and bundled.
  const functions = stackFunctions(ROOT);
  const { bundles, failures } = await bundleFunctions(functions, join(BENCH_DIR, 'bundles'));
  const parallel = Math.min(2, availableParallelism());
  const cold = await measureColdInit(bundles, { runs: 25, minRuns: 7, parallel, budgetMs: 150_000 });
  const coldLoad = loadSummary(cold.load);
  host['Load average (1 min) during the cold-init runs'] = coldLoad;
  const sizes = bundleFigures(bundles, cold);
  for (const failure of failures) sizes.figures.push({ name: failure.folder, value: 'no bundle', met: false, note: `esbuild failed: ${failure.error}` });
  report('Lambda bundles (esbuild with the stack\'s functionBuildOptions: minified ESM, node22, code splitting)', sizes.figures, sizes.notes);
  report('Cold init: import of each bundle in a fresh Node process', coldInitFigures(bundles, cold), [
    `Taken under a 1-minute load average of ${coldLoad} on ${availableParallelism()} cores shared with other work; medians of ${cold.rounds} rounds. In each round every function's two variants were imported back to back (the order of the two alternating by round, the functions in a rotated order), ${parallel} processes at a time, so both columns of a row saw the same load; the file cache was warmed by one uncounted round.`,
    `Value: the variant the stack deploys (FUNCTION_BUNDLING); both columns are measured in the same run. Node runs with the stack's NODE_OPTIONS (${FUNCTION_NODE_OPTIONS}), so the source maps of the chunks loaded at init are read too.`,
    'SDK external: the runtime\'s @aws-sdk/* imported from outside the bundle (here from node_modules, in Lambda from the runtime); "runtime SDK" is the time of importing those packages before the bundle. SDK bundled: the clients the function imports, tree-shaken and minified into its chunks; the SDK\'s credential providers other than the environment\'s, and any client or adapter imported with import(), are chunks read only when used.',
    'No environment variable is needed at import: AWS clients are built on the first invocation. The functions come from the synthesized stack (every BeaconFunction), not from a list in the bench.',
  ]);

  if (process.argv.includes('--bundles-only')) {
    // For working on the bundles: the other sections are skipped and bench/results.md is left as it is.
    console.log(`\nbundles only: bench/results.md not written (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    return;
  }

  report('Core throughput', measureCoreThroughput(ROOT));

  report('Beacon script cost (configure document under pwsh against a modelled beacon)', beaconScriptFigures(await measureBeaconScript(ROOT, 5)), [
    'Fresh pwsh process per run, as SSM Agent runs it; desired state from examples/https-one-proxy.json; fresh model per repetition for the first run, the second run on the configured model.',
  ]);

  const drift = await driftScaleFigures();
  report('Drift pass at fleet scale in the local twin (per-beacon baselines, checkpointed ticks)', drift.figures, drift.notes);

  // Everything must finish within ten minutes: the 10k fleet gets what is left, and says so if it was not enough.
  await fleetSection(started + 570_000);

  const elapsed = (Date.now() - started) / 1000;
  const [one, five] = loadavg();
  host['Load average at end (1 min, 5 min)'] = `${one!.toFixed(2)}, ${five!.toFixed(2)}`;
  host['Bench wall time'] = `${elapsed.toFixed(0)} s`;
  console.log(`\nbench finished in ${elapsed.toFixed(0)} s`);
  const markdown = [
    '# Benchmark results',
    '',
    'Written by `npm run bench` (bench/run.ts); the last run on the machine below. Medians over repeated runs.',
    '',
    '## Machine',
    '',
    ...Object.entries(host).map(([key, value]) => `- ${key}: ${value}`),
    ...sections.flatMap((section) => ['', `## ${section.title}`, '', markdownTable(section.figures), ...(section.notes.length ? ['', ...section.notes.map((note) => `- ${note}`)] : [])]),
    '',
  ].join('\n');
  writeFileSync(join(ROOT, 'bench', 'results.md'), markdown);
}

await main();
