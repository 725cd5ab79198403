/**
 * Lambda bundles as the stack builds them (infra/constructs/beacon-function.ts): esbuild, minified ESM for
 * node22, the runtime's AWS SDK v3 left external, the same createRequire banner. Sizes, the top
 * contributors of any bundle over the target, and the cold init of each bundle in a fresh Node process.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { type Figure, formatBytes, median } from './stats.js';

export const BUNDLE_TARGET_BYTES = 150 * 1024;
export const COLD_INIT_TARGET_MS = 60;
/** Folders under lambdas/ that are libraries, not Lambda functions. */
const LIBRARY_FOLDERS = new Set(['core', 'aws', 'memory', 'workflow']);
const BANNER = "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);";

export interface HandlerBundle {
  folder: string;
  file: string;
  bytes: number;
  metafile: Metafile;
}

/** Every lambdas/<folder>/handler.ts that is a function (libraries excluded). */
export function handlerFolders(root: string): string[] {
  const lambdas = join(root, 'lambdas');
  return readdirSync(lambdas)
    .filter((name) => !LIBRARY_FOLDERS.has(name) && statSync(join(lambdas, name)).isDirectory() && existsSync(join(lambdas, name, 'handler.ts')))
    .sort();
}

/** Bundles each handler into outDir/<folder>/index.mjs, with the options of BeaconFunction's NodejsFunction. */
export async function bundleHandlers(root: string, outDir: string): Promise<{ bundles: HandlerBundle[]; failures: Array<{ folder: string; error: string }> }> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const bundles: HandlerBundle[] = [];
  const failures: Array<{ folder: string; error: string }> = [];
  for (const folder of handlerFolders(root)) {
    const file = join(outDir, folder, 'index.mjs');
    // A handler that does not build (e.g. mid-edit) is reported, and the other figures still come.
    const result = await build({
      entryPoints: [join(root, 'lambdas', folder, 'handler.ts')],
      outfile: file,
      bundle: true,
      minify: true,
      sourcemap: true,
      format: 'esm',
      target: 'node22',
      platform: 'node',
      mainFields: ['module', 'main'],
      external: ['@aws-sdk/*'],
      banner: { js: BANNER },
      metafile: true,
      logLevel: 'silent',
    }).catch((error: Error) => {
      failures.push({ folder, error: error.message.split('\n').slice(0, 2).join(' ') });
      return undefined;
    });
    if (result) bundles.push({ folder, file, bytes: statSync(file).size, metafile: result.metafile });
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

/** Bytes in the output by package, largest first. */
export function topContributors(metafile: Metafile, limit = 8): Array<{ name: string; bytes: number }> {
  const byPackage = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [path, input] of Object.entries(output.inputs)) byPackage.set(packageOf(path), (byPackage.get(packageOf(path)) ?? 0) + input.bytesInOutput);
  }
  return [...byPackage.entries()].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes).slice(0, limit);
}

export function bundleFigures(bundles: HandlerBundle[]): { figures: Figure[]; contributors: string[] } {
  const figures: Figure[] = [];
  const contributors: string[] = [];
  for (const bundle of bundles) {
    const met = bundle.bytes <= BUNDLE_TARGET_BYTES;
    figures.push({ name: `${bundle.folder}`, value: formatBytes(bundle.bytes), target: `<= ${formatBytes(BUNDLE_TARGET_BYTES)}`, met });
    if (!met) {
      const top = topContributors(bundle.metafile)
        .map((entry) => `${entry.name} ${formatBytes(entry.bytes)}`)
        .join(', ');
      contributors.push(`${bundle.folder}: ${top}`);
    }
  }
  return { figures, contributors };
}

/** The runtime SDK packages a bundle imports (left external, resolved from node_modules here, from the runtime in Lambda). */
export function externalSdkImports(metafile: Metafile): string[] {
  const paths = Object.values(metafile.outputs).flatMap((output) => output.imports.filter((i) => i.external && i.path.startsWith('@aws-sdk/')).map((i) => i.path));
  return [...new Set(paths)].sort();
}

// Runs in a fresh node: imports the bundle's external SDK packages, then the bundle, timing each; prints "sdk total".
const IMPORT_PROBE = `const [url, ...sdk] = process.argv.slice(1); const t0 = performance.now(); for (const name of sdk) await import(name); const t1 = performance.now(); await import(url); const t2 = performance.now(); process.stdout.write((t1 - t0) + ' ' + (t2 - t0));`;

interface ImportSample {
  sdkMs: number;
  totalMs: number;
}

/** One fresh Node process importing one bundle: the Lambda init phase minus the runtime's own start. */
function importOnce(bundle: HandlerBundle, nodeArgs: string[]): Promise<ImportSample> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, '--input-type=module', '-e', IMPORT_PROBE, pathToFileURL(bundle.file).href, ...externalSdkImports(bundle.metafile)], {
      // The handler modules read no environment at import: clients are built on the first invocation.
      env: { PATH: process.env.PATH ?? '', AWS_REGION: 'eu-west-1' },
      // Resolve @aws-sdk/* from the repository's node_modules, as the runtime's copy would be.
      cwd: dirname(bundle.file),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`importing ${bundle.folder} failed: ${stderr.trim().split('\n').slice(-3).join(' | ')}`));
      const [sdkMs, totalMs] = stdout.trim().split(' ').map(Number) as [number, number];
      resolve({ sdkMs, totalMs });
    });
  });
}

export interface ColdInit {
  folder: string;
  samples: number;
  medianMs: number;
  sdkMedianMs: number;
  withSourceMapsMs: number;
}

export interface ColdInitOptions {
  runs: number;
  /** Runs with --enable-source-maps (the stack sets it in NODE_OPTIONS). */
  mapRuns: number;
  /** Processes at once (the machine's cores): fresh processes are single-threaded. */
  parallel: number;
  /** Stop adding rounds after this long, so the whole bench stays within its time; the figure names the count. */
  budgetMs: number;
}

/**
 * Median import time of each bundle over fresh processes, in rounds over all bundles so noise spreads
 * evenly; the SDK share is the time of importing the bundle's external @aws-sdk packages first.
 */
export async function measureColdInit(bundles: HandlerBundle[], options: ColdInitOptions): Promise<ColdInit[]> {
  const samples = new Map<string, ImportSample[]>(bundles.map((b) => [b.folder, []]));
  const mapSamples = new Map<string, number[]>(bundles.map((b) => [b.folder, []]));
  const runAll = async (jobs: Array<() => Promise<void>>) => {
    const queue = [...jobs];
    await Promise.all(Array.from({ length: options.parallel }, async () => {
      for (let job = queue.shift(); job; job = queue.shift()) await job();
    }));
  };
  const started = Date.now();
  await runAll(bundles.map((bundle) => async () => void (await importOnce(bundle, [])))); // warm the file cache
  for (let round = 0; round < options.runs; round += 1) {
    if (round >= 5 && Date.now() - started > options.budgetMs) break;
    // The source-map runs go in the same rounds, right after the plain run, so both see the same load.
    await runAll(
      bundles.map((bundle) => async () => {
        samples.get(bundle.folder)!.push(await importOnce(bundle, []));
        if (round < options.mapRuns) mapSamples.get(bundle.folder)!.push((await importOnce(bundle, ['--enable-source-maps'])).totalMs);
      }),
    );
  }
  return bundles.map((bundle) => {
    const list = samples.get(bundle.folder)!;
    return {
      folder: bundle.folder,
      samples: list.length,
      medianMs: median(list.map((s) => s.totalMs)),
      sdkMedianMs: median(list.map((s) => s.sdkMs)),
      withSourceMapsMs: median(mapSamples.get(bundle.folder)!),
    };
  });
}

export function coldInitFigures(results: ColdInit[]): Figure[] {
  return results.map((result) => ({
    name: `${result.folder} (median of ${result.samples})`,
    value: `${result.medianMs.toFixed(0)} ms`,
    target: `<= ${COLD_INIT_TARGET_MS} ms`,
    met: result.medianMs <= COLD_INIT_TARGET_MS,
    note: `runtime SDK ${result.sdkMedianMs.toFixed(0)} ms of it; with --enable-source-maps ${result.withSourceMapsMs.toFixed(0)} ms`,
  }));
}
