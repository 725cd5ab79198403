/**
 * DecidePin: once a request's beacons are final, decide FNMS's "Beacon version approved for use" for the
 * request once: the highest release running among its beacons that ended ok (or the request's explicit
 * release), never `latest`, never older than a beacon the inventory report lists or that any request's
 * configure run reported, downgrade rules unchanged. Serialized across requests by a lock on the FNMS
 * setting (a lock row), so no two requests read, compare and write it at once.
 *  - `gateway`: read and write through the customer's pin gateway (our contract, not a Flexera API);
 *  - `operator`: Flexera has no API for the setting: an operator is asked for the exact value (one value
 *    pending at a time; requests it covers wait for the same confirmation), and the workflow waits;
 *  - `none`: nothing is pinned; the request carries the warning.
 * Every FNMS call (inventory included) is budgeted from the Lambda's remaining time, so nothing is killed
 * mid-retry: out of time, a retryable error lets the state machine try again.
 */
import type { Context } from 'aws-lambda';
import { isRequestError } from '../core/errors.js';
import {
  type BeaconInventory,
  type FnmsApi,
  compareVersions,
  createFnmsClient,
  decideRelease,
  deployedReleases,
  highestRelease,
  isBeaconInventoryError,
  isFnmsError,
  parseFnmsConfig,
  planOperatorPin,
  recordGatewayPin,
  withFnmsDeadline,
} from '../core/fnms/index.js';
import type { InventoryBeacon } from '../core/fnms/inventory.js';
import {
  type BeaconLock,
  type Clock,
  type Log,
  type PinLedger,
  type RequestPinRecord,
  type RequestStore,
  type RolloutRecord,
  type RolloutStore,
  TransientError,
  silentLog,
} from '../core/ports.js';
import { parseRequest } from '../core/request.js';
import { type RequestTiming, WORKFLOW_CONSTANTS } from '../core/timing.js';
import { PIN_MODE_NONE_WARNING } from '../workflow/state.js';
import type { DecidePinResult } from '../rollout/state.js';
import * as awsDynamo from '../aws/clients/dynamo.js';
import * as awsSdk from '../aws/clients/sdk.js';
import * as awsSecrets from '../aws/clients/secrets.js';
import { requestTiming } from '../aws/clients/timing.js';
import { ENV, METRICS } from '../aws/env-names.js';
import { inventoryFromEnv } from '../aws/inventory.js';
import { countMetric, env, lambdaEntry, log } from '../aws/runtime.js';

/** The lock row on the FNMS setting (LOCK#fnms-pin). */
export const PIN_LOCK_ID = 'fnms-pin';

export type PinMode = 'gateway' | 'operator' | 'none';

export type DecidePinDeps = {
  rollouts: RolloutStore;
  store: RequestStore;
  ledger: PinLedger;
  lock: BeaconLock;
  clock: Clock;
  timing: Pick<RequestTiming, 'pinLockTtlSeconds' | 'pinLockWaitSeconds' | 'pinLockRetrySeconds'>;
  log?: Log;
  countFnmsError?: () => void;
  /** Epoch ms (the FNMS clients' clock). */
  now?: () => number;
} & (
  | { mode: 'gateway'; gateway: FnmsApi; inventory: BeaconInventory | null }
  | { mode: 'operator'; inventory: BeaconInventory | null }
  | { mode: 'none' }
);

export interface DecidePinEvent {
  requestId: string;
  request: Record<string, unknown>;
  execution: { name: string };
  /** The previous answer of this step (busy: when it first found the setting locked). */
  previous: DecidePinResult;
}

export interface InvocationTime {
  getRemainingTimeInMillis(): number;
}

/** The time kept back from the function timeout to answer: the smaller of the fixed reserve and a tenth of what is left. */
export function pinReserveMs(remainingMs: number): number {
  return Math.min(WORKFLOW_CONSTANTS.pinReserveSeconds * 1000, remainingMs / 10);
}

/** One entry per release the request's ok beacons run (the release rules only need the versions). */
function finishedBeacons(rollout: RolloutRecord): Array<{ instanceId: string; beaconVersion: string | null }> {
  const beacons: Array<{ instanceId: string; beaconVersion: string | null }> = Object.entries(rollout.okVersions)
    .filter(([, count]) => count > 0)
    .map(([version, count]) => ({ instanceId: `${count} beacon(s) on ${version}`, beaconVersion: version }));
  if (rollout.unknownVersions > 0) beacons.push({ instanceId: `${rollout.unknownVersions} beacon(s) without a version`, beaconVersion: null });
  return beacons;
}

export function createDecidePinHandler(deps: DecidePinDeps) {
  const logger = deps.log ?? silentLog;
  const now = deps.now ?? Date.now;

  return async function decidePin(event: DecidePinEvent, context?: InvocationTime): Promise<DecidePinResult> {
    const at = deps.clock.now().toISOString();
    const rollout = await deps.rollouts.getRollout(event.requestId);
    if (!rollout) throw new Error(`request ${event.requestId} has no rollout record`);
    // A retried step: the decision was recorded already.
    if (rollout.pin) return { action: rollout.pin.status === 'awaiting' ? 'await' : 'done', pin: rollout.pin };
    const { beaconVersion } = parseRequest(event.request);
    const mode = deps.mode;

    const record = async (pin: RequestPinRecord, auditEvent: string): Promise<DecidePinResult> => {
      await deps.rollouts.patchRollout(event.requestId, { pin, ...(pin.status === 'awaiting' ? { phase: 'awaiting-pin' as const } : {}), updatedAt: at }, {});
      await deps.store.appendAudit({ requestId: event.requestId, at, event: auditEvent, detail: { ...pin } });
      return { action: pin.status === 'awaiting' ? 'await' : 'done', pin };
    };

    const ok = rollout.counts.ok ?? 0;
    if (rollout.dryRun) return record({ status: 'skipped', mode, version: null, reason: 'dry run: nothing was changed' }, 'fnms.pin-skipped');
    if (ok === 0) return record({ status: 'skipped', mode, version: null, reason: 'no beacon ended configured' }, 'fnms.pin-skipped');
    if (mode === 'none') {
      return record({ status: 'none', mode, version: null, reason: 'the stack pins no beacon version (pinMode none)', warning: PIN_MODE_NONE_WARNING }, 'fnms.pin-skipped');
    }

    const lock = await deps.lock.acquire(PIN_LOCK_ID, event.execution.name, deps.timing.pinLockTtlSeconds, '0');
    if (!lock.acquired) {
      const busySince = event.previous.busySince ?? at;
      if (Date.parse(at) - Date.parse(busySince) > deps.timing.pinLockWaitSeconds * 1000) {
        return record({ status: 'failed', mode, version: null, code: 'PIN_BUSY', reason: `the FNMS setting stayed locked by another request's pin for over ${deps.timing.pinLockWaitSeconds} s` }, 'fnms.pin-failed');
      }
      return { action: 'busy', busySince, waitSeconds: deps.timing.pinLockRetrySeconds };
    }
    try {
      const remainingMs = context?.getRemainingTimeInMillis();
      const decide = () => (mode === 'gateway' ? viaGateway(deps.gateway, deps.inventory) : viaOperator(deps.inventory));
      const pin = remainingMs === undefined ? await decide() : await withFnmsDeadline(now() + remainingMs - pinReserveMs(remainingMs), decide);
      return await record(pin, pin.status === 'awaiting' ? 'pin.requested' : 'fnms.pinned');
    } catch (error) {
      if (isRequestError(error)) return record({ status: 'refused', mode, version: null, code: error.code, reason: error.message }, 'fnms.pin-refused');
      if (isFnmsError(error) || isBeaconInventoryError(error)) {
        deps.countFnmsError?.();
        logger.error(isFnmsError(error) ? 'pin gateway call failed' : 'FNMS beacon inventory failed', { requestId: event.requestId, error: error.toJSON() });
        if (error.retriable) throw new TransientError(error.message);
        const code = isFnmsError(error) ? `FNMS_${error.kind.toUpperCase()}` : error.code;
        return record({ status: 'failed', mode, version: null, code, reason: error.message }, 'fnms.pin-failed');
      }
      throw error;
    } finally {
      await deps.lock.release(PIN_LOCK_ID, event.execution.name);
    }

    async function inventoryBeacons(inventory: BeaconInventory | null): Promise<InventoryBeacon[]> {
      return inventory ? inventory.listBeacons() : [];
    }

    async function viaGateway(gateway: FnmsApi, inventory: BeaconInventory | null): Promise<RequestPinRecord> {
      const known = await inventoryBeacons(inventory);
      const ledger = await deps.ledger.get();
      const settings = await gateway.getBeaconSettings();
      const decision = decideRelease({
        pin: beaconVersion.pin,
        allowDowngrade: beaconVersion.allowDowngrade,
        finished: finishedBeacons(rollout!),
        inventory: known,
        approvedVersion: settings.approvedVersion,
        alsoDeployed: ledger.configuredVersions,
      });
      let pin: RequestPinRecord = { status: 'unchanged', mode: 'gateway', version: decision.release, highestDeployed: decision.highestDeployed };
      if (decision.change) {
        const deployed = [...deployedReleases(known), ...ledger.configuredVersions, ...Object.keys(rollout!.okVersions)];
        const outcome = await gateway.setApprovedBeaconVersion(decision.release, { allowDowngrade: beaconVersion.allowDowngrade, deployedVersions: deployed });
        pin =
          outcome.status === 'changed'
            ? { status: 'pinned', mode: 'gateway', version: outcome.to, from: outcome.from, highestDeployed: decision.highestDeployed }
            : { status: 'unchanged', mode: 'gateway', version: outcome.version, highestDeployed: decision.highestDeployed };
      }
      await rememberConfirmed(pin.version!);
      return pin;
    }

    async function viaOperator(inventory: BeaconInventory | null): Promise<RequestPinRecord> {
      const known = await inventoryBeacons(inventory);
      for (let attempt = 0; attempt < 10; attempt += 1) {
        const ledger = await deps.ledger.get();
        const decision = decideRelease({
          pin: beaconVersion.pin,
          allowDowngrade: beaconVersion.allowDowngrade,
          finished: finishedBeacons(rollout!),
          inventory: known,
          approvedVersion: ledger.confirmed?.version ?? null,
          alsoDeployed: ledger.configuredVersions,
        });
        const plan = planOperatorPin(ledger, decision.release, event.requestId, at);
        if (plan.action === 'unchanged') return { status: 'unchanged', mode: 'operator', version: plan.version, highestDeployed: decision.highestDeployed };
        if (plan.action === 'join') return { status: 'awaiting', mode: 'operator', version: plan.version, pinId: plan.pinId, highestDeployed: decision.highestDeployed, supersedes: null };
        if (await deps.ledger.update(plan.next, ledger.revision)) {
          logger.info('operator pin requested', { requestId: event.requestId, pinId: plan.pinId, version: plan.version, supersedes: plan.supersedes?.pinId ?? null });
          return { status: 'awaiting', mode: 'operator', version: plan.version, pinId: plan.pinId, highestDeployed: decision.highestDeployed, supersedes: plan.supersedes };
        }
      }
      throw new TransientError('the pin ledger kept changing while deciding; the step is retried');
    }

    /** The gateway's value is the confirmed one now; an intended downgrade resets what counts as deployed. */
    async function rememberConfirmed(version: string): Promise<void> {
      for (let attempt = 0; attempt < 10; attempt += 1) {
        const ledger = await deps.ledger.get();
        if (await deps.ledger.update(recordGatewayPin(ledger, version, at), ledger.revision)) {
          const highest = highestRelease(ledger.configuredVersions);
          if (beaconVersion.allowDowngrade && highest !== null && compareVersions(version, highest) < 0) await deps.ledger.resetConfiguredVersions(version);
          return;
        }
      }
    }
  };
}

export const handler = lambdaEntry(() => {
  const common = {
    rollouts: awsDynamo.rolloutStore(),
    store: awsDynamo.requestStore(),
    ledger: awsDynamo.pinLedger(),
    lock: awsDynamo.beaconLock(),
    clock: awsSdk.clock,
    timing: requestTiming(),
    log,
    countFnmsError: () => countMetric(METRICS.fnmsErrors),
  };
  const mode = env(ENV.pinMode);
  let run: ReturnType<typeof createDecidePinHandler>;
  if (mode === 'none') run = createDecidePinHandler({ ...common, mode: 'none' });
  else if (mode === 'operator') run = createDecidePinHandler({ ...common, mode: 'operator', inventory: inventoryFromEnv() });
  else if (mode === 'gateway') {
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
    run = createDecidePinHandler({ ...common, mode: 'gateway', gateway, inventory: inventoryFromEnv() });
  } else throw new Error(`${ENV.pinMode} is ${JSON.stringify(mode)}; expected gateway, operator or none`);
  return (event: DecidePinEvent, context: Context) => run(event, context);
});
