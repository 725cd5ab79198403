/**
 * Who the automatic triggers may configure (lambdas/core/triggers.ts): the tag alone is not enough, the FNMS
 * beacon inventory must list the computer name (short, without case), unless the stack opted in to tag-only;
 * and how far they go (the trigger mode).
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_TRIGGER_MODE, TRIGGER_REQUEST_IDS, decideAutoApply, fnmsBeaconNames, parseTriggerMode, shortComputerName, triggerRequest } from '../../lambdas/core/triggers.js';

describe('the trigger mode', () => {
  it('observe by default (unset or empty); off, observe and apply as given; anything else refused naming the setting', () => {
    expect(DEFAULT_TRIGGER_MODE).toBe('observe');
    expect(parseTriggerMode(undefined)).toBe('observe');
    expect(parseTriggerMode('')).toBe('observe');
    expect(['off', 'observe', 'apply'].map(parseTriggerMode)).toEqual(['off', 'observe', 'apply']);
    expect(() => parseTriggerMode('APPLY')).toThrow('trigger mode "APPLY" is not one of off, observe, apply; set the stack\'s triggerMode');
  });
});

describe('computer names compare short and without case', () => {
  it('the DNS suffix and surrounding blanks dropped, upper case; nothing is null', () => {
    expect(shortComputerName(' web-01.corp.example ')).toBe('WEB-01');
    expect(shortComputerName('WEB-01')).toBe('WEB-01');
    expect(shortComputerName('')).toBeNull();
    expect(shortComputerName('  ')).toBeNull();
    expect(shortComputerName('.corp.example')).toBeNull();
    expect(shortComputerName(null)).toBeNull();
    expect(shortComputerName(undefined)).toBeNull();
  });

  it('the inventory keeps each listed name short, and skips empty ones', () => {
    const inventory = fnmsBeaconNames(['beacon-1.corp.example', 'BEACON-2', '', 'beacon-1']);
    expect(inventory).toEqual({ kind: 'listed', names: new Set(['BEACON-1', 'BEACON-2']) });
  });
});

describe('the tag gate', () => {
  const listed = fnmsBeaconNames(['BEACON-1']);

  it('a computer the FNMS inventory lists is configured (whatever its suffix or case)', () => {
    expect(decideAutoApply('beacon-1.corp.example', listed, false)).toEqual({ allowed: true, basis: 'fnms-listed' });
    expect(decideAutoApply('beacon-1', listed, true)).toEqual({ allowed: true, basis: 'fnms-listed' });
  });

  it('one it does not list is refused, naming the computer; an unknown name too', () => {
    expect(decideAutoApply('web-7', listed, false)).toEqual({
      allowed: false,
      code: 'NOT_AN_FNMS_BEACON',
      reason: 'the FNMS beacon inventory does not list the computer name web-7 as a beacon, and the beacon tag alone does not configure an instance; check the tag, or configure it with a request',
    });
    expect(decideAutoApply(null, listed, false)).toMatchObject({ allowed: false, code: 'NOT_AN_FNMS_BEACON', reason: expect.stringContaining('computer name (unknown) as a beacon') });
  });

  it('no inventory configured, or one that could not be read: refused with its own code; tag-only opt-in allows it', () => {
    expect(decideAutoApply('beacon-1', { kind: 'none' }, false)).toMatchObject({ allowed: false, code: 'NO_FNMS_INVENTORY', reason: expect.stringContaining('fnmsInventory=none') });
    expect(decideAutoApply('beacon-1', { kind: 'unavailable', error: 'HTTP 503' }, false)).toEqual({
      allowed: false,
      code: 'FNMS_INVENTORY_UNAVAILABLE',
      reason: 'the FNMS beacon inventory could not be read (HTTP 503), so the instance is not confirmed as a beacon; it is tried again on the next run',
    });
    expect(decideAutoApply('web-7', { kind: 'none' }, true)).toEqual({ allowed: true, basis: 'tag-only-opt-in' });
    expect(decideAutoApply('web-7', listed, true)).toEqual({ allowed: true, basis: 'tag-only-opt-in' });
    expect(decideAutoApply(null, { kind: 'unavailable', error: 'x' }, true)).toEqual({ allowed: true, basis: 'tag-only-opt-in' });
  });
});

describe('the requests the triggers queue', () => {
  it('deterministic ids per beacon (and pass)', () => {
    expect(TRIGGER_REQUEST_IDS.newBeacon('i-1')).toBe('new-beacon-i-1');
    expect(TRIGGER_REQUEST_IDS.newBeaconPlan('i-1')).toBe('new-beacon-plan-i-1');
    expect(TRIGGER_REQUEST_IDS.drift('p1', 'i-1')).toBe('drift-p1-i-1');
    expect(TRIGGER_REQUEST_IDS.driftPlan('p1', 'i-1')).toBe('drift-plan-p1-i-1');
  });

  it('the content with the beacon as target; a dry run in observe mode only', () => {
    const content = { protocol: 'https', proxy: 'proxy.corp.example:8080', account: { kind: 'gmsa', name: 'CORP\\svc$' } };
    const applied = triggerRequest(content, 'i-0123456789abcdef0', 'new-beacon-i-0123456789abcdef0', false);
    expect(applied).toMatchObject({ requestId: 'new-beacon-i-0123456789abcdef0', target: { instanceIds: ['i-0123456789abcdef0'] }, proxy: 'proxy.corp.example:8080' });
    expect(applied.dryRun).not.toBe(true);
    expect(triggerRequest(content, 'i-0123456789abcdef0', 'x', true).dryRun).toBe(true);
  });
});
