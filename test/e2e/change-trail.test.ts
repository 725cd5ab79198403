import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatDiffLine } from '../../lambdas/core/change-diff.js';
import { chatChangeSummaryForSlack, chatChangeSummaryForTeams } from '../../lambdas/core/chatops/change-summary.js';
import { renderDesiredState } from '../../lambdas/core/desired-state.js';
import { parseRequest } from '../../lambdas/core/request.js';
import type { RequestStatus } from '../../lambdas/core/ports.js';
import { DEFAULT_PASSWORD, configuredBeacon, freshBeacon } from '../../local/beacon-model.js';
import { BUILTIN_BEACON_VERSION } from '../../local/builtin-fleet.js';
import { type RunReport, renderChanges, renderHtml, renderTable } from '../../local/report.js';
import { beaconReport } from '../../local/run.js';
import { runBeaconDocument } from '../../local/run-document.js';
import type { DocumentExecutor } from '../../local/ssm-shim.js';
import { type Harness, requestFor, startTwin } from './twin-harness.js';

// A configure, a rollback by the run itself, a rollback by the Rollback document and a plan, end to end:
// each change is on the status (GET /requests/{id} shows the store's records), in the audit trail, the CLI
// text, the HTML report and the chat summary, before -> after; the password in none of them.
const FRESH = 'i-0c4a0000000000001';
const DONE = 'i-0c4a0000000000002';
const BROKEN = 'i-0c4a0000000000003';
const LOST = 'i-0c4a0000000000004';
const NAMES: Record<string, string> = { [FRESH]: 'CHG-FRESH', [DONE]: 'CHG-DONE', [BROKEN]: 'CHG-BROKEN', [LOST]: 'CHG-LOST' };

describe('the change, before -> after, everywhere a person looks', () => {
  let harness: Harness;
  let run: RequestStatus;
  let plan: RequestStatus;
  const request = requestFor([FRESH, DONE, BROKEN, LOST], { requestId: 'e2e-change' });

  beforeAll(async () => {
    const captures = mkdtempSync(join(tmpdir(), 'beacon-proxy-change-captures-'));
    // The configure run on LOST works, but its answer is lost (the agent restarted): the workflow sends the Rollback document.
    const executor: DocumentExecutor = async (beacon, kind, parameters, control) => {
      const result = await runBeaconDocument({ document: kind, parameters, modelPath: beacon.modelPath, timeoutMs: control.timeoutMs, env: { BEACON_PROXY_CAPTURE_DIR: join(captures, beacon.instanceId) } });
      if (beacon.instanceId === LOST && kind === 'configure') return { stdout: '', stderr: 'SSM Agent: the plugin output was lost (agent restarted)', exitCode: -1 };
      return result;
    };
    const state = renderDesiredState(parseRequest(request));
    harness = await startTwin(
      [
        { instanceId: FRESH, computerName: NAMES[FRESH]!, model: freshBeacon({ computerName: NAMES[FRESH], beaconVersion: BUILTIN_BEACON_VERSION }) },
        { instanceId: DONE, computerName: NAMES[DONE]!, model: configuredBeacon(state, { computerName: NAMES[DONE], beaconVersion: BUILTIN_BEACON_VERSION }) },
        { instanceId: BROKEN, computerName: NAMES[BROKEN]!, model: freshBeacon({ computerName: NAMES[BROKEN], beaconVersion: BUILTIN_BEACON_VERSION, faults: { serviceFailsToStart: true } }) },
        { instanceId: LOST, computerName: NAMES[LOST]!, model: freshBeacon({ computerName: NAMES[LOST], beaconVersion: BUILTIN_BEACON_VERSION }) },
      ],
      { executor },
    );
    harness.twin.submit(request);
    await harness.twin.drain();
    run = (await harness.twin.store.getRequestStatus('e2e-change'))!;
    // Then a plan of the same request: FRESH is configured by now; LOST and BROKEN are as they were.
    harness.twin.submit({ ...request, requestId: 'e2e-change-plan', dryRun: true });
    await harness.twin.drain();
    plan = (await harness.twin.store.getRequestStatus('e2e-change-plan'))!;
  }, 300_000);

  afterAll(async () => {
    await harness?.twin.stop();
  });

  const beacon = (status: RequestStatus, id: string) => status.beacons.find((b) => b.instanceId === id)!;
  const trail = (status: RequestStatus, id: string, event: string) => status.audit.filter((e) => e.instanceId === id && e.event === event).map((e) => e.detail);

  it('a configure: the status lists each change before -> after, the audit trail has one record per change', () => {
    const fresh = beacon(run, FRESH);
    expect(fresh.state).toBe('ok');
    expect(fresh.diff!.map((entry) => entry.id)).toEqual(fresh.changed);
    expect(fresh.diff).toContainEqual({ id: 'service:logon', before: 'NT AUTHORITY\\SYSTEM', after: 'CORP\\svc-beacon' });
    expect(fresh.diff).toContainEqual({ id: 'registry:Common\\https_proxy', before: 'absent', after: 'REG_SZ https://proxy.corp.example:8080' });
    expect(trail(run, FRESH, 'change.applied')).toEqual(fresh.diff!.map((entry) => expect.objectContaining({ ...entry, document: 'configure', commandId: fresh.commandId })));
    expect(beacon(run, DONE).diff).toEqual([]);
    expect(trail(run, DONE, 'change.applied')).toEqual([]);
  });

  it('a run that rolled back by itself: what it changed and what its rollback restored, both in the trail', () => {
    const broken = beacon(run, BROKEN);
    expect(broken.state).toBe('rolled-back');
    expect(broken.diff).toContainEqual({ id: 'service:logon', before: 'NT AUTHORITY\\SYSTEM', after: 'CORP\\svc-beacon' });
    expect(broken.restored).toContainEqual({ id: 'service:logon', before: 'CORP\\svc-beacon', after: 'NT AUTHORITY\\SYSTEM' });
    expect(trail(run, BROKEN, 'change.restored').every((detail) => detail?.document === 'configure')).toBe(true);
    expect(trail(run, BROKEN, 'change.restored')).toHaveLength(broken.restored!.length);
  });

  it('a rollback by the Rollback document shows what it put back the same way', () => {
    const lost = beacon(run, LOST);
    expect(lost.state).toBe('rolled-back');
    expect(lost.diff).toEqual([]);
    expect(lost.restored).toContainEqual({ id: 'registry:Common\\https_proxy', before: 'REG_SZ https://proxy.corp.example:8080', after: 'absent' });
    const restored = trail(run, LOST, 'change.restored');
    expect(restored.length).toBe(lost.restored!.length);
    expect(restored.every((detail) => detail?.document === 'rollback')).toBe(true);
  });

  it('a plan: current -> wanted for beacons that would change, nothing for those already right; change.planned in the trail', () => {
    expect(beacon(plan, FRESH)).toMatchObject({ state: 'dry-run', diff: [] });
    const lost = beacon(plan, LOST);
    expect(lost.state).toBe('dry-run');
    expect(lost.diff).toContainEqual({ id: 'service:logon', before: 'NT AUTHORITY\\SYSTEM', after: 'CORP\\svc-beacon' });
    expect(trail(plan, LOST, 'change.planned')).toHaveLength(lost.diff!.length);
    expect(plan.audit.some((event) => event.event === 'change.applied')).toBe(false);
  });

  it('the CLI text, the HTML report and the chat summary show the values; the password appears in none of them, nor in the status or audit', () => {
    const report = (status: RequestStatus, dryRun: boolean): RunReport => ({
      tool: 'beacon-proxy local twin',
      startedAt: '2026-12-02T09:00:00.000Z',
      finishedAt: '2026-12-02T09:05:00.000Z',
      dryRun,
      fleetDir: harness.dir,
      beacons: status.beacons.map((b) => beaconReport(b, NAMES[b.instanceId] ?? null, status.audit)),
      refused: [],
      fnms: { approvedVersion: harness.twin.fnms.state.approvedVersion, approvedBefore: 'latest', writes: 1 },
    });
    const texts = [renderTable(report(run, false)), renderChanges(report(run, false)), renderChanges(report(plan, true)), renderHtml(report(run, false)), renderHtml(report(plan, true))];
    const views = (status: RequestStatus) => status.beacons.map((b) => ({ instanceId: b.instanceId, name: NAMES[b.instanceId] ?? null, state: b.state, diff: b.diff ?? [], restored: b.restored ?? [], reasons: b.reasons ?? [] }));
    const slack = chatChangeSummaryForSlack({ requestId: 'e2e-change', dryRun: false, beacons: views(run) });
    const teams = chatChangeSummaryForTeams({ requestId: 'e2e-change-plan', dryRun: true, beacons: views(plan) });
    texts.push(JSON.stringify(slack), JSON.stringify(teams), JSON.stringify(run), JSON.stringify(plan));

    const line = formatDiffLine({ id: 'service:logon', before: 'NT AUTHORITY\\SYSTEM', after: 'CORP\\svc-beacon' });
    expect(texts[1]).toContain(`CHG-FRESH (${FRESH}): ok, changed`);
    expect(texts[1]).toContain(`  ${line}\n`);
    expect(texts[2]).toContain(`CHG-FRESH (${FRESH}): no change (already as requested)`);
    expect(texts[2]).toContain(`CHG-LOST (${LOST}): would change`);
    expect(texts[3]).toContain('<td>NT AUTHORITY\\SYSTEM</td><td>CORP\\svc-beacon</td>');
    expect(slack.blocks[0]!.text.text).toContain('Beacons: 2 ok, 2 rolled back');
    expect(slack.blocks[0]!.text.text).toContain(`CHG-BROKEN (${BROKEN}) rolled-back`);
    for (const text of texts) expect(text).not.toContain(DEFAULT_PASSWORD);
  });
});
