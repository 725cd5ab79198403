/**
 * A first deploy (issue 16.4): the automatic triggers run in `observe` by default. The new-beacon poll, the tag
 * rule and the drift pass plan and report (dry-run requests that run the read-only verify document) and change
 * nothing on any beacon; the tag alone configures nothing (issue 12.5).
 */
import { readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderDesiredState } from '../../lambdas/core/desired-state.js';
import { parseRequest } from '../../lambdas/core/request.js';
import type { DriftReport } from '../../lambdas/drift-check/handler.js';
import type { NewBeaconResult } from '../../lambdas/new-beacon/handler.js';
import { type BeaconModel, configuredBeacon, freshBeacon, writeBeaconModel } from '../../local/beacon-model.js';
import { BUILTIN_BEACON_VERSION, builtinFnmsState } from '../../local/builtin-fleet.js';
import { type Harness, requestFor, startTwin } from './twin-harness.js';

const DRIFTED = 'i-0e2e000000000000a';
const NEW = 'i-0e2e000000000000b';
const TAGGED = 'i-0e2e000000000000c';
const STRANGER = 'i-0e2e000000000000d';
const ALL = [DRIFTED, NEW, TAGGED, STRANGER];

/** A model file's bytes without the fake layer's journal (serialized the same way before and after), and the journal. */
function withoutJournal(file: Buffer): { state: Buffer; journal: string[] } {
  const { journal, ...state } = JSON.parse(file.toString('utf8')) as BeaconModel;
  return { state: Buffer.from(JSON.stringify(state)), journal };
}

/** What an upgrade does to a configured beacon: service and tasks back to LocalSystem. */
function upgraded(model: BeaconModel): BeaconModel {
  model.services[0]!.startName = 'LocalSystem';
  model.services[0]!.passwordSha256 = null;
  for (const task of model.tasks) Object.assign(task, { userId: 'SYSTEM', logonType: 'ServiceAccount', passwordSha256: null });
  return model;
}

describe('automatic triggers in observe mode (the default after a deploy)', () => {
  let harness: Harness;
  let files: Record<string, Buffer>;
  let tag: NewBeaconResult | null;
  let poll: NewBeaconResult;
  let drift: DriftReport;

  beforeAll(async () => {
    const api = requestFor([DRIFTED], { requestId: 'api-drifted' });
    const state = renderDesiredState(parseRequest(api));
    harness = await startTwin(
      [
        { instanceId: DRIFTED, computerName: 'E2E-O1', model: configuredBeacon(state, { computerName: 'E2E-O1', beaconVersion: BUILTIN_BEACON_VERSION }) },
        { instanceId: NEW, computerName: 'E2E-O2', model: freshBeacon({ computerName: 'E2E-O2', beaconVersion: BUILTIN_BEACON_VERSION }) },
        { instanceId: TAGGED, computerName: 'E2E-O3', model: freshBeacon({ computerName: 'E2E-O3', beaconVersion: BUILTIN_BEACON_VERSION }) },
        { instanceId: STRANGER, computerName: 'WEB-SERVER-7', model: freshBeacon({ computerName: 'WEB-SERVER-7', beaconVersion: BUILTIN_BEACON_VERSION }) },
      ],
      // FNMS lists the three beacons, not the web server someone tagged. No triggerMode given: the stack's default.
      { fnms: { state: builtinFnmsState(['E2E-O1', 'E2E-O2', 'E2E-O3']) } },
    );
    // An operator configured one beacon through the API (requests are not automatic triggers: they apply).
    harness.twin.submit(api, { source: 'api' });
    await harness.twin.drain();
    // Then an upgrade reset its service account.
    writeBeaconModel(dirname(harness.modelPath(DRIFTED)), basename(harness.modelPath(DRIFTED)), upgraded(harness.model(DRIFTED)));
    files = Object.fromEntries(ALL.map((id) => [id, readFileSync(harness.modelPath(id))]));

    tag = await harness.twin.tagChange([TAGGED, STRANGER]);
    poll = await harness.twin.newBeaconPoll();
    drift = (await harness.twin.runDriftPass()).report!;
    await harness.twin.drain();
  }, 300_000);

  afterAll(async () => {
    await harness?.twin.stop();
  });

  it('nothing changes on any beacon: every model is byte-identical but for the fake layer\'s journal of hive reads, and only the read-only verify document ran', async () => {
    expect((await harness.twin.store.getRequestStatus('api-drifted'))!.beacons[0]!.state).toBe('ok');
    for (const id of ALL) {
      const before = withoutJournal(files[id]!);
      const after = withoutJournal(readFileSync(harness.modelPath(id)));
      expect(after.state.equals(before.state), id).toBe(true);
      // What the fake layer did: reading the account's settings loads and unloads its hive, nothing else.
      expect(after.journal.slice(before.journal.length).filter((line) => !/^reg (load|unload) HKU\\S-[0-9-]+$/.test(line)), id).toEqual([]);
    }
    const configures = harness.twin.ssm.sent.filter((s) => s.kind !== 'verify');
    expect(configures.map((s) => s.instanceIds)).toEqual([[DRIFTED]]);
    expect(harness.twin.ssm.sent.filter((s) => s.kind === 'verify').length).toBeGreaterThanOrEqual(6);
    // No trigger left a lock or moved a baseline.
    const items = await harness.twin.dynamo.scan(harness.twin.dynamo.tables.state);
    expect(items.filter((item) => String(item.pk).startsWith('LOCK#') && item.owner)).toEqual([]);
    const baselines = await harness.twin.baselines.getBaselines(ALL);
    expect([...baselines.keys()]).toEqual([DRIFTED]);
    expect(baselines.get(DRIFTED)).toMatchObject({ requestId: 'api-drifted', lastAppliedBy: 'api-drifted' });
  });

  it('the tag rule plans the beacon FNMS lists and refuses the instance it does not, saying why on the outcome topic', () => {
    expect(tag).toMatchObject({ mode: 'observe', enqueued: [], planned: [TAGGED] });
    expect(tag!.gated).toEqual([expect.objectContaining({ instanceId: STRANGER, code: 'NOT_AN_FNMS_BEACON' })]);
    const told = harness.twin.notifier.sent.filter((n) => n.outcome.instanceId === STRANGER && n.outcome.requestId === `new-beacon-${STRANGER}`);
    expect(told.map((n) => n.outcome.state)).toEqual(['skipped']);
    expect(told[0]!.outcome.reasons![0]).toMatch(/WEB-SERVER-7/);
  });

  it('the new-beacon poll plans the FNMS beacon nobody configured, leaves the API-configured one alone, and does not plan one twice', () => {
    expect(poll).toMatchObject({ mode: 'observe', enqueued: [], planned: [NEW], alreadySeen: [TAGGED], alreadyConfigured: [DRIFTED] });
  });

  it('the plans list what applying the default profile would change', async () => {
    for (const id of [NEW, TAGGED]) {
      const status = (await harness.twin.store.getRequestStatus(`new-beacon-plan-${id}`))!;
      expect(status.request).toMatchObject({ source: 'new-beacon', request: { dryRun: true } });
      const beacon = status.beacons[0]!;
      expect(beacon.state, id).toBe('dry-run');
      const wouldChange = beacon.checks!.filter((check) => !check.ok).map((check) => check.name);
      expect(wouldChange.join(' '), id).toMatch(/https_proxy/);
    }
    expect(await harness.twin.store.getRequestStatus(`new-beacon-${NEW}`)).toBeNull();
  });

  it('the drift pass verifies each beacon against its own baseline and reports what a re-apply would change, without re-applying', async () => {
    expect(drift.phase).toBe('done');
    const byBeacon = Object.fromEntries(drift.findings.map((f) => [f.instanceId, f]));
    expect(byBeacon[DRIFTED]).toMatchObject({ action: 'planned', against: { kind: 'baseline', requestId: 'api-drifted' }, requestId: `drift-plan-${drift.passId}-${DRIFTED}` });
    expect(byBeacon[DRIFTED]!.changes!.join(' ')).toMatch(/LocalSystem/);
    for (const id of [NEW, TAGGED]) expect(byBeacon[id], id).toMatchObject({ action: 'planned', against: { kind: 'default-profile' } });
    expect(byBeacon[STRANGER]).toMatchObject({ action: 'gated', reason: expect.stringMatching(/^NOT_AN_FNMS_BEACON/) });
    expect(drift.totals).toMatchObject({ beacons: 4, planned: 3, gated: 1, reapplied: 0 });

    const plan = (await harness.twin.store.getRequestStatus(`drift-plan-${drift.passId}-${DRIFTED}`))!;
    expect(plan.request.request).toMatchObject({ dryRun: true, proxy: 'proxy.corp.example:8080', account: { name: 'CORP\\svc-beacon' } });
    expect(plan.beacons[0]!.state).toBe('dry-run');
    expect(plan.beacons[0]!.checks!.filter((c) => !c.ok).map((c) => JSON.stringify(c.actual)).join(' ')).toMatch(/LocalSystem|SYSTEM/);
    expect(await harness.twin.store.getRequestStatus(`drift-${drift.passId}-${DRIFTED}`)).toBeNull();
  });
});
