/**
 * The operator pin ledger (pinMode operator): one value pending at a time, requests that the pending value
 * covers join it, a newer need replaces it, a confirmation completes every waiter, and a release confirmed
 * before asks nobody. Pure rules (lambdas/core/fnms/pin-ledger.ts); the e2e twin runs them through the
 * handlers, these pin each rule on its own.
 */
import { describe, expect, it } from 'vitest';
import { refusal } from '../support/refusal.js';
import { EMPTY_PIN_LEDGER, PIN_ID_PATTERN, confirmPin, pinIdFor, planOperatorPin, recordGatewayPin, registerWaiter, removeWaiter } from '../../lambdas/core/fnms/pin-ledger.js';
import type { PinLedgerState } from '../../lambdas/core/ports.js';

const AT = '2026-12-02T10:00:00.000Z';
const LATER = '2026-12-02T11:00:00.000Z';

function ledger(change: Partial<PinLedgerState>): PinLedgerState {
  return { ...EMPTY_PIN_LEDGER, ...change };
}
const confirmed = (version: string, pinId: string | null = 'pin-old') => ({ version, pinId, by: 'alice', at: AT });
const pending = (version: string, pinId = 'pin-r1') => ({ pinId, version, requestId: pinId.slice(4), at: AT, supersedes: null });


describe('pin ids', () => {
  it('one pin id per request, pin-<requestId>, which the chat command accepts', () => {
    expect(pinIdFor('slack-3f2a9c0d')).toBe('pin-slack-3f2a9c0d');
    expect(PIN_ID_PATTERN.test(pinIdFor('slack-3f2a9c0d'))).toBe(true);
    expect(PIN_ID_PATTERN.test('slack-3f2a9c0d')).toBe(false);
  });

  it('a pin id is the whole text: anything before pin- or after the id refuses it (what confirm-pin accepts)', () => {
    expect(PIN_ID_PATTERN.test('pin-r1')).toBe(true);
    expect(PIN_ID_PATTERN.test('xpin-r1')).toBe(false);
    expect(PIN_ID_PATTERN.test('pin-r1 and-more')).toBe(false);
    expect(PIN_ID_PATTERN.test('pin-r1;')).toBe(false);
    expect(PIN_ID_PATTERN.test(`pin-${'a'.repeat(64)}`)).toBe(true);
    expect(PIN_ID_PATTERN.test(`pin-${'a'.repeat(65)}`)).toBe(false);
  });

  it('the empty ledger has nothing confirmed, nothing pending, no waiter, revision 0', () => {
    expect(EMPTY_PIN_LEDGER).toEqual({ confirmed: null, pending: null, waiters: {}, configuredVersions: [], revision: 0 });
  });
});

describe('planOperatorPin: what a request that decided a release does', () => {
  it('nothing pending or confirmed: ask an operator for the release, under the request\'s own pin id', () => {
    expect(planOperatorPin(EMPTY_PIN_LEDGER, '13.2.0', 'r1', AT)).toEqual({
      action: 'ask',
      pinId: 'pin-r1',
      version: '13.2.0',
      supersedes: null,
      next: { confirmed: null, pending: { pinId: 'pin-r1', version: '13.2.0', requestId: 'r1', at: AT, supersedes: null }, waiters: {} },
    });
  });

  it('the release confirmed last is this one (however spelled): nobody is asked', () => {
    expect(planOperatorPin(ledger({ confirmed: confirmed('13.2.0') }), '13.2', 'r1', AT)).toEqual({ action: 'unchanged', version: '13.2.0' });
  });

  it('a release other than the confirmed one (newer or older) is asked for, keeping the confirmed value until it is confirmed', () => {
    for (const release of ['13.3.0', '13.1.0']) {
      const plan = planOperatorPin(ledger({ confirmed: confirmed('13.2.0') }), release, 'r1', AT);
      expect(plan).toMatchObject({ action: 'ask', version: release, supersedes: null });
      expect(plan.action === 'ask' && plan.next.confirmed).toEqual(confirmed('13.2.0'));
    }
  });

  it('a downgrade pending below the confirmed release is replaced by a request that needs the confirmed one: confirming the downgrade would take its beacons back', () => {
    // 13.2.0 approved, an operator-accepted downgrade to 13.1.0 pending; a new request configured beacons at 13.2.0.
    const state = ledger({ confirmed: confirmed('13.2.0'), pending: pending('13.1.0') });
    expect(planOperatorPin(state, '13.2.0', 'r2', AT)).toEqual({
      action: 'ask',
      pinId: 'pin-r2',
      version: '13.2.0',
      supersedes: { pinId: 'pin-r1', version: '13.1.0' },
      next: { confirmed: confirmed('13.2.0'), pending: { pinId: 'pin-r2', version: '13.2.0', requestId: 'r2', at: AT, supersedes: 'pin-r1' }, waiters: {} },
    });
  });

  it('a pending value of the same release: the request joins it (one instruction, one confirmation)', () => {
    expect(planOperatorPin(ledger({ pending: pending('13.2.0') }), '13.2', 'r2', AT)).toEqual({ action: 'join', pinId: 'pin-r1', version: '13.2.0' });
  });

  it('a pending newer value covers an older release: the request joins it, nothing confirmed', () => {
    expect(planOperatorPin(ledger({ pending: pending('13.3.0') }), '13.2.0', 'r2', AT)).toEqual({ action: 'join', pinId: 'pin-r1', version: '13.3.0' });
  });

  it('a pending newer value covers a release not older than the confirmed one (equal included)', () => {
    const state = ledger({ confirmed: confirmed('13.1.0'), pending: pending('13.3.0') });
    expect(planOperatorPin(state, '13.2.0', 'r2', AT)).toMatchObject({ action: 'join', pinId: 'pin-r1' });
    expect(planOperatorPin(state, '13.1.0', 'r2', AT)).toMatchObject({ action: 'join', pinId: 'pin-r1' });
  });

  it('a downgrade below the confirmed value while a newer one is pending: PIN_CONFLICT, never two values asked at once', () => {
    const error = refusal(() => planOperatorPin(ledger({ confirmed: confirmed('13.2.0'), pending: pending('13.3.0') }), '13.1.0', 'r2', AT));
    expect(error.code).toBe('PIN_CONFLICT');
    expect(error.field).toBe('beaconVersion.pin');
    expect(error.message).toBe(
      'release 13.1.0 is older than 13.3.0, which operators are already asked to approve (pin-r1); confirm that pin or let it time out, then send this request again',
    );
  });

  it('a newer release replaces the pending value: its waiters move with it, and the new pin names the one it supersedes', () => {
    const waiters = { r1: { token: 'token-1', version: '13.2.0' } };
    const state = ledger({ confirmed: confirmed('13.1.0'), pending: pending('13.2.0'), waiters });
    expect(planOperatorPin(state, '13.3.0', 'r2', LATER)).toEqual({
      action: 'ask',
      pinId: 'pin-r2',
      version: '13.3.0',
      supersedes: { pinId: 'pin-r1', version: '13.2.0' },
      next: { confirmed: confirmed('13.1.0'), pending: { pinId: 'pin-r2', version: '13.3.0', requestId: 'r2', at: LATER, supersedes: 'pin-r1' }, waiters },
    });
    expect(state.waiters).toBe(waiters);
  });
});

describe('registerWaiter: a request waits for a value at least the release it needs', () => {
  it('the confirmed value covers the need and nothing is pending: the wait ends at once', () => {
    expect(registerWaiter(ledger({ confirmed: confirmed('13.2.0') }), 'r1', 'token-1', '13.2')).toEqual({ outcome: 'satisfied', confirmed: confirmed('13.2.0') });
    expect(registerWaiter(ledger({ confirmed: confirmed('13.3.0') }), 'r1', 'token-1', '13.2.0')).toMatchObject({ outcome: 'satisfied' });
  });

  it('the confirmed value covers the need and the pending one is not newer: satisfied', () => {
    expect(registerWaiter(ledger({ confirmed: confirmed('13.3.0'), pending: pending('13.3.0') }), 'r1', 'token-1', '13.2.0')).toMatchObject({ outcome: 'satisfied' });
    expect(registerWaiter(ledger({ confirmed: confirmed('13.3.0'), pending: pending('13.2.0') }), 'r1', 'token-1', '13.2.0')).toMatchObject({ outcome: 'satisfied' });
  });

  it('a newer value is pending: the request waits for it even when the confirmed one covers it (the pending value will replace it)', () => {
    const result = registerWaiter(ledger({ confirmed: confirmed('13.2.0'), pending: pending('13.3.0') }), 'r2', 'token-2', '13.2.0');
    expect(result).toMatchObject({ outcome: 'waiting', pinId: 'pin-r1', version: '13.3.0' });
  });

  it('the pending value covers the need: waiting on it, the request and its task token added to the other waiters', () => {
    const state = ledger({ pending: pending('13.3.0'), waiters: { r1: { token: 'token-1', version: '13.3.0' } } });
    expect(registerWaiter(state, 'r2', 'token-2', '13.3')).toEqual({
      outcome: 'waiting',
      pinId: 'pin-r1',
      version: '13.3.0',
      next: { confirmed: null, pending: pending('13.3.0'), waiters: { r1: { token: 'token-1', version: '13.3.0' }, r2: { token: 'token-2', version: '13.3' } } },
    });
    expect(Object.keys(state.waiters)).toEqual(['r1']);
  });

  it('nothing pending or confirmed covers the need (a lower value was confirmed): uncovered, decide again', () => {
    expect(registerWaiter(ledger({ confirmed: confirmed('13.1.0'), pending: pending('13.1.5') }), 'r1', 'token-1', '13.2.0')).toEqual({ outcome: 'uncovered' });
    expect(registerWaiter(ledger({ confirmed: confirmed('13.1.0') }), 'r1', 'token-1', '13.2.0')).toEqual({ outcome: 'uncovered' });
    expect(registerWaiter(EMPTY_PIN_LEDGER, 'r1', 'token-1', '13.2.0')).toEqual({ outcome: 'uncovered' });
  });
});

describe('removeWaiter: a request stops waiting', () => {
  it('removes only that request, keeps the rest of the ledger, and leaves the state read untouched', () => {
    const state = ledger({ confirmed: confirmed('13.1.0'), pending: pending('13.2.0'), waiters: { r1: { token: 'token-1', version: '13.2.0' }, r2: { token: 'token-2', version: '13.2.0' } } });
    expect(removeWaiter(state, 'r1')).toEqual({ confirmed: confirmed('13.1.0'), pending: pending('13.2.0'), waiters: { r2: { token: 'token-2', version: '13.2.0' } } });
    expect(Object.keys(state.waiters)).toEqual(['r1', 'r2']);
  });

  it('a request that is not waiting: nothing to write (null)', () => {
    expect(removeWaiter(ledger({ waiters: { r1: { token: 'token-1', version: '13.2.0' } } }), 'r9')).toBeNull();
  });
});

describe('confirmPin: an operator says the pending value is set in FNMS', () => {
  it('the pending pin: confirmed by whom and when, every waiting request told (their tokens), nothing pending any more', () => {
    const state = ledger({ pending: pending('13.2.0'), waiters: { r1: { token: 'token-1', version: '13.2.0' }, r2: { token: 'token-2', version: '13.1.0' } } });
    const done = { version: '13.2.0', pinId: 'pin-r1', by: 'bob', at: LATER };
    expect(confirmPin(state, 'pin-r1', 'bob', LATER)).toEqual({
      result: 'confirmed',
      confirmed: done,
      tokens: [
        { requestId: 'r1', token: 'token-1' },
        { requestId: 'r2', token: 'token-2' },
      ],
      next: { confirmed: done, pending: null, waiters: {} },
    });
  });

  it('the pin confirmed before: "already", naming who confirmed it, even while another value is pending', () => {
    expect(confirmPin(ledger({ confirmed: confirmed('13.1.0', 'pin-r0') }), 'pin-r0', 'bob', LATER)).toEqual({ result: 'already', confirmed: confirmed('13.1.0', 'pin-r0') });
    expect(confirmPin(ledger({ confirmed: confirmed('13.1.0', 'pin-r0'), pending: pending('13.2.0') }), 'pin-r0', 'bob', LATER)).toMatchObject({ result: 'already' });
  });

  it('a pin a newer value replaced: "superseded", naming the pending pin to confirm instead', () => {
    expect(confirmPin(ledger({ confirmed: confirmed('13.1.0', 'pin-r0'), pending: pending('13.3.0', 'pin-r2') }), 'pin-r1', 'bob', LATER)).toEqual({ result: 'superseded', pending: pending('13.3.0', 'pin-r2') });
  });

  it('a pin nobody asked for: "unknown" (a gateway-written confirmed value has no pin id)', () => {
    expect(confirmPin(EMPTY_PIN_LEDGER, 'pin-r1', 'bob', LATER)).toEqual({ result: 'unknown' });
    expect(confirmPin(ledger({ confirmed: confirmed('13.1.0', null) }), 'pin-r1', 'bob', LATER)).toEqual({ result: 'unknown' });
  });
});

describe('recordGatewayPin: the gateway wrote a release', () => {
  it('it is the confirmed value, by the pin gateway, without a pin id; pending and waiters stay', () => {
    const waiters = { r1: { token: 'token-1', version: '13.3.0' } };
    expect(recordGatewayPin(ledger({ confirmed: confirmed('13.1.0'), pending: pending('13.3.0'), waiters }), '13.2.0', LATER)).toEqual({
      confirmed: { version: '13.2.0', pinId: null, by: 'pin gateway', at: LATER },
      pending: pending('13.3.0'),
      waiters,
    });
  });
});
