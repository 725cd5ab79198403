/**
 * The drift pass at fleet scale in the local twin: N tagged beacons, a third configured with split endpoints,
 * a third with a gMSA, machine scope and a CRL exception (their baselines in dynalite, as RecordOutcome writes
 * them), a third never configured (the default profile, FNMS lists them all). The verify document is
 * synthetic: it compares the desired state it was sent with what the beacon holds, so a beacon verified
 * against anything but its own baseline reports drift. Some beacons drifted. The drift function runs tick by
 * tick under its template timeout (scaled) until the pass is done; nothing is drained, the re-apply requests
 * stay on the intake queue to be checked. Used by test/e2e/drift-scale.test.ts and `npm run bench`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../lambdas/aws/dynamo.js';
import { TABLE_KEY_PREFIXES } from '../lambdas/aws/table-keys.js';
import { type BeaconBaseline, baselineAfterRun } from '../lambdas/core/baseline.js';
import { canonicalJson } from '../lambdas/core/canonical-json.js';
import { type DesiredState, decodeDesiredState, renderDesiredState } from '../lambdas/core/desired-state.js';
import { parseRequest } from '../lambdas/core/request.js';
import type { ResultLine } from '../lambdas/core/result.js';
import type { DriftReport, DriftTickResult } from '../lambdas/drift-check/handler.js';
import { builtinFnmsState } from '../local/builtin-fleet.js';
import type { Fleet } from '../local/fleet.js';
import { loadProfiles } from '../local/profiles.js';
import type { DocumentExecutor } from '../local/ssm-shim.js';
import { DEFAULT_PROFILE, LOCAL_BEACON_TAG, LocalTwin } from '../local/twin.js';

const SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:beacon/svc-beacon-AbCdEf';

/** Split endpoints, as an operator sends them through the API. */
export const SPLIT_CONTENT = {
  protocol: 'https',
  proxy: 'proxy.corp.example:8080',
  endpoints: { download: 'dl-proxy.corp.example:8080', upload: 'ul-proxy.corp.example:8443' },
  bypass: ['10.*', '*.corp.example', '<local>'],
  account: { kind: 'domain', name: 'svc-beacon@corp.example', passwordSecretArn: SECRET },
};

/** A gMSA, machine scope and a CRL exception. */
export const GMSA_CRL_CONTENT = {
  protocol: 'https',
  proxy: '[2001:db8::10]:8080',
  account: { kind: 'gmsa', name: 'CORP\\gmsa-beacon$' },
  wininetScope: 'machine',
  checkCertificateRevocation: { disable: true, acknowledgeRisk: true, reason: 'CA CRL endpoint unreachable, CHG-1234' },
};

export interface DriftScaleOptions {
  beacons: number;
  /** Every this-many-th beacon drifted (its service account reset). */
  driftEvery: number;
  msPerSecond?: number;
  /**
   * How long each verify runs on its beacon, in scaled seconds (default 0: it answers at once). Set at or
   * above what one drift invocation can work for, no page can be reviewed in the invocation that sent it:
   * the pass must wait for its verifies and go on in a later invocation, as it does when beacons are slow.
   */
  verifySeconds?: number;
}

export interface DriftScaleResult {
  beacons: number;
  drifted: string[];
  ticks: DriftTickResult[];
  report: DriftReport;
  /** Wall time of the whole pass, and the part spent sending / reviewing. */
  passMs: number;
  seedMs: number;
  verifyCommands: number;
  /** Beacons verified, how often each (must be once), and those verified against another desired state than their own. */
  verifiedOnce: number;
  verifiedTwice: number;
  verifiedAgainstOther: string[];
  /** The re-apply requests on the intake queue, by beacon: the request content (without id and target). */
  reapplyContent: Map<string, Record<string, unknown>>;
  /** What each beacon should have been re-applied with: its baseline's content, or the default profile. */
  expectedContent: Map<string, Record<string, unknown>>;
  driftFunctionTimeoutMs: number;
  heapUsedBytes: number;
}

const instanceId = (n: number) => `i-${n.toString(16).padStart(17, '0')}`;

/** What a verify compares: the desired state without the request id it travels under. */
function fingerprint(state: DesiredState): string {
  const { requestId: _id, ...rest } = state;
  return canonicalJson(rest);
}

function verifyLine(ok: boolean, expected: string, actual: string): ResultLine {
  return {
    ok,
    document: 'verify',
    requestId: null,
    changed: [],
    checks: [{ name: 'desired state', expected: expected.slice(0, 40), actual: actual.slice(0, 40), ok }],
    beaconVersion: '13.2.0',
    captureId: null,
    error: null,
    rollback: null,
  };
}

/**
 * Writes the baselines as RecordOutcome's adapter lays them out (BASELINE#<instance> / BASELINE), 25 to a
 * BatchWriteItem: seeding is not what is measured, and the pass reads them back through the adapter (a
 * layout that drifted from dynamo.ts would leave every beacon on the default profile and fail the checks).
 */
async function seedBaselines(twin: LocalTwin, baselines: BeaconBaseline[]): Promise<void> {
  const db = documentClient(twin.dynamo.client);
  const chunks: BeaconBaseline[][] = [];
  for (let start = 0; start < baselines.length; start += 25) chunks.push(baselines.slice(start, start + 25));
  for (let start = 0; start < chunks.length; start += 8) {
    await Promise.all(
      chunks.slice(start, start + 8).map(async (chunk) => {
        let items: Array<Record<string, unknown>> = chunk.map((b) => ({ PutRequest: { Item: { pk: `${TABLE_KEY_PREFIXES.baseline}${b.instanceId}`, sk: 'BASELINE', ...b } } }));
        while (items.length > 0) {
          const result = await db.send(new BatchWriteCommand({ RequestItems: { [twin.dynamo.tables.state]: items as never } }));
          items = (result.UnprocessedItems?.[twin.dynamo.tables.state] ?? []) as Array<Record<string, unknown>>;
        }
      }),
    );
  }
}

export async function runDriftScale(options: DriftScaleOptions): Promise<DriftScaleResult> {
  const dir = mkdtempSync(join(tmpdir(), 'beacon-proxy-drift-scale-'));
  try {
    writeFileSync(join(dir, 'unused-model.json'), '{}\n');
    const defaultProfile = (await loadProfiles())[DEFAULT_PROFILE]!;
    const kinds = [SPLIT_CONTENT, GMSA_CRL_CONTENT, null] as const;
    const fleet: Fleet = {
      dir,
      beacons: Array.from({ length: options.beacons }, (_, index) => ({
        instanceId: instanceId(index + 1),
        computerName: `BEACON${String(index + 1).padStart(5, '0')}`,
        platformType: 'Windows',
        pingStatus: 'Online' as const,
        tags: { [LOCAL_BEACON_TAG.key]: LOCAL_BEACON_TAG.value },
        model: 'unused-model.json',
        modelPath: join(dir, 'unused-model.json'),
      })),
    };
    const stateOf = (content: Record<string, unknown>, id: string) => fingerprint(renderDesiredState(parseRequest({ ...content, requestId: 'fingerprint', target: { instanceIds: [id] } })));
    const fingerprints = new Map(kinds.map((content) => [content, stateOf(content ?? defaultProfile, instanceId(1))]));
    /** What each beacon holds: its configured state, or a reset one when drifted. */
    const holds = new Map<string, string>();
    const expectedContent = new Map<string, Record<string, unknown>>();
    const drifted: string[] = [];
    const baselines: BeaconBaseline[] = [];
    for (const [index, beacon] of fleet.beacons.entries()) {
      const content = kinds[index % 3]!;
      expectedContent.set(beacon.instanceId, content ?? defaultProfile);
      const isDrifted = (index + 1) % options.driftEvery === 0;
      if (isDrifted) drifted.push(beacon.instanceId);
      holds.set(beacon.instanceId, isDrifted ? 'service account reset by an upgrade' : fingerprints.get(content)!);
      if (content) {
        const request = { ...content, requestId: `api-${index % 3}`, target: { tag: { key: LOCAL_BEACON_TAG.key, value: LOCAL_BEACON_TAG.value } } };
        baselines.push(baselineAfterRun({ instanceId: beacon.instanceId, requestId: `api-${index % 3}`, request, source: 'api', receivedAt: '2026-11-01T00:00:00.000Z', dryRun: false }, 'ok', '2026-11-01T00:10:00.000Z')!);
      }
    }
    const verifiedWith = new Map<string, string[]>();
    const msPerSecond = options.msPerSecond ?? 20;
    const executor: DocumentExecutor = async (beacon, kind, parameters, control) => {
      if (kind !== 'verify') return { stdout: '', stderr: `the synthetic beacon only verifies, not ${kind}`, exitCode: 1 };
      if (options.verifySeconds) await sleep(options.verifySeconds * msPerSecond, undefined, { signal: control.signal }).catch(() => undefined);
      const sent = fingerprint(decodeDesiredState(parameters.DesiredState!));
      verifiedWith.set(beacon.instanceId, [...(verifiedWith.get(beacon.instanceId) ?? []), sent]);
      const actual = holds.get(beacon.instanceId)!;
      const ok = sent === actual;
      return { stdout: `${JSON.stringify(verifyLine(ok, sent, actual))}\n`, stderr: '', exitCode: ok ? 0 : 1 };
    };
    const twin = await LocalTwin.create({
      fleet,
      workDir: join(dir, 'work'),
      executor,
      msPerSecond,
      triggerMode: 'apply',
      fnms: { state: builtinFnmsState(fleet.beacons.map((b) => b.computerName)) },
    });
    try {
      const seedStarted = performance.now();
      await seedBaselines(twin, baselines);
      const seedMs = performance.now() - seedStarted;
      const started = performance.now();
      const { ticks, report } = await twin.runDriftPass();
      const passMs = performance.now() - started;
      const reapplyContent = new Map<string, Record<string, unknown>>();
      for (const message of twin.queue) {
        const { requestId: _id, target, ...content } = JSON.parse(message.body) as { requestId: string; target: { instanceIds: string[] } } & Record<string, unknown>;
        reapplyContent.set(target.instanceIds[0]!, content);
      }
      const counts = [...verifiedWith.values()].map((list) => list.length);
      return {
        beacons: options.beacons,
        drifted,
        ticks,
        report: report!,
        passMs,
        seedMs,
        verifyCommands: twin.ssm.sent.filter((s) => s.kind === 'verify').length,
        verifiedOnce: counts.filter((n) => n === 1).length,
        verifiedTwice: counts.filter((n) => n > 1).length,
        verifiedAgainstOther: [...verifiedWith].filter(([id, sent]) => sent.some((f) => f !== fingerprints.get(kinds[(Number.parseInt(id.slice(2), 16) - 1) % 3]!))).map(([id]) => id),
        reapplyContent,
        expectedContent,
        driftFunctionTimeoutMs: twin.functionTimeoutMs(twin.workflow.triggers.driftFunction),
        heapUsedBytes: process.memoryUsage().heapUsed,
      };
    } finally {
      await twin.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The bench's figures of one drift pass at scale (bench/run.ts). */
export async function driftScaleFigures(beacons = 10_000): Promise<{ figures: Array<{ name: string; value: string; target?: string; met?: boolean; note?: string }>; notes: string[] }> {
  const result = await runDriftScale({ beacons, driftEvery: 97 });
  const sent = result.ticks.reduce((n, t) => n + t.pagesSent, 0);
  const reviewed = result.ticks.reduce((n, t) => n + t.pagesReviewed, 0);
  const correct =
    result.report.phase === 'done' &&
    result.verifiedOnce === beacons &&
    result.verifiedAgainstOther.length === 0 &&
    result.reapplyContent.size === result.drifted.length &&
    result.drifted.every((id) => canonicalJson(result.reapplyContent.get(id)) === canonicalJson(result.expectedContent.get(id)));
  return {
    figures: [
      {
        name: `drift pass over ${beacons.toLocaleString('en')} beacons`,
        value: `${(result.passMs / 1000).toFixed(1)} s`,
        target: 'finishes, every beacon verified once against its own baseline, exactly the drifted ones re-applied',
        met: correct,
        note: `${result.ticks.length} invocations of ${(result.driftFunctionTimeoutMs / 1000).toFixed(1)} s (the 300 s timeout, scaled); ${sent} pages sent, ${reviewed} reviewed; ${result.verifyCommands} verify commands; ${result.drifted.length} re-applied`,
      },
      { name: '  per 1,000 beacons', value: `${(result.passMs / beacons).toFixed(2)} s` },
      { name: '  heap after the pass', value: `${(result.heapUsedBytes / 2 ** 20).toFixed(0)} MB`, note: `baselines seeded in ${(result.seedMs / 1000).toFixed(1)} s (not part of the pass)` },
    ],
    notes: [
      'One process: the drift handler, dynalite (the state table, through the real adapters), the SSM shim and a synthetic verify that compares the desired state it was sent with what the beacon holds. A third of the beacons have split endpoints, a third a gMSA with a CRL exception (baselines), a third were never configured (the default profile; FNMS lists them); every 97th drifted.',
      'Each tick runs under the drift function\'s template timeout scaled by msPerSecond 20 (6 s real for 300 s) and stops with a quarter of it left; the pass continues from its checkpoint. In AWS, each page costs DynamoDB and SSM calls (50 GetCommandInvocation when reviewing); SSM throttling slows a tick, never the pass as a whole.',
    ],
  };
}
