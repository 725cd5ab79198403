import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
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
import { BEACON_DOCUMENTS, DOCUMENT_LOCK, DOCUMENT_PARAMETERS, RESULT_LINE, type BeaconDocumentKind } from '../lambdas/core/document-contract.js';
import { DOCUMENT_EXECUTION_TIMEOUT_SECONDS } from '../lambdas/core/timing.js';

/**
 * The three beacon Run Command documents, generated from the PowerShell sources in ssm-documents/src.
 * Each document is one fixed script: prelude, module, Windows layer, layer selection, entry. Request data
 * only ever arrives as parameters (environment variables SSM_<name>), never as script text.
 */
export const DOCUMENTS_DIR = dirname(fileURLToPath(import.meta.url));
export const SOURCE_DIR = join(DOCUMENTS_DIR, 'src');
export const GENERATED_DIR = join(DOCUMENTS_DIR, 'generated');
/** The fake Windows layer used off Windows (tests, local twin); never part of a document. */
export const FAKE_LAYER_PATH = join(DOCUMENTS_DIR, 'fake', 'FakeBeaconLayer.ps1');

/** SSM counts the document content against a 64 KB limit (parameters included). */
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
/** Sources packed into every document (gzip + base64), then unpacked by Loader.ps1 on the beacon. */
export const PACKED_SOURCES = [...MODULE_SOURCES, 'WindowsLayer.ps1'] as const;
/** Every PowerShell source file a document is built from. */
export const DOCUMENT_SOURCES = ['Prelude.ps1', ...PACKED_SOURCES, 'Loader.ps1', 'SelectLayer.ps1', 'Configure.ps1', 'Verify.ps1', 'Rollback.ps1'] as const;

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
const PAYLOAD_LINE_LENGTH = 120;

export interface BeaconDocumentParameter {
  type: 'String';
  description: string;
  allowedPattern: string;
  interpolationType: 'ENV_VAR';
  default?: string;
}

export interface BeaconDocument {
  schemaVersion: '2.2';
  description: string;
  parameters: Record<string, BeaconDocumentParameter>;
  mainSteps: [
    {
      action: 'aws:runPowerShellScript';
      name: string;
      precondition: { StringEquals: ['platformType', 'Windows'] };
      inputs: { timeoutSeconds: string; runCommand: string[] };
    },
  ];
}

function readSource(name: string): string {
  return readFileSync(join(SOURCE_DIR, name), 'utf8').replace(/\r\n/g, '\n').replace(/\s+$/, '');
}

/**
 * Drops comment lines, blank lines and indentation outside here-strings: the 64 KB document limit counts
 * every byte, and the readable text stays in the sources.
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

/** The text packed into the documents: the module and the Windows layer, compacted. */
export function packedSourceText(): string {
  return `${PACKED_SOURCES.map((name) => compactPowerShell(readSource(name))).join('\n')}\n`;
}

/** The gzip + base64 payload of a document script, as the lines of a PowerShell array of strings. */
function payloadLines(text: string): string[] {
  // level 9 and a zero mtime: the same sources give the same bytes (on the same zlib).
  const encoded = gzipSync(Buffer.from(text, 'utf8'), { level: 9 }).toString('base64');
  const lines: string[] = [];
  for (let start = 0; start < encoded.length; start += PAYLOAD_LINE_LENGTH) lines.push(`'${encoded.slice(start, start + PAYLOAD_LINE_LENGTH)}'`);
  return lines;
}

/** Reads the packed text back out of a document script (for tests and reviewers). */
export function unpackDocumentScript(script: string): string {
  const match = /\$BpPayload = @\(\n([\s\S]*?)\n\) -join ''/.exec(script);
  if (!match) throw new Error('the document script has no $BpPayload');
  const encoded = match[1]!.split('\n').map((line) => line.replace(/^'|'$/g, '')).join('');
  return gunzipSync(Buffer.from(encoded, 'base64')).toString('utf8');
}

/**
 * The payload lines of the committed document when they still unpack to `packed`: gzip output may differ
 * between zlib versions, so a regeneration on another machine keeps the committed bytes when the content
 * is the same, and the stale-document check only fails when the sources really changed.
 */
function committedPayloadLines(kind: BeaconDocumentKind, packed: string): string[] | undefined {
  const path = generatedDocumentPath(kind);
  if (!existsSync(path)) return undefined;
  try {
    const script = documentScriptText(JSON.parse(readFileSync(path, 'utf8')) as BeaconDocument);
    if (unpackDocumentScript(script) !== packed) return undefined;
    const match = /\$BpPayload = @\(\n([\s\S]*?)\n\) -join ''/.exec(script);
    return match ? match[1]!.split('\n') : undefined;
  } catch {
    return undefined;
  }
}

/** The script a document runs, assembled from the sources (what the generated file holds, line by line). */
export function renderDocumentScript(kind: BeaconDocumentKind): string {
  const spec = SPECS[kind];
  const packed = packedSourceText();
  const digest = createHash('sha256').update(packed, 'utf8').digest('hex');
  const lines = [
    `# ${BEACON_DOCUMENTS[kind]}: generated from ssm-documents/src by ssm-documents/build.ts; edit the sources, not this text.`,
    compactPowerShell(readSource('Prelude.ps1')),
    `# Payload: the module (src/module/*.ps1) and WindowsLayer.ps1, compacted; SHA-256 of the text ${digest}.`,
    '$BpPayload = @(',
    ...(committedPayloadLines(kind, packed) ?? payloadLines(packed)),
    ") -join ''",
    compactPowerShell(readSource('Loader.ps1')),
    factsScriptLine(),
    compactPowerShell(readSource('SelectLayer.ps1')),
    compactPowerShell(readSource(spec.entry)),
  ];
  return `${lines.join('\n')}\n`;
}

/** Parameter names the entry script reads with Get-BpParameter. */
export function parametersReadBy(script: string): string[] {
  return [...script.matchAll(/Get-BpParameter '([A-Za-z]+)'/g)].map((match) => match[1]!).sort();
}

export function renderBeaconDocument(kind: BeaconDocumentKind): BeaconDocument {
  const spec = SPECS[kind];
  const script = renderDocumentScript(kind);
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
        action: 'aws:runPowerShellScript',
        name: `beaconProxy${kind[0]!.toUpperCase()}${kind.slice(1)}`,
        precondition: { StringEquals: ['platformType', 'Windows'] },
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

/** The committed documents, as the CDK registers them (AWS::SSM::Document content, documentType Command). */
export function loadBeaconDocuments(): Record<BeaconDocumentKind, BeaconDocument> {
  const documents = {} as Record<BeaconDocumentKind, BeaconDocument>;
  for (const kind of BEACON_DOCUMENT_KINDS) {
    const path = generatedDocumentPath(kind);
    if (!existsSync(path)) throw new Error(`${path} is missing; run npm run build:documents`);
    documents[kind] = JSON.parse(readFileSync(path, 'utf8')) as BeaconDocument;
  }
  return documents;
}

/** The PowerShell text a document runs (what SSM Agent writes to its script file). */
export function documentScriptText(document: BeaconDocument): string {
  return `${document.mainSteps[0].inputs.runCommand.join('\n')}\n`;
}

/** Default values SSM fills in for parameters not given. */
export function documentParameterDefaults(document: BeaconDocument): Record<string, string> {
  const defaults: Record<string, string> = {};
  for (const [name, parameter] of Object.entries(document.parameters)) {
    if (parameter.default !== undefined) defaults[name] = parameter.default;
  }
  return defaults;
}
