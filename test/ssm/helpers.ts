import { mkdtempSync, readFileSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeDesiredState, renderDesiredState, type DesiredState } from '../../lambdas/core/desired-state.js';
import { parseRequest, type RequestInput } from '../../lambdas/core/request.js';
import { judgeResult, ResultLineSchema, type ResultLine, type Verdict } from '../../lambdas/core/result.js';
import { DEFAULT_PASSWORD, DEFAULT_SECRET_ARN, readBeaconModel, writeBeaconModel, type BeaconModel } from '../../local/beacon-model.js';
export { beaconState, comparableState } from '../../local/beacon-model.js';
import { runBeaconDocument, type BeaconDocumentRun } from '../../local/run-document.js';
import { factsScriptLine, moduleSourcePaths } from '../../ssm-documents/documents.js';

/** The request most tests start from: https, one proxy, domain account, account-scope WinINet. */
export function baseRequest(overrides: Partial<RequestInput> = {}): RequestInput {
  return {
    requestId: 'req-ssm-test',
    target: { instanceIds: ['i-0123456789abcdef0'] },
    protocol: 'https',
    proxy: 'proxy.corp.example:8080',
    bypass: ['*.corp.example', '<local>'],
    account: { kind: 'domain', name: 'CORP\\svc-beacon', passwordSecretArn: DEFAULT_SECRET_ARN },
    ...overrides,
  };
}

export function desiredState(overrides: Partial<RequestInput> = {}): DesiredState {
  return renderDesiredState(parseRequest(baseRequest(overrides)));
}

export function scenarioDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `beacon-ssm-${name}-`));
}

export interface DocumentOutcome {
  run: BeaconDocumentRun;
  result: ResultLine;
  verdict: Verdict;
  model: BeaconModel;
}

/** The result line: exactly one line on stdout, accepted by the pipeline's schema. */
export function resultLine(run: BeaconDocumentRun): ResultLine {
  const lines = run.stdout.split(/\r?\n/).filter((line) => line.trim() !== '');
  if (lines.length !== 1) throw new Error(`expected exactly one stdout line, got ${lines.length}:\n${run.stdout}\nstderr:\n${run.stderr}`);
  return ResultLineSchema.parse(JSON.parse(lines[0]!));
}

export async function runDocument(
  document: 'configure' | 'verify' | 'rollback',
  modelPath: string,
  parameters: Record<string, string>,
  env?: Record<string, string>,
): Promise<DocumentOutcome> {
  const run = await runBeaconDocument({ document, parameters, modelPath, ...(env ? { env } : {}) });
  const result = resultLine(run);
  const model = readBeaconModel(modelPath);
  assertNoPassword(run, model, modelPath);
  return { run, result, verdict: judgeResult(run.stdout), model };
}

/** Every run of every test: the default password is in no output, capture or beacon state. */
function assertNoPassword(run: BeaconDocumentRun, model: BeaconModel, modelPath: string): void {
  const { secrets: _secrets, ...state } = model;
  const texts = [run.stdout, run.stderr, JSON.stringify(state), ...captureFiles(modelPath).map(readText)];
  for (const text of texts) {
    if (text.includes(DEFAULT_PASSWORD) || text.includes(JSON.stringify(DEFAULT_PASSWORD).slice(1, -1))) {
      throw new Error(`the account password leaked into: ${text.slice(0, 200)}`);
    }
  }
}

export async function configure(modelPath: string, state: DesiredState, env?: Record<string, string>): Promise<DocumentOutcome> {
  return runDocument('configure', modelPath, { DesiredState: encodeDesiredState(state) }, env);
}

export async function verify(modelPath: string, state: DesiredState): Promise<DocumentOutcome> {
  return runDocument('verify', modelPath, { DesiredState: encodeDesiredState(state) });
}

export async function rollback(modelPath: string, captureId: string): Promise<DocumentOutcome> {
  return runDocument('rollback', modelPath, { CaptureId: captureId });
}

export function newBeacon(dir: string, model: BeaconModel, name = 'beacon'): string {
  return writeBeaconModel(dir, name, model);
}

export function captureFiles(modelPath: string): string[] {
  const dir = modelPath.replace(/\.json$/, '') + '.captures';
  if (!existsSync(dir)) return [];
  return readdirSync(dir).map((name) => join(dir, name));
}

export function readText(path: string): string {
  return readFileSync(path, 'utf8');
}

export function failedChecks(result: ResultLine): string[] {
  return result.checks.filter((check) => !check.ok).map((check) => check.name);
}

/** Runs a PowerShell script text in a fresh pwsh process (for unit checks of the module's pure functions). */
export async function runPwshScript(text: string, args: string[] = []): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  const { spawn } = await import('node:child_process');
  const { writeFileSync } = await import('node:fs');
  const { resolvePwsh, PWSH_ARGS, PWSH_ENV } = await import('../../local/pwsh.js');
  const file = join(scenarioDir('script'), 'script.ps1');
  writeFileSync(file, text);
  return new Promise((resolve, reject) => {
    const child = spawn(resolvePwsh(), [...PWSH_ARGS, '-File', file, ...args], { env: { ...process.env, ...PWSH_ENV }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ stdout, stderr, exitCode: code ?? -1 }));
  });
}

/** PowerShell that defines the module's functions (as the documents do), for unit checks. */
export function loadModuleScript(): string {
  const loads = moduleSourcePaths().map((path) => `. ([scriptblock]::Create([System.IO.File]::ReadAllText('${path.replace(/'/g, "''")}')))`);
  return `Set-StrictMode -Version Latest\n$ErrorActionPreference = 'Stop'\n${loads.join('\n')}\n${factsScriptLine()}\n`;
}
