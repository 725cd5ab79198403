/**
 * `npm run bench`: every figure of issue 6, medians over repeated runs, printed and written to
 * bench/results.md with the machine they came from. Not part of `npm test`: timings belong here.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadWorkflow } from '../local/workflow-definition.js';
import { beaconScriptFigures, measureBeaconScript } from './beacon-script.js';
import { bundleFigures, bundleFunctions, coldInitFigures, loadSummary, measureColdInit, stackFunctions } from './bundles.js';
import { FUNCTION_NODE_OPTIONS } from '../infra/constructs/beacon-function.js';
import { driftScaleFigures } from './drift-pass.js';
import { measureCoreThroughput } from './core-throughput.js';
import { SEND_THROTTLE_DESIGN, WORKFLOW_CONSTANTS } from '../lambdas/core/timing.js';
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

/** A bench script in a fresh process (node --expose-gc), so its memory figures are its own; its result is the last stdout line, JSON. */
function childRun<T>(script: string, args: string[], label: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', join(ROOT, 'bench', script), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const last = stdout.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !last.startsWith('{')) return reject(new Error(`the ${label} exited with ${code}: ${stdout.slice(-500)}`));
      resolve(JSON.parse(last) as T);
    });
  });
}

const fleetRun = (options: FleetRunOptions) => childRun<FleetRunResult>('fleet-run.ts', [JSON.stringify(options)], 'fleet run');

async function fleetSection(deadlineAt: number): Promise<void> {
  const { definition } = await loadWorkflow();
  const retryWindow = throttleRetryWindowSeconds(definition as never);
  // The SSM rate the shim allows. SSM publishes no SendCommand TPS; the twin runs every function, the state
  // machine and the FNMS stub in one process, which carries a few dozen beacons a second on this machine, so
  // the rate is set below that: SSM, not the twin's CPU, is then the bottleneck, as the figure must show.
  const rate = 25;
  const figures: Figure[] = [];
  const perBeacon: Array<{ beacons: number; retainedHeap: number; peakHeap: number; finished: boolean }> = [];
  for (const [beacons, runs] of [[1_000, 3], [10_000, 1]] as const) {
    const boundSeconds = beacons / rate;
    // As the README tells operators to set it: the queue the SendCommand retrier is sized for
    // (SEND_THROTTLE_DESIGN, 40 s of the SSM rate in flight). More only adds throttled retries and raises
    // the chance that a beacon runs out of attempts.
    const maxConcurrency = Math.min(beacons, rate * SEND_THROTTLE_DESIGN.queueSeconds);
    // Real time (msPerSecond 1000): the throttle retries' waits and the SendCommand rate on one clock. A
    // scaled clock compresses the retries against a real-time rate, so each attempt wins a token less often
    // than it would in AWS (68 of 10,000 beacons ran out of attempts at 304 ms per workflow-second).
    const msPerSecond = 1000;
    const results: FleetRunResult[] = [];
    for (let run = 0; run < runs; run += 1) {
      const deadlineMs = Math.max(60_000, Math.min(beacons >= 10_000 ? 3 * boundSeconds * 1000 : 2 * boundSeconds * 1000, deadlineAt - Date.now()));
      const options: FleetRunOptions = { beacons, sendCommandPerSecond: rate, maxConcurrentInvocations: 50, maxConcurrency, deliveryLatencyMs: 50, documentLatencyMs: 200, msPerSecond, retryJitter: true, progress: beacons >= 10_000, deadlineMs };
      results.push(await fleetRun(options));
    }
    const m = (pick: (r: FleetRunResult) => number) => median(results.map(pick));
    const finished = results.every((r) => r.finished);
    const ok = results.map((r) => r.outcomes.ok ?? 0);
    const completion = m((r) => r.completionMs);
    const share = results[0]!.boundMs / completion;
    const allOk = ok.every((count) => count === beacons);
    // The target is the large fleet's: at 1,000 beacons one workflow's own length (waits, polls; about 15 s in
    // real time) is a third of the bound, as in AWS.
    const targeted = beacons >= 10_000;
    figures.push({
      name: `${beacons.toLocaleString('en')} beacons, ${rate}/s (median of ${runs})`,
      value: finished ? `${(completion / 1000).toFixed(1)} s` : `> ${(completion / 1000).toFixed(0)} s`,
      ...(targeted ? { target: `bound ${boundSeconds} s; >= ${FLEET_TARGET_SHARE * 100} % of it`, met: finished && allOk && share >= FLEET_TARGET_SHARE } : {}),
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
    'One tag-target request with rollout { canary: 0, waveSize: 100%, maxConcurrency: 40 s of the SSM rate (1,000) }: the intake accepts it, the request workflow expands the tag page by page and starts one beacon workflow per beacon (the synthesized state machines, real handlers in-process, the FNMS stub over HTTP for the pin). The state table is dynalite behind the real adapters, in a process of its own (DynamoDB is a service of its own; its CPU is not the pipeline\'s).',
    `Why ${rate}/s: SSM publishes no SendCommand TPS (platform facts), so the rate is a model figure. The twin runs every function, both state machines and the FNMS stub in one Node process; on this 2-core machine that process carries a few dozen beacon workflows a second (each workflow about a dozen Lambda steps, each DynamoDB call an HTTP round trip to dynalite), so the rate is set where SSM, not the twin's CPU, is the bottleneck. At 100/s (the earlier model) the twin's CPU was the limit (about 53 SendCommands/s, 20 ms of CPU per workflow).`,
    `Bound = beacons / rate. The twin scales Wait and Retry by msPerSecond; the SendCommand rate is real time. A throttled SendConfigure throws ThrottledError, which the state machine's SendCommand Retry catches (${WORKFLOW_CONSTANTS.sendThrottleRetry.maxAttempts} attempts, waits capped at ${WORKFLOW_CONSTANTS.sendThrottleRetry.maxDelaySeconds} s; the twin waits Step Functions' own series, ${Math.round(retryWindow)} workflow-seconds in all at most, each wait drawn between 0 and its series value as the workflow's JitterStrategy FULL does in AWS). The fleet runs in real time (msPerSecond 1000): scaled, the retries would be compressed against the real-time rate and some beacons would run out of attempts.`,
    'Memory: each run in its own process (node --expose-gc); heap after GC before the request and after completion; what stays per beacon is the twin\'s record of it (store rows and audit, shim invocation, execution result, FNMS stub request log). Peak: sampled every 250 ms while running.',
  ]);
}

interface FanoutResult {
  beacons: number;
  msPerSecond: number;
  wallSeconds: number;
  startsPerSecond: number;
  started: number;
  duplicates: number;
  deadLetters: number;
  outcome: string | null;
  finished: boolean | null;
  stepTimeouts: number;
  peakRssMb: number;
  peakHeapMb: number;
  baseHeapMb: number;
}

/** The tag fan-out (bench/fanout.ts) in a fresh process. */
const fanoutRun = (beacons: number, msPerSecond: number) => childRun<FanoutResult>('fanout.ts', [String(beacons), String(msPerSecond)], 'fan-out run');

async function fanoutSection(): Promise<void> {
  const beacons = 50_000;
  const msPerSecond = 20;
  const r = await fanoutRun(beacons, msPerSecond);
  const exactlyOnce = r.started === beacons && r.duplicates === 0;
  report('Tag fan-out at 50,000 beacons in the strict twin (request workflow, checkpointed pages and waves)', [
    {
      name: `${beacons.toLocaleString('en')}-beacon tag target fanned out`,
      value: `${r.wallSeconds} s`,
      note: `${r.startsPerSecond} beacon workflows started per second; request outcome ${r.outcome ?? 'none'}${r.finished ? ', finished' : ', NOT finished'}; msPerSecond ${r.msPerSecond}`,
    },
    { name: '  beacons with exactly one workflow', value: `${r.started - r.duplicates} of ${beacons}`, target: `all ${beacons.toLocaleString('en')}, none twice`, met: exactlyOnce, note: `${r.duplicates} started more than once` },
    { name: '  messages in the intake DLQ', value: String(r.deadLetters), target: '0', met: r.deadLetters === 0 },
    { name: '  request-workflow steps that hit their timeout', value: String(r.stepTimeouts), note: 'timeouts enforced: each step is cut at its function timeout in the template (scaled, at least 2 s); a step cut short is retried from its checkpoint' },
    { name: '  memory', value: `${r.peakRssMb} MB RSS`, note: `of the twin's process (every function, both state machines, the execution records: about ${(((r.peakHeapMb - r.baseHeapMb) * 1024) / beacons).toFixed(1)} KB of heap per beacon; peak heap ${r.peakHeapMb} MB, ${r.baseHeapMb} MB before the request); the table's rows are in the DynamoDB process, not counted. Each step holds one page of the target at a time.` },
  ], [
    'bench/fanout.ts: the strict twin (dynalite behind the real adapters, in a process of its own; the synthesized request state machine; the intake queue with its redrive policy; function timeouts from the template). Beacon workflows are synthetic (each ends ok at once) and there is no pin (pinMode none), so what is measured is the fan-out: tag expansion page by page, waves started from a checkpoint, one named execution per beacon.',
  ]);
}

/**
 * The parts of the bench, by name: `npm run bench` runs them all; `npm run bench -- --only fleet,fanout` runs
 * those and keeps the others' last figures (bench/results.json), so a part that needs a quiet machine can be
 * measured again alone. Each part records when it ran, on which Node, and the load around it.
 */
const PARTS = ['bundles', 'core', 'script', 'drift', 'fleet', 'fanout'] as const;
type Part = (typeof PARTS)[number];

interface StoredSection {
  part: Part;
  title: string;
  figures: Figure[];
  notes: string[];
  measured: { date: string; node: string; loadStart: string; loadEnd: string; seconds: number };
}

const RESULTS_JSON = join(ROOT, 'bench', 'results.json');

function loadLine(): string {
  const [one, five] = loadavg();
  return `${one!.toFixed(2)}, ${five!.toFixed(2)}`;
}

function parseOnly(argv: string[]): Part[] {
  const index = argv.indexOf('--only');
  if (index < 0) return [...PARTS];
  const names = (argv[index + 1] ?? '').split(',').filter(Boolean);
  const unknown = names.filter((name) => !(PARTS as readonly string[]).includes(name));
  if (names.length === 0 || unknown.length > 0) {
    console.error(`--only takes a comma-separated list of ${PARTS.join(', ')}${unknown.length ? ` (unknown: ${unknown.join(', ')})` : ''}`);
    process.exit(2);
  }
  return names as Part[];
}

async function runPart(part: Part, started: number): Promise<void> {
  switch (part) {
    case 'bundles': {
      // The functions the stack deploys (synthesized from infra), each bundled both ways: the SDK left to the runtime and bundled.
      const functions = stackFunctions(ROOT);
      const { bundles, failures } = await bundleFunctions(functions, join(BENCH_DIR, 'bundles'));
      const parallel = Math.min(2, availableParallelism());
      const cold = await measureColdInit(bundles, { runs: 25, minRuns: 7, parallel, budgetMs: 150_000 });
      const coldLoad = loadSummary(cold.load);
      const sizes = bundleFigures(bundles, cold);
      for (const failure of failures) sizes.figures.push({ name: failure.folder, value: 'no bundle', met: false, note: `esbuild failed: ${failure.error}` });
      report('Lambda bundles (esbuild with the stack\'s functionBuildOptions: minified ESM, node22, code splitting)', sizes.figures, sizes.notes);
      report('Cold init: import of each bundle in a fresh Node process', coldInitFigures(bundles, cold), [
        `Taken under a 1-minute load average of ${coldLoad} on ${availableParallelism()} cores shared with other work; medians of ${cold.rounds} rounds. In each round every function's two variants were imported back to back (the order of the two alternating by round, the functions in a rotated order), ${parallel} processes at a time, so both columns of a row saw the same load; the file cache was warmed by one uncounted round.`,
        `Value: the variant the stack deploys (FUNCTION_BUNDLING); both columns are measured in the same run. Node runs with the stack's NODE_OPTIONS (${FUNCTION_NODE_OPTIONS}), so the source maps of the chunks loaded at init are read too.`,
        'SDK external: the runtime\'s @aws-sdk/* imported from outside the bundle (here from node_modules, in Lambda from the runtime); "runtime SDK" is the time of importing those packages before the bundle. SDK bundled: the clients the function imports, tree-shaken and minified into its chunks; the SDK\'s credential providers other than the environment\'s, and any client or adapter imported with import(), are chunks read only when used.',
        'No environment variable is needed at import: AWS clients are built on the first invocation. The functions come from the synthesized stack (every BeaconFunction), not from a list in the bench.',
      ]);
      return;
    }
    case 'core':
      report('Core throughput', measureCoreThroughput(ROOT));
      return;
    case 'script':
      report('Beacon script cost (configure document under pwsh against a modelled beacon)', beaconScriptFigures(await measureBeaconScript(ROOT, 5)), [
        'Fresh pwsh process per run, as SSM Agent runs it; desired state from examples/https-one-proxy.json; fresh model per repetition for the first run, the second run on the configured model.',
      ]);
      return;
    case 'drift': {
      const drift = await driftScaleFigures();
      report('Drift pass at fleet scale in the local twin (per-beacon baselines, checkpointed ticks)', drift.figures, drift.notes);
      return;
    }
    case 'fleet':
      // The 10k fleet gets what is left of twenty minutes from the bench's start, and says so if it was not enough.
      await fleetSection(started + 1_200_000);
      return;
    case 'fanout':
      await fanoutSection();
      return;
  }
}

function renderMarkdown(host: Record<string, string>, stored: StoredSection[]): string {
  return [
    '# Benchmark results',
    '',
    'Written by `npm run bench` (bench/run.ts) from bench/results.json; medians over repeated runs. A part can be',
    'measured again alone (`npm run bench -- --only fleet`); each section says when it was measured and the load',
    'around it (the machine is shared: read a figure with its load).',
    '',
    '## Machine',
    '',
    ...Object.entries(host).map(([key, value]) => `- ${key}: ${value}`),
    ...stored.flatMap((section) => [
      '',
      `## ${section.title}`,
      '',
      `Measured ${section.measured.date} (Node ${section.measured.node}, ${section.measured.seconds} s; 1-minute and 5-minute load average ${section.measured.loadStart} before, ${section.measured.loadEnd} after).`,
      '',
      markdownTable(section.figures),
      ...(section.notes.length ? ['', ...section.notes.map((note) => `- ${note}`)] : []),
    ]),
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const started = Date.now();
  const host = machine();
  console.log('beacon-proxy benchmarks');
  for (const [key, value] of Object.entries(host)) console.log(`  ${key}: ${value}`);

  if (process.argv.includes('--bundles-only')) {
    // For working on the bundles: the other parts are skipped and bench/results.md is left as it is.
    await runPart('bundles', started);
    console.log(`\nbundles only: bench/results.md not written (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    return;
  }

  const parts = parseOnly(process.argv);
  const measured: StoredSection[] = [];
  for (const part of parts) {
    const before = sections.length;
    const partStarted = Date.now();
    const loadStart = loadLine();
    await runPart(part, started);
    const info = { date: new Date(partStarted).toISOString(), node: process.version, loadStart, loadEnd: loadLine(), seconds: Math.round((Date.now() - partStarted) / 1000) };
    for (const section of sections.slice(before)) measured.push({ part, ...section, measured: info });
  }

  // The parts not run keep their last figures.
  const previous: StoredSection[] = parts.length < PARTS.length && existsSync(RESULTS_JSON) ? (JSON.parse(readFileSync(RESULTS_JSON, 'utf8')) as { sections: StoredSection[] }).sections : [];
  const stored = PARTS.flatMap((part) => (parts.includes(part) ? measured.filter((s) => s.part === part) : previous.filter((s) => s.part === part)));
  const elapsed = (Date.now() - started) / 1000;
  console.log(`\nbench finished in ${elapsed.toFixed(0)} s (${parts.join(', ')})`);
  delete host['Load average at start (1 min, 5 min)'];
  delete host.Date;
  delete host.Node;
  writeFileSync(RESULTS_JSON, `${JSON.stringify({ host, sections: stored }, null, 2)}\n`);
  writeFileSync(join(ROOT, 'bench', 'results.md'), renderMarkdown(host, stored));
}

await main();
