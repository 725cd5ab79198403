import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { refusal } from '../support/refusal.js';
import { compareVersions, createInMemoryFnms, decidePin, isLatestVersion, pinBeaconVersion } from '../../lambdas/core/fnms/index.js';


describe('beacon version comparison is numeric per segment', () => {
  it.each([
    ['13.10.0', '13.9.0', 1],
    ['13.2', '13.2.0', 0],
    ['13.2.0.0', '13.2', 0],
    ['13.2.0', '13.2.0.1', -1],
    ['9.0', '10.0', -1],
    ['013.2', '13.2', 0],
  ])('%s vs %s -> %i', (a, b, expected) => {
    expect(compareVersions(a, b)).toBe(expected);
  });

  it('refuses what is not a release', () => {
    expect(() => compareVersions('latest', '13.2.0')).toThrow(TypeError);
    expect(() => compareVersions('13.2.0', '13.x')).toThrow(TypeError);
  });

  const version = fc.array(fc.integer({ min: 0, max: 99999 }), { minLength: 2, maxLength: 4 }).map((parts) => parts.join('.'));
  it('is antisymmetric and reflexive', () => {
    fc.assert(
      fc.property(version, version, (a, b) => {
        expect(compareVersions(a, a)).toBe(0);
        expect(compareVersions(a, b)).toBe(-compareVersions(b, a));
      }),
    );
  });
  it('is transitive', () => {
    fc.assert(
      fc.property(version, version, version, (a, b, c) => {
        if (compareVersions(a, b) <= 0 && compareVersions(b, c) <= 0) expect(compareVersions(a, c)).toBeLessThanOrEqual(0);
      }),
    );
  });
});

describe('"Always use the latest version" is recognised however FNMS spells it', () => {
  it.each(['latest', 'LATEST', ' latest ', 'Always use the latest version', 'always-use-the-latest'])('%j', (value) => {
    expect(isLatestVersion(value)).toBe(true);
  });
  it.each(['13.2.0', 'current', 'latest13', ''])('not %j', (value) => {
    expect(isLatestVersion(value)).toBe(false);
  });
});

describe('decidePin rules', () => {
  const offered = ['13.1.0', '13.2.0', '13.3.0'];

  it('from latest to a release: write', () => {
    expect(decidePin({ approvedVersion: 'latest', availableVersions: offered }, '13.2.0', { allowDowngrade: false })).toEqual({ action: 'write', from: 'latest', to: '13.2.0' });
  });

  it('already approved (numerically equal): keep, spelled as FNMS spells it', () => {
    expect(decidePin({ approvedVersion: '13.2', availableVersions: [] }, '13.2.0', { allowDowngrade: false })).toEqual({ action: 'keep', version: '13.2' });
  });

  it('writes the release as FNMS lists it', () => {
    expect(decidePin({ approvedVersion: 'latest', availableVersions: ['13.2'] }, '13.2.0', { allowDowngrade: false })).toEqual({ action: 'write', from: 'latest', to: '13.2' });
  });

  it('older than the approved release: DOWNGRADE_REFUSED naming both versions and the flag', () => {
    const error = refusal(() => decidePin({ approvedVersion: '13.3.0', availableVersions: offered }, '13.1.0', { allowDowngrade: false }));
    expect(error.code).toBe('DOWNGRADE_REFUSED');
    expect(error.field).toBe('beaconVersion.pin');
    expect(error.message).toContain('13.3.0');
    expect(error.message).toContain('13.1.0');
    expect(error.message).toContain('beaconVersion.allowDowngrade');
  });

  it('older than the newest deployed beacon: DOWNGRADE_REFUSED naming that version', () => {
    const error = refusal(() => decidePin({ approvedVersion: 'latest', availableVersions: [] }, '13.1.0', { allowDowngrade: false, deployedVersions: ['13.2.0', '13.10.0', 'garbage'] }));
    expect(error.code).toBe('DOWNGRADE_REFUSED');
    expect(error.message).toContain('13.10.0');
  });

  it('allowDowngrade lets either downgrade through', () => {
    expect(decidePin({ approvedVersion: '13.3.0', availableVersions: [] }, '13.1.0', { allowDowngrade: true, deployedVersions: ['13.3.0'] })).toEqual({ action: 'write', from: '13.3.0', to: '13.1.0' });
  });

  it('refuses latest and malformed targets with INVALID_REQUEST', () => {
    expect(refusal(() => decidePin({ approvedVersion: '13.2.0', availableVersions: [] }, 'latest', { allowDowngrade: true })).code).toBe('INVALID_REQUEST');
    expect(refusal(() => decidePin({ approvedVersion: '13.2.0', availableVersions: [] }, '13.2.0; rm', { allowDowngrade: true })).code).toBe('INVALID_REQUEST');
  });

  it('after any write, deciding again keeps (read-then-write is idempotent)', () => {
    const release = fc.tuple(fc.integer({ min: 10, max: 20 }), fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 3 })).map((p) => p.join('.'));
    fc.assert(
      fc.property(fc.oneof(fc.constant('latest'), release), release, fc.boolean(), (approved, target, allowDowngrade) => {
        let decision;
        try {
          decision = decidePin({ approvedVersion: approved, availableVersions: [] }, target, { allowDowngrade });
        } catch (error) {
          expect(error).toMatchObject({ code: 'DOWNGRADE_REFUSED' });
          expect(allowDowngrade).toBe(false);
          return;
        }
        const written = decision.action === 'write' ? decision.to : decision.version;
        expect(decidePin({ approvedVersion: written, availableVersions: [] }, target, { allowDowngrade: false })).toEqual({ action: 'keep', version: written });
      }),
    );
  });
});

describe('pinBeaconVersion with the in-memory FNMS', () => {
  it('methods work detached from the object', async () => {
    const { setApprovedBeaconVersion } = createInMemoryFnms({ approvedVersion: 'latest' });
    await expect(setApprovedBeaconVersion('13.2.0', { allowDowngrade: false })).resolves.toMatchObject({ status: 'changed' });
  });

  it('"current" pins the version read on the beacon, once', async () => {
    const fnms = createInMemoryFnms({ approvedVersion: 'latest' });
    await expect(pinBeaconVersion(fnms, { pin: 'current', beaconVersion: '13.2.0', allowDowngrade: false })).resolves.toEqual({ status: 'changed', from: 'latest', to: '13.2.0' });
    await expect(pinBeaconVersion(fnms, { pin: 'current', beaconVersion: '13.2.0', allowDowngrade: false })).resolves.toEqual({ status: 'unchanged', version: '13.2.0' });
    expect(fnms.writes).toEqual(['13.2.0']);
  });

  it('"current" on a beacon older than the approved release is a downgrade', async () => {
    const fnms = createInMemoryFnms({ approvedVersion: '13.3.0' });
    await expect(pinBeaconVersion(fnms, { pin: 'current', beaconVersion: '13.2.0', allowDowngrade: false })).rejects.toMatchObject({ code: 'DOWNGRADE_REFUSED' });
    expect(fnms.writes).toEqual([]);
  });

  it('"current" without a usable beacon version is refused with advice', async () => {
    const fnms = createInMemoryFnms();
    for (const beaconVersion of [null, 'unknown']) {
      await expect(pinBeaconVersion(fnms, { pin: 'current', beaconVersion, allowDowngrade: false })).rejects.toMatchObject({
        code: 'INVALID_REQUEST',
        message: expect.stringContaining('pin a release'),
      });
    }
  });

  it('"latest" is refused before FNMS is asked', async () => {
    const fnms = createInMemoryFnms();
    const asked = { ...fnms, setApprovedBeaconVersion: async () => {
      throw new Error('must not be called');
    } };
    await expect(pinBeaconVersion(asked, { pin: 'latest', beaconVersion: '13.2.0', allowDowngrade: true })).rejects.toMatchObject({ code: 'INVALID_REQUEST', field: 'beaconVersion.pin' });
  });
});
