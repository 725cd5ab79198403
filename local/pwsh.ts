import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The PowerShell 7 executable that runs the beacon scripts: `BEACON_PROXY_PWSH` when set, else the copy
 * `node scripts/setup.mjs` installs into .tools/pwsh, else `pwsh` on PATH.
 */
export function resolvePwsh(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env.BEACON_PROXY_PWSH;
  if (configured) return configured;
  const local = join(REPO_ROOT, '.tools', 'pwsh', process.platform === 'win32' ? 'pwsh.exe' : 'pwsh');
  if (existsSync(local)) return local;
  return 'pwsh';
}

/** Arguments that make pwsh start fast and behave like a non-interactive agent. */
export const PWSH_ARGS = ['-NoLogo', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass'] as const;

/** Environment that keeps pwsh quiet and quick to start (no telemetry, no update check). */
export const PWSH_ENV: Record<string, string> = {
  POWERSHELL_TELEMETRY_OPTOUT: '1',
  POWERSHELL_UPDATECHECK: 'Off',
  DOTNET_CLI_TELEMETRY_OPTOUT: '1',
  DOTNET_NOLOGO: '1',
};
