/**
 * Lambda bundles as the stack builds them, and their cold init. The functions come from the stack itself
 * (synthesized with stub code, every BeaconFunction it holds), so a function added to the infra is measured
 * without touching the bench. Each is bundled both ways of FunctionBundling (the SDK left to the runtime, or
 * bundled) with the one set of esbuild options the stack uses (functionBuildOptions), and each bundle is
 * imported in fresh Node processes, the two variants of a function back to back in alternating order so that
 * both see the same load on a shared machine.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { App } from 'aws-cdk-lib';
import { build, type Metafile } from 'esbuild';
import { buildApp } from '../infra/app.js';
import {
  BUNDLING_CONTEXT_KEY,
  BeaconFunction,
  FUNCTION_BUNDLING,
  FUNCTION_ENTRY_FILE,
  FUNCTION_NODE_OPTIONS,
  type FunctionBundling,
  type SdkPlacement,
  functionBuildOptions,
  functionBundling,
} from '../infra/constructs/beacon-function.js';
import { type Figure, formatBytes, median } from './stats.js';

export const COLD_INIT_TARGET_MS = 150;
export const SDK_PLACEMENTS: readonly SdkPlacement[] = ['external', 'bundled'];

export interface StackFunction {
  folder: string;
  bundling: FunctionBundling;
  /** Whether FUNCTION_BUNDLING names it (else the default applies). */
  explicit: boolean;
  /** False for a lambdas/<folder>/handler.ts the synthesized stack does not deploy (measured all the same). */
  inStack: boolean;
}

/**
 * The functions of the stack: every BeaconFunction of the app the CLI synthesizes (default context, stub
 * code so no bundling runs), plus any lambdas/<folder>/handler.ts the stack does not deploy in that
 * context, flagged so (a function deployed only with some context value is still measured).
 */
export function stackFunctions(root: string): StackFunction[] {
  // Every optional part on (the chat webhook is deployed only when chat is configured): every function the stack can deploy.
  const app = new App({ context: { [BUNDLING_CONTEXT_KEY]: 'stub', chatEnabled: true } });
  const { stack } = buildApp(app, { nag: false });
  const deployed = new Map<string, FunctionBundling>();
  for (const node of stack.node.findAll()) if (node instanceof BeaconFunction) deployed.set(node.folder, node.bundling);
  const lambdas = join(root, 'lambdas');
  const onDisk = readdirSync(lambdas).filter((name) => statSync(join(lambdas, name)).isDirectory() && existsSync(join(lambdas, name, 'handler.ts')));
  const folders = [...new Set([...deployed.keys(), ...onDisk])].sort();
  return folders.map((folder) => ({ folder, bundling: deployed.get(folder) ?? functionBundling(folder), explicit: folder in FUNCTION_BUNDLING, inStack: deployed.has(folder) }));
}

export interface Bundle {
  folder: string;
  sdk: SdkPlacement;
  dir: string;
  entry: string;
  /** The entry chunk and every chunk it imports statically: what the function reads at init. */
  initBytes: number;
  /** Their source maps (read at init with --enable-source-maps). */
  initMapBytes: number;
  /** Every chunk, the lazily imported ones too. */
  totalBytes: number;
  /** Runtime SDK packages imported at init (the external variant). */
  externalSdkAtInit: string[];
  metafile: Metafile;
}

/** Output files (as the metafile names them) the entry loads at init: itself and its static imports, transitively. */
export function initChunks(metafile: Metafile, entry: string): string[] {
  const seen = new Set<string>();
  const stack = [entry];
  while (stack.length > 0) {
    const file = stack.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const imported of metafile.outputs[file]?.imports ?? []) if (imported.kind === 'import-statement' && !imported.external) stack.push(imported.path);
  }
  return [...seen];
}

/** The packages (by input path) in the chunks loaded at init. */
export function initInputs(metafile: Metafile, entry: string): string[] {
  return initChunks(metafile, entry).flatMap((file) => Object.keys(metafile.outputs[file]!.inputs));
}

/** Bundles one function with the stack's esbuild options and the given SDK placement. */
export async function bundleFunction(folder: string, sdk: SdkPlacement, dir: string): Promise<Bundle> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const options = functionBuildOptions(folder, dir, { ...functionBundling(folder), sdk });
  const result = await build({ ...options, metafile: true });
  const metafile = result.metafile;
  const entry = Object.keys(metafile.outputs).find((file) => file.endsWith(`/${FUNCTION_ENTRY_FILE}`));
  if (!entry) throw new Error(`${folder}: esbuild wrote no ${FUNCTION_ENTRY_FILE}`);
  const init = initChunks(metafile, entry);
  const code = (file: string) => file.endsWith('.mjs');
  return {
    folder,
    sdk,
    dir,
    entry: join(dir, FUNCTION_ENTRY_FILE),
    initBytes: init.reduce((sum, file) => sum + metafile.outputs[file]!.bytes, 0),
    initMapBytes: init.reduce((sum, file) => sum + (metafile.outputs[`${file}.map`]?.bytes ?? 0), 0),
    totalBytes: Object.entries(metafile.outputs).filter(([file]) => code(file)).reduce((sum, [, output]) => sum + output.bytes, 0),
    externalSdkAtInit: [...new Set(init.flatMap((file) => metafile.outputs[file]!.imports.filter((i) => i.external && i.kind === 'import-statement' && i.path.startsWith('@aws-sdk/')).map((i) => i.path)))].sort(),
    metafile,
  };
}

export interface FunctionBundles {
  fn: StackFunction;
  variants: Record<SdkPlacement, Bundle>;
}

/** Both variants of every function under outDir/<sdk>/<folder>; a function that does not build is reported, the others still come. */
export async function bundleFunctions(functions: StackFunction[], outDir: string): Promise<{ bundles: FunctionBundles[]; failures: Array<{ folder: string; error: string }> }> {
  rmSync(outDir, { recursive: true, force: true });
  const bundles: FunctionBundles[] = [];
  const failures: Array<{ folder: string; error: string }> = [];
  for (const fn of functions) {
    try {
      const variants = {} as Record<SdkPlacement, Bundle>;
      // Inside the repository: the external variant resolves @aws-sdk/* from its node_modules, as the runtime's copy would be.
      for (const sdk of SDK_PLACEMENTS) variants[sdk] = await bundleFunction(fn.folder, sdk, join(outDir, sdk, fn.folder));
      bundles.push({ fn, variants });
    } catch (error) {
      failures.push({ folder: fn.folder, error: (error as Error).message.split('\n').slice(0, 2).join(' ') });
    }
  }
  return { bundles, failures };
}

/** The package an esbuild input path belongs to (`node_modules/@scope/name/...` -> `@scope/name`), else `(own code)`. */
export function packageOf(inputPath: string): string {
  const marker = 'node_modules/';
  const at = inputPath.lastIndexOf(marker);
  if (at < 0) return '(own code)';
  const parts = inputPath.slice(at + marker.length).split('/');
  return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

/** Bytes by package in the chunks a bundle loads at init, largest first. */
export function topContributors(bundle: Bundle, limit = 6): Array<{ name: string; bytes: number }> {
  const byPackage = new Map<string, number>();
  const entry = Object.keys(bundle.metafile.outputs).find((file) => file.endsWith(`/${FUNCTION_ENTRY_FILE}`))!;
  for (const file of initChunks(bundle.metafile, entry)) {
    for (const [path, input] of Object.entries(bundle.metafile.outputs[file]!.inputs)) byPackage.set(packageOf(path), (byPackage.get(packageOf(path)) ?? 0) + input.bytesInOutput);
  }
  return [...byPackage.entries()].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes).slice(0, limit);
}

// Runs in a fresh node: imports the bundle's runtime SDK packages (external variant), then the bundle, timing
// each; prints "sdk total cpu" (cpu: the process's user + system CPU time over the whole import, all threads).
const IMPORT_PROBE = `const [url, ...sdk] = process.argv.slice(1); const c0 = process.cpuUsage(); const t0 = performance.now(); for (const name of sdk) await import(name); const t1 = performance.now(); await import(url); const t2 = performance.now(); const c = process.cpuUsage(c0); process.stdout.write((t1 - t0) + ' ' + (t2 - t0) + ' ' + (c.user + c.system) / 1000);`;

interface ImportSample {
  sdkMs: number;
  totalMs: number;
  cpuMs: number;
}

/** One fresh Node process importing one bundle, with the stack's NODE_OPTIONS: the Lambda init phase minus the runtime's own start. */
function importOnce(bundle: Bundle): Promise<ImportSample> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...FUNCTION_NODE_OPTIONS.split(' '), '--input-type=module', '-e', IMPORT_PROBE, pathToFileURL(bundle.entry).href, ...bundle.externalSdkAtInit], {
      // The handler modules read no environment at import: clients are built on the first invocation.
      env: { PATH: process.env.PATH ?? '', AWS_REGION: 'eu-west-1', POWERTOOLS_SERVICE_NAME: 'beacon-proxy', POWERTOOLS_METRICS_NAMESPACE: 'BeaconProxy' },
      // Resolve @aws-sdk/* from the repository's node_modules, as the runtime's copy would be.
      cwd: bundle.dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`importing ${bundle.folder} (${bundle.sdk}) failed: ${stderr.trim().split('\n').slice(-3).join(' | ')}`));
      const [sdkMs, totalMs, cpuMs] = stdout.trim().split(' ').map(Number) as [number, number, number];
      resolve({ sdkMs, totalMs, cpuMs });
    });
  });
}

export interface VariantInit {
  samples: number;
  medianMs: number;
  sdkMedianMs: number;
  /** CPU time of the import: what the wall time would be on an idle core (less sensitive to a shared machine's load). */
  cpuMedianMs: number;
}

export interface ColdInit {
  folder: string;
  variants: Record<SdkPlacement, VariantInit>;
}

export interface ColdInitOptions {
  /** Rounds at most (each round imports every function's both variants once). */
  runs: number;
  /** Rounds at least, even past the budget. */
  minRuns: number;
  /** Processes at once (the machine's cores): fresh processes are single-threaded. */
  parallel: number;
  /** Stop adding rounds after this long, so the whole bench stays within its time; the figure names the count. */
  budgetMs: number;
}

export interface ColdInitRun {
  results: ColdInit[];
  rounds: number;
  /** 1-minute load average at the start of each round. */
  load: number[];
}

/**
 * Median import time of each variant of each function over fresh processes. Each round visits every function
 * (in a rotated order) and imports its two variants back to back, the order of the two alternating by round:
 * both variants of a function see the same moment of a shared machine's load.
 */
export async function measureColdInit(bundles: FunctionBundles[], options: ColdInitOptions): Promise<ColdInitRun> {
  const samples = new Map<string, Record<SdkPlacement, ImportSample[]>>(bundles.map((b) => [b.fn.folder, { external: [], bundled: [] }]));
  const runAll = async (jobs: Array<() => Promise<void>>) => {
    const queue = [...jobs];
    await Promise.all(
      Array.from({ length: options.parallel }, async () => {
        for (let job = queue.shift(); job; job = queue.shift()) await job();
      }),
    );
  };
  const started = Date.now();
  const load: number[] = [];
  // Warm the file cache; these imports are not counted.
  await runAll(bundles.flatMap((b) => SDK_PLACEMENTS.map((sdk) => async () => void (await importOnce(b.variants[sdk])))));
  let rounds = 0;
  for (let round = 0; round < options.runs; round += 1) {
    if (round >= options.minRuns && Date.now() - started > options.budgetMs) break;
    load.push(loadavg()[0]!);
    const order = SDK_PLACEMENTS.slice();
    if (round % 2 === 1) order.reverse();
    const rotated = bundles.map((_, index) => bundles[(index + round) % bundles.length]!);
    await runAll(
      rotated.map((b) => async () => {
        for (const sdk of order) samples.get(b.fn.folder)![sdk].push(await importOnce(b.variants[sdk]));
      }),
    );
    rounds += 1;
  }
  const results = bundles.map((b) => {
    const bySdk = samples.get(b.fn.folder)!;
    const variant = (list: ImportSample[]): VariantInit => ({ samples: list.length, medianMs: median(list.map((s) => s.totalMs)), sdkMedianMs: median(list.map((s) => s.sdkMs)), cpuMedianMs: median(list.map((s) => s.cpuMs)) });
    return { folder: b.fn.folder, variants: { external: variant(bySdk.external), bundled: variant(bySdk.bundled) } };
  });
  return { results, rounds, load };
}

/** Least squares of init time over KB loaded at init: what each KB costs on this machine. */
export function initCostPerKb(points: Array<{ kb: number; ms: number }>): { msPerKb: number; baseMs: number; r2: number } {
  const n = points.length;
  const meanX = points.reduce((s, p) => s + p.kb, 0) / n;
  const meanY = points.reduce((s, p) => s + p.ms, 0) / n;
  const sxx = points.reduce((s, p) => s + (p.kb - meanX) ** 2, 0);
  const sxy = points.reduce((s, p) => s + (p.kb - meanX) * (p.ms - meanY), 0);
  const syy = points.reduce((s, p) => s + (p.ms - meanY) ** 2, 0);
  const msPerKb = sxx === 0 ? Number.NaN : sxy / sxx;
  return { msPerKb, baseMs: meanY - msPerKb * meanX, r2: sxx === 0 || syy === 0 ? Number.NaN : (sxy * sxy) / (sxx * syy) };
}

export function loadSummary(load: number[]): string {
  if (load.length === 0) return 'n/a';
  return `median ${median(load).toFixed(2)} (min ${Math.min(...load).toFixed(2)}, max ${Math.max(...load).toFixed(2)})`;
}

export interface BundleReport {
  figures: Figure[];
  notes: string[];
}

/** The bundle sizes of the variant each function deploys with, and what the KB loaded at init cost (fit over the bundled variant). */
export function bundleFigures(bundles: FunctionBundles[], cold: ColdInitRun | null): BundleReport {
  const fit = cold ? initCostPerKb(bundles.map((b) => ({ kb: b.variants.bundled.initBytes / 1024, ms: cold.results.find((r) => r.folder === b.fn.folder)!.variants.bundled.medianMs }))) : null;
  const figures = bundles.map(({ fn, variants }) => {
    const chosen = variants[fn.bundling.sdk];
    const other = variants[fn.bundling.sdk === 'bundled' ? 'external' : 'bundled'];
    const top = topContributors(chosen)
      .map((entry) => `${entry.name} ${formatBytes(entry.bytes)}`)
      .join(', ');
    return {
      name: fn.folder,
      value: formatBytes(chosen.initBytes),
      note: [
        `SDK ${fn.bundling.sdk}: loaded at init ${formatBytes(chosen.initBytes)} (+ map ${formatBytes(chosen.initMapBytes)}), ${formatBytes(chosen.totalBytes)} with the lazily imported chunks`,
        `SDK ${other.sdk}: ${formatBytes(other.initBytes)} at init, ${formatBytes(other.totalBytes)} in all`,
        `at init: ${top}`,
      ].join('; '),
    };
  });
  const notes = [
    'Value: the bytes of the chunks the entry imports statically (read and compiled at init), in the variant the stack deploys (FUNCTION_BUNDLING in infra/constructs/beacon-function.ts); chunks imported with import() (the on-premises inventory adapter, the SDK\'s other credential providers, clients of rare paths) are read only when that path runs.',
  ];
  if (fit && Number.isFinite(fit.msPerKb)) {
    const budgetKb = (COLD_INIT_TARGET_MS - fit.baseMs) / fit.msPerKb;
    notes.push(
      `What each KB buys: over the bundled variants, init ≈ ${fit.baseMs.toFixed(0)} ms + ${(fit.msPerKb * 100).toFixed(1)} ms per 100 KB loaded at init (least squares over ${bundles.length} functions, r² ${fit.r2.toFixed(2)}); ${budgetKb > 0 ? `at this machine's speed a function reaches the ${COLD_INIT_TARGET_MS} ms target near ${budgetKb.toFixed(0)} KB at init` : `at this run's load the fixed part alone (${fit.baseMs.toFixed(0)} ms: Node's start, its built-in modules) is over the ${COLD_INIT_TARGET_MS} ms target, so no bundle size reaches it here; compare the CPU times`}. The SDK core every client shares (about 220 KB: @smithy/core, @aws-sdk/core, signing, the HTTP handler) is paid once; each further client adds its commands and endpoint rules (DynamoDB about 30 KB, SSM about 80 KB).`,
    );
  }
  return { figures, notes };
}

/** Cold init rows: `name (median of N) | chosen ms | target | met | SDK external | SDK bundled | note`. */
export function coldInitFigures(bundles: FunctionBundles[], cold: ColdInitRun): Figure[] {
  return bundles.map(({ fn, variants }) => {
    const result = cold.results.find((r) => r.folder === fn.folder)!;
    const external = result.variants.external;
    const bundled = result.variants.bundled;
    const chosen = result.variants[fn.bundling.sdk];
    const faster: SdkPlacement = bundled.medianMs <= external.medianMs ? 'bundled' : 'external';
    const samples = Math.min(external.samples, bundled.samples);
    return {
      name: `${fn.folder} (median of ${samples})`,
      value: `${chosen.medianMs.toFixed(0)} ms`,
      target: `<= ${COLD_INIT_TARGET_MS} ms`,
      met: chosen.medianMs <= COLD_INIT_TARGET_MS,
      columns: { 'SDK external': `${external.medianMs.toFixed(0)} ms`, 'SDK bundled': `${bundled.medianMs.toFixed(0)} ms` },
      note: [
        `deploys SDK ${fn.bundling.sdk}${fn.explicit ? '' : ' (default)'}${fn.inStack ? '' : ', not in the stack synthesized with the default context'}`,
        faster === fn.bundling.sdk ? `the faster by ${Math.abs(external.medianMs - bundled.medianMs).toFixed(0)} ms` : `**${faster} is faster by ${Math.abs(external.medianMs - bundled.medianMs).toFixed(0)} ms: change FUNCTION_BUNDLING**`,
        `CPU time external ${external.cpuMedianMs.toFixed(0)} ms, bundled ${bundled.cpuMedianMs.toFixed(0)} ms`,
        `external: runtime SDK ${external.sdkMedianMs.toFixed(0)} ms of it (${variants.external.externalSdkAtInit.length} packages)`,
        `bundled: ${formatBytes(variants.bundled.initBytes)} at init`,
      ].join('; '),
    };
  });
}
