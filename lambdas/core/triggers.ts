/**
 * The automatic triggers (new beacon from the FNMS report, the beacon tag, the drift re-apply): how far they
 * may go (the stack's trigger mode), who they may configure (the tag gate), and the requests they queue.
 */
import { buildRequestFromProfile } from './chatops/profile.js';
import type { RequestInput } from './request.js';

/**
 * `off`: the triggers do nothing; `observe` (the default after a deploy): they plan and report (dry-run
 * requests, nothing changes on a beacon); `apply`: they configure beacons.
 */
export const TRIGGER_MODES = ['off', 'observe', 'apply'] as const;
export type TriggerMode = (typeof TRIGGER_MODES)[number];
export const DEFAULT_TRIGGER_MODE: TriggerMode = 'observe';

export function parseTriggerMode(value: string | undefined): TriggerMode {
  if (value === undefined || value === '') return DEFAULT_TRIGGER_MODE;
  if ((TRIGGER_MODES as readonly string[]).includes(value)) return value as TriggerMode;
  throw new Error(`trigger mode "${value}" is not one of ${TRIGGER_MODES.join(', ')}; set the stack's triggerMode`);
}

/** Windows computer names compare case-insensitively and without the DNS suffix SSM often reports. */
export function shortComputerName(name: string | null | undefined): string | null {
  const short = (name ?? '').trim().split('.')[0]?.toUpperCase() ?? '';
  return short.length > 0 ? short : null;
}

/**
 * Why the tag alone is not enough: whoever may tag an instance would get the default profile applied (an
 * account added to the local Administrators). An instance is configured automatically only when the FNMS
 * beacon inventory lists its computer name, or when the stack opted in to tag-only (`autoApplyTagOnly`).
 */
export type AutoApplyDecision =
  | { allowed: true; basis: 'fnms-listed' | 'tag-only-opt-in' }
  | { allowed: false; code: 'NOT_AN_FNMS_BEACON' | 'NO_FNMS_INVENTORY' | 'FNMS_INVENTORY_UNAVAILABLE'; reason: string };

/** The FNMS beacon inventory as the gate sees it: short computer names, or why it is not at hand. */
export type FnmsBeaconNames = { kind: 'listed'; names: ReadonlySet<string> } | { kind: 'none' } | { kind: 'unavailable'; error: string };

export function fnmsBeaconNames(computerNames: Iterable<string>): FnmsBeaconNames {
  const names = new Set<string>();
  for (const name of computerNames) {
    const short = shortComputerName(name);
    if (short) names.add(short);
  }
  return { kind: 'listed', names };
}

export function decideAutoApply(computerName: string | null, inventory: FnmsBeaconNames, autoApplyTagOnly: boolean): AutoApplyDecision {
  const short = shortComputerName(computerName);
  if (inventory.kind === 'listed' && short !== null && inventory.names.has(short)) return { allowed: true, basis: 'fnms-listed' };
  if (autoApplyTagOnly) return { allowed: true, basis: 'tag-only-opt-in' };
  if (inventory.kind === 'none') {
    return {
      allowed: false,
      code: 'NO_FNMS_INVENTORY',
      reason: 'the beacon tag alone does not configure an instance, and the stack reads no FNMS beacon inventory (fnmsInventory=none) to confirm it is a beacon; configure it with a request, or set fnmsInventory (or autoApplyTagOnly=true with the tag key protected by an SCP)',
    };
  }
  if (inventory.kind === 'unavailable') {
    return {
      allowed: false,
      code: 'FNMS_INVENTORY_UNAVAILABLE',
      reason: `the FNMS beacon inventory could not be read (${inventory.error}), so the instance is not confirmed as a beacon; it is tried again on the next run`,
    };
  }
  return {
    allowed: false,
    code: 'NOT_AN_FNMS_BEACON',
    reason: `the FNMS beacon inventory does not list the computer name ${computerName ?? '(unknown)'} as a beacon, and the beacon tag alone does not configure an instance; check the tag, or configure it with a request`,
  };
}

/** Request ids of the triggers: deterministic, so a repeated run is absorbed by the intake's idempotency. */
export const TRIGGER_REQUEST_IDS = {
  newBeacon: (instanceId: string) => `new-beacon-${instanceId}`,
  newBeaconPlan: (instanceId: string) => `new-beacon-plan-${instanceId}`,
  drift: (passId: string, instanceId: string) => `drift-${passId}-${instanceId}`,
  driftPlan: (passId: string, instanceId: string) => `drift-plan-${passId}-${instanceId}`,
} as const;

/**
 * The request a trigger queues for one beacon: the content (a profile or a baseline, validated like any
 * request), with the beacon as target; in observe mode a dry run.
 */
export function triggerRequest(content: Record<string, unknown>, instanceId: string, requestId: string, dryRun: boolean): RequestInput {
  const { input } = buildRequestFromProfile(dryRun ? { ...content, dryRun: true } : content, { kind: 'instances', instanceIds: [instanceId] }, requestId);
  return input;
}
