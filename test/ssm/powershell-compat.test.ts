import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { BEACON_DOCUMENTS } from '../../lambdas/core/document-contract.js';
import { WINDOWS_POWERSHELL_51_CMDLETS } from '../../ssm-documents/powershell-51.js';
import { DOCUMENT_SOURCES, FAKE_LAYER_PATH, MODULE_FILE_PATH, SOURCE_DIR, documentScriptText, loadBeaconDocuments, scriptStep } from '../../ssm-documents/documents.js';
import { runPwshScript, scenarioDir } from './helpers.js';

const SCANNER = join(import.meta.dirname, 'compat-scan.ps1');

interface Finding {
  file: string;
  line: number;
  what: string;
  text: string;
}

const psList = (items: readonly string[]) => `@(${items.map((item) => `'${item.replace(/'/g, "''")}'`).join(', ')})`;

async function scan(paths: string[], shipped: string[]): Promise<Finding[]> {
  const run = await runPwshScript(`& '${SCANNER.replace(/'/g, "''")}' -Paths ${psList(paths)} -Shipped ${psList(shipped)} -Cmdlets ${psList(WINDOWS_POWERSHELL_51_CMDLETS)}`);
  if (run.exitCode !== 0) throw new Error(`the scanner failed: ${run.stderr}`);
  const parsed = JSON.parse(run.stdout) as Finding[] | Finding | null;
  return parsed === null ? [] : Array.isArray(parsed) ? parsed : [parsed];
}

const VIOLATIONS = `
$a = $b ? 1 : 2
Get-Thing && Get-Other
$c = $d ?? 'x'
$e ??= 'y'
$f = \${g}?.Name
$h = ConvertFrom-Json $text -AsHashtable
$i = ConvertFrom-Json $text -Depth 5
$j = Get-Content -AsByteStream -Path x
1..3 | ForEach-Object -Parallel { $_ }
if ($IsWindows) { }
function K { process { } clean { } }
$secure = ConvertTo-SecureString -String $pw -AsPlainText -Force
Set-ScheduledTask -TaskPath '\\' -TaskName 'x' -User 'CORP\\svc' -Password $pw
Invoke-CimMethod -InputObject $service -MethodName Change -Arguments @{ StartName = 'CORP\\svc'; StartPassword = $pw }
$joined = 'a', 'b' | Join-String -Separator ','
`;

let shipped: Finding[];
let planted: Finding[];

beforeAll(async () => {
  const dir = scenarioDir('compat');
  const files = DOCUMENT_SOURCES.map((name) => join(SOURCE_DIR, name));
  const shippedFiles = [...files];
  for (const [kind, document] of Object.entries(loadBeaconDocuments())) {
    const script = documentScriptText(document);
    const generated = join(dir, `${BEACON_DOCUMENTS[kind as keyof typeof BEACON_DOCUMENTS]}.ps1`);
    writeFileSync(generated, script);
    files.push(generated);
    shippedFiles.push(generated);
  }
  // The module file every document downloads and runs (documents.test.ts checks it is the sources' module).
  files.push(MODULE_FILE_PATH);
  shippedFiles.push(MODULE_FILE_PATH);
  // Never shipped: parsed for 7-only syntax only (the fake may call what Windows PowerShell lacks).
  files.push(FAKE_LAYER_PATH, join(import.meta.dirname, 'compat-scan.ps1'));
  const sample = join(dir, 'seven-only.ps1');
  writeFileSync(sample, VIOLATIONS);
  const findings = await scan([...files, sample], [...shippedFiles, sample]);
  shipped = findings.filter((finding) => finding.file !== sample);
  planted = findings.filter((finding) => finding.file === sample);
});

describe('Windows PowerShell 5.1 compatibility (real PowerShell parser, AST walk)', () => {
  test('no source, generated document script or module file uses PowerShell 7-only syntax or parameters', () => {
    expect(shipped).toEqual([]);
  });

  test('the scan finds each 7-only construct when it is there (the check can fail)', () => {
    const found = planted.map((finding) => finding.what);
    for (const expected of [
      'ternary operator ?:',
      'pipeline chain && / ||',
      'null-coalescing ??',
      'null-coalescing assignment ??=',
      'null-conditional access ?. / ?[]',
      'ConvertFrom-Json -AsHashtable is PowerShell 7 only',
      'ConvertFrom-Json -Depth is PowerShell 7 only',
      'Get-Content -AsByteStream is PowerShell 7 only',
      'ForEach-Object -Parallel is PowerShell 7 only',
      '$IsWindows does not exist on 5.1',
      'clean block',
      'Join-String is not a cmdlet of Windows PowerShell 5.1 on Server 2016 (ssm-documents/powershell-51.ts)',
    ]) {
      expect(found).toContain(expected);
    }
  });

  test('no shipped script hands a password to a cmdlet parameter (module logging, event 4103, records bindings in clear)', () => {
    const bindings = planted.filter((finding) => finding.what.startsWith('a password bound to a cmdlet parameter'));
    // The check finds each planted form: ConvertTo-SecureString -String, Set-ScheduledTask -Password, a StartPassword hashtable.
    expect(bindings.map((finding) => finding.text.split(' ')[0] === '$secure' ? 'ConvertTo-SecureString' : finding.text.split(' ')[0])).toEqual(['ConvertTo-SecureString', 'Set-ScheduledTask', 'Invoke-CimMethod']);
    expect(shipped.filter((finding) => finding.what.startsWith('a password bound'))).toEqual([]);
  });

  test('the C# of the Windows layer (LSA rights, CreateProfile) compiles with Add-Type', async () => {
    const layer = join(SOURCE_DIR, 'WindowsLayer.ps1').replace(/'/g, "''");
    const run = await runPwshScript(
      `Set-StrictMode -Version Latest\n$ErrorActionPreference = 'Stop'\n. '${layer}'\nInitialize-BpNative\n` +
        `[Console]::Out.WriteLine((([BeaconProxyNative].GetMethods() | Where-Object { $_.IsStatic -and $_.IsPublic } | ForEach-Object { $_.Name } | Sort-Object -Unique) -join ','))`,
    );
    expect(run.stderr).toBe('');
    expect(run.stdout.trim().split(',')).toEqual(expect.arrayContaining(['CreateProfile', 'DeleteProfile', 'GetRights', 'SetRight']));
  });

  test('every script runs under Set-StrictMode -Version Latest', () => {
    for (const document of Object.values(loadBeaconDocuments())) {
      expect(scriptStep(document).inputs.runCommand.slice(0, 3)).toContain('Set-StrictMode -Version Latest');
    }
  });
});
