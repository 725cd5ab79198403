/** Shared by the new-beacon and drift triggers: queue a request for one beacon, and read the FNMS inventory for the tag gate. */
import { type BeaconInventory, isBeaconInventoryError } from '../core/fnms/index.js';
import { SYSTEM_CALLER } from '../core/caller.js';
import type { Log, ProfileStore, RequestQueue, RequestSource } from '../core/ports.js';
import { type FnmsBeaconNames, fnmsBeaconNames, triggerRequest } from '../core/triggers.js';

export { shortComputerName } from '../core/triggers.js';

/** The default profile, or a loud failure: without it new and never-configured beacons cannot be configured. */
export async function defaultProfileContent(deps: { profiles: ProfileStore; defaultProfile: string }): Promise<Record<string, unknown>> {
  const profile = await deps.profiles.getProfile(deps.defaultProfile);
  if (!profile) throw new Error(`the default profile "${deps.defaultProfile}" does not exist in Parameter Store; new and never-configured beacons cannot be configured`);
  return profile;
}

/** Queues `content` (a profile or a baseline) for one beacon; a dry run in observe mode. Returns the request id. */
export async function enqueueForBeacon(
  queue: RequestQueue,
  content: Record<string, unknown>,
  instanceId: string,
  requestId: string,
  source: RequestSource,
  dryRun: boolean,
): Promise<string> {
  const input = triggerRequest(content, instanceId, requestId, dryRun);
  // A trigger's request is the system's, never a person's (shown as such in the status and notifications).
  await queue.enqueue(input as unknown as Record<string, unknown>, { source, caller: source === 'drift' ? SYSTEM_CALLER.drift : SYSTEM_CALLER.newBeacon });
  return requestId;
}

/**
 * The FNMS beacon names for the tag gate: `none` without an inventory; `unavailable` when the report cannot
 * be read (counted for the FnmsErrors alarm and logged): the gate then refuses, it never reads an empty fleet.
 */
export async function readFnmsBeaconNames(inventory: BeaconInventory | null, log: Log, countFnmsError?: () => void): Promise<FnmsBeaconNames> {
  if (inventory === null) return { kind: 'none' };
  try {
    return fnmsBeaconNames((await inventory.listBeacons()).map((beacon) => beacon.computerName));
  } catch (error) {
    if (!isBeaconInventoryError(error)) throw error;
    countFnmsError?.();
    log.error('FNMS beacon inventory failed', { error: error.toJSON() });
    return { kind: 'unavailable', error: `${error.code}: ${error.message}` };
  }
}
