/**
 * Which release FNMS's "Beacon version approved for use" should hold after a request, decided from the
 * beacons the request finished and the beacon inventory (the saved report). Pure: the operator pin mode
 * (a person sets the value in the FNMS web interface, since Flexera publishes no API for it) and the
 * gateway mode share these rules with `decidePin`: never "latest", never older than a beacon FNMS knows
 * unless the request allows a downgrade.
 */
import { RequestError } from '../errors.js';
import type { InventoryBeacon } from './inventory.js';
import { compareVersions, decidePin, isReleaseVersion } from './pin.js';
import { LATEST_VERSION } from './types.js';

const PIN_FIELD = 'beaconVersion.pin';

/** Releases of the beacons FNMS knows (cells that are not a release number, such as an empty version, are ignored). */
export function deployedReleases(beacons: readonly InventoryBeacon[]): string[] {
  return beacons.map((beacon) => beacon.version).filter((version): version is string => version !== null && isReleaseVersion(version));
}

/** The highest of some releases, or null when there are none; of equal releases the fullest spelling (13.2.0 over 13.2). */
export function highestRelease(versions: readonly string[]): string | null {
  return versions.filter(isReleaseVersion).sort((a, b) => compareVersions(a, b) || a.split('.').length - b.split('.').length).at(-1) ?? null;
}

/** A beacon the request configured: the version its configure run read on it. */
export interface FinishedBeacon {
  instanceId: string;
  beaconVersion: string | null;
}

export interface ReleaseInput {
  /** The request's `beaconVersion.pin`: `current` or a release. */
  pin: string;
  allowDowngrade: boolean;
  /** The beacons of the request that finished configured (state ok). */
  finished: readonly FinishedBeacon[];
  /** Every beacon FNMS knows (the inventory report). */
  inventory: readonly InventoryBeacon[];
  /** What FNMS approves now, when known (a gateway); null or absent when only a person can read it. */
  approvedVersion?: string | null;
  /** Releases beacon-proxy saw deployed besides the inventory (configure runs of other requests that ended ok). */
  alsoDeployed?: readonly string[];
}

export interface ReleaseDecision {
  /** The release to approve, as a release number (never `latest`). */
  release: string;
  /** Whether the value must be set (false: the known approved value already is this release). */
  change: boolean;
  /** The highest release FNMS knows deployed (inventory and finished beacons), for the message. */
  highestDeployed: string | null;
  /** Beacons of the request whose version was not usable (not counted for `current`). */
  unknownVersion: string[];
}

/**
 * Decides the release for a set of finished beacons. `current` is the highest release running among them,
 * raised to the highest release known deployed (inventory, other requests' beacons) so it never downgrades;
 * an explicit release is taken as given. Refused (RequestError): `latest` (INVALID_REQUEST), `current` with
 * no finished beacon reporting a release (INVALID_REQUEST), a release older than any beacon FNMS knows or
 * than the known approved one (DOWNGRADE_REFUSED) unless `allowDowngrade`.
 */
export function decideRelease(input: ReleaseInput): ReleaseDecision {
  const running = input.finished.map((beacon) => beacon.beaconVersion).filter((version): version is string => version !== null && isReleaseVersion(version));
  const unknownVersion = input.finished.filter((beacon) => beacon.beaconVersion === null || !isReleaseVersion(beacon.beaconVersion)).map((beacon) => beacon.instanceId);
  let target = input.pin;
  if (input.pin === 'current') {
    const highest = highestRelease(running);
    if (highest === null) {
      throw new RequestError(
        'INVALID_REQUEST',
        input.finished.length === 0
          ? 'no beacon of the request finished configured, so there is no "current" release to approve'
          : `no finished beacon reported a usable version (${unknownVersion.join(', ')}), so "current" cannot be decided; pin a release such as 13.2.0`,
        PIN_FIELD,
      );
    }
    target = highest;
  }
  const deployed = [...running, ...deployedReleases(input.inventory), ...(input.alsoDeployed ?? []).filter(isReleaseVersion)];
  // `current` never approves a release older than one already deployed elsewhere (another request's beacons,
  // the inventory): it is the highest release running, on this request's beacons or any other known one.
  if (input.pin === 'current' && !input.allowDowngrade) target = highestRelease([target, ...deployed]) ?? target;
  const decision = decidePin(
    { approvedVersion: input.approvedVersion ?? LATEST_VERSION, availableVersions: [] },
    target,
    { allowDowngrade: input.allowDowngrade, deployedVersions: deployed },
  );
  // decidePin keeps only a known approved release (never "latest", never an unknown value): nothing to set then.
  return {
    release: decision.action === 'keep' ? decision.version : decision.to,
    change: decision.action === 'write',
    highestDeployed: highestRelease(deployed),
    unknownVersion,
  };
}

/** Where the setting lives in the FNMS web interface (on premises and Flexera One IT Asset Management alike). */
export const APPROVED_VERSION_UI_PATH = 'Discovery & Inventory > Settings, section "Beacon settings", control "Beacon version approved for use"';

export interface OperatorPinMessage {
  /** One line, for a chat message's title or a notification subject. */
  subject: string;
  /** The whole instruction, plain text. */
  text: string;
  /** The exact value to choose. */
  value: string;
  /** Where to set it. */
  where: string;
}

/**
 * The instruction an operator gets in `operator` pin mode: the exact value, where to set it, why, and what
 * not to choose. `product` names the web interface (FNMS on premises or Flexera One).
 */
export function operatorPinMessage(input: {
  requestId: string;
  decision: ReleaseDecision;
  /** The beacons configured (or a sample of them when `beaconCount` is larger). */
  beacons: readonly string[];
  beaconCount?: number;
  product: 'onPremises' | 'flexeraOne';
}): OperatorPinMessage {
  const { release, highestDeployed } = input.decision;
  const ui = input.product === 'flexeraOne' ? 'Flexera One (IT Asset Management)' : 'the FlexNet Manager Suite web interface';
  const subject = `Set FNMS "Beacon version approved for use" to ${release} (request ${input.requestId})`;
  const lines = [
    `Request ${input.requestId} configured ${input.beaconCount ?? input.beacons.length} beacon(s) to use the proxy: ${input.beacons.join(', ') || 'none'}${(input.beaconCount ?? 0) > input.beacons.length ? ', ...' : ''}.`,
    `Please set "Beacon version approved for use" to exactly ${release}.`,
    `Where: in ${ui}, ${APPROVED_VERSION_UI_PATH}; choose ${release}, then save.`,
    'Do not choose "Always use the latest version": an automatic beacon upgrade resets the FlexNet Beacon Engine service and the upload tasks to LocalSystem, and the beacon stops reaching FNMS through the proxy.',
    highestDeployed !== null && highestDeployed !== release
      ? `Do not choose a release older than ${highestDeployed}: FNMS would downgrade beacons that run it.`
      : `Do not choose a release older than ${release}: FNMS would downgrade beacons that run it.`,
  ];
  if (input.decision.unknownVersion.length > 0) lines.push(`Beacons that reported no version (not counted): ${input.decision.unknownVersion.join(', ')}.`);
  return { subject, text: lines.join('\n'), value: release, where: APPROVED_VERSION_UI_PATH };
}
