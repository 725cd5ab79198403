import { RequestError } from '../errors.js';
import { PATTERNS } from '../request.js';
import type { BeaconInventory } from './inventory.js';
import { type BeaconSettings, type FnmsApi, LATEST_VERSION, type PinOutcome, type PinRequest, type SetApprovedVersionOptions } from './types.js';

const PIN_FIELD = 'beaconVersion.pin';

/** True for FNMS's "Always use the latest version", however it is spelled. */
export function isLatestVersion(value: string): boolean {
  return /^\s*(always[- ]?use[- ]?the[- ]?)?latest(\s+version)?\s*$/i.test(value);
}

/** A release number such as 13.2.0 or 13.2.0.1234 (2 to 4 numeric segments). */
export function isReleaseVersion(value: string): boolean {
  return PATTERNS.beaconVersion.test(value);
}

/**
 * Numeric comparison per segment, missing segments counting as 0 (13.2 == 13.2.0 < 13.10).
 * Negative when `a` is older. Throws on anything that is not a release number.
 */
export function compareVersions(a: string, b: string): number {
  if (!isReleaseVersion(a) || !isReleaseVersion(b)) {
    throw new TypeError(`not a release number: ${!isReleaseVersion(a) ? a : b}`);
  }
  const left = a.split('.').map(Number);
  const right = b.split('.').map(Number);
  for (let index = 0; index < Math.max(left.length, right.length); index++) {
    const difference = (left[index] ?? 0) - (right[index] ?? 0);
    if (difference !== 0) return difference < 0 ? -1 : 1;
  }
  return 0;
}

/** What a pin has to do, decided from what FNMS approves now. */
export type PinDecision = { action: 'keep'; version: string } | { action: 'write'; from: string; to: string };

function refuseLatest(): never {
  throw new RequestError(
    'INVALID_REQUEST',
    'the approved beacon version cannot be "Always use the latest version": an automatic upgrade resets the beacon ' +
      'service and tasks to LocalSystem. Pin "current" or a release such as 13.2.0',
    PIN_FIELD,
  );
}

/**
 * The pin rules, shared by every FnmsApi implementation: never `latest`; a release FNMS offers; nothing to
 * write when FNMS already approves it; a target older than a deployed beacon or than the approved release
 * is a downgrade, refused (DOWNGRADE_REFUSED) unless `allowDowngrade`. From `latest`, any release may be pinned
 * that is not older than a deployed beacon. Throws RequestError.
 */
export function decidePin(settings: BeaconSettings, target: string, opts: SetApprovedVersionOptions): PinDecision {
  if (isLatestVersion(target)) refuseLatest();
  if (!isReleaseVersion(target)) {
    throw new RequestError('INVALID_REQUEST', `"${target}" is not a beacon release; pin "current" or a release such as 13.2.0`, PIN_FIELD);
  }
  const offered = settings.availableVersions.filter(isReleaseVersion);
  let version = target;
  if (offered.length > 0) {
    const match = offered.find((candidate) => compareVersions(candidate, target) === 0);
    if (match === undefined) {
      throw new RequestError(
        'INVALID_REQUEST',
        `FNMS does not offer beacon release ${target}; pin one of ${offered.join(', ')} (or "current" for the version the beacon runs)`,
        PIN_FIELD,
      );
    }
    // Write the release exactly as FNMS spells it.
    version = match;
  }
  const approved = settings.approvedVersion;
  const approvedRelease = isLatestVersion(approved) || !isReleaseVersion(approved) ? null : approved;
  if (approvedRelease !== null && compareVersions(approvedRelease, version) === 0) {
    return { action: 'keep', version: approvedRelease };
  }
  if (!opts.allowDowngrade) {
    const newerDeployed = (opts.deployedVersions ?? [])
      .filter(isReleaseVersion)
      .filter((deployed) => compareVersions(version, deployed) < 0)
      .sort(compareVersions)
      .at(-1);
    if (newerDeployed !== undefined) {
      throw new RequestError(
        'DOWNGRADE_REFUSED',
        `approving beacon release ${version} would downgrade a beacon that runs ${newerDeployed}. Pin "current" or ` +
          `${newerDeployed}, or set beaconVersion.allowDowngrade to true if the downgrade is intended`,
        PIN_FIELD,
      );
    }
    if (approvedRelease !== null && compareVersions(version, approvedRelease) < 0) {
      throw new RequestError(
        'DOWNGRADE_REFUSED',
        `FNMS approves beacon release ${approvedRelease}; approving the older ${version} would downgrade beacons that ` +
          `already run it. Pin ${approvedRelease} or newer, or set beaconVersion.allowDowngrade to true if the downgrade is intended`,
        PIN_FIELD,
      );
    }
  }
  return { action: 'write', from: isLatestVersion(approved) ? LATEST_VERSION : approved, to: version };
}

/**
 * Pins the approved beacon version through the pin gateway for a request after a beacon was configured.
 * `pin: "current"` means the version read on the beacon; "latest" is refused. The beacon's version and every
 * release the beacon inventory (FNMS's saved report) lists count as deployed, so pinning below any of them
 * is a downgrade. Read-then-write through `api`: a second call reports `unchanged` and writes nothing.
 * Throws RequestError (INVALID_REQUEST, DOWNGRADE_REFUSED), the api's FnmsError or the inventory's
 * BeaconInventoryError.
 */
export async function pinBeaconVersion(api: FnmsApi, request: PinRequest, inventory: BeaconInventory | null = null): Promise<PinOutcome> {
  const { pin, beaconVersion, allowDowngrade } = request;
  if (isLatestVersion(pin)) refuseLatest();
  const running = beaconVersion !== null && isReleaseVersion(beaconVersion) ? beaconVersion : null;
  let target = pin;
  if (pin === 'current') {
    if (running === null) {
      throw new RequestError(
        'INVALID_REQUEST',
        `the beacon did not report a usable version (${JSON.stringify(beaconVersion)}), so "current" cannot be pinned; pin a release such as 13.2.0`,
        PIN_FIELD,
      );
    }
    target = running;
  }
  // Refuse a malformed target before reading the inventory.
  decidePin({ approvedVersion: LATEST_VERSION, availableVersions: [] }, target, { allowDowngrade: true });
  const known = inventory === null || allowDowngrade ? [] : (await inventory.listBeacons()).map((beacon) => beacon.version);
  const deployedVersions = [running, ...known].filter((version): version is string => version !== null && isReleaseVersion(version));
  return api.setApprovedBeaconVersion(target, { allowDowngrade, deployedVersions });
}
