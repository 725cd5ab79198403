/**
 * PinVersion: after a beacon is configured, pin FNMS's "Beacon version approved for use" to a release
 * (never "latest": an automatic upgrade resets the service account). Refusals (downgrade, unknown release)
 * are an outcome, not an error; transport failures that may pass are thrown as TransientError for the
 * state machine to retry.
 */
import { isRequestError } from '../core/errors.js';
import { createFnmsClient, type FnmsApi, isFnmsError, parseFnmsConfig, pinBeaconVersion } from '../core/fnms/index.js';
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
  return async function pinVersion(event: PinVersionEvent): Promise<PinResult> {
    const { beaconVersion: version } = parseRequest(event.request);
    const at = deps.clock.now().toISOString();
    try {
      const outcome = await pinBeaconVersion(deps.fnms, { pin: version.pin, beaconVersion: event.beaconVersion, allowDowngrade: version.allowDowngrade });
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
