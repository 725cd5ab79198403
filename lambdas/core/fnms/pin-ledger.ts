/**
 * The operator pin across requests (pinMode operator). Flexera publishes no API for "Beacon version approved
 * for use", so a person sets it and confirms. Requests that finish at about the same time must never ask for
 * conflicting values: one value is pending at a time, a request whose release the pending value covers joins
 * it (one instruction, one confirmation completes every waiting request), and a request that needs a newer
 * release replaces the pending one (its waiters move with it, since the newer value covers them too). The
 * ledger also remembers the last confirmed value, so a release already approved asks nobody. Pure: the
 * adapters read and conditionally write the ledger (PinLedger).
 */
import { RequestError } from '../errors.js';
import type { PinLedgerState } from '../ports.js';
import { compareVersions } from './pin.js';

/** A pin's id: one per request that asked for a value. */
export const PIN_ID_PATTERN = /^pin-[A-Za-z0-9._-]{1,64}$/;

export function pinIdFor(requestId: string): string {
  return `pin-${requestId}`;
}

export const EMPTY_PIN_LEDGER: PinLedgerState = { confirmed: null, pending: null, waiters: {}, configuredVersions: [], revision: 0 };

type LedgerChange = Pick<PinLedgerState, 'confirmed' | 'pending' | 'waiters'>;

export type OperatorPinPlan =
  /** The release confirmed last already is this one: nobody needs to do anything. */
  | { action: 'unchanged'; version: string }
  /** A pending value covers this release: wait for its confirmation. */
  | { action: 'join'; pinId: string; version: string }
  /** Ask an operator for this value (it replaces `supersedes`, an older pending one). */
  | { action: 'ask'; pinId: string; version: string; supersedes: { pinId: string; version: string } | null; next: LedgerChange };

/**
 * What a request that decided `release` does. A downgrade below a pending value (allowDowngrade) would ask
 * for two values at once: refused (PIN_CONFLICT) until the pending one is confirmed or times out.
 */
export function planOperatorPin(state: PinLedgerState, release: string, requestId: string, at: string): OperatorPinPlan {
  const { confirmed, pending } = state;
  if (pending) {
    const order = compareVersions(pending.version, release);
    if (order === 0 || (order > 0 && (confirmed === null || compareVersions(release, confirmed.version) >= 0))) return { action: 'join', pinId: pending.pinId, version: pending.version };
    if (order > 0) {
      throw new RequestError(
        'PIN_CONFLICT',
        `release ${release} is older than ${pending.version}, which operators are already asked to approve (${pending.pinId}); confirm that pin or let it time out, then send this request again`,
        'beaconVersion.pin',
      );
    }
  }
  // Here anything pending is older than this release (a downgrade an operator accepted): it is replaced, even
  // when this release is the confirmed one, or confirming it would take this request's beacons back.
  if (!pending && confirmed && compareVersions(confirmed.version, release) === 0) return { action: 'unchanged', version: confirmed.version };
  const pinId = pinIdFor(requestId);
  return {
    action: 'ask',
    pinId,
    version: release,
    supersedes: pending ? { pinId: pending.pinId, version: pending.version } : null,
    next: { confirmed, pending: { pinId, version: release, requestId, at, supersedes: pending?.pinId ?? null }, waiters: { ...state.waiters } },
  };
}

export type WaiterRegistration =
  /** The confirmed value already covers the request: its wait ends at once. */
  | { outcome: 'satisfied'; confirmed: NonNullable<PinLedgerState['confirmed']> }
  /** Waiting for `pinId` (the pending value that covers the request; it may have replaced the one it joined). */
  | { outcome: 'waiting'; pinId: string; version: string; next: LedgerChange }
  /** No pending value covers the request any more (a lower value was confirmed and nothing is pending): decide again. */
  | { outcome: 'uncovered' };

/** A request waits (task token) for a value at least `needs`. */
export function registerWaiter(state: PinLedgerState, requestId: string, token: string, needs: string): WaiterRegistration {
  const { confirmed, pending } = state;
  if (confirmed && compareVersions(confirmed.version, needs) >= 0 && (pending === null || compareVersions(pending.version, confirmed.version) <= 0)) {
    return { outcome: 'satisfied', confirmed };
  }
  if (pending && compareVersions(pending.version, needs) >= 0) {
    return { outcome: 'waiting', pinId: pending.pinId, version: pending.version, next: { confirmed, pending, waiters: { ...state.waiters, [requestId]: { token, version: needs } } } };
  }
  if (confirmed && compareVersions(confirmed.version, needs) >= 0) return { outcome: 'satisfied', confirmed };
  return { outcome: 'uncovered' };
}

/** A request stops waiting (its wait timed out, or it ended). */
export function removeWaiter(state: PinLedgerState, requestId: string): LedgerChange | null {
  if (!(requestId in state.waiters)) return null;
  const waiters = { ...state.waiters };
  delete waiters[requestId];
  return { confirmed: state.confirmed, pending: state.pending, waiters };
}

export type PinConfirmation =
  | { result: 'confirmed'; confirmed: NonNullable<PinLedgerState['confirmed']>; tokens: Array<{ requestId: string; token: string }>; next: LedgerChange }
  /** Confirmed before (by whom and when); nothing changes. */
  | { result: 'already'; confirmed: NonNullable<PinLedgerState['confirmed']> }
  /** A newer value replaced this pin: confirm that one (`pending`). */
  | { result: 'superseded'; pending: NonNullable<PinLedgerState['pending']> }
  | { result: 'unknown' };

/** An operator says the pending value is set in FNMS. Every waiting request is told (their tokens). */
export function confirmPin(state: PinLedgerState, pinId: string, by: string, at: string): PinConfirmation {
  const { pending, confirmed } = state;
  if (pending && pending.pinId === pinId) {
    const done = { version: pending.version, pinId, by, at };
    return {
      result: 'confirmed',
      confirmed: done,
      tokens: Object.entries(state.waiters).map(([requestId, waiter]) => ({ requestId, token: waiter.token })),
      next: { confirmed: done, pending: null, waiters: {} },
    };
  }
  if (confirmed && confirmed.pinId === pinId) return { result: 'already', confirmed };
  if (pending) return { result: 'superseded', pending };
  return { result: 'unknown' };
}

/** The gateway wrote (or already held) a release: it is the confirmed value now. */
export function recordGatewayPin(state: PinLedgerState, version: string, at: string): LedgerChange {
  return { confirmed: { version, pinId: null, by: 'pin gateway', at }, pending: state.pending, waiters: state.waiters };
}
