import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ADMINISTRATORS_GROUP_SID,
  BEACON_PROXY_STATE_KEY,
  BEACON_SERVICE_DISPLAY_NAME,
  FLEXNET_REGISTRY_ROOTS,
  OPTIONAL_UPLOAD_TASKS,
  REQUIRED_UPLOAD_TASKS,
  UPLOAD_TASK_ALIASES,
  USER_RIGHTS,
  WININET_MACHINE_KEYS,
  WININET_POLICY_KEY,
  WININET_USER_KEY,
} from '../lambdas/core/beacon-facts.js';
import { BEACON_DOCUMENTS, DOCUMENT_LOCK, DOCUMENT_PARAMETERS, DOCUMENT_STEPS, RESULT_LINE, type BeaconDocumentKind } from '../lambdas/core/document-contract.js';
import { DOCUMENT_EXECUTION_TIMEOUT_SECONDS } from '../lambdas/core/timing.js';

/**
 * The three beacon Run Command documents and their module file, generated from the PowerShell sources in
 * ssm-documents/src. Each document has two steps: aws:downloadContent fetches the module file (the module
 * and the Windows layer, content-addressed in the stack's module bucket), then one fixed, readable script:
 * prelude, the module's SHA-256 check and load, layer selection, entry. Request data only ever arrives as
 * parameters (environment variables SSM_<name>), never as script text.
 */
export const DOCUMENTS_DIR = dirname(fileURLToPath(import.meta.url));
export const SOURCE_DIR = join(DOCUMENTS_DIR, 'src');
export const GENERATED_DIR = join(DOCUMENTS_DIR, 'generated');
/** The fake Windows layer used off Windows (tests, local twin); never part of a document. */
export const FAKE_LAYER_PATH = join(DOCUMENTS_DIR, 'fake', 'FakeBeaconLayer.ps1');

/** SSM counts the document content against a 64 KB limit (parameter values included). */
export const MAX_DOCUMENT_BYTES = 64 * 1024;

type ParameterKey = keyof typeof DOCUMENT_PARAMETERS;

interface DocumentSpec {
  entry: string;
  description: string;
  parameters: ParameterKey[];
  defaults?: Partial<Record<ParameterKey, string>>;
}

const SPECS: Record<BeaconDocumentKind, DocumentSpec> = {
  configure: {
    entry: 'Configure.ps1',
    description:
      'beacon-proxy: configure a FlexNet inventory beacon to reach FNMS through a proxy (registry, WinINet, account rights, service and task logon). Captures first, verifies by reading back, rolls back by itself on failure. Prints one JSON result line.',
    parameters: ['desiredState'],
  },
  verify: {
    entry: 'Verify.ps1',
    description: 'beacon-proxy: read-only check of a FlexNet inventory beacon against a desired state; reports drift (for example after a beacon upgrade). Prints one JSON result line.',
    parameters: ['desiredState', 'checkEndpoint'],
    defaults: { checkEndpoint: 'none' },
  },
  rollback: {
    entry: 'Rollback.ps1',
    description: 'beacon-proxy: restore what a configure run captured on this beacon (CaptureId = its request id). Prints one JSON result line.',
    parameters: ['captureId'],
  },
};

/**
 * The beacon module, one file per concern (as DSC resources are split), in load order: shared helpers, the
 * plan and its dispatch, each concern with its Get / Test / Set, capture and restore, the result, the documents.
 */
export const MODULE_SOURCES = [
  'module/Common.ps1',
  'module/Secret.ps1',
  'module/Plan.ps1',
  'module/Registry.ps1',
  'module/Wininet.ps1',
  'module/Account.ps1',
  'module/Rights.ps1',
  'module/Group.ps1',
  'module/Profile.ps1',
  'module/Service.ps1',
  'module/Tasks.ps1',
  'module/Capture.ps1',
  'module/Probe.ps1',
  'module/Lock.ps1',
  'module/Result.ps1',
  'module/Documents.ps1',
] as const;
/** The module file the documents download (aws:downloadContent) and run after checking its SHA-256: the module and the Windows layer. */
export const MODULE_FILE_SOURCES = [...MODULE_SOURCES, 'WindowsLayer.ps1'] as const;
/** Every PowerShell source file a document or its module file is built from. */
export const DOCUMENT_SOURCES = ['Prelude.ps1', ...MODULE_FILE_SOURCES, 'Loader.ps1', 'SelectLayer.ps1', 'Configure.ps1', 'Verify.ps1', 'Rollback.ps1'] as const;

/**
 * Facts the scripts need even without a desired state (the Rollback document has none): the keys, group,
 * service, tasks and rights a restore may touch, the document lock and the result line's budget. Rendered from lambdas/core, so the
 * PowerShell holds no copy; the line is part of the fixed script text (build-time data, never request data).
 */
export function beaconScriptFacts(): Record<string, unknown> {
  const tasks = new Set<string>([...REQUIRED_UPLOAD_TASKS, ...OPTIONAL_UPLOAD_TASKS, ...Object.values(UPLOAD_TASK_ALIASES).flat()]);
  return {
    wininetUserKey: WININET_USER_KEY,
    wininetMachineKeys: [...WININET_MACHINE_KEYS],
    wininetPolicyKey: WININET_POLICY_KEY,
    stateKey: BEACON_PROXY_STATE_KEY,
    administratorsSid: ADMINISTRATORS_GROUP_SID,
    rollbackRegistryKeys: [...FLEXNET_REGISTRY_ROOTS.map((root) => `HKLM\\${root}`), ...WININET_MACHINE_KEYS, WININET_POLICY_KEY, BEACON_PROXY_STATE_KEY],
    serviceDisplayName: BEACON_SERVICE_DISPLAY_NAME,
    tasks: [...tasks],
    rights: Object.values(USER_RIGHTS),
    lock: { ...DOCUMENT_LOCK },
    result: { maxLength: RESULT_LINE.maxLength, minValueLength: RESULT_LINE.minValueLength, trimBefore: RESULT_LINE.trimMarker.before, trimAfter: RESULT_LINE.trimMarker.after },
  };
}

/** The script line that defines $script:BpFacts (after the payload, which defines ConvertFrom-BpJson). */
export function factsScriptLine(): string {
  return `$script:BpFacts = ConvertFrom-BpJson '${JSON.stringify(beaconScriptFacts()).replace(/'/g, "''")}'`;
}

/** Absolute paths of the module's files, in load order (tests dot-source them to unit-check functions). */
export function moduleSourcePaths(): string[] {
  return MODULE_SOURCES.map((name) => join(SOURCE_DIR, name));
}
export interface BeaconDocumentParameter {
  type: 'String';
  description: string;
  allowedPattern: string;
  interpolationType: 'ENV_VAR';
  default?: string;
}

const WINDOWS_ONLY = { StringEquals: ['platformType', 'Windows'] } as { StringEquals: ['platformType', 'Windows'] };

/** Step 1: the agent downloads the module file from the stack's module bucket into this command's own folder. */
export interface ModuleDownloadStep {
  action: 'aws:downloadContent';
  name: typeof DOCUMENT_STEPS.download;
  precondition: typeof WINDOWS_ONLY;
  inputs: { sourceType: 'S3'; sourceInfo: string; destinationPath: string };
}

/** Step 2: the script: checks the module's SHA-256, loads it, runs the document. */
export interface ScriptStep {
  action: 'aws:runPowerShellScript';
  name: typeof DOCUMENT_STEPS.script;
  precondition: typeof WINDOWS_ONLY;
  inputs: { timeoutSeconds: string; runCommand: string[] };
}

export interface BeaconDocument {
  schemaVersion: '2.2';
  description: string;
  parameters: Record<string, BeaconDocumentParameter>;
  mainSteps: [ModuleDownloadStep, ScriptStep];
}

function readSource(name: string): string {
  return readFileSync(join(SOURCE_DIR, name), 'utf8').replace(/\r\n/g, '\n').replace(/[ \t]+$/gm, '').replace(/\s+$/, '');
}

/** Where the module file is committed (the exact bytes the stack uploads; reviewers read it here or in the bucket). */
export const MODULE_FILE_PATH = join(GENERATED_DIR, 'BeaconProxy-Module.ps1');
/** Objects in the module bucket are named by the SHA-256 of their content under this prefix. */
export const MODULE_KEY_PREFIX = 'beacon-proxy/module/';
/** The file name the download step writes (relative destinationPath: the command's own downloads folder). */
export const MODULE_DOWNLOAD_FILE = 'beacon-proxy-module.ps1';
/**
 * The module's URL in the committed documents. The stack (infra/constructs/beacon-documents.ts) and the local
 * twin put the real bucket in its place with `withModuleUrl`; the key and the SHA-256 the script checks stay.
 */
export const MODULE_URL_PLACEHOLDER_HOST = '<module-bucket>.s3.<region>.amazonaws.com';

/** The module file: every file of MODULE_FILE_SOURCES in load order, readable (comments kept), each under a header naming its source. */
export function moduleText(): string {
  const header = [
    '# beacon-proxy beacon module: generated from ssm-documents/src by ssm-documents/build.ts; edit the sources, not this file.',
    '# The Configure, Verify and Rollback documents download this file (aws:downloadContent), check its SHA-256',
    '# against the one they pin and only then run it. Windows PowerShell 5.1 and PowerShell 7.',
  ];
  const parts = MODULE_FILE_SOURCES.map((name) => `# ===== ssm-documents/src/${name} =====\n${readSource(name)}`);
  return `${[...header, '', parts.join('\n\n')].join('\n')}\n`;
}

export function sha256Hex(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The bucket key of a module file: content-addressed by its SHA-256. */
export function moduleObjectKey(sha256: string): string {
  return `${MODULE_KEY_PREFIX}${sha256}.ps1`;
}

/** The virtual-hosted-style S3 URL of an object, as the download step's sourceInfo names it. */
export function moduleUrl(host: string, sha256: string): string {
  return `https://${host}/${moduleObjectKey(sha256)}`;
}

/** The S3 location of the module file of the given documents (they all name the same one). */
export function moduleLocationOf(document: BeaconDocument): { url: string; sha256: string } {
  const { path } = JSON.parse(document.mainSteps[0].inputs.sourceInfo) as { path: string };
  const sha256 = /([0-9a-f]{64})\.ps1$/.exec(path)?.[1];
  if (!sha256) throw new Error(`the download step of the document names no content-addressed module: ${path}`);
  return { url: path, sha256 };
}

/** A copy of `document` that downloads its module from `host` (a bucket's virtual-hosted-style host, a CDK token in the stack). */
export function withModuleUrl(document: BeaconDocument, host: string): BeaconDocument {
  const { sha256 } = moduleLocationOf(document);
  const [download, script] = document.mainSteps;
  return { ...document, mainSteps: [{ ...download, inputs: { ...download.inputs, sourceInfo: JSON.stringify({ path: moduleUrl(host, sha256) }) } }, script] };
}

/** The lines that pin the module in a document script: its file name, SHA-256 and the document kind (for a refusal line). */
function moduleLines(kind: BeaconDocumentKind, sha256: string): string[] {
  return [
    `# The module this document runs: ${MODULE_DOWNLOAD_FILE}, fetched by the step ${DOCUMENT_STEPS.download} from`,
    `# ${MODULE_KEY_PREFIX}${sha256}.ps1 in the stack's module bucket (ssm-documents/generated/BeaconProxy-Module.ps1`,
    '# in the repository). Get-FileHash -Algorithm SHA256 on either gives the SHA-256 below.',
    `$BpModule = @{ File = '${MODULE_DOWNLOAD_FILE}'; Sha256 = '${sha256}'; Document = '${kind}' }`,
  ];
}

/** The script a document runs (what the generated file holds, line by line): readable, comments kept. */
export function renderDocumentScript(kind: BeaconDocumentKind, sha256 = sha256Hex(moduleText())): string {
  const spec = SPECS[kind];
  const lines = [
    `# ${BEACON_DOCUMENTS[kind]}: generated from ssm-documents/src by ssm-documents/build.ts; edit the sources, not this text.`,
    readSource('Prelude.ps1'),
    ...moduleLines(kind, sha256),
    readSource('Loader.ps1'),
    '# Facts of lambdas/core the scripts need (registry keys, service, tasks, rights, the document lock), rendered by the build.',
    factsScriptLine(),
    readSource('SelectLayer.ps1'),
    readSource(spec.entry),
  ];
  return `${lines.join('\n')}\n`;
}

/** Parameter names the entry script reads with Get-BpParameter. */
export function parametersReadBy(script: string): string[] {
  return [...script.matchAll(/Get-BpParameter '([A-Za-z]+)'/g)].map((match) => match[1]!).sort();
}

export function renderBeaconDocument(kind: BeaconDocumentKind, sha256 = sha256Hex(moduleText())): BeaconDocument {
  const spec = SPECS[kind];
  const script = renderDocumentScript(kind, sha256);
  const parameters: Record<string, BeaconDocumentParameter> = {};
  for (const key of spec.parameters) {
    const contract = DOCUMENT_PARAMETERS[key];
    const parameter: BeaconDocumentParameter = {
      type: 'String',
      description: contract.description,
      allowedPattern: contract.pattern.source,
      interpolationType: 'ENV_VAR',
    };
    const fallback = spec.defaults?.[key];
    if (fallback !== undefined) parameter.default = fallback;
    parameters[contract.name] = parameter;
  }
  const read = parametersReadBy(script);
  const declared = Object.keys(parameters).sort();
  if (read.join(',') !== declared.join(',')) {
    throw new Error(`${BEACON_DOCUMENTS[kind]}: the script reads parameters [${read.join(', ')}] but the document declares [${declared.join(', ')}]`);
  }
  return {
    schemaVersion: '2.2',
    description: spec.description,
    parameters,
    mainSteps: [
      {
        action: 'aws:downloadContent',
        name: DOCUMENT_STEPS.download,
        precondition: WINDOWS_ONLY,
        // No onFailure: when the download fails the script step still runs and reports MODULE_NOT_FOUND in its result line.
        inputs: { sourceType: 'S3', sourceInfo: JSON.stringify({ path: moduleUrl(MODULE_URL_PLACEHOLDER_HOST, sha256) }), destinationPath: MODULE_DOWNLOAD_FILE },
      },
      {
        action: 'aws:runPowerShellScript',
        name: DOCUMENT_STEPS.script,
        precondition: WINDOWS_ONLY,
        // The execution limit the agent enforces; the workflow's poll deadline is derived from the same value.
        inputs: { timeoutSeconds: String(DOCUMENT_EXECUTION_TIMEOUT_SECONDS[kind]), runCommand: script.replace(/\n$/, '').split('\n') },
      },
    ],
  };
}

/** The exact bytes of a generated document file. */
export function serializeBeaconDocument(document: BeaconDocument): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}

export function generatedDocumentPath(kind: BeaconDocumentKind): string {
  return join(GENERATED_DIR, `${BEACON_DOCUMENTS[kind]}.json`);
}

export const BEACON_DOCUMENT_KINDS = Object.keys(BEACON_DOCUMENTS) as BeaconDocumentKind[];

/** The committed module file (the bytes the stack uploads and the documents pin). */
export function loadModuleFile(): Buffer {
  if (!existsSync(MODULE_FILE_PATH)) throw new Error(`${MODULE_FILE_PATH} is missing; run npm run build:documents`);
  return readFileSync(MODULE_FILE_PATH);
}

/** The committed documents, as the CDK registers them (AWS::SSM::Document content, documentType Command) before the module URL is filled in. */
export function loadBeaconDocuments(): Record<BeaconDocumentKind, BeaconDocument> {
  const documents = {} as Record<BeaconDocumentKind, BeaconDocument>;
  for (const kind of BEACON_DOCUMENT_KINDS) {
    const path = generatedDocumentPath(kind);
    if (!existsSync(path)) throw new Error(`${path} is missing; run npm run build:documents`);
    documents[kind] = JSON.parse(readFileSync(path, 'utf8')) as BeaconDocument;
  }
  return documents;
}

/** The script step of a document. */
export function scriptStep(document: BeaconDocument): ScriptStep {
  const step = document.mainSteps.find((candidate): candidate is ScriptStep => candidate.action === 'aws:runPowerShellScript');
  if (!step) throw new Error('the document has no aws:runPowerShellScript step');
  return step;
}

/** The PowerShell text a document runs (what SSM Agent writes to its script file). */
export function documentScriptText(document: BeaconDocument): string {
  return `${scriptStep(document).inputs.runCommand.join('\n')}\n`;
}

/** Default values SSM fills in for parameters not given. */
export function documentParameterDefaults(document: BeaconDocument): Record<string, string> {
  const defaults: Record<string, string> = {};
  for (const [name, parameter] of Object.entries(document.parameters)) {
    if (parameter.default !== undefined) defaults[name] = parameter.default;
  }
  return defaults;
}

/**
 * The compacted text of the module file (no comments, blank lines or indentation): what a document would have
 * to carry inline. Measured by the build against the 64 KB limit to show why the module is a file of its own.
 */
export function compactPowerShell(text: string): string {
  const out: string[] = [];
  let inHereString = false;
  for (const line of text.split('\n')) {
    if (inHereString) {
      out.push(line);
      if (/^['"]@/.test(line)) inHereString = false;
      continue;
    }
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    out.push(trimmed);
    if (/@['"]$/.test(trimmed)) inHereString = true;
  }
  return out.join('\n');
}
