/**
 * New beacons get the default profile. Two triggers, one handler:
 *  - a schedule reads the beacon inventory (the saved FNMS report, through Flexera's documented report API:
 *    Flexera One REST or on-premises SOAP) and matches each beacon to an SSM managed instance carrying the
 *    beacon tag by computer name;
 *  - an EventBridge rule fires when the beacon tag is put on an EC2 instance or managed instance.
 * The tag alone is not enough (whoever may tag an instance would get an account into its local
 * Administrators): an instance is configured only when FNMS lists its computer name as a beacon, or when the
 * stack opted in to tag-only (`autoApplyTagOnly`). A beacon that already has a drift baseline (configured
 * through a request) keeps it: the default profile is for beacons never configured. The stack's trigger mode
 * decides how far it goes: `observe` queues a dry run (nothing changes), `apply` the real request, `off` nothing.
 * Each instance is queued once per mode (remembered in the table); request ids are deterministic, so a race
 * between the two triggers is absorbed by the intake's idempotency. A refused instance is recorded and the
 * outcome topic hears why (once per instance and reason).
 */
import type { EventBridgeEvent } from 'aws-lambda';
import type { BeaconInventory } from '../core/fnms/index.js';
import type { BaselineStore, BeaconCommands, FleetMemory, Log, ManagedInstance, Notifier, ProfileStore, RequestQueue } from '../core/ports.js';
import { silentLog } from '../core/ports.js';
import { type AutoApplyDecision, TRIGGER_REQUEST_IDS, type TriggerMode, decideAutoApply, fnmsBeaconNames, parseTriggerMode, shortComputerName } from '../core/triggers.js';
import * as awsConfig from '../aws/clients/config.js';
import * as awsDynamo from '../aws/clients/dynamo.js';
import * as awsSns from '../aws/clients/sns.js';
import * as awsSqs from '../aws/clients/sqs.js';
import * as awsSsm from '../aws/clients/ssm.js';
import { ENV, METRICS } from '../aws/env-names.js';
import { inventoryFromEnv } from '../aws/inventory.js';
import { countMetric, env, lambdaEntry, log, optionalEnv } from '../aws/runtime.js';
import { defaultProfileContent, enqueueForBeacon, readFnmsBeaconNames } from './trigger.js';

export interface NewBeaconDeps {
  /** The beacon inventory (FNMS report); null when the stack configures none (the schedule is then not created). */
  inventory: BeaconInventory | null;
  commands: BeaconCommands;
  memory: FleetMemory;
  profiles: ProfileStore;
  queue: RequestQueue;
  baselines: BaselineStore;
  notifier: Notifier;
  beaconTag: { key: string; value: string };
  defaultProfile: string;
  /** The stack's trigger mode (default observe: plan and report, change nothing). */
  mode?: TriggerMode;
  /** Opt-in: the beacon tag alone is enough to configure an instance (the tag key must be protected, README). */
  autoApplyTagOnly?: boolean;
  log?: Log;
  /** Counts FNMS failures (the FnmsErrors metric the alarm watches). */
  countFnmsError?: () => void;
}

export type ScheduleEvent = { source: 'beacon-proxy.schedule' };
export type TagChangeEvent = EventBridgeEvent<'Tag Change on Resource', { 'changed-tag-keys'?: string[]; tags?: Record<string, string>; service?: string; 'resource-type'?: string }>;

export interface GatedInstance {
  instanceId: string;
  computerName: string | null;
  code: Extract<AutoApplyDecision, { allowed: false }>['code'];
  reason: string;
}

export interface NewBeaconResult {
  mode: TriggerMode;
  /** apply: the default profile was queued. */
  enqueued: string[];
  /** observe: a dry run of the default profile was queued (what applying it would change). */
  planned: string[];
  /** Queued (or planned) by an earlier run in the same mode. */
  alreadySeen: string[];
  /** Configured through a request before (it has a drift baseline): the default profile is not for it. */
  alreadyConfigured: string[];
  /** FNMS beacons without a tagged, managed instance of the same computer name. */
  unmatched: string[];
  /** Refused by the tag gate, with the reason (recorded and notified). */
  gated: GatedInstance[];
}

/** Instance id at the end of an EC2 instance or SSM managed-instance ARN. */
export function instanceIdFromArn(arn: string): string | null {
  const match = /:(?:instance|managed-instance)\/((?:i|mi)-[0-9a-f]+)$/.exec(arn);
  return match ? match[1]! : null;
}

export const newBeaconRequestId = TRIGGER_REQUEST_IDS.newBeacon;

/** The trigger's last decision about an instance (FleetMemory value), for operators and support. */
export const newBeaconDecisionKey = (instanceId: string) => `new-beacon-decision#${instanceId}`;
const seenKey = (mode: 'apply' | 'observe', instanceId: string) => (mode === 'apply' ? `seen-beacon#${instanceId}` : `planned-beacon#${instanceId}`);

export function createNewBeaconHandler(deps: NewBeaconDeps) {
  const logger = deps.log ?? silentLog;
  const mode = deps.mode ?? parseTriggerMode(undefined);

  async function queueOnce(candidates: ManagedInstance[], basis: Extract<AutoApplyDecision, { allowed: true }>['basis'], result: NewBeaconResult): Promise<void> {
    if (mode === 'off' || candidates.length === 0) return;
    const baselines = await deps.baselines.getBaselines(candidates.map((c) => c.instanceId));
    let profile: Record<string, unknown> | undefined;
    for (const { instanceId } of candidates) {
      if (baselines.has(instanceId)) {
        result.alreadyConfigured.push(instanceId);
        continue;
      }
      const key = seenKey(mode, instanceId);
      if (await deps.memory.getValue(key)) {
        result.alreadySeen.push(instanceId);
        continue;
      }
      profile ??= await defaultProfileContent(deps);
      const requestId = mode === 'apply' ? TRIGGER_REQUEST_IDS.newBeacon(instanceId) : TRIGGER_REQUEST_IDS.newBeaconPlan(instanceId);
      await enqueueForBeacon(deps.queue, profile, instanceId, requestId, 'new-beacon', mode === 'observe');
      // Remembered only after the request is queued: a crash in between queues it again, which the intake deduplicates.
      await deps.memory.putValue(key, { instanceId, requestId, basis });
      await deps.memory.putValue(newBeaconDecisionKey(instanceId), { decision: mode === 'apply' ? 'applied' : 'planned', basis, requestId, mode });
      (mode === 'apply' ? result.enqueued : result.planned).push(instanceId);
    }
  }

  async function refuse(instance: ManagedInstance, decision: Extract<AutoApplyDecision, { allowed: false }>, result: NewBeaconResult): Promise<void> {
    const { instanceId, computerName } = instance;
    result.gated.push({ instanceId, computerName, code: decision.code, reason: decision.reason });
    await deps.memory.putValue(newBeaconDecisionKey(instanceId), { decision: 'refused', code: decision.code, reason: decision.reason, mode });
    logger.warn('the beacon tag alone does not configure an instance', { instanceId, computerName, code: decision.code });
    // Told once per instance and reason; an unreadable inventory is not remembered (the next run tries again).
    if (decision.code !== 'FNMS_INVENTORY_UNAVAILABLE' && !(await deps.memory.markOnce(`new-beacon-refused#${instanceId}#${decision.code}`))) return;
    await deps.notifier.notify({
      requestId: newBeaconRequestId(instanceId),
      instanceId,
      state: 'skipped',
      summary: `${instanceId}: not configured by the new-beacon trigger (the ${deps.beaconTag.key} tag is on it)`,
      reasons: [`${decision.code}: ${decision.reason}`],
    });
  }

  async function fromInventory(result: NewBeaconResult): Promise<void> {
    const inventory = deps.inventory;
    if (inventory === null) {
      throw new Error('the FNMS beacon inventory is not configured (fnmsInventory=none), so the schedule has no beacon list to read; configure the report (README, "FNMS set-up")');
    }
    const names = await readFnmsBeaconNames(inventory, logger, deps.countFnmsError);
    // The schedule's whole job is the inventory: a report that cannot be read fails the run loudly.
    if (names.kind === 'unavailable') throw new Error(`the FNMS beacon inventory could not be read: ${names.error}`);
    const instances = await deps.commands.findManagedInstances({ tag: deps.beaconTag });
    const byName = new Map<string, ManagedInstance>();
    for (const instance of instances) {
      const name = shortComputerName(instance.computerName);
      if (name && (instance.platformType ?? '').toLowerCase() === 'windows') byName.set(name, instance);
    }
    const listed = names.kind === 'listed' ? names.names : new Set<string>();
    const matched = new Map<string, ManagedInstance>();
    for (const name of [...listed].sort()) {
      const instance = byName.get(name);
      if (instance) matched.set(instance.instanceId, instance);
      else result.unmatched.push(name);
    }
    await queueOnce([...matched.values()].sort((a, b) => (a.instanceId < b.instanceId ? -1 : 1)), 'fnms-listed', result);
  }

  async function fromTagChange(event: TagChangeEvent, result: NewBeaconResult): Promise<void> {
    if (event.detail.tags?.[deps.beaconTag.key] !== deps.beaconTag.value) return;
    const ids = event.resources.map(instanceIdFromArn).filter((id): id is string => id !== null);
    if (ids.length === 0 || mode === 'off') return;
    const managed = (await deps.commands.findManagedInstances({ instanceIds: ids })).sort((a, b) => (a.instanceId < b.instanceId ? -1 : 1));
    if (managed.length === 0) return;
    const names = deps.autoApplyTagOnly ? fnmsBeaconNames([]) : await readFnmsBeaconNames(deps.inventory, logger, deps.countFnmsError);
    const admitted = new Map<'fnms-listed' | 'tag-only-opt-in', ManagedInstance[]>();
    for (const instance of managed) {
      const decision = decideAutoApply(instance.computerName, names, deps.autoApplyTagOnly ?? false);
      if (decision.allowed) admitted.set(decision.basis, [...(admitted.get(decision.basis) ?? []), instance]);
      else await refuse(instance, decision, result);
    }
    for (const [basis, instances] of admitted) await queueOnce(instances, basis, result);
  }

  return async function newBeacon(event: ScheduleEvent | TagChangeEvent): Promise<NewBeaconResult> {
    const result: NewBeaconResult = { mode, enqueued: [], planned: [], alreadySeen: [], alreadyConfigured: [], unmatched: [], gated: [] };
    if (mode === 'off') {
      logger.info('new-beacon trigger is off (triggerMode=off): nothing queued');
      return result;
    }
    if ('detail-type' in event && event['detail-type'] === 'Tag Change on Resource') await fromTagChange(event, result);
    else await fromInventory(result);
    logger.info('new-beacon pass', { ...result });
    return result;
  };
}

export const handler = lambdaEntry(() => {
  return createNewBeaconHandler({
    inventory: inventoryFromEnv(),
    commands: awsSsm.beaconCommands(),
    memory: awsDynamo.fleetMemory(),
    profiles: awsSsm.profileStore(),
    queue: awsSqs.requestQueue(),
    baselines: awsDynamo.baselineStore(),
    notifier: awsSns.notifier(),
    beaconTag: awsConfig.beaconTag(),
    defaultProfile: env(ENV.defaultProfile),
    mode: parseTriggerMode(optionalEnv(ENV.triggerMode)),
    autoApplyTagOnly: optionalEnv(ENV.autoApplyTagOnly) === 'true',
    log,
    countFnmsError: () => countMetric(METRICS.fnmsErrors),
  });
});
