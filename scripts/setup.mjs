#!/usr/bin/env node
// Sets up a fresh clone with Node built-ins only: `npm ci` when node_modules is missing or was
// installed from another lock file, and PowerShell 7 from NuGet into .tools/ when no pwsh 7 is found.
// Runs before `npm start`, `npm test` and `npm run bench`; a no-op (a few ms) when all is in place.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const POWERSHELL_VERSION = '7.6.9';
const toolPath = join(root, '.tools', 'pwsh');
const stamp = join(root, 'node_modules', '.beacon-proxy-lock-sha256');

function fail(message) {
  console.error(`setup: ${message}`);
  process.exit(1);
}

function run(command, args) {
  console.error(`setup: ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], shell: false });
  if (result.error) fail(`${command} could not start: ${result.error.message}`);
  if (result.status !== 0) fail(`${command} ${args.join(' ')} exited with ${result.status}`);
}

function ensureNodeModules() {
  const lock = readFileSync(join(root, 'package-lock.json'));
  const digest = createHash('sha256').update(lock).digest('hex');
  const installed = existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : '';
  if (installed === digest && existsSync(join(root, 'node_modules', '.bin'))) return;
  run(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['ci', '--no-audit', '--no-fund']);
  writeFileSync(stamp, `${digest}\n`);
}

function pwshVersion(command) {
  const probe = spawnSync(command, ['-NoLogo', '-NoProfile', '-NonInteractive', '-Command', '$PSVersionTable.PSVersion.Major'], {
    encoding: 'utf8',
  });
  if (probe.error || probe.status !== 0) return 0;
  return Number.parseInt(probe.stdout.trim(), 10) || 0;
}

function ensurePowerShell() {
  const local = join(toolPath, process.platform === 'win32' ? 'pwsh.exe' : 'pwsh');
  if (existsSync(local) && pwshVersion(local) >= 7) return;
  if (pwshVersion('pwsh') >= 7) return;
  const dotnet = spawnSync('dotnet', ['--version'], { encoding: 'utf8' });
  if (dotnet.error || dotnet.status !== 0) {
    fail('PowerShell 7 is needed to run the beacon scripts and neither pwsh nor the .NET SDK was found; install one of them.');
  }
  run('dotnet', ['tool', 'install', 'PowerShell', '--version', POWERSHELL_VERSION, '--tool-path', toolPath]);
  if (pwshVersion(local) < 7) fail(`PowerShell was installed into ${toolPath} but does not start.`);
}

ensureNodeModules();
if (process.env.BEACON_PROXY_SKIP_PWSH !== '1') ensurePowerShell();
