/**
 * Headless Chromium for the browser tests, from Debian's packages: the one at /usr/bin/chromium (or
 * BEACON_PROXY_CHROMIUM), installed with apt-get when it is missing and the machine allows it (root, apt-get
 * on PATH, Debian's package lists reachable: CI runs exactly so). Where it cannot be had, the tests that
 * need it are skipped and say why; nothing is ever downloaded outside the package manager (no browser
 * download of a test tool's own).
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where Debian's `chromium` package puts the browser. */
export const DEBIAN_CHROMIUM_PATH = '/usr/bin/chromium';

/**
 * Flags for a headless start on a closed network as root: no sandbox (root), no GPU, and no background
 * connections (this machine refuses them, many at a time, and Chromium would look up its update hosts).
 */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
] as const;

export type ChromiumAvailability = { ok: true; executablePath: string; installed: boolean } | { ok: false; reason: string };

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function runQuiet(command: string, args: string[], timeoutMs: number): { ok: boolean; output: string } {
  const result = spawnSync(command, args, {
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim();
  if (result.error) return { ok: false, output: result.error.message };
  return { ok: result.status === 0, output };
}

/** A lock left by a test process that died while installing. */
function lockHolderGone(lock: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(join(lock, 'pid'), 'utf8'));
  } catch {
    return false;
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

const lastLines = (text: string) => text.split('\n').slice(-3).join(' | ');

/**
 * The Chromium to drive, installing Debian's package first when it is missing. Serialised across test
 * processes by a lock directory, so two files never run apt-get at once.
 */
export function ensureChromium(): ChromiumAvailability {
  const wanted = process.env.BEACON_PROXY_CHROMIUM ?? DEBIAN_CHROMIUM_PATH;
  if (executable(wanted)) return { ok: true, executablePath: wanted, installed: false };
  if (process.env.BEACON_PROXY_CHROMIUM) return { ok: false, reason: `BEACON_PROXY_CHROMIUM=${wanted} is not an executable file` };
  if (process.platform !== 'linux') return { ok: false, reason: `no Chromium at ${wanted}, and installing one is only automated on Debian (apt-get)` };
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return { ok: false, reason: `no Chromium at ${wanted}; installing it needs root (run: apt-get install chromium), or set BEACON_PROXY_CHROMIUM` };
  }
  if (!runQuiet('apt-get', ['--version'], 10_000).ok) return { ok: false, reason: `no Chromium at ${wanted} and no apt-get to install Debian's chromium package` };
  const lock = join(tmpdir(), 'beacon-proxy-chromium-install.lock');
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (lockHolderGone(lock)) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) return { ok: false, reason: `another test process held ${lock} for 15 minutes while installing Chromium` };
      spawnSync('sleep', ['2']);
      if (executable(wanted)) return { ok: true, executablePath: wanted, installed: true };
    }
  }
  try {
    writeFileSync(join(lock, 'pid'), String(process.pid));
    if (executable(wanted)) return { ok: true, executablePath: wanted, installed: false };
    const update = runQuiet('apt-get', ['update'], 5 * 60_000);
    if (!update.ok) return { ok: false, reason: `apt-get update failed, so Chromium could not be installed: ${lastLines(update.output)}` };
    const install = runQuiet('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], 10 * 60_000);
    if (!install.ok || !executable(wanted)) return { ok: false, reason: `apt-get install chromium failed: ${lastLines(install.output)}` };
    return { ok: true, executablePath: wanted, installed: true };
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
