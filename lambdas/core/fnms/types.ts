/**
 * The pin gateway contract (beacon-procedure section 6). Flexera publishes NO API for "Beacon version
 * approved for use" (it is set in the FNMS web interface only), so `pinMode=gateway` calls a gateway the
 * customer provides and that implements this small contract of ours: `getBeaconSettings()` and
 * `setApprovedBeaconVersion(version)`. The HTTP client (client.ts), the in-memory fake and the local stub
 * implement it. Reading beacons is not part of it: that goes through Flexera's documented report APIs
 * (inventory.ts).
 */

/** The value FNMS shows as "Always use the latest version". Never a valid pin target. */
export const LATEST_VERSION = 'latest' as const;

/** Discovery & Inventory > Settings > Beacon settings. */
export interface BeaconSettings {
  /** "Beacon version approved for use": a release such as `13.2.0`, or `latest` ("Always use the latest version"). */
  approvedVersion: string;
  /** The beacon releases FNMS offers, in FNMS's order. Empty when FNMS does not say. */
  availableVersions: string[];
}

/** Options of {@link FnmsApi.setApprovedBeaconVersion}. */
export interface SetApprovedVersionOptions {
  /** Allow a target older than a deployed beacon or than the version approved now. */
  allowDowngrade: boolean;
  /** Versions running on beacons (at least the beacon being configured); a target older than any is a downgrade. */
  deployedVersions?: string[];
}

/** What a pin did. `unchanged`: FNMS already approved the target, nothing was written. */
export type PinOutcome =
  | { status: 'unchanged'; version: string }
  | { status: 'changed'; from: string; to: string };

/** The pin gateway contract (ours, not Flexera's). Implementations throw `FnmsError` for transport failures and `RequestError` (DOWNGRADE_REFUSED, INVALID_REQUEST) for refused pins. */
export interface FnmsApi {
  /** The approved beacon version and the available releases. */
  getBeaconSettings(): Promise<BeaconSettings>;
  /**
   * Read, compare, then write: approves `version` (never `latest`) only when FNMS approves something else,
   * so a second call changes nothing. Refuses a downgrade unless `opts.allowDowngrade`.
   */
  setApprovedBeaconVersion(version: string, opts: SetApprovedVersionOptions): Promise<PinOutcome>;
}

/** Input of `pinBeaconVersion`: the request's `beaconVersion` plus the version read on the beacon. */
export interface PinRequest {
  /** `current` (the beacon's running version) or a release such as `13.2.0`. */
  pin: 'current' | string;
  /** The version the configure document read on the beacon (`ResultLine.beaconVersion`); null when unknown. */
  beaconVersion: string | null;
  allowDowngrade: boolean;
}
