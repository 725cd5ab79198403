import { LIMITS } from './limits.js';

/**
 * Parameters of the beacon documents. The build step writes these names and patterns into the generated
 * documents (ssm-documents/), and the pipeline uses them to call SendCommand: one definition for both.
 * Every pattern admits only base64 or a plain id, so even an agent that pastes `{{ name }}` into the
 * script text gets data, never code.
 */
export const DOCUMENT_PARAMETERS = {
  desiredState: {
    name: 'DesiredState',
    description: 'The desired state of the beacon: base64 of canonical JSON, rendered by beacon-proxy.',
    pattern: new RegExp(`^[A-Za-z0-9+/]{4,${LIMITS.maxDesiredStateBase64Length}}={0,2}$`),
  },
  captureId: {
    name: 'CaptureId',
    description: 'Id of a capture taken by the configure document (its request id).',
    pattern: /^[A-Za-z0-9._-]{1,64}$/,
  },
  checkEndpoint: {
    name: 'CheckEndpoint',
    description: 'Optional FNMS URL the verify step requests through the proxy ("none" to skip).',
    pattern: /^(none|https?:\/\/[A-Za-z0-9.-]{1,253}(:\d{1,5})?(\/[A-Za-z0-9._~\/-]{0,200})?)$/,
  },
} as const;

/** The three beacon documents; their file names in ssm-documents/ and their roles. */
export const BEACON_DOCUMENTS = {
  configure: 'BeaconProxy-Configure',
  verify: 'BeaconProxy-Verify',
  rollback: 'BeaconProxy-Rollback',
} as const;

export type BeaconDocumentKind = keyof typeof BEACON_DOCUMENTS;

/**
 * The steps of every beacon document: `download` (aws:downloadContent) fetches the module file, `script`
 * (aws:runPowerShellScript) checks its SHA-256 and runs it. With more than one step, GetCommandInvocation must
 * name the step (PluginName) whose status and output it returns: the script's.
 */
export const DOCUMENT_STEPS = {
  download: 'downloadBeaconModule',
  script: 'runBeaconScript',
} as const;

/**
 * Codes a document reports when it refused to run its module (the download failed, or the file's SHA-256 is
 * not the one the document pins): nothing ran on the beacon, nothing changed.
 */
export const MODULE_REFUSAL_CODES = ['MODULE_NOT_FOUND', 'MODULE_HASH_MISMATCH'] as const;

/**
 * The document lock (issue 9): configure, verify and rollback hold one named mutex on the beacon for the
 * whole time they read or change it. A document that cannot take it within `waitSeconds` changes nothing
 * and reports `busyCode`. The wait stays below every document's execution timeout (a test checks), so the
 * workflow can derive its own timeouts from it.
 */
export const DOCUMENT_LOCK = {
  name: 'Global\\BeaconProxy-Document',
  waitSeconds: 120,
  busyCode: 'BEACON_BUSY',
} as const;

/**
 * The budget of the one result line a document prints (issue 15: the diff of every entry rides in it).
 * GetCommandInvocation returns the first 24,000 characters of stdout; the line stays within `maxLength`
 * whatever the beacon holds. Past it, the document trims long values (check values first, then diff
 * values, each down to at most `minValueLength` characters kept) and marks each cut as
 * `<kept text>...[+N chars]`; a diff entry is never dropped. Only when that is not enough are passing
 * checks left out, and the line says how many (`checksOmitted`). The build renders this into every document.
 */
export const RESULT_LINE = {
  maxLength: LIMITS.maxResultLineLength,
  minValueLength: 48,
  /** At most this many entries in one diff list (a desired state has about 35 entries). */
  maxDiffEntries: 128,
  trimMarker: { before: '...[+', after: ' chars]' },
} as const;
