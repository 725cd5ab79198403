/**
 * AcquireLock: one workflow per beacon at a time, in request order. Busy: the workflow waits and tries again
 * until the busy wait (at least the lock TTL, so it outlasts even a crashed holder) is over. Superseded: a
 * newer request already took the beacon, so this older one must change nothing.
 */
import { type BeaconLock, type Clock, type RequestStore, requestOrder } from '../core/ports.js';
import type { WorkflowTiming } from '../core/timing.js';
import type { LockStepResult } from '../workflow/state.js';
import * as awsDynamo from '../aws/clients/dynamo.js';
import * as awsSdk from '../aws/clients/sdk.js';
import { workflowTiming } from '../aws/clients/timing.js';
import { lambdaEntry } from '../aws/runtime.js';

export interface AcquireLockDeps {
  lock: BeaconLock;
  store: RequestStore;
  clock: Clock;
  timing: Pick<WorkflowTiming, 'lockTtlSeconds' | 'busyWaitSeconds' | 'lockPollSeconds' | 'maxLockPollSeconds'>;
}

export interface AcquireLockEvent {
  requestId: string;
  instanceId: string;
  /** The execution name: unique per (request, beacon). */
  owner: string;
  receivedAt: string;
  /** The previous try of this execution (attempt 0 before the first). */
  lock: Pick<LockStepResult, 'attempt' | 'firstTriedAt'>;
}

export function createAcquireLockHandler(deps: AcquireLockDeps) {
  return async function acquireLock(event: AcquireLockEvent): Promise<LockStepResult> {
    const now = deps.clock.now();
    const at = now.toISOString();
    const firstTriedAt = event.lock.firstTriedAt ?? at;
    const attempt = event.lock.attempt + 1;
    const base = { attempt, firstTriedAt, owner: event.owner, waitSeconds: 0, expiresAt: null, holder: null, newer: null };
    const result = await deps.lock.acquire(event.instanceId, event.owner, deps.timing.lockTtlSeconds, requestOrder(event.receivedAt, event.requestId));
    if (result.acquired) {
      await deps.store.putBeaconStatus({ requestId: event.requestId, instanceId: event.instanceId, state: 'locked', updatedAt: at });
      await deps.store.appendAudit({ requestId: event.requestId, instanceId: event.instanceId, at, event: 'lock.acquired', detail: { owner: event.owner, expiresAt: result.expiresAt } });
      return { ...base, acquired: true, superseded: false, giveUp: false, expiresAt: result.expiresAt };
    }
    if (result.reason === 'superseded') {
      await deps.store.appendAudit({ requestId: event.requestId, instanceId: event.instanceId, at, event: 'lock.superseded', detail: { newer: result.newer } });
      return { ...base, acquired: false, superseded: true, giveUp: false, newer: result.newer };
    }
    const waitedSeconds = (now.getTime() - Date.parse(firstTriedAt)) / 1000;
    const waitSeconds = Math.min(deps.timing.maxLockPollSeconds, deps.timing.lockPollSeconds * 2 ** Math.min(attempt - 1, 16));
    return {
      ...base,
      acquired: false,
      superseded: false,
      giveUp: waitedSeconds >= deps.timing.busyWaitSeconds,
      waitSeconds,
      holder: result.holder,
      expiresAt: result.expiresAt,
    };
  };
}

export const handler = lambdaEntry(() => createAcquireLockHandler({ lock: awsDynamo.beaconLock(), store: awsDynamo.requestStore(), clock: awsSdk.clock, timing: workflowTiming() }));
