// .NET Framework truth: Windows Server 2016 runs the documents on Windows PowerShell 5.1 over .NET Framework
// 4.6.2, whose Add-Type compiles C# 5. Every .NET type and static member the shipped scripts use is named in
// C# and compiled against the 4.6.2 reference assemblies (NuGet Microsoft.NETFramework.ReferenceAssemblies
// .net462) and PowerShell Standard 5.1; the Add-Type source is compiled as C# 5. The projects are the
// committed test/ssm/netfx/*.csproj, built under .tools/netfx-check (restored once, then incremental).
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { DOCUMENT_SOURCES, SOURCE_DIR } from '../../ssm-documents/documents.js';
import { runPwshScript } from './helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');
const WORK = join(ROOT, '.tools', 'netfx-check');
const TEMPLATES = join(import.meta.dirname, 'netfx');

interface Usage {
  types: string[];
  members: string[];
  addType: string[];
}

/** Members and types that only newer .NET has, and C# 6: what the check must refuse (it can fail). */
const PLANTED_USAGE: Usage = {
  types: ['System.Net.Http.Json.JsonContent'],
  members: ['System.Convert::ToHexString', 'System.IO.File::ReadAllTextAsync'],
  addType: ['public static class PlantedCheck { public static string Name(string who) { return $"hello {who}"; } }'],
};

async function usageOf(paths: string[]): Promise<Usage> {
  const script = join(import.meta.dirname, 'dotnet-usage.ps1').replace(/'/g, "''");
  const run = await runPwshScript(`& '${script}' -Paths @(${paths.map((path) => `'${path.replace(/'/g, "''")}'`).join(', ')})`);
  if (run.exitCode !== 0) throw new Error(run.stderr);
  return JSON.parse(run.stdout) as Usage;
}

function csharpUsage(usage: Usage, addTypeClasses: string[], className: string): string {
  const name = (full: string) => {
    const short = full.replace(/^System\./, '');
    return addTypeClasses.includes(short) ? `global::${short}` : `global::${full}`;
  };
  // [void] is PowerShell's way of dropping output; C# cannot name System.Void.
  const types = usage.types.filter((type) => type !== 'System.Void').map((type) => `typeof(${name(type)})`);
  const members = usage.members.map((member) => {
    const [type, field] = member.split('::');
    return `nameof(${name(type!)}.${field})`;
  });
  return `namespace BeaconProxyUsageCheck {\n  internal static class ${className} {\n    internal static readonly System.Type[] Types = {\n      ${types.join(',\n      ')}\n    };\n    internal static readonly string[] Members = {\n      ${members.join(',\n      ')}\n    };\n  }\n}\n`;
}

let errors: string[] = [];
let real: Usage;

beforeAll(async () => {
  real = await usageOf(DOCUMENT_SOURCES.map((name) => join(SOURCE_DIR, name)));
  // One folder per project (each restores its own obj/): the real Add-Type source, the usage (which
  // references it, so the Add-Type classes resolve) and the planted C# 6 source.
  const project = (folder: string, template: string, files: Record<string, string>) => {
    mkdirSync(join(WORK, folder), { recursive: true });
    copyFileSync(join(TEMPLATES, template), join(WORK, folder, template));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(WORK, folder, name), text);
    return join(WORK, folder, template);
  };
  const classes = real.addType.flatMap((source) => [...source.matchAll(/public static class (\w+)/g)].map((match) => match[1]!));
  project('addtype', 'AddTypeCheck.csproj', { 'AddType.cs': real.addType.join('\n') });
  const planted = project('addtype-planted', 'AddTypeCheck.csproj', { 'AddTypePlanted.cs': PLANTED_USAGE.addType.join('\n') });
  const usage = project('usage', 'UsageCheck.csproj', { 'Usage.cs': csharpUsage(real, classes, 'Usage'), 'UsagePlanted.cs': csharpUsage(PLANTED_USAGE, [], 'UsagePlanted') });
  const output: string[] = [];
  for (const csproj of [usage, planted]) {
    const build = spawnSync('dotnet', ['build', csproj, '-nologo', '-v', 'q', '-clp:NoSummary'], {
      encoding: 'utf8',
      env: { ...process.env, DOTNET_CLI_TELEMETRY_OPTOUT: '1', DOTNET_NOLOGO: '1', DOTNET_SKIP_FIRST_TIME_EXPERIENCE: '1', NUGET_PACKAGES: join(ROOT, '.tools', 'nuget-packages') },
      timeout: 300_000,
    });
    if (build.error) throw build.error;
    output.push(build.stdout, build.stderr);
  }
  errors = [...new Set(output.join('\n').split('\n').filter((line) => / error [A-Z]+\d+/.test(line)).map((line) => line.replaceAll(WORK, '').trim()))];
  if (!errors.some((line) => line.includes('Planted'))) throw new Error(`the .NET Framework check did not build as expected:\n${output.join('\n')}`);
}, 320_000);

describe('.NET Framework 4.6.2 and C# 5, as Windows PowerShell 5.1 on Server 2016 has them', () => {
  test('the scan finds the types and static members the scripts use, and the Add-Type source', () => {
    expect(real.types).toEqual(expect.arrayContaining(['System.Threading.Mutex', 'System.Net.HttpWebRequest', 'System.Security.AccessControl.FileSecurity', 'System.ServiceProcess.ServiceController']));
    expect(real.members).toEqual(expect.arrayContaining(['System.IO.Directory::SetAccessControl', 'System.Net.ServicePointManager::SecurityProtocol', 'Microsoft.Win32.RegistryKey::OpenBaseKey']));
    expect(real.addType).toHaveLength(1);
  });

  test('every .NET type and static member of the shipped scripts exists in .NET Framework 4.6.2, and the Add-Type C# compiles as C# 5', () => {
    expect(errors.filter((line) => !line.includes('Planted'))).toEqual([]);
  });

  test('the check refuses what 4.6.2 or C# 5 lack (newer .NET members, string interpolation)', () => {
    const planted = errors.filter((line) => line.includes('Planted')).join('\n');
    expect(planted).toMatch(/UsagePlanted\.cs.*ToHexString/);
    expect(planted).toMatch(/UsagePlanted\.cs.*ReadAllTextAsync/);
    expect(planted).toMatch(/UsagePlanted\.cs.*(Json|Http)/);
    expect(planted).toMatch(/AddTypePlanted\.cs.*error CS8026/);
  });
});
