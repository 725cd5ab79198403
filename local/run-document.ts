import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BEACON_DOCUMENTS, type BeaconDocumentKind } from '../lambdas/core/document-contract.js';
import { FAKE_LAYER_PATH, documentParameterDefaults, documentScriptText, loadBeaconDocuments, type BeaconDocument } from '../ssm-documents/documents.js';
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
}

export interface BeaconDocumentRun {
  stdout: string;
  stderr: string;
  /** The script's exit code; -1 when it was killed for taking too long. */
  exitCode: number;
  durationMs: number;
}

/** SendCommand refuses parameters that do not match a document's allowedPattern; so does this runner. */
export class InvalidDocumentParameters extends Error {
  readonly code = 'InvalidParameters';
}

let documents: Record<BeaconDocumentKind, BeaconDocument> | undefined;
const scriptFiles = new Map<BeaconDocumentKind, string>();

/** Writes the committed document's script text to a file once per process, as SSM Agent does on a beacon. */
function scriptFileFor(kind: BeaconDocumentKind): { path: string; document: BeaconDocument } {
  documents ??= loadBeaconDocuments();
  const document = documents[kind];
  let path = scriptFiles.get(kind);
  if (!path) {
    const text = documentScriptText(document);
    const digest = createHash('sha256').update(text).digest('hex').slice(0, 16);
    const directory = join(tmpdir(), 'beacon-proxy-documents');
    mkdirSync(directory, { recursive: true });
    path = join(directory, `${BEACON_DOCUMENTS[kind]}-${digest}.ps1`);
    if (!existsSync(path)) writeFileSync(path, text);
    scriptFiles.set(kind, path);
  }
  return { path, document };
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

/**
 * Runs the real generated document script under pwsh against a modelled beacon, the way SSM Run Command
 * would: parameters arrive as SSM_<name> environment variables, the fake Windows layer stands in for the
 * beacon. Each call is a fresh pwsh process, so runs are independent; runs on different model files may go
 * in parallel.
 */
export function runBeaconDocument(options: RunBeaconDocumentOptions): Promise<BeaconDocumentRun> {
  const { path, document } = scriptFileFor(options.document);
  const parameters = resolveDocumentParameters(document, options.parameters);
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('SSM_') && !key.startsWith('BEACON_PROXY_')) env[key] = value;
  Object.assign(env, PWSH_ENV);
  for (const [name, value] of Object.entries(parameters)) env[`SSM_${name}`] = value;
  env.BEACON_PROXY_FAKE_LAYER = FAKE_LAYER_PATH;
  env.BEACON_PROXY_FAKE_MODEL = options.modelPath;
  Object.assign(env, options.env ?? {});
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(resolvePwsh(), [...PWSH_ARGS, '-File', path], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 120_000);
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
