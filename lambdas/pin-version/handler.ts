/**
 * PinVersion: after a beacon is configured, pin FNMS's "Beacon version approved for use" to a release
 * (never "latest": an automatic upgrade resets the service account). Refusals (downgrade, unknown release)
 * are an outcome, not an error; transport failures that may pass are thrown as TransientError for the
 * state machine to retry. Every FNMS call is budgeted from the time the Lambda has left (minus a reserve),
 * so the client's retries end with a retryable error before the function would be killed.
 */
import { isRequestError } from '../core/errors.js';
import { createFnmsClient, type FnmsApi, isFnmsError, parseFnmsConfig, pinBeaconVersion, withFnmsDeadline } from '../core/fnms/index.js';
import { WORKFLOW_CONSTANTS } from '../core/timing.js';
import * as awsDynamo from '../aws/clients/dynamo.js';
import * as awsSdk from '../aws/clients/sdk.js';
import * as awsSecrets from '../aws/clients/secrets.js';
import { ENV, METRICS } from '../aws/env-names.js';
import { countMetric, env, lambdaEntry, log } from '../aws/runtime.js';
import { type Clock, type Log, type RequestStore, TransientError, silentLog } from '../core/ports.js';
import { parseRequest } from '../core/request.js';
import type { PinResult } from '../workflow/state.js';

export interface PinVersionDeps {
  /** Built lazily: the FNMS client reads its secret on first use. */
  fnms: FnmsApi;
  store: RequestStore;
  clock: Clock;
  log?: Log;
  /** Counts FNMS failures (the FnmsErrors metric the alarm watches). */
  countFnmsError?: () => void;
  /** Epoch ms; defaults to Date.now (the FNMS client's clock). */
  now?: () => number;
}

/** What the Lambda runtime tells a handler about its time (the Context subset used here). */
export interface InvocationTime {
  getRemainingTimeInMillis(): number;
}

/** The time kept back from the function timeout to answer: the smaller of the fixed reserve and a tenth of what is left. */
export function pinReserveMs(remainingMs: number): number {
  return Math.min(WORKFLOW_CONSTANTS.pinReserveSeconds * 1000, remainingMs / 10);
}

export interface PinVersionEvent {
  requestId: string;
  instanceId: string;
  request: Record<string, unknown>;
  /** The version the configure document read on the beacon. */
  beaconVersion: string | null;
}

export function createPinVersionHandler(deps: PinVersionDeps) {
  const log = deps.log ?? silentLog;
  const now = deps.now ?? Date.now;
  return async function pinVersion(event: PinVersionEvent, context?: InvocationTime): Promise<PinResult> {
    const { beaconVersion: version } = parseRequest(event.request);
    const at = deps.clock.now().toISOString();
    try {
      const pin = () => pinBeaconVersion(deps.fnms, { pin: version.pin, beaconVersion: event.beaconVersion, allowDowngrade: version.allowDowngrade });
      const remainingMs = context?.getRemainingTimeInMillis();
      const outcome = remainingMs === undefined ? await pin() : await withFnmsDeadline(now() + remainingMs - pinReserveMs(remainingMs), pin);
      const result: PinResult =
        outcome.status === 'changed'
          ? { pinned: true, version: outcome.to, changed: true, from: outcome.from }
          : { pinned: true, version: outcome.version, changed: false, from: null };
      await deps.store.appendAudit({ requestId: event.requestId, instanceId: event.instanceId, at, event: 'fnms.pinned', detail: { ...result } });
      return result;
    } catch (error) {
      if (isRequestError(error)) {
        await deps.store.appendAudit({ requestId: event.requestId, instanceId: event.instanceId, at, event: 'fnms.pin-refused', detail: { ...error.toJSON().error } });
        return { pinned: false, code: error.code, reason: error.message };
      }
      if (isFnmsError(error)) {
        deps.countFnmsError?.();
        log.error('FNMS call failed', { requestId: event.requestId, error: error.toJSON() });
        if (error.retriable) throw new TransientError(error.message);
        return { pinned: false, code: `FNMS_${error.kind.toUpperCase()}`, reason: error.message };
      }
      throw error;
    }
  };
}

export const handler = lambdaEntry(() => {
  const secretName = env(ENV.fnmsSecretName);
  const secrets = awsSecrets.secretSource([secretName]);
  const fnms = createFnmsClient(parseFnmsConfig(JSON.parse(env(ENV.fnmsConfig))), {
    // Called again after a 401: read the secret fresh in case it was rotated.
    getSecret: async () => {
      const value = await secrets.getSecret(secretName);
      secrets.forget(secretName);
      return value;
    },
  });
  return createPinVersionHandler({ fnms, store: awsDynamo.requestStore(), clock: awsSdk.clock, log, countFnmsError: () => countMetric(METRICS.fnmsErrors) });
});
