/**
 * New beacons get the default profile. Two triggers, one handler:
 *  - a schedule reads the beacon inventory (the saved FNMS report, through Flexera's documented report API:
 *    Flexera One REST or on-premises SOAP) and matches each beacon to an SSM managed instance carrying the
 *    beacon tag by computer name;
 *  - an EventBridge rule fires when the beacon tag is put on an EC2 instance or managed instance.
 * Each instance is queued once (remembered in the table); the request id is deterministic, so a race
 * between the two triggers is absorbed by the intake's idempotency.
 */
import type { EventBridgeEvent } from 'aws-lambda';
import { type BeaconInventory, isBeaconInventoryError } from '../core/fnms/index.js';
import { type BeaconCommands, type FleetMemory, type Log, type ProfileStore, type RequestQueue, silentLog } from '../core/ports.js';
import * as awsConfig from '../aws/clients/config.js';
import * as awsDynamo from '../aws/clients/dynamo.js';
import * as awsSqs from '../aws/clients/sqs.js';
import * as awsSsm from '../aws/clients/ssm.js';
import { ENV, METRICS } from '../aws/env-names.js';
import { inventoryFromEnv } from '../aws/inventory.js';
import { countMetric, env, lambdaEntry, log } from '../aws/runtime.js';
import { enqueueDefaultProfile, shortComputerName } from './trigger.js';

export interface NewBeaconDeps {
  /** The beacon inventory (FNMS report); null when the stack configures none (the schedule is then not created). */
  inventory: BeaconInventory | null;
  commands: BeaconCommands;
  memory: FleetMemory;
  profiles: ProfileStore;
  queue: RequestQueue;
  beaconTag: { key: string; value: string };
  defaultProfile: string;
  log?: Log;
  /** Counts FNMS failures (the FnmsErrors metric the alarm watches). */
  countFnmsError?: () => void;
}

export type ScheduleEvent = { source: 'beacon-proxy.schedule' };
export type TagChangeEvent = EventBridgeEvent<'Tag Change on Resource', { 'changed-tag-keys'?: string[]; tags?: Record<string, string>; service?: string; 'resource-type'?: string }>;

export interface NewBeaconResult {
  enqueued: string[];
  alreadySeen: string[];
  /** FNMS beacons without a tagged, managed instance of the same computer name. */
  unmatched: string[];
}

/** Instance id at the end of an EC2 instance or SSM managed-instance ARN. */
export function instanceIdFromArn(arn: string): string | null {
  const match = /:(?:instance|managed-instance)\/((?:i|mi)-[0-9a-f]+)$/.exec(arn);
  return match ? match[1]! : null;
}

export const newBeaconRequestId = (instanceId: string): string => `new-beacon-${instanceId}`;

export function createNewBeaconHandler(deps: NewBeaconDeps) {
  const logger = deps.log ?? silentLog;

  async function enqueueOnce(instanceIds: string[], result: NewBeaconResult): Promise<void> {
    for (const instanceId of instanceIds) {
      const key = `seen-beacon#${instanceId}`;
      if (await deps.memory.getValue(key)) {
        result.alreadySeen.push(instanceId);
        continue;
      }
      await enqueueDefaultProfile(deps, instanceId, newBeaconRequestId(instanceId), 'new-beacon');
      // Remembered only after the request is queued: a crash in between queues it again, which the intake deduplicates.
      await deps.memory.putValue(key, { instanceId });
      result.enqueued.push(instanceId);
    }
  }

  async function fromInventory(result: NewBeaconResult): Promise<void> {
    const inventory = deps.inventory;
    if (inventory === null) {
      throw new Error('the FNMS beacon inventory is not configured (fnmsInventory=none), so the schedule has no beacon list to read; configure the report (README, "FNMS set-up")');
    }
    const listBeacons = inventory.listBeacons().catch((error: unknown) => {
      if (isBeaconInventoryError(error)) {
        deps.countFnmsError?.();
        logger.error('FNMS beacon inventory failed', { error: error.toJSON() });
      }
      throw error;
    });
    const [beacons, instances] = await Promise.all([listBeacons, deps.commands.findManagedInstances({ tag: deps.beaconTag })]);
    const byName = new Map<string, string>();
    for (const instance of instances) {
      const name = shortComputerName(instance.computerName);
      if (name && (instance.platformType ?? '').toLowerCase() === 'windows') byName.set(name, instance.instanceId);
    }
    const matched: string[] = [];
    for (const beacon of beacons) {
      const instanceId = byName.get(shortComputerName(beacon.computerName) ?? '');
      if (instanceId) matched.push(instanceId);
      else result.unmatched.push(beacon.computerName);
    }
    await enqueueOnce([...new Set(matched)].sort(), result);
  }

  async function fromTagChange(event: TagChangeEvent, result: NewBeaconResult): Promise<void> {
    if (event.detail.tags?.[deps.beaconTag.key] !== deps.beaconTag.value) return;
    const ids = event.resources.map(instanceIdFromArn).filter((id): id is string => id !== null);
    if (ids.length === 0) return;
    const managed = await deps.commands.findManagedInstances({ instanceIds: ids });
    await enqueueOnce(managed.map((instance) => instance.instanceId).sort(), result);
  }

  return async function newBeacon(event: ScheduleEvent | TagChangeEvent): Promise<NewBeaconResult> {
    const result: NewBeaconResult = { enqueued: [], alreadySeen: [], unmatched: [] };
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
    beaconTag: awsConfig.beaconTag(),
    defaultProfile: env(ENV.defaultProfile),
    log,
    countFnmsError: () => countMetric(METRICS.fnmsErrors),
  });
});
