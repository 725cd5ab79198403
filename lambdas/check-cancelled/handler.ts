/**
 * CheckCancelled: the per-beacon workflow asks whether its request was cancelled. Before configure (the lock
 * is taken): a cancelled request changes nothing more on this beacon. After a successful configure: a
 * cancel with `rollback: true` rolls this beacon back; without rollback the beacon stays configured.
 */
import type { RolloutStore } from '../core/ports.js';
import * as awsDynamo from '../aws/clients/dynamo.js';
import { lambdaEntry } from '../aws/runtime.js';

export interface CheckCancelledEvent {
  requestId: string;
  instanceId: string;
}

export interface CancelCheck {
  cancelled: boolean;
  rollback: boolean;
  by: string | null;
  at: string | null;
}

export function createCheckCancelledHandler(deps: { rollouts: RolloutStore }) {
  return async function checkCancelled(event: CheckCancelledEvent): Promise<CancelCheck> {
    const cancel = (await deps.rollouts.getRollout(event.requestId))?.cancel ?? null;
    return cancel ? { cancelled: true, rollback: cancel.rollback, by: cancel.by, at: cancel.at } : { cancelled: false, rollback: false, by: null, at: null };
  };
}

export const handler = lambdaEntry(() => createCheckCancelledHandler({ rollouts: awsDynamo.rolloutStore() }));
