/**
 * The release rules the operator pin mode will use (and the gateway mode shares): which release a request's
 * finished beacons and the FNMS inventory call for, and the instruction an operator gets.
 */
import { describe, expect, it } from 'vitest';
import { refusal } from '../support/refusal.js';
import {
  APPROVED_VERSION_UI_PATH,
  type InventoryBeacon,
  createInMemoryFnms,
  createInMemoryInventory,
  decideRelease,
  deployedReleases,
  operatorPinMessage,
  pinBeaconVersion,
} from '../../lambdas/core/fnms/index.js';

const known = (...versions: Array<string | null>): InventoryBeacon[] =>
  versions.map((version, index) => ({ name: `FNMS${index}`, computerName: `FNMS${index}`, version, status: 'Active', lastContact: null }));
const finished = (...versions: Array<string | null>) => versions.map((beaconVersion, index) => ({ instanceId: `i-000000000000000${index}`, beaconVersion }));


describe('decideRelease: the release for a set of finished beacons plus the inventory', () => {
  it('"current" is the highest release running among the finished beacons', () => {
    expect(decideRelease({ pin: 'current', allowDowngrade: false, finished: finished('13.1.0', '13.2.0', '13.2'), inventory: known('13.0.0') })).toEqual({
      release: '13.2.0',
      change: true,
      highestDeployed: '13.2.0',
      unknownVersion: [],
    });
  });

  it('compares releases numerically (13.10 is newer than 13.9)', () => {
    expect(decideRelease({ pin: 'current', allowDowngrade: false, finished: finished('13.9.0', '13.10.0'), inventory: [] }).release).toBe('13.10.0');
  });

  it('never "latest", however it is written', () => {
    for (const pin of ['latest', 'Always use the latest version']) {
      expect(refusal(() => decideRelease({ pin, allowDowngrade: true, finished: finished('13.2.0'), inventory: [] })).code).toBe('INVALID_REQUEST');
    }
  });

  it('"current" is never older than a beacon FNMS knows: it approves the newer release FNMS lists', () => {
    expect(decideRelease({ pin: 'current', allowDowngrade: false, finished: finished('13.2.0'), inventory: known('13.3.0', null, 'n/a') })).toMatchObject({ release: '13.3.0', highestDeployed: '13.3.0' });
  });

  it('"current" is never older than a release another request deployed (mixed-version requests): it approves that one', () => {
    expect(decideRelease({ pin: 'current', allowDowngrade: false, finished: finished('13.1.0'), inventory: [], approvedVersion: '13.3.0', alsoDeployed: ['13.3.0'] })).toMatchObject({ release: '13.3.0', change: false });
  });

  it('an explicit release older than a beacon FNMS knows: DOWNGRADE_REFUSED naming the newer release', () => {
    const error = refusal(() => decideRelease({ pin: '13.2.0', allowDowngrade: false, finished: finished('13.2.0'), inventory: known('13.3.0', null, 'n/a') }));
    expect(error.code).toBe('DOWNGRADE_REFUSED');
    expect(error.message).toContain('13.3.0');
    expect(error.field).toBe('beaconVersion.pin');
  });

  it('an explicit release older than a finished beacon is a downgrade too', () => {
    expect(refusal(() => decideRelease({ pin: '13.1.0', allowDowngrade: false, finished: finished('13.2.0'), inventory: [] })).code).toBe('DOWNGRADE_REFUSED');
  });

  it('allowDowngrade lets an intended downgrade through (rules unchanged)', () => {
    expect(decideRelease({ pin: '13.1.0', allowDowngrade: true, finished: finished('13.2.0'), inventory: known('13.3.0') })).toMatchObject({ release: '13.1.0', highestDeployed: '13.3.0' });
  });

  it('older than a known approved release is refused; the same release means nothing to change', () => {
    expect(refusal(() => decideRelease({ pin: '13.1.0', allowDowngrade: false, finished: [], inventory: [], approvedVersion: '13.2.0' })).code).toBe('DOWNGRADE_REFUSED');
    expect(decideRelease({ pin: 'current', allowDowngrade: false, finished: finished('13.2.0'), inventory: [], approvedVersion: '13.2' })).toMatchObject({ release: '13.2', change: false });
  });

  it('"current" with no finished beacon, or none reporting a version, is refused with what to do', () => {
    expect(refusal(() => decideRelease({ pin: 'current', allowDowngrade: false, finished: [], inventory: known('13.2.0') })).message).toMatch(/no beacon of the request finished/);
    const error = refusal(() => decideRelease({ pin: 'current', allowDowngrade: false, finished: finished(null, 'unknown'), inventory: [] }));
    expect(error.code).toBe('INVALID_REQUEST');
    expect(error.message).toMatch(/pin a release such as 13\.2\.0/);
  });

  it('beacons without a usable version are listed, not counted', () => {
    expect(decideRelease({ pin: 'current', allowDowngrade: false, finished: finished('13.2.0', null), inventory: [] }).unknownVersion).toEqual(['i-0000000000000001']);
    expect(deployedReleases(known('13.2.0', null, '', 'x'))).toEqual(['13.2.0']);
  });
});

describe('operatorPinMessage: what an operator is asked to set, exactly and where', () => {
  it('names the exact value, the place in the FNMS web interface, and what not to choose', () => {
    const decision = decideRelease({ pin: 'current', allowDowngrade: false, finished: finished('13.2.0'), inventory: known('13.1.0') });
    const message = operatorPinMessage({ requestId: 'chg-1234', decision, beacons: ['BEACON01', 'BEACON02'], product: 'onPremises' });
    expect(message.value).toBe('13.2.0');
    expect(message.where).toBe(APPROVED_VERSION_UI_PATH);
    expect(message.subject).toBe('Set FNMS "Beacon version approved for use" to 13.2.0 (request chg-1234)');
    expect(message.text).toContain('set "Beacon version approved for use" to exactly 13.2.0');
    expect(message.text).toContain('Discovery & Inventory > Settings, section "Beacon settings"');
    expect(message.text).toContain('FlexNet Manager Suite web interface');
    expect(message.text).toMatch(/Do not choose "Always use the latest version"/);
    expect(message.text).toContain('BEACON01, BEACON02');
  });

  it('for Flexera One it names IT Asset Management, and warns below the highest deployed release', () => {
    const decision = decideRelease({ pin: '13.2.0', allowDowngrade: true, finished: finished('13.2.0'), inventory: known('13.3.0') });
    const message = operatorPinMessage({ requestId: 'r1', decision, beacons: ['B1'], product: 'flexeraOne' });
    expect(message.text).toContain('Flexera One (IT Asset Management)');
    expect(message.text).toContain('older than 13.3.0');
  });
});

describe('pinBeaconVersion (gateway) reads the inventory for the "never older than a deployed beacon" rule', () => {
  it('refuses a pin below a beacon the inventory lists, without writing', async () => {
    const gateway = createInMemoryFnms({ approvedVersion: 'latest' });
    await expect(pinBeaconVersion(gateway, { pin: 'current', beaconVersion: '13.2.0', allowDowngrade: false }, createInMemoryInventory(known('13.3.0')))).rejects.toMatchObject({ code: 'DOWNGRADE_REFUSED' });
    expect(gateway.writes).toEqual([]);
  });

  it('pins when the inventory has nothing newer; "latest" is refused before the inventory is read', async () => {
    const gateway = createInMemoryFnms({ approvedVersion: 'latest' });
    let reads = 0;
    const inventory = createInMemoryInventory(async () => {
      reads += 1;
      return known('13.1.0', '13.2.0');
    });
    await expect(pinBeaconVersion(gateway, { pin: 'current', beaconVersion: '13.2.0', allowDowngrade: false }, inventory)).resolves.toEqual({ status: 'changed', from: 'latest', to: '13.2.0' });
    await expect(pinBeaconVersion(gateway, { pin: 'latest', beaconVersion: '13.2.0', allowDowngrade: false }, inventory)).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    expect(reads).toBe(1);
  });
});
