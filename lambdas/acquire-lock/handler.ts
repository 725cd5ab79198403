/** AcquireLock: one workflow per beacon at a time. A busy beacon throws BeaconBusyError, which the state machine retries with backoff. */
import { BeaconBusyError, type BeaconLock, type Clock, type RequestStore } from '../core/ports.js';
import type { LockStepResult } from '../workflow/state.js';
import * as awsDynamo from '../aws/clients/dynamo.js';
import * as awsSdk from '../aws/clients/sdk.js';
import { ENV } from '../aws/env-names.js';
import { lambdaEntry, numberEnv } from '../aws/runtime.js';

export interface AcquireLockDeps {
  lock: BeaconLock;
  store: RequestStore;
  clock: Clock;
  ttlSeconds: number;
}

export interface AcquireLockEvent {
  requestId: string;
  instanceId: string;
  /** The execution name: unique per (request, beacon). */
  owner: string;
}

export function createAcquireLockHandler(deps: AcquireLockDeps) {
  return async function acquireLock(event: AcquireLockEvent): Promise<LockStepResult> {
    const result = await deps.lock.acquire(event.instanceId, event.owner, deps.ttlSeconds);
    if (!result.acquired) {
      throw new BeaconBusyError(`beacon ${event.instanceId} is being configured by ${result.holder} (lock held until ${result.expiresAt})`);
    }
    const at = deps.clock.now().toISOString();
    await deps.store.putBeaconStatus({ requestId: event.requestId, instanceId: event.instanceId, state: 'locked', updatedAt: at });
    await deps.store.appendAudit({ requestId: event.requestId, instanceId: event.instanceId, at, event: 'lock.acquired', detail: { owner: event.owner, expiresAt: result.expiresAt } });
    return { acquired: true, owner: event.owner, expiresAt: result.expiresAt };
  };
}

export const handler = lambdaEntry(() =>
  createAcquireLockHandler({ lock: awsDynamo.beaconLock(), store: awsDynamo.requestStore(), clock: awsSdk.clock, ttlSeconds: numberEnv(ENV.lockTtlSeconds, 3 * 60 * 60) }),
);
