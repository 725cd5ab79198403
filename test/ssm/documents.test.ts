import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { BEACON_DOCUMENTS, DOCUMENT_PARAMETERS } from '../../lambdas/core/document-contract.js';
import { LIMITS } from '../../lambdas/core/limits.js';
import {
  BEACON_DOCUMENT_KINDS,
  FAKE_LAYER_PATH,
  MAX_DOCUMENT_BYTES,
  SOURCE_DIR,
  documentScriptText,
  generatedDocumentPath,
  loadBeaconDocuments,
  packedSourceText,
  renderBeaconDocument,
  serializeBeaconDocument,
  unpackDocumentScript,
} from '../../ssm-documents/documents.js';

function functionNames(text: string): string[] {
  return [...text.matchAll(/^function ([A-Za-z0-9-]+)/gm)].map((match) => match[1]!).sort();
}

describe('generated SSM documents', () => {
  for (const kind of BEACON_DOCUMENT_KINDS) {
    test(`${BEACON_DOCUMENTS[kind]}.json is up to date with the sources (run npm run build:documents and commit)`, () => {
      const committed = readFileSync(generatedDocumentPath(kind), 'utf8');
      expect(committed).toBe(serializeBeaconDocument(renderBeaconDocument(kind)));
    });

    test(`${BEACON_DOCUMENTS[kind]} stays under the 64 KB SSM limit even with the largest desired state`, () => {
      const bytes = Buffer.byteLength(readFileSync(generatedDocumentPath(kind), 'utf8'), 'utf8');
      console.log(`${BEACON_DOCUMENTS[kind]}: ${bytes} bytes + up to ${LIMITS.maxDesiredStateBase64Length} of parameters`);
      expect(bytes + LIMITS.maxDesiredStateBase64Length).toBeLessThan(MAX_DOCUMENT_BYTES);
    });
  }

  test('schemaVersion 2.2, one aws:runPowerShellScript step for Windows, parameters with allowedPattern from the contract and ENV_VAR interpolation', () => {
    const documents = loadBeaconDocuments();
    const expected = { configure: ['desiredState'], verify: ['desiredState', 'checkEndpoint'], rollback: ['captureId'] } as const;
    for (const kind of BEACON_DOCUMENT_KINDS) {
      const document = documents[kind];
      expect(document.schemaVersion).toBe('2.2');
      expect(document.mainSteps).toHaveLength(1);
      expect(document.mainSteps[0]).toMatchObject({ action: 'aws:runPowerShellScript', precondition: { StringEquals: ['platformType', 'Windows'] } });
      expect(Object.keys(document.parameters).sort()).toEqual(expected[kind].map((key) => DOCUMENT_PARAMETERS[key].name).sort());
      for (const key of expected[kind]) {
        const parameter = document.parameters[DOCUMENT_PARAMETERS[key].name]!;
        expect(parameter.allowedPattern).toBe(DOCUMENT_PARAMETERS[key].pattern.source);
        expect(parameter.interpolationType).toBe('ENV_VAR');
      }
    }
  });

  test('the script text is fixed: no request data, and parameters are read from SSM_<name> only', () => {
    for (const document of Object.values(loadBeaconDocuments())) {
      const script = documentScriptText(document);
      expect(script).not.toMatch(/corp\.example|arn:aws|svc-beacon/);
      expect(script).toMatch(/Get-BpParameter '/);
      expect(unpackDocumentScript(script)).toContain("GetEnvironmentVariable('SSM_' + $Name)");
    }
  });

  test('documents are plain ASCII (Windows PowerShell 5.1 reads a script file without BOM as ANSI)', () => {
    for (const kind of BEACON_DOCUMENT_KINDS) {
      const text = readFileSync(generatedDocumentPath(kind), 'utf8');
      expect(/^[\x09\x0a\x0d\x20-\x7e]*$/.test(text)).toBe(true);
      expect(/^[\x09\x0a\x0d\x20-\x7e]*$/.test(unpackDocumentScript(documentScriptText(loadBeaconDocuments()[kind])))).toBe(true);
    }
  });

  test('the packed payload of every document is exactly the module and the Windows layer of the sources', () => {
    for (const document of Object.values(loadBeaconDocuments())) {
      expect(unpackDocumentScript(documentScriptText(document))).toBe(packedSourceText());
    }
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
    for (const document of Object.values(loadBeaconDocuments())) expect(unpackDocumentScript(documentScriptText(document))).not.toContain('BpFake');
  });
});
