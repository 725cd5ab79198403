/**
 * PinVersion: after a beacon is configured, keep FNMS's "Beacon version approved for use" on a release
 * (never "latest": an automatic upgrade resets the service account). How depends on the stack's pinMode:
 *  - `gateway`: through a customer-provided pin gateway that implements OUR contract (Flexera publishes no
 *    API for this setting), never older than a beacon the inventory report lists;
 *  - `none`: nothing is pinned; the outcome carries a warning that an upgrade may reset the service account.
 * Refusals (downgrade, unknown release) are an outcome, not an error; transport failures that may pass are
 * thrown as TransientError for the state machine to retry. Every FNMS call is budgeted from the time the
 * Lambda has left (minus a reserve), so the client's retries end with a retryable error before the function
 * would be killed.
 */
import { isRequestError } from '../core/errors.js';
import { type BeaconInventory, createFnmsClient, type FnmsApi, isBeaconInventoryError, isFnmsError, parseFnmsConfig, pinBeaconVersion, withFnmsDeadline } from '../core/fnms/index.js';
import { WORKFLOW_CONSTANTS } from '../core/timing.js';
import * as awsDynamo from '../aws/clients/dynamo.js';
import * as awsSdk from '../aws/clients/sdk.js';
import * as awsSecrets from '../aws/clients/secrets.js';
import { ENV, METRICS } from '../aws/env-names.js';
import { inventoryFromEnv } from '../aws/inventory.js';
import { countMetric, env, lambdaEntry, log } from '../aws/runtime.js';
import { type Clock, type Log, type RequestStore, TransientError, silentLog } from '../core/ports.js';
import { parseRequest } from '../core/request.js';
import { PIN_MODE_NONE_WARNING, type PinResult } from '../workflow/state.js';

/** The pin modes this handler implements (`operator` comes with the request-level orchestrator). */
export type PinStepMode = 'gateway' | 'none';

export type PinVersionDeps = {
  store: RequestStore;
  clock: Clock;
  log?: Log;
  /** Counts FNMS failures (the FnmsErrors metric the alarm watches). */
  countFnmsError?: () => void;
} & (
  | {
      mode: 'gateway';
      /** The pin gateway client (built lazily: it reads its secret on first use). */
      gateway: FnmsApi;
      /** The beacon inventory: no release older than a beacon it lists is approved. Null when none is configured. */
      inventory: BeaconInventory | null;
    }
  | { mode: 'none' }
) & {
  /** Epoch ms; defaults to Date.now (the FNMS client's clock). */
  now?: () => number;
};

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
    const audit = (name: string, detail: Record<string, unknown>) => deps.store.appendAudit({ requestId: event.requestId, instanceId: event.instanceId, at, event: name, detail });
    if (deps.mode === 'none') {
      const result: PinResult = {
        pinned: false,
        skipped: true,
        code: 'PIN_MODE_NONE',
        reason: 'the stack pins no beacon version (pinMode none)',
        warning: PIN_MODE_NONE_WARNING,
      };
      await audit('fnms.pin-skipped', { ...result, beaconVersion: event.beaconVersion });
      return result;
    }
    try {
      const pin = () => pinBeaconVersion(deps.gateway, { pin: version.pin, beaconVersion: event.beaconVersion, allowDowngrade: version.allowDowngrade }, deps.inventory);
      const remainingMs = context?.getRemainingTimeInMillis();
      const outcome = remainingMs === undefined ? await pin() : await withFnmsDeadline(now() + remainingMs - pinReserveMs(remainingMs), pin);
      const result: PinResult =
        outcome.status === 'changed'
          ? { pinned: true, version: outcome.to, changed: true, from: outcome.from }
          : { pinned: true, version: outcome.version, changed: false, from: null };
      await audit('fnms.pinned', { ...result });
      return result;
    } catch (error) {
      if (isRequestError(error)) {
        await audit('fnms.pin-refused', { ...error.toJSON().error });
        return { pinned: false, code: error.code, reason: error.message };
      }
      if (isFnmsError(error) || isBeaconInventoryError(error)) {
        deps.countFnmsError?.();
        log.error(isFnmsError(error) ? 'pin gateway call failed' : 'FNMS beacon inventory failed', { requestId: event.requestId, error: error.toJSON() });
        if (error.retriable) throw new TransientError(error.message);
        const code = isFnmsError(error) ? `FNMS_${error.kind.toUpperCase()}` : error.code;
        return { pinned: false, code, reason: error.message };
      }
      throw error;
    }
  };
}

export const handler = lambdaEntry(() => {
  const common = { store: awsDynamo.requestStore(), clock: awsSdk.clock, log, countFnmsError: () => countMetric(METRICS.fnmsErrors) };
  const mode = env(ENV.pinMode);
  if (mode === 'none') return createPinVersionHandler({ ...common, mode: 'none' });
  if (mode !== 'gateway') throw new Error(`${ENV.pinMode} is ${JSON.stringify(mode)}; this function implements gateway and none`);
  const secretName = env(ENV.gatewaySecretName);
  const secrets = awsSecrets.secretSource([secretName]);
  const gateway = createFnmsClient(parseFnmsConfig(JSON.parse(env(ENV.gatewayConfig))), {
    // Called again after a 401: read the secret fresh in case it was rotated.
    getSecret: async () => {
      const value = await secrets.getSecret(secretName);
      secrets.forget(secretName);
      return value;
    },
  });
  return createPinVersionHandler({ ...common, mode: 'gateway', gateway, inventory: inventoryFromEnv() });
});
