/**
 * The FNMS pin under concurrency, on the strict twin: requests whose beacons run different releases finish at
 * about the same time, the pin gateway answers slowly (reads overlap), and FNMS's report lags behind (it
 * still lists every beacon at the old release). The approved release must never be older than a beacon the
 * pipeline or FNMS knows to be deployed, at any moment of the gateway's history.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareVersions } from '../../lambdas/core/fnms/pin.js';
import { loadFleet } from '../../local/fleet.js';
import { syntheticExecutor, writeSyntheticFleet } from '../../local/synthetic-fleet.js';
import { LocalTwin } from '../../local/twin.js';
import { SECRET_ARN } from '../support/requests.js';

const OLD = '13.1.0';
const NEW = '13.3.0';
const X = ['i-0000000000000a001', 'i-0000000000000a002'];
const Y = ['i-0000000000000b001', 'i-0000000000000b002'];
const versionOf = (id: string) => (Y.includes(id) ? NEW : OLD);

function request(requestId: string, instanceIds: string[]): Record<string, unknown> {
  return {
    requestId,
    target: { instanceIds },
    protocol: 'https',
    proxy: 'proxy.corp.example:8080',
    account: { kind: 'domain', name: 'CORP\\svc-beacon', passwordSecretArn: SECRET_ARN },
    beaconVersion: { pin: 'current' },
  };
}

describe('pins under concurrency: requests with mixed beacon releases', () => {
  let twin: LocalTwin;
  /** When (real ms) each beacon's workflow ended, and the release it runs: from then on it is deployed and known. */
  const ended: Array<{ instanceId: string; version: string; at: number }> = [];

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'beacon-proxy-pins-'));
    const all = [...X, ...Y];
    writeSyntheticFleet(dir, all.map((instanceId, index) => ({ instanceId, computerName: `PIN-${index + 1}` })));
    twin = await LocalTwin.create({
      fleet: await loadFleet(dir),
      workDir: join(dir, 'work'),
      msPerSecond: 20,
      // Handlers run at this (shared, loaded) machine's speed: a 60 s pin step is never given less than 3 s real.
      minFunctionTimeoutMs: 3000,
      // The newer beacons finish their configure run first.
      executor: syntheticExecutor({ latencyMs: (beacon) => (Y.includes(beacon.instanceId) ? 50 : 300), versionOf: (beacon) => versionOf(beacon.instanceId) }),
      onExecution: (instanceId, _requestId, event) => {
        if (event !== 'started') ended.push({ instanceId, version: versionOf(instanceId), at: Date.now() });
      },
      fnms: {
        state: {
          approvedVersion: 'latest',
          availableVersions: [OLD, '13.2.0', NEW],
          // FNMS's report lags: it still lists every beacon at the old release.
          beacons: all.map((_, index) => ({ name: `PIN-${index + 1}`, computerName: `PIN-${index + 1}`, version: OLD, status: 'Active', lastContact: '2026-11-27T08:00:00Z' })),
        },
      },
    });
    // The gateway's answers to reads travel slowly: a reader may act on a value another request changed meanwhile.
    twin.fnms.delayAnswers(twin.fnms.paths.beaconSettings, 400, 50);
    twin.submit(request('pins-old', X));
    twin.submit(request('pins-new', Y));
    await twin.drain();
  }, 120_000);

  afterAll(async () => {
    await twin?.stop();
  });

  it('the approved release is never older than a deployed beacon the pipeline or FNMS knows, at any moment', () => {
    const history = twin.fnms.approvedHistory;
    expect(history.length).toBeGreaterThan(0);
    for (const [index, entry] of history.entries()) {
      const known = [OLD, ...ended.filter((e) => e.at < entry.at).map((e) => e.version)];
      const highest = known.sort(compareVersions).at(-1)!;
      expect(compareVersions(entry.version, highest), `write #${index + 1} approved ${entry.version} while ${highest} was deployed`).toBeGreaterThanOrEqual(0);
      if (index > 0) expect(compareVersions(entry.version, history[index - 1]!.version), `write #${index + 1} went down from ${history[index - 1]!.version} to ${entry.version}`).toBeGreaterThanOrEqual(0);
    }
    expect(twin.fnms.state.approvedVersion).toBe(NEW);
  });
});
