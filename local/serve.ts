import { cp, mkdir, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DEFAULT_REQUEST_FILE, builtinFnmsState, writeBuiltinFleet } from './builtin-fleet.js';
import { loadFleet } from './fleet.js';
import { startLocalServer } from './server.js';
import { LocalTwin } from './twin.js';

/** The twin with its HTTP front door, kept running for `beacon-proxy serve`. */
export async function serveLocal(options: { port: number; fleetDir?: string; workDir: string }): Promise<{ banner: string; stop: () => Promise<void> }> {
  const workDir = resolve(options.workDir);
  const fleetDir = join(workDir, 'fleet');
  await rm(workDir, { recursive: true, force: true });
  await mkdir(workDir, { recursive: true });
  if (options.fleetDir) await cp(resolve(options.fleetDir), fleetDir, { recursive: true });
  else await writeBuiltinFleet(fleetDir, JSON.parse(await readFile(DEFAULT_REQUEST_FILE, 'utf8')));
  const fleet = await loadFleet(fleetDir);
  const twin = await LocalTwin.create({
    fleet,
    workDir,
    autoDeliver: true,
    limits: { maxConcurrentInvocations: 2 },
    fnms: { state: builtinFnmsState(fleet.beacons.map((b) => b.computerName)) },
  });
  const server = await startLocalServer(twin, { port: options.port });
  const beacons = fleet.beacons.map((b) => `  ${b.instanceId}  ${b.computerName}  (${b.pingStatus})`).join('\n');
  const banner = `beacon-proxy local twin listening on ${server.url} (loopback only, no authentication)

Fleet (${fleetDir}):
${beacons}
FNMS stub: ${twin.fnms.url}   profiles for chat: ${server.profiles.join(', ')}
Slack signing secret: ${server.slackSigningSecret}
Teams security token: ${server.teamsSecurityToken}

Try:
  curl -s -X POST --data @examples/fleet-by-tag.json ${server.url}/requests
  curl -s ${server.url}/requests/local-fleet-https
  curl -s ${server.url}/beacons/${fleet.beacons[0]?.instanceId ?? 'i-...'}              # its history
  curl -s -X POST ${server.url}/beacons/${fleet.beacons[0]?.instanceId ?? 'i-...'}/rollback   # undo its last change
  # a signed Slack command:
  body='command=/beacon-proxy&text=apply+${fleet.beacons[0]?.instanceId ?? 'i-...'}+corp-https&user_id=U1&channel_id=C1&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1%2F1%2Fx'
  ts=$(date +%s); sig="v0=$(printf 'v0:%s:%s' "$ts" "$body" | openssl dgst -sha256 -hmac '${server.slackSigningSecret}' | sed 's/^.* //')"
  curl -s -H "X-Slack-Request-Timestamp: $ts" -H "X-Slack-Signature: $sig" --data "$body" ${server.url}/slack
`;
  return {
    banner,
    stop: async () => {
      await server.close();
      await twin.stop();
    },
  };
}
