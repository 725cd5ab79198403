/**
 * The fleet drift check. A schedule invokes it every few minutes (a tick); each tick works on the current
 * pass within its time budget and saves a checkpoint, so a pass over thousands of beacons continues across
 * invocations instead of starting again (lambdas/core/drift-pass.ts):
 *  - a new pass starts when the last one started `intervalSeconds` ago: a snapshot of the online tagged
 *    Windows beacons, in pages of 50;
 *  - sending: each beacon is verified (the read-only verify document) against its own baseline, the desired
 *    state last applied and verified on it; a beacon never configured through beacon-proxy against the default
 *    profile. One verify command per page and distinct baseline;
 *  - reviewing: once a page's commands ended (or their deadline passed), a drifted beacon gets its own
 *    baseline re-applied (an upgrade resets the service account; an interrupted run leaves it half configured);
 *    the default profile only for a beacon never configured, and only through the tag gate. In `observe` mode
 *    (the default) a dry-run request shows what a re-apply would change; `off` does nothing.
 * No tick waits for a document to finish. One tick works at a time (a lease on the checkpoint).
 */
import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { buildRequestFromProfile } from '../core/chatops/index.js';
import { isTerminalCommandStatus } from '../core/command-result.js';
import { documentParameters, renderDesiredState } from '../core/desired-state.js';
import { DOCUMENT_PARAMETERS } from '../core/document-contract.js';
import {
  DRIFT_LEASE_SECONDS,
  type DriftCheckpoint,
  type DriftCommand,
  type DriftFinding,
  type DriftPage,
  type DriftPageReview,
  type DriftTarget,
  type DriftTotals,
  type VerifiedAgainst,
  addFinding,
  boundedChanges,
  describeAgainst,
  driftPassId,
  emptyTotals,
  isPassDue,
  judgeVerify,
  pageTargets,
} from '../core/drift-pass.js';
import { isRequestError } from '../core/errors.js';
import type { BeaconInventory } from '../core/fnms/index.js';
import { type BaselineStore, type BeaconCommands, type Clock, type DriftPassStore, type Log, type ProfileStore, type RequestQueue, silentLog } from '../core/ports.js';
import { judgeResult } from '../core/result.js';
import type { WorkflowTiming } from '../core/timing.js';
import { type FnmsBeaconNames, TRIGGER_REQUEST_IDS, type TriggerMode, decideAutoApply, parseTriggerMode } from '../core/triggers.js';
import * as awsConfig from '../aws/clients/config.js';
import * as awsDynamo from '../aws/clients/dynamo.js';
import * as awsSdk from '../aws/clients/sdk.js';
import * as awsSqs from '../aws/clients/sqs.js';
import * as awsSsm from '../aws/clients/ssm.js';
import { workflowTiming } from '../aws/clients/timing.js';
import { ENV, METRICS } from '../aws/env-names.js';
import { inventoryFromEnv } from '../aws/inventory.js';
import { countMetric, env, lambdaEntry, log, numberEnv, optionalEnv } from '../aws/runtime.js';
import { readFnmsBeaconNames, enqueueForBeacon } from '../new-beacon/trigger.js';

export interface DriftCheckDeps {
  commands: BeaconCommands;
  baselines: BaselineStore;
  passes: DriftPassStore;
  profiles: ProfileStore;
  queue: RequestQueue;
  clock: Clock;
  /** The FNMS beacon inventory for the tag gate (never-configured beacons); null when the stack reads none. */
  inventory: BeaconInventory | null;
  beaconTag: { key: string; value: string };
  defaultProfile: string;
  verifyDocumentName: string;
  /** `none`, or an FNMS URL the verify document requests through the proxy. */
  checkEndpoint: string;
  /** A new pass starts this long after the last one started (driftCheckScheduleHours). */
  intervalSeconds: number;
  /** The verify command's delivery deadline and the time after which its result is read regardless. */
  timing: Pick<WorkflowTiming, 'deliveryTimeoutSeconds' | 'pollDeadlineSeconds'>;
  /** The stack's trigger mode (default observe). */
  mode?: TriggerMode;
  autoApplyTagOnly?: boolean;
  log?: Log;
  countFnmsError?: () => void;
}

export interface DriftTickResult {
  mode: TriggerMode;
  /** off: the trigger is off; busy: another invocation holds the pass; idle: no pass due; worked: this tick advanced the pass. */
  action: 'off' | 'busy' | 'idle' | 'worked';
  passId: string | null;
  phase: DriftCheckpoint['phase'] | null;
  /** Whether this tick started the pass. */
  started: boolean;
  pagesSent: number;
  pagesReviewed: number;
  /** The review stopped at a page whose verify commands are still running. */
  waitingForVerify: boolean;
  totals: DriftTotals | null;
  /** What this tick found (every page reviewed in it). */
  findings: DriftFinding[];
}

/** A drift pass's report: every page's review (what is in sync, what was re-applied, planned or refused, and why). */
export interface DriftReport {
  passId: string;
  phase: DriftCheckpoint['phase'];
  startedAt: string;
  finishedAt: string | null;
  totals: DriftTotals;
  inSync: string[];
  findings: DriftFinding[];
}

export async function readDriftReport(passes: DriftPassStore): Promise<DriftReport | null> {
  const checkpoint = await passes.getCheckpoint();
  if (!checkpoint) return null;
  const report: DriftReport = { passId: checkpoint.passId, phase: checkpoint.phase, startedAt: checkpoint.startedAt, finishedAt: checkpoint.finishedAt, totals: checkpoint.totals, inSync: [], findings: [] };
  for (let index = 0; index < checkpoint.pages; index += 1) {
    const review = (await passes.getPage(checkpoint.passId, index))?.review;
    if (!review) continue;
    report.inSync.push(...review.inSync);
    report.findings.push(...review.findings);
  }
  return report;
}

/** The margin a tick keeps before its function timeout: a quarter of its time, at most 10 s. */
export function tickDeadline(context: Pick<Context, 'getRemainingTimeInMillis'> | undefined, now = Date.now()): number {
  if (!context) return Number.POSITIVE_INFINITY;
  const remaining = context.getRemainingTimeInMillis();
  return now + remaining - Math.min(10_000, remaining / 4);
}

const groupKey = (against: VerifiedAgainst) => (against.kind === 'baseline' ? `baseline#${against.digest}` : `default#${against.profile}`);

export function createDriftCheckHandler(deps: DriftCheckDeps) {
  const logger = deps.log ?? silentLog;
  const mode = deps.mode ?? parseTriggerMode(undefined);

  /** The desired state a group of beacons is verified against, or why it cannot be. */
  function verifyParameters(content: Record<string, unknown>, passId: string, sampleInstance: string): Record<string, string[]> {
    const { request } = buildRequestFromProfile(content, { kind: 'instances', instanceIds: [sampleInstance] }, `drift-pass-${passId}`);
    return { ...documentParameters(renderDesiredState(request)), [DOCUMENT_PARAMETERS.checkEndpoint.name]: [deps.checkEndpoint] };
  }

  async function startPass(now: Date): Promise<{ passId: string; pages: number; beacons: number }> {
    const passId = driftPassId(now);
    const online: DriftTarget[] = (await deps.commands.findManagedInstances({ tag: deps.beaconTag }))
      .filter((instance) => instance.pingStatus === 'Online' && (instance.platformType ?? '').toLowerCase() === 'windows')
      .map((instance) => ({ instanceId: instance.instanceId, computerName: instance.computerName }))
      .sort((a, b) => (a.instanceId < b.instanceId ? -1 : 1));
    const pages = pageTargets(online);
    for (const [index, targets] of pages.entries()) {
      await deps.passes.putPage({ passId, index, targets, commands: [], unverified: [], sentAt: null, review: null });
    }
    return { passId, pages: pages.length, beacons: online.length };
  }

  /** Sends the page's verify commands; resumable: groups already sent (recorded in the page) are not sent again. */
  async function sendPage(page: DriftPage): Promise<void> {
    const baselines = await deps.baselines.getBaselines(page.targets.map((t) => t.instanceId));
    const groups = new Map<string, { against: VerifiedAgainst; content: Record<string, unknown> | null; instanceIds: string[] }>();
    let defaultProfile: Record<string, unknown> | null | undefined;
    for (const { instanceId } of page.targets) {
      const baseline = baselines.get(instanceId);
      let against: VerifiedAgainst;
      let content: Record<string, unknown> | null;
      if (baseline?.content === null) {
        // Rolled back by an operator: nothing to verify against, nothing to re-apply.
        if (!page.unverified.some((u) => u.instanceId === instanceId)) {
          page.unverified.push({
            instanceId,
            against: { kind: 'baseline', requestId: baseline.requestId, digest: baseline.digest },
            action: 'held',
            reason: `rolled back by request ${baseline.requestId} (the capture of ${baseline.hold?.restoredCapture ?? 'its last configure'} restored); left as it is until its next configure`,
          });
        }
        continue;
      }
      if (baseline) {
        against = { kind: 'baseline', requestId: baseline.requestId, digest: baseline.digest };
        content = baseline.content;
      } else {
        against = { kind: 'default-profile', profile: deps.defaultProfile };
        if (defaultProfile === undefined) defaultProfile = await deps.profiles.getProfile(deps.defaultProfile);
        content = defaultProfile;
      }
      const key = groupKey(against);
      const group = groups.get(key) ?? { against, content, instanceIds: [] };
      group.instanceIds.push(instanceId);
      groups.set(key, group);
    }
    const done = new Set(page.commands.map((c) => groupKey(c.against)));
    const refused = new Set(page.unverified.map((u) => u.instanceId));
    for (const [key, group] of groups) {
      if (done.has(key) || group.instanceIds.every((id) => refused.has(id))) continue;
      if (group.content === null) {
        logger.error('the default profile does not exist: beacons never configured through beacon-proxy cannot be verified', { profile: deps.defaultProfile });
        for (const instanceId of group.instanceIds) {
          page.unverified.push({ instanceId, against: group.against, action: 'unknown', reason: `the default profile "${deps.defaultProfile}" does not exist in Parameter Store` });
        }
        await deps.passes.putPage(page);
        continue;
      }
      let parameters: Record<string, string[]>;
      try {
        parameters = verifyParameters(group.content, page.passId, group.instanceIds[0]!);
      } catch (error) {
        if (!isRequestError(error)) throw error;
        for (const instanceId of group.instanceIds) {
          page.unverified.push({ instanceId, against: group.against, action: 'invalid-baseline', reason: `${error.code} at ${error.field}: ${error.message}` });
        }
        await deps.passes.putPage(page);
        continue;
      }
      const commandId = await deps.commands.sendCommand(group.instanceIds, deps.verifyDocumentName, parameters, {
        comment: `beacon-proxy drift ${page.passId} p${page.index}`,
        deliveryTimeoutSeconds: deps.timing.deliveryTimeoutSeconds,
      });
      const command: DriftCommand = { commandId, instanceIds: group.instanceIds, against: group.against };
      page.commands.push(command);
      // Saved after each command: a retried page sends only what is missing.
      await deps.passes.putPage(page);
    }
    page.sentAt = deps.clock.now().toISOString();
    await deps.passes.putPage(page);
  }

  /** Reviews a page, or returns null while its verify commands still run before their deadline. */
  async function reviewPage(page: DriftPage, names: () => Promise<FnmsBeaconNames>): Promise<DriftPageReview | null> {
    const now = deps.clock.now();
    const deadlinePassed = page.sentAt !== null && now.getTime() >= Date.parse(page.sentAt) + deps.timing.pollDeadlineSeconds.verify * 1000;
    const statuses = new Map<string, Array<{ instanceId: string; status: string }>>();
    for (const command of page.commands) {
      const listed = new Map((await deps.commands.listInvocations(command.commandId)).map((i) => [i.instanceId, i.status]));
      // Right after SendCommand, SSM may not list every invocation yet: one it does not list is still pending.
      const invocations = command.instanceIds.map((instanceId) => ({ instanceId, status: listed.get(instanceId) ?? 'Pending' }));
      if (!deadlinePassed && invocations.some((i) => !isTerminalCommandStatus(i.status))) return null;
      statuses.set(command.commandId, invocations);
    }
    const current = await deps.baselines.getBaselines(page.targets.map((t) => t.instanceId));
    const computerName = new Map(page.targets.map((t) => [t.instanceId, t.computerName]));
    const review: DriftPageReview = { reviewedAt: now.toISOString(), inSync: [], findings: [] };
    for (const u of page.unverified) review.findings.push({ instanceId: u.instanceId, action: u.action, against: u.against, reason: u.reason });
    let defaultProfile: Record<string, unknown> | null | undefined;

    async function act(instanceId: string, against: VerifiedAgainst, changes: string[]): Promise<DriftFinding> {
      const finding: DriftFinding = { instanceId, action: 'unknown', against, changes: boundedChanges(changes) };
      const baseline = current.get(instanceId);
      let content: Record<string, unknown>;
      if (against.kind === 'baseline') {
        if (baseline?.digest !== against.digest || baseline.content === null) {
          return { ...finding, action: 'superseded', reason: `another request set a new baseline (${baseline?.requestId ?? 'none'}) after this verify was sent; the next pass verifies that one` };
        }
        content = baseline.content;
      } else {
        if (baseline) return { ...finding, action: 'superseded', reason: `request ${baseline.requestId} configured the beacon after this verify was sent; the next pass verifies its baseline` };
        const decision = decideAutoApply(computerName.get(instanceId) ?? null, await names(), deps.autoApplyTagOnly ?? false);
        if (!decision.allowed) return { ...finding, action: 'gated', reason: `${decision.code}: ${decision.reason}` };
        defaultProfile ??= await deps.profiles.getProfile(deps.defaultProfile);
        if (!defaultProfile) return { ...finding, action: 'unknown', reason: `the default profile "${deps.defaultProfile}" does not exist in Parameter Store` };
        content = defaultProfile;
      }
      const observe = mode !== 'apply';
      const requestId = observe ? TRIGGER_REQUEST_IDS.driftPlan(page.passId, instanceId) : TRIGGER_REQUEST_IDS.drift(page.passId, instanceId);
      try {
        await enqueueForBeacon(deps.queue, content, instanceId, requestId, 'drift', observe);
      } catch (error) {
        if (!isRequestError(error)) throw error;
        return { ...finding, action: 'invalid-baseline', reason: `${error.code} at ${error.field}: ${error.message}` };
      }
      return { ...finding, action: observe ? 'planned' : 'reapplied', requestId, reason: `drifted from ${describeAgainst(against)}` };
    }

    for (const command of page.commands) {
      for (const { instanceId, status } of statuses.get(command.commandId) ?? []) {
        if (!isTerminalCommandStatus(status)) {
          review.findings.push({ instanceId, action: 'unknown', against: command.against, reason: `the verify was still ${status} at its deadline` });
          continue;
        }
        const invocation = await deps.commands.getInvocation(command.commandId, instanceId);
        const judgement = judgeVerify(status, judgeResult(invocation?.stdout));
        if (judgement.kind === 'in-sync') review.inSync.push(instanceId);
        else if (judgement.kind === 'unknown') review.findings.push({ instanceId, action: 'unknown', against: command.against, reason: judgement.reason });
        else review.findings.push(await act(instanceId, command.against, judgement.changes));
      }
    }
    return review;
  }

  return async function driftCheck(_event?: unknown, context?: Pick<Context, 'getRemainingTimeInMillis'>): Promise<DriftTickResult> {
    const deadline = tickDeadline(context);
    const result: DriftTickResult = { mode, action: 'off', passId: null, phase: null, started: false, pagesSent: 0, pagesReviewed: 0, waitingForVerify: false, totals: null, findings: [] };
    if (mode === 'off') {
      logger.info('drift check is off (triggerMode=off): no verify pass');
      return result;
    }
    const owner = randomUUID();
    let checkpoint = await deps.passes.getCheckpoint();
    const now = deps.clock.now();
    Object.assign(result, { passId: checkpoint?.passId ?? null, phase: checkpoint?.phase ?? null, totals: checkpoint?.totals ?? null });
    if (checkpoint?.lease && Date.parse(checkpoint.lease.until) > now.getTime()) return { ...result, action: 'busy' };
    const due = isPassDue(checkpoint, now, deps.intervalSeconds);
    if (!due && checkpoint?.phase === 'done') return { ...result, action: 'idle' };

    const save = async (next: DriftCheckpoint): Promise<boolean> => {
      const expected = checkpoint?.version ?? null;
      const written = { ...next, version: (expected ?? 0) + 1 };
      if (!(await deps.passes.saveCheckpoint(written, expected))) return false;
      checkpoint = written;
      return true;
    };
    const lease = { owner, until: new Date(now.getTime() + DRIFT_LEASE_SECONDS * 1000).toISOString() };
    // Take the pass first (the very first one too): a second tick running at the same time stops here.
    const leased = await save(checkpoint ? { ...checkpoint, lease } : { version: 0, passId: 'none', startedAt: new Date(0).toISOString(), phase: 'done', pages: 0, nextPage: 0, totals: emptyTotals(), finishedAt: null, lease });
    if (!leased) return { ...result, action: 'busy' };
    result.action = 'worked';
    if (due) {
      const { passId, pages, beacons } = await startPass(now);
      const fresh: DriftCheckpoint = { version: 0, passId, startedAt: now.toISOString(), phase: pages === 0 ? 'done' : 'sending', pages, nextPage: 0, totals: { ...emptyTotals(), beacons }, finishedAt: pages === 0 ? now.toISOString() : null, lease };
      if (!(await save(fresh))) return { ...result, action: 'busy' };
      result.started = true;
    }
    let fnmsNames: Promise<FnmsBeaconNames> | undefined;
    const names = () => (fnmsNames ??= readFnmsBeaconNames(deps.inventory, logger, deps.countFnmsError));
    try {
      // At least one page per tick, however little time is left: every tick moves the pass on.
      for (let first = true; checkpoint!.phase !== 'done' && (first || Date.now() < deadline); first = false) {
        const cp: DriftCheckpoint = checkpoint!;
        const page = await deps.passes.getPage(cp.passId, cp.nextPage);
        if (!page) throw new Error(`drift pass ${cp.passId} has no page ${cp.nextPage}; the next pass starts over`);
        if (cp.phase === 'sending') {
          await sendPage(page);
          result.pagesSent += 1;
          const last = cp.nextPage + 1 >= cp.pages;
          if (!(await save({ ...cp, phase: last ? 'reviewing' : 'sending', nextPage: last ? 0 : cp.nextPage + 1 }))) return { ...result, action: 'busy' };
          continue;
        }
        const review = page.review ?? (await reviewPage(page, names));
        if (!review) {
          result.waitingForVerify = true;
          break;
        }
        if (!page.review) await deps.passes.putPage({ ...page, review });
        const totals = { ...cp.totals, inSync: cp.totals.inSync + review.inSync.length };
        for (const finding of review.findings) addFinding(totals, finding.action);
        result.findings.push(...review.findings);
        result.pagesReviewed += 1;
        const last = cp.nextPage + 1 >= cp.pages;
        const at = deps.clock.now().toISOString();
        if (!(await save({ ...cp, totals, phase: last ? 'done' : 'reviewing', nextPage: last ? cp.nextPage : cp.nextPage + 1, finishedAt: last ? at : null }))) return { ...result, action: 'busy' };
      }
    } finally {
      // Hand the pass on: the next tick continues where this one stopped.
      if (checkpoint?.lease?.owner === owner) await save({ ...checkpoint, lease: null });
    }
    Object.assign(result, { passId: checkpoint!.passId, phase: checkpoint!.phase, totals: checkpoint!.totals });
    logger.info('drift tick', { mode, passId: result.passId, phase: result.phase, pagesSent: result.pagesSent, pagesReviewed: result.pagesReviewed, totals: result.totals });
    return result;
  };
}

export const handler = lambdaEntry(() =>
  createDriftCheckHandler({
    commands: awsSsm.beaconCommands(),
    baselines: awsDynamo.baselineStore(),
    passes: awsDynamo.driftPassStore(),
    profiles: awsSsm.profileStore(),
    queue: awsSqs.requestQueue(),
    clock: awsSdk.clock,
    inventory: inventoryFromEnv(),
    beaconTag: awsConfig.beaconTag(),
    defaultProfile: env(ENV.defaultProfile),
    verifyDocumentName: awsConfig.documentNames().verify,
    checkEndpoint: optionalEnv(ENV.verifyCheckEndpoint) ?? 'none',
    intervalSeconds: numberEnv(ENV.driftIntervalHours, 24) * 3600,
    timing: workflowTiming(),
    mode: parseTriggerMode(optionalEnv(ENV.triggerMode)),
    autoApplyTagOnly: optionalEnv(ENV.autoApplyTagOnly) === 'true',
    log,
    countFnmsError: () => countMetric(METRICS.fnmsErrors),
  }),
);
