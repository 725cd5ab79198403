import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { BEACON_DOCUMENTS, DOCUMENT_PARAMETERS, DOCUMENT_STEPS } from '../../lambdas/core/document-contract.js';
import { LIMITS } from '../../lambdas/core/limits.js';
import {
  BEACON_DOCUMENT_KINDS,
  DOCUMENT_SOURCES,
  FAKE_LAYER_PATH,
  MAX_DOCUMENT_BYTES,
  MODULE_DOWNLOAD_FILE,
  MODULE_FILE_PATH,
  MODULE_FILE_SOURCES,
  MODULE_URL_PLACEHOLDER_HOST,
  SOURCE_DIR,
  documentScriptText,
  generatedDocumentPath,
  loadBeaconDocuments,
  moduleLocationOf,
  moduleObjectKey,
  moduleText,
  renderBeaconDocument,
  serializeBeaconDocument,
  sha256Hex,
  withModuleUrl,
} from '../../ssm-documents/documents.js';

function functionNames(text: string): string[] {
  return [...text.matchAll(/^function ([A-Za-z0-9-]+)/gm)].map((match) => match[1]!).sort();
}

const ascii = (text: string) => /^[\x09\x0a\x0d\x20-\x7e]*$/.test(text);
const committedModule = () => readFileSync(MODULE_FILE_PATH);

describe('generated SSM documents and their module file', () => {
  test('BeaconProxy-Module.ps1 is up to date with the sources (run npm run build:documents and commit)', () => {
    expect(readFileSync(MODULE_FILE_PATH, 'utf8')).toBe(moduleText());
  });

  for (const kind of BEACON_DOCUMENT_KINDS) {
    test(`${BEACON_DOCUMENTS[kind]}.json is up to date with the sources (run npm run build:documents and commit)`, () => {
      const committed = readFileSync(generatedDocumentPath(kind), 'utf8');
      expect(committed).toBe(serializeBeaconDocument(renderBeaconDocument(kind)));
    });

    test(`${BEACON_DOCUMENTS[kind]} stays under the 64 KB SSM limit even with the largest desired state and the longest bucket name`, () => {
      // The stack fills in its bucket (at most 63 characters) and region: measure the document as registered.
      const registered = withModuleUrl(loadBeaconDocuments()[kind], `${'b'.repeat(63)}.s3.ap-southeast-5.amazonaws.com.cn`);
      const bytes = Buffer.byteLength(serializeBeaconDocument(registered), 'utf8');
      console.log(`${BEACON_DOCUMENTS[kind]}: ${bytes} bytes + up to ${LIMITS.maxDesiredStateBase64Length} of parameters`);
      expect(bytes + LIMITS.maxDesiredStateBase64Length).toBeLessThan(MAX_DOCUMENT_BYTES);
    });
  }

  test('schemaVersion 2.2, for Windows: the module download (S3, content-addressed), then one aws:runPowerShellScript step; parameters from the contract', () => {
    const documents = loadBeaconDocuments();
    const expected = { configure: ['desiredState'], verify: ['desiredState', 'checkEndpoint'], rollback: ['captureId'] } as const;
    const sha256 = sha256Hex(committedModule());
    for (const kind of BEACON_DOCUMENT_KINDS) {
      const document = documents[kind];
      expect(document.schemaVersion).toBe('2.2');
      expect(document.mainSteps.map((step) => [step.action, step.name])).toEqual([
        ['aws:downloadContent', DOCUMENT_STEPS.download],
        ['aws:runPowerShellScript', DOCUMENT_STEPS.script],
      ]);
      for (const step of document.mainSteps) expect(step.precondition).toEqual({ StringEquals: ['platformType', 'Windows'] });
      const [download] = document.mainSteps;
      // No onFailure: a failed download still runs the script, which reports MODULE_NOT_FOUND in the result line.
      expect(download.inputs).toEqual({ sourceType: 'S3', sourceInfo: JSON.stringify({ path: `https://${MODULE_URL_PLACEHOLDER_HOST}/${moduleObjectKey(sha256)}` }), destinationPath: MODULE_DOWNLOAD_FILE });
      expect(moduleLocationOf(document).sha256).toBe(sha256);
      expect(Object.keys(document.parameters).sort()).toEqual(expected[kind].map((key) => DOCUMENT_PARAMETERS[key].name).sort());
      for (const key of expected[kind]) {
        const parameter = document.parameters[DOCUMENT_PARAMETERS[key].name]!;
        expect(parameter.allowedPattern).toBe(DOCUMENT_PARAMETERS[key].pattern.source);
        expect(parameter.interpolationType).toBe('ENV_VAR');
      }
    }
  });

  test('what a reviewer sees in the console is readable PowerShell: no packed blob, the module pinned by the SHA-256 of its file', () => {
    const sha256 = sha256Hex(committedModule());
    for (const kind of BEACON_DOCUMENT_KINDS) {
      const script = documentScriptText(loadBeaconDocuments()[kind]);
      expect(script).not.toMatch(/[A-Za-z0-9+/=]{200,}/);
      expect(script).toContain(`Sha256 = '${sha256}'`);
      expect(script).toContain('[System.Security.Cryptography.SHA256]::Create()');
      // Every line of the prelude, the loader, the layer selection and the entry, comments included.
      for (const name of ['Prelude.ps1', 'Loader.ps1', 'SelectLayer.ps1', `${kind[0]!.toUpperCase()}${kind.slice(1)}.ps1`]) {
        for (const line of readFileSync(join(SOURCE_DIR, name), 'utf8').split('\n').map((l) => l.trimEnd()).filter(Boolean)) expect(script).toContain(line);
      }
    }
  });

  test('the module file is every module source and the Windows layer, in load order and unabridged (comments kept)', () => {
    const text = committedModule().toString('utf8');
    let from = 0;
    for (const name of MODULE_FILE_SOURCES) {
      const at = text.indexOf(`# ===== ssm-documents/src/${name} =====`, from);
      expect(at, name).toBeGreaterThanOrEqual(from);
      from = at;
      const source = readFileSync(join(SOURCE_DIR, name), 'utf8').replace(/\r\n/g, '\n').replace(/[ \t]+$/gm, '').trim();
      expect(text.slice(at)).toContain(source);
    }
    expect(DOCUMENT_SOURCES).toEqual(expect.arrayContaining([...MODULE_FILE_SOURCES, 'Loader.ps1']));
  });

  test('the script text is fixed: no request data, and parameters are read from SSM_<name> only', () => {
    for (const document of Object.values(loadBeaconDocuments())) {
      const script = documentScriptText(document);
      expect(script).not.toMatch(/corp\.example|arn:aws|svc-beacon/);
      expect(script).toMatch(/Get-BpParameter '/);
    }
    expect(committedModule().toString('utf8')).toContain("GetEnvironmentVariable('SSM_' + $Name)");
  });

  test('documents and the module file are plain ASCII (Windows PowerShell 5.1 reads a script file without BOM as ANSI)', () => {
    for (const kind of BEACON_DOCUMENT_KINDS) expect(ascii(readFileSync(generatedDocumentPath(kind), 'utf8'))).toBe(true);
    expect(ascii(committedModule().toString('utf8'))).toBe(true);
  });

  test('the fake layer implements every function of the Windows layer (no real call can slip through in tests)', () => {
    const windows = functionNames(readFileSync(join(SOURCE_DIR, 'WindowsLayer.ps1'), 'utf8'));
    const fake = functionNames(readFileSync(FAKE_LAYER_PATH, 'utf8'));
    const windowsOnlyHelpers = ['Initialize-BpNative', 'Split-BpRegistryPath', 'Open-BpRegistryKey', 'ConvertTo-BpSidBytes', 'Get-BpGroup', 'Invoke-BpReg', 'Get-BpWin32Service', 'Invoke-BpAwsJson'];
    // The real secret path's own helpers (run under pwsh against local stubs in secret-path.test.ts).
    windowsOnlyHelpers.push('Get-BpAwsEndpoint', 'Invoke-BpHttp', 'Get-BpImdsToken', 'Get-BpImdsValue', 'Read-BpSharedCredentials', 'Get-BpAwsCredentials', 'Get-BpAwsRegion');
    windowsOnlyHelpers.push('Get-BpServiceController', 'New-BpProtectedSecurity', 'Test-BpProtectedPath');
    for (const name of windows.filter((entry) => !windowsOnlyHelpers.includes(entry))) expect(fake).toContain(name);
    // And the fake is not shipped.
    expect(committedModule().toString('utf8')).not.toContain('BpFake');
    for (const document of Object.values(loadBeaconDocuments())) expect(documentScriptText(document)).not.toContain('BpFake');
  });
});
