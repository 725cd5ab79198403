/**
 * The FNMS adapter contract (beacon-procedure section 6). Flexera does not publish one fixed endpoint for
 * the approved beacon version in FNMS 2019 R2, so the pipeline depends on this small interface only; the
 * HTTP client, the in-memory fake and the local stub server all implement it.
 */

/** The value FNMS shows as "Always use the latest version". Never a valid pin target. */
export const LATEST_VERSION = 'latest' as const;

/** A beacon as FNMS lists it (Discovery & Inventory > Beacons). */
export interface FnmsBeacon {
  /** FNMS's own id of the beacon. */
  id: string;
  /** Beacon name shown in FNMS. */
  name: string;
  /** Windows computer name; matches the SSM instance's computer name. */
  computerName: string;
  /** Beacon software version reported by the beacon, or null when it never reported one. */
  version: string | null;
  /** ISO-8601 time of the last contact, or null when it never contacted FNMS. */
  lastContact: string | null;
}

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

/** The FNMS adapter contract. Implementations throw `FnmsError` for transport failures and `RequestError` (DOWNGRADE_REFUSED, INVALID_REQUEST) for refused pins. */
export interface FnmsApi {
  /** All beacons FNMS knows. */
  listBeacons(): Promise<FnmsBeacon[]>;
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
