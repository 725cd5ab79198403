/** Shared by the new-beacon and drift triggers: turn the default profile into a request for one beacon and queue it. */
import { buildRequestFromProfile } from '../core/chatops/index.js';
import { SYSTEM_CALLER } from '../core/caller.js';
import type { ProfileStore, RequestQueue } from '../core/ports.js';

export async function enqueueDefaultProfile(
  deps: { profiles: ProfileStore; queue: RequestQueue; defaultProfile: string },
  instanceId: string,
  requestId: string,
  source: 'new-beacon' | 'drift',
): Promise<void> {
  const profile = await deps.profiles.getProfile(deps.defaultProfile);
  if (!profile) throw new Error(`the default profile "${deps.defaultProfile}" does not exist in Parameter Store; new and drifted beacons cannot be configured`);
  const { input } = buildRequestFromProfile(profile, { kind: 'instances', instanceIds: [instanceId] }, requestId);
  await deps.queue.enqueue(input as unknown as Record<string, unknown>, { source, caller: source === 'drift' ? SYSTEM_CALLER.drift : SYSTEM_CALLER.newBeacon });
}

/** Windows computer names compare case-insensitively and without the DNS suffix SSM often reports. */
export function shortComputerName(name: string | null | undefined): string | null {
  const short = (name ?? '').trim().split('.')[0]?.toUpperCase() ?? '';
  return short.length > 0 ? short : null;
}
