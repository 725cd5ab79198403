/** ReleaseLock: the finally of the workflow. Releasing a lock this execution does not hold is a no-op. */
import type { BeaconLock } from '../core/ports.js';
import * as awsDynamo from '../aws/clients/dynamo.js';
import { lambdaEntry } from '../aws/runtime.js';

export interface ReleaseLockDeps {
  lock: BeaconLock;
}

export interface ReleaseLockEvent {
  instanceId: string;
  owner: string;
}

export function createReleaseLockHandler(deps: ReleaseLockDeps) {
  return async function releaseLock(event: ReleaseLockEvent): Promise<{ released: boolean }> {
    return deps.lock.release(event.instanceId, event.owner);
  };
}

export const handler = lambdaEntry(() => createReleaseLockHandler({ lock: awsDynamo.beaconLock() }));
