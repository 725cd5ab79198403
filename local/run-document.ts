import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { BeaconDocumentKind } from '../lambdas/core/document-contract.js';
import { FAKE_LAYER_PATH, documentParameterDefaults, documentScriptText, type BeaconDocument } from '../ssm-documents/documents.js';
import { type LocalModuleBucket, deployedModuleBucket, documentsFor } from './module-bucket.js';
import { PWSH_ARGS, PWSH_ENV, resolvePwsh } from './pwsh.js';

export interface RunBeaconDocumentOptions {
  document: BeaconDocumentKind;
  /** Document parameters by name (DesiredState, CaptureId, CheckEndpoint), as SendCommand would pass them. */
  parameters: Record<string, string>;
  /** The beacon model file (local/beacon-model.ts); the fake layer reads and updates it. */
  modelPath: string;
  /** Extra environment, e.g. BEACON_PROXY_CAPTURE_DIR. */
  env?: Record<string, string>;
  /** Kill the run after this long (SSM's executionTimeout); default 120 s. */
  timeoutMs?: number;
  /**
   * `worker` (default): a fresh PowerShell runspace inside a long-lived pwsh worker process, so pwsh
   * starts once per worker, not once per run. `process`: a fresh pwsh process, exactly as SSM Agent runs it.
   */
  isolation?: 'worker' | 'process';
  /**
   * The module bucket the documents download from (default: one holding the committed module file under its
   * content-addressed key, as the stack deploys it). A test changes or removes the object to see the refusal.
   */
  moduleBucket?: LocalModuleBucket;
}

/** What the document's first step (aws:downloadContent) did. */
export interface DownloadStepResult {
  status: 'Success' | 'Failed';
  output: string;
}

export interface BeaconDocumentRun {
  stdout: string;
  stderr: string;
  /** The script's exit code; -1 when it was killed for taking too long. */
  exitCode: number;
  durationMs: number;
  /** The download step that ran before the script (runBeaconDocument fills it in). */
  download?: DownloadStepResult;
}

/** SendCommand refuses parameters that do not match a document's allowedPattern; so does this runner. */
export class InvalidDocumentParameters extends Error {
  readonly code = 'InvalidParameters';
}

let defaultBucket: LocalModuleBucket | undefined;
const documentsByBucket = new WeakMap<LocalModuleBucket, Record<BeaconDocumentKind, BeaconDocument>>();
let runCounter = 0;

/** What the SSM Agent does for one command before its script runs: a folder of its own, the download step, the script file. */
interface PreparedRun {
  /** The command's orchestration folder (removed after the run). */
  folder: string;
  scriptPath: string;
  document: BeaconDocument;
  download: DownloadStepResult;
}

/**
 * Models the agent's orchestration of one command: `<root>/<command>/` holds `downloads/` (where
 * aws:downloadContent writes a relative destinationPath) and one folder per step with its script file. The
 * download step fetches the module from the bucket the document names; when that fails the step fails and,
 * with no onFailure in the document, the agent still runs the script step.
 */
function documentsOf(bucket: LocalModuleBucket): Record<BeaconDocumentKind, BeaconDocument> {
  let documents = documentsByBucket.get(bucket);
  if (!documents) {
    documents = documentsFor(bucket);
    documentsByBucket.set(bucket, documents);
  }
  return documents;
}

function prepareRun(kind: BeaconDocumentKind, bucket: LocalModuleBucket): PreparedRun {
  const document = documentsOf(bucket)[kind];
  runCounter += 1;
  const root = join(tmpdir(), 'beacon-proxy-orchestration');
  mkdirSync(root, { recursive: true });
  const folder = mkdtempSync(join(root, `${process.pid}-${runCounter}-`));
  const [downloadStep, script] = document.mainSteps;
  const { path: url } = JSON.parse(downloadStep.inputs.sourceInfo) as { path: string };
  let download: DownloadStepResult;
  try {
    const body = bucket.download(url);
    const target = join(folder, 'downloads', downloadStep.inputs.destinationPath);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, body);
    download = { status: 'Success', output: `Content downloaded to ${target}` };
  } catch (error) {
    download = { status: 'Failed', output: `failed to download ${url}: ${(error as Error).name}: ${(error as Error).message}` };
  }
  const scriptPath = join(folder, script.name, '_script.ps1');
  mkdirSync(dirname(scriptPath), { recursive: true });
  writeFileSync(scriptPath, documentScriptText(document));
  return { folder, scriptPath, document, download };
}

/** The parameters SSM would hand over: defaults filled in, unknown names and pattern mismatches refused. */
export function resolveDocumentParameters(document: BeaconDocument, given: Record<string, string>): Record<string, string> {
  const resolved: Record<string, string> = { ...documentParameterDefaults(document), ...given };
  for (const [name, value] of Object.entries(resolved)) {
    const definition = document.parameters[name];
    if (!definition) throw new InvalidDocumentParameters(`the document has no parameter ${name}`);
    if (!new RegExp(definition.allowedPattern).test(value)) throw new InvalidDocumentParameters(`${name} does not match its allowedPattern`);
  }
  for (const name of Object.keys(document.parameters)) {
    if (resolved[name] === undefined) throw new InvalidDocumentParameters(`the required parameter ${name} is missing`);
  }
  return resolved;
}

/** The environment a run sees: this process's, minus SSM_/BEACON_PROXY_ leftovers, plus the run's own. */
function runEnvironment(options: RunBeaconDocumentOptions, parameters: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(parameters)) env[`SSM_${name}`] = value;
  env.BEACON_PROXY_FAKE_LAYER = FAKE_LAYER_PATH;
  env.BEACON_PROXY_FAKE_MODEL = options.modelPath;
  return { ...env, ...(options.env ?? {}) };
}

function baseEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('SSM_') && !key.startsWith('BEACON_PROXY_')) env[key] = value;
  return { ...env, ...PWSH_ENV };
}

/**
 * Runs the real generated document script under pwsh against a modelled beacon, the way SSM Run Command
 * would: parameters arrive as SSM_<name> environment variables, the fake Windows layer stands in for the
 * beacon. Every run has its own runspace (or process), so runs are independent; runs on different model
 * files may go in parallel, runs on the same model file must be awaited one after the other.
 */
export async function runBeaconDocument(options: RunBeaconDocumentOptions): Promise<BeaconDocumentRun> {
  const bucket = options.moduleBucket ?? (defaultBucket ??= deployedModuleBucket());
  // SendCommand refuses bad parameters before anything reaches the beacon.
  const parameters = resolveDocumentParameters(documentsOf(bucket)[options.document], options.parameters);
  const prepared = prepareRun(options.document, bucket);
  const env = runEnvironment(options, parameters);
  try {
    const run = options.isolation === 'process' ? await runInProcess(prepared.scriptPath, env, options.timeoutMs ?? 120_000) : await workerPool().run(prepared.scriptPath, env, options.timeoutMs ?? 120_000);
    return { ...run, download: prepared.download };
  } finally {
    rmSync(prepared.folder, { recursive: true, force: true });
  }
}

/** Kills a pwsh run and the process the .tools/pwsh launcher started for it (its process group). */
function killTree(child: ReturnType<typeof spawn>): void {
  try {
    if (process.platform !== 'win32' && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    else child.kill('SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

function runInProcess(path: string, runEnv: Record<string, string>, timeoutMs: number): Promise<BeaconDocumentRun> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    // Its own process group: the .tools/pwsh launcher runs pwsh as a child, and a timeout must end both.
    const child = spawn(resolvePwsh(), [...PWSH_ARGS, '-File', path], { env: { ...baseEnvironment(), ...runEnv }, stdio: ['ignore', 'pipe', 'pipe'], detached: process.platform !== 'win32' });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killTree(child);
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        exitCode: timedOut ? -1 : (code ?? -1),
        durationMs: Date.now() - started,
      });
    });
  });
}

// A pwsh worker: reads one job per line on stdin, runs the script in a new runspace with the job's
// environment variables set (and removed afterwards), stdout/stderr captured, and answers one JSON line.
const WORKER_SCRIPT = String.raw`
$ErrorActionPreference = 'Stop'
$protocol = [Console]::Out
while ($true) {
    $line = [Console]::In.ReadLine()
    if ($null -eq $line) { break }
    $job = ConvertFrom-Json -InputObject $line
    $names = @($job.env.PSObject.Properties | ForEach-Object { $_.Name })
    foreach ($property in $job.env.PSObject.Properties) { [Environment]::SetEnvironmentVariable($property.Name, [string]$property.Value) }
    $out = New-Object System.IO.StringWriter
    $err = New-Object System.IO.StringWriter
    $savedError = [Console]::Error
    [Console]::SetOut($out)
    [Console]::SetError($err)
    $code = -1
    $shell = [powershell]::Create()
    try {
        [void]$shell.AddScript('param($path) & $path; if ($null -eq $LASTEXITCODE) { 0 } else { $LASTEXITCODE }').AddArgument([string]$job.script)
        $output = @($shell.Invoke())
        for ($i = 0; $i -lt $output.Count - 1; $i++) { $out.WriteLine([string]$output[$i]) }
        if ($output.Count -gt 0) { $code = [int]$output[$output.Count - 1] }
        foreach ($record in $shell.Streams.Error) { $err.WriteLine([string]$record) }
    } catch {
        $err.WriteLine($_.Exception.Message)
    } finally {
        $shell.Dispose()
        [Console]::SetOut($protocol)
        [Console]::SetError($savedError)
        foreach ($name in $names) { [Environment]::SetEnvironmentVariable($name, $null) }
    }
    $protocol.WriteLine((ConvertTo-Json -Compress -InputObject ([ordered]@{ id = $job.id; stdout = $out.ToString(); stderr = $err.ToString(); exitCode = $code })))
    $protocol.Flush()
}
`;

interface PendingJob {
  id: number;
  line: string;
  started: number;
  timeoutMs: number;
  resolve: (run: BeaconDocumentRun) => void;
  reject: (error: Error) => void;
}

class PwshWorker {
  private readonly child: ChildProcessWithoutNullStreams;
  private buffer = '';
  private stderr = '';
  current: PendingJob | undefined;
  dead = false;

  constructor(scriptPath: string, private readonly onIdle: (worker: PwshWorker) => void) {
    this.child = spawn(resolvePwsh(), [...PWSH_ARGS, '-File', scriptPath], { env: baseEnvironment(), stdio: ['pipe', 'pipe', 'pipe'], detached: process.platform !== 'win32' });
    this.child.stdout.setEncoding('utf8');
    this.child.stderr.setEncoding('utf8');
    this.child.stdout.on('data', (chunk: string) => this.onData(chunk));
    this.child.stderr.on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-4000);
    });
    this.child.on('error', (error) => this.fail(error));
    this.child.on('exit', (code) => this.fail(new Error(`the pwsh worker exited (${code}): ${this.stderr}`)));
    this.setBusy(false);
  }

  // An idle worker must not keep Node alive; a busy one must, or a caller awaiting its run would hang.
  private setBusy(busy: boolean): void {
    const method = busy ? 'ref' : 'unref';
    this.child[method]();
    for (const stream of [this.child.stdin, this.child.stdout, this.child.stderr]) (stream as unknown as Record<string, (() => void) | undefined>)[method]?.call(stream);
  }

  start(job: PendingJob): void {
    this.current = job;
    this.setBusy(true);
    const timer = setTimeout(() => {
      this.fail(new Error(`the document run took longer than ${job.timeoutMs} ms`), -1);
      killTree(this.child);
    }, job.timeoutMs);
    timer.unref();
    (job as PendingJob & { timer?: NodeJS.Timeout }).timer = timer;
    this.child.stdin.write(`${job.line}\n`);
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let newline = this.buffer.indexOf('\n');
    while (newline >= 0) {
      const line = this.buffer.slice(0, newline).trim();
      this.buffer = this.buffer.slice(newline + 1);
      if (line && this.current) {
        const job = this.current;
        clearTimeout((job as PendingJob & { timer?: NodeJS.Timeout }).timer);
        this.current = undefined;
        this.setBusy(false);
        const answer = JSON.parse(line) as { stdout: string; stderr: string; exitCode: number };
        job.resolve({ stdout: answer.stdout, stderr: answer.stderr, exitCode: answer.exitCode, durationMs: Date.now() - job.started });
        this.onIdle(this);
      }
      newline = this.buffer.indexOf('\n');
    }
  }

  private fail(error: Error, exitCode?: number): void {
    if (this.dead) return;
    this.dead = true;
    const job = this.current;
    this.current = undefined;
    if (job) {
      clearTimeout((job as PendingJob & { timer?: NodeJS.Timeout }).timer);
      if (exitCode === -1) job.resolve({ stdout: '', stderr: error.message, exitCode: -1, durationMs: Date.now() - job.started });
      else job.reject(error);
    }
    this.onIdle(this);
  }

  stop(): void {
    this.dead = true;
    this.child.kill();
  }
}

class PwshWorkerPool {
  private readonly workers: PwshWorker[] = [];
  private readonly queue: PendingJob[] = [];
  private nextId = 1;
  private readonly scriptPath: string;

  constructor(private readonly size: number) {
    const directory = join(tmpdir(), 'beacon-proxy-documents');
    mkdirSync(directory, { recursive: true });
    this.scriptPath = join(directory, `pwsh-worker-${createHash('sha256').update(WORKER_SCRIPT).digest('hex').slice(0, 16)}.ps1`);
    if (!existsSync(this.scriptPath)) writeFileSync(this.scriptPath, WORKER_SCRIPT);
    process.once('exit', () => this.workers.forEach((worker) => worker.stop()));
  }

  run(scriptPath: string, env: Record<string, string>, timeoutMs: number): Promise<BeaconDocumentRun> {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.queue.push({ id, line: JSON.stringify({ id, script: scriptPath, env }), started: Date.now(), timeoutMs, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    for (let index = this.workers.length - 1; index >= 0; index -= 1) if (this.workers[index]!.dead) this.workers.splice(index, 1);
    while (this.queue.length > 0) {
      let worker = this.workers.find((candidate) => !candidate.current && !candidate.dead);
      if (!worker && this.workers.length < this.size) {
        worker = new PwshWorker(this.scriptPath, () => this.dispatch());
        this.workers.push(worker);
      }
      if (!worker) return;
      const job = this.queue.shift()!;
      job.started = Date.now();
      worker.start(job);
    }
  }
}

let pool: PwshWorkerPool | undefined;

function workerPool(): PwshWorkerPool {
  const configured = Number.parseInt(process.env.BEACON_PROXY_PWSH_WORKERS ?? '', 10);
  pool ??= new PwshWorkerPool(Number.isFinite(configured) && configured > 0 ? configured : Math.min(4, Math.max(1, availableParallelism())));
  return pool;
}
