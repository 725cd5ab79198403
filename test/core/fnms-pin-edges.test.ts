/**
 * The pin rules at their edges (lambdas/core/fnms/pin.ts, release.ts): the release approved is never
 * "latest" and never older than a deployed beacon unless the request allows a downgrade; which release
 * "current" means; and the exact instruction an operator gets.
 */
import { describe, expect, it } from 'vitest';
import { refusal } from '../support/refusal.js';
import { RequestError } from '../../lambdas/core/errors.js';
import { createInMemoryFnms } from '../../lambdas/core/fnms/in-memory.js';
import { type InventoryBeacon, createInMemoryInventory } from '../../lambdas/core/fnms/inventory.js';
import { decidePin, isLatestVersion, isReleaseVersion, pinBeaconVersion } from '../../lambdas/core/fnms/pin.js';
import { APPROVED_VERSION_UI_PATH, decideRelease, deployedReleases, highestRelease, operatorPinMessage } from '../../lambdas/core/fnms/release.js';

const known = (...versions: Array<string | null>): InventoryBeacon[] =>
  versions.map((version, index) => ({ name: `FNMS${index}`, computerName: `FNMS${index}`, version, status: 'Active', lastContact: null }));
const finished = (...versions: Array<string | null>) => versions.map((beaconVersion, index) => ({ instanceId: `i-000000000000000${index}`, beaconVersion }));


describe('release numbers and "latest"', () => {
  it('"latest" in the spellings FNMS uses, and nothing that merely contains the word', () => {
    for (const value of ['Latest version', 'always use the latest', 'AlwaysUseTheLatest', 'always use the latest   version', '\tlatest\n']) expect(isLatestVersion(value)).toBe(true);
    for (const value of ['the latest', 'always latest', 'latest versions', 'not latest', 'latest.1']) expect(isLatestVersion(value)).toBe(false);
  });

  it('a release has 2 to 4 numeric segments', () => {
    for (const value of ['13.2', '13.2.0', '13.2.0.1234']) expect(isReleaseVersion(value)).toBe(true);
    for (const value of ['13', '13.2.0.1.2', '13.x', 'v13.2', '']) expect(isReleaseVersion(value)).toBe(false);
  });

  it('the highest release: numeric, non-releases ignored, of equal releases the fullest spelling whatever the order', () => {
    expect(highestRelease([])).toBeNull();
    expect(highestRelease(['n/a', ''])).toBeNull();
    expect(highestRelease(['13.9.0', '13.10.0', 'latest'])).toBe('13.10.0');
    expect(highestRelease(['13.2', '13.2.0'])).toBe('13.2.0');
    expect(highestRelease(['13.2.0', '13.2'])).toBe('13.2.0');
    expect(highestRelease(['13.1.0', '13.2', '13.2.0.0', '13.2.0'])).toBe('13.2.0.0');
  });

  it('releases deployed: the inventory\'s release cells, empty or odd cells left out', () => {
    expect(deployedReleases(known('13.2.0', null, 'unknown', '13.1'))).toEqual(['13.2.0', '13.1']);
  });
});

describe('decidePin at its edges', () => {
  it('FNMS offering only odd entries offers no release list: any release may be pinned', () => {
    expect(decidePin({ approvedVersion: 'latest', availableVersions: ['n/a', 'latest'] }, '13.2.0', { allowDowngrade: false })).toEqual({ action: 'write', from: 'latest', to: '13.2.0' });
  });

  it('a release FNMS does not offer is refused, listing only the releases it offers', () => {
    const error = refusal(() => decidePin({ approvedVersion: 'latest', availableVersions: ['13.1.0', 'n/a', '13.3.0'] }, '13.2.0', { allowDowngrade: false }));
    expect(error.code).toBe('INVALID_REQUEST');
    expect(error.field).toBe('beaconVersion.pin');
    expect(error.message).toBe('FNMS does not offer beacon release 13.2.0; pin one of 13.1.0, 13.3.0 (or "current" for the version the beacon runs)');
  });

  it('an approved value that is not a release (unreadable) does not block a pin; the write names it as it was', () => {
    expect(decidePin({ approvedVersion: 'unknown', availableVersions: [] }, '13.2.0', { allowDowngrade: false })).toEqual({ action: 'write', from: 'unknown', to: '13.2.0' });
  });

  it('a newer deployed beacon blocks a downgrade, naming the newest of them; equal or older deployed releases do not', () => {
    const error = refusal(() => decidePin({ approvedVersion: 'latest', availableVersions: [] }, '13.1.0', { allowDowngrade: false, deployedVersions: ['13.3.0', 'n/a', '13.2.0', '13.1.0', '13.0.0'] }));
    expect(error.code).toBe('DOWNGRADE_REFUSED');
    expect(error.message).toBe('approving beacon release 13.1.0 would downgrade a beacon that runs 13.3.0. Pin "current" or 13.3.0, or set beaconVersion.allowDowngrade to true if the downgrade is intended');
    expect(decidePin({ approvedVersion: 'latest', availableVersions: [] }, '13.1.0', { allowDowngrade: false, deployedVersions: ['13.1', '13.0.0'] })).toMatchObject({ action: 'write', to: '13.1.0' });
  });

  it('an upgrade from an approved release is written, from that release', () => {
    expect(decidePin({ approvedVersion: '13.1.0', availableVersions: [] }, '13.2.0', { allowDowngrade: false })).toEqual({ action: 'write', from: '13.1.0', to: '13.2.0' });
  });

  it('a target that is not a release is refused with what to pin', () => {
    expect(refusal(() => decidePin({ approvedVersion: 'latest', availableVersions: [] }, 'v13', { allowDowngrade: true })).message).toBe('"v13" is not a beacon release; pin "current" or a release such as 13.2.0');
    expect(refusal(() => decidePin({ approvedVersion: 'latest', availableVersions: [] }, 'latest', { allowDowngrade: true })).message).toMatch(/^the approved beacon version cannot be "Always use the latest version": an automatic upgrade resets/);
  });
});

describe('pinBeaconVersion: what counts as deployed', () => {
  it('an intended downgrade does not read the inventory at all', async () => {
    let reads = 0;
    const inventory = createInMemoryInventory(async () => {
      reads += 1;
      return known('13.3.0');
    });
    await expect(pinBeaconVersion(createInMemoryFnms({ approvedVersion: '13.3.0' }), { pin: '13.1.0', beaconVersion: '13.3.0', allowDowngrade: true }, inventory)).resolves.toEqual({ status: 'changed', from: '13.3.0', to: '13.1.0' });
    expect(reads).toBe(0);
  });

  it('an explicit release below the version the beacon reported is a downgrade, even without an inventory', async () => {
    await expect(pinBeaconVersion(createInMemoryFnms(), { pin: '13.1.0', beaconVersion: '13.2.0', allowDowngrade: false })).rejects.toMatchObject({ code: 'DOWNGRADE_REFUSED' });
  });

  it('an explicit release is pinned when the beacon reported no usable version', async () => {
    await expect(pinBeaconVersion(createInMemoryFnms(), { pin: '13.1.0', beaconVersion: 'unknown', allowDowngrade: false })).resolves.toEqual({ status: 'changed', from: 'latest', to: '13.1.0' });
    await expect(pinBeaconVersion(createInMemoryFnms(), { pin: '13.1.0', beaconVersion: null, allowDowngrade: false })).resolves.toMatchObject({ status: 'changed' });
  });

  it('"current" with an unusable beacon version is refused quoting what the beacon reported', async () => {
    const error = await pinBeaconVersion(createInMemoryFnms(), { pin: 'current', beaconVersion: 'n/a', allowDowngrade: false }).catch((e: unknown) => e as RequestError);
    expect(error).toMatchObject({ code: 'INVALID_REQUEST', field: 'beaconVersion.pin', message: 'the beacon did not report a usable version ("n/a"), so "current" cannot be pinned; pin a release such as 13.2.0' });
  });

  it('a malformed pin is refused before the inventory is read', async () => {
    let reads = 0;
    const inventory = createInMemoryInventory(async () => {
      reads += 1;
      return [];
    });
    await expect(pinBeaconVersion(createInMemoryFnms(), { pin: '13', beaconVersion: '13.2.0', allowDowngrade: false }, inventory)).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    expect(reads).toBe(0);
  });
});

describe('decideRelease at its edges', () => {
  it('"current" with allowDowngrade is the request\'s own highest release, not raised to the inventory\'s', () => {
    expect(decideRelease({ pin: 'current', allowDowngrade: true, finished: finished('13.1.0'), inventory: known('13.3.0') })).toEqual({ release: '13.1.0', change: true, highestDeployed: '13.3.0', unknownVersion: [] });
  });

  it('an explicit release is taken as given (not raised), and refused when older than a deployed one', () => {
    expect(decideRelease({ pin: '13.3.0', allowDowngrade: false, finished: finished('13.2.0'), inventory: known('13.1.0') })).toMatchObject({ release: '13.3.0', highestDeployed: '13.2.0' });
    expect(refusal(() => decideRelease({ pin: '13.1.0', allowDowngrade: false, finished: [], inventory: [], alsoDeployed: ['13.2.0', 'odd'] })).code).toBe('DOWNGRADE_REFUSED');
  });

  it('nothing to change only when the approved release is known and is this one; "latest" or unknown means set it', () => {
    const base = { pin: 'current', allowDowngrade: false, finished: finished('13.2.0'), inventory: [] };
    expect(decideRelease({ ...base, approvedVersion: '13.2' })).toMatchObject({ release: '13.2', change: false });
    expect(decideRelease({ ...base, approvedVersion: 'latest' })).toMatchObject({ release: '13.2.0', change: true });
    expect(decideRelease({ ...base, approvedVersion: null })).toMatchObject({ release: '13.2.0', change: true });
    expect(decideRelease(base)).toMatchObject({ release: '13.2.0', change: true });
    expect(decideRelease({ ...base, approvedVersion: '13.1.0' })).toMatchObject({ release: '13.2.0', change: true });
  });

  it('"current" with no finished beacon, or none with a release, is refused with the reason', () => {
    expect(refusal(() => decideRelease({ pin: 'current', allowDowngrade: false, finished: [], inventory: known('13.2.0') })).message).toBe(
      'no beacon of the request finished configured, so there is no "current" release to approve',
    );
    const error = refusal(() => decideRelease({ pin: 'current', allowDowngrade: false, finished: finished(null, 'n/a'), inventory: [] }));
    expect(error.message).toBe('no finished beacon reported a usable version (i-0000000000000000, i-0000000000000001), so "current" cannot be decided; pin a release such as 13.2.0');
    expect(error.field).toBe('beaconVersion.pin');
  });
});

describe('the operator instruction, line by line', () => {
  it('FNMS on premises, with the beacons named and the lowest acceptable release', () => {
    const decision = { release: '13.2.0', change: true, highestDeployed: '13.2.0', unknownVersion: [] };
    const message = operatorPinMessage({ requestId: 'r1', decision, beacons: ['B1', 'B2'], product: 'onPremises' });
    expect(message).toEqual({
      subject: 'Set FNMS "Beacon version approved for use" to 13.2.0 (request r1)',
      value: '13.2.0',
      where: APPROVED_VERSION_UI_PATH,
      text: [
        'Request r1 configured 2 beacon(s) to use the proxy: B1, B2.',
        'Please set "Beacon version approved for use" to exactly 13.2.0.',
        `Where: in the FlexNet Manager Suite web interface, ${APPROVED_VERSION_UI_PATH}; choose 13.2.0, then save.`,
        'Do not choose "Always use the latest version": an automatic beacon upgrade resets the FlexNet Beacon Engine service and the upload tasks to LocalSystem, and the beacon stops reaching FNMS through the proxy.',
        'Do not choose a release older than 13.2.0: FNMS would downgrade beacons that run it.',
      ].join('\n'),
    });
  });

  it('a sample of a larger request says how many and marks the rest; beacons without a version are listed', () => {
    const decision = { release: '13.2.0', change: true, highestDeployed: null, unknownVersion: ['i-1', 'i-2'] };
    const lines = operatorPinMessage({ requestId: 'r1', decision, beacons: ['B1'], beaconCount: 40, product: 'flexeraOne' }).text.split('\n');
    expect(lines[0]).toBe('Request r1 configured 40 beacon(s) to use the proxy: B1, ....');
    expect(lines[2]).toMatch(/^Where: in Flexera One \(IT Asset Management\), /);
    expect(lines[4]).toBe('Do not choose a release older than 13.2.0: FNMS would downgrade beacons that run it.');
    expect(lines[5]).toBe('Beacons that reported no version (not counted): i-1, i-2.');
  });

  it('no beacon named: "none"; a count equal to the names adds no marker', () => {
    const decision = { release: '13.2.0', change: true, highestDeployed: '13.3.0', unknownVersion: [] };
    expect(operatorPinMessage({ requestId: 'r1', decision, beacons: [], product: 'onPremises' }).text.split('\n')[0]).toBe('Request r1 configured 0 beacon(s) to use the proxy: none.');
    const text = operatorPinMessage({ requestId: 'r1', decision, beacons: ['B1'], beaconCount: 1, product: 'onPremises' }).text.split('\n');
    expect(text[0]).toBe('Request r1 configured 1 beacon(s) to use the proxy: B1.');
    expect(text[4]).toBe('Do not choose a release older than 13.3.0: FNMS would downgrade beacons that run it.');
    expect(text).toHaveLength(5);
  });
});
