import { decidePin, isLatestVersion } from './pin.js';
import { type BeaconSettings, type FnmsApi, type FnmsBeacon, LATEST_VERSION, type PinOutcome, type SetApprovedVersionOptions } from './types.js';

/** State of the in-memory FNMS. */
export interface InMemoryFnmsState {
  beacons: FnmsBeacon[];
  approvedVersion: string;
  availableVersions: string[];
}

/** An FnmsApi over plain state, for handler and workflow tests without HTTP. */
export interface InMemoryFnms extends FnmsApi {
  readonly state: InMemoryFnmsState;
  /** Every approved-version write, in order. */
  readonly writes: string[];
}

/** Creates an in-memory FNMS applying the same pin rules (`decidePin`) as the HTTP client. */
export function createInMemoryFnms(initial: Partial<InMemoryFnmsState> = {}): InMemoryFnms {
  const state: InMemoryFnmsState = {
    beacons: structuredClone(initial.beacons ?? []),
    approvedVersion: initial.approvedVersion ?? LATEST_VERSION,
    availableVersions: [...(initial.availableVersions ?? [])],
  };
  const writes: string[] = [];
  const settings = (): BeaconSettings => ({
    approvedVersion: isLatestVersion(state.approvedVersion) ? LATEST_VERSION : state.approvedVersion,
    availableVersions: [...state.availableVersions],
  });
  return {
    state,
    writes,
    async listBeacons(): Promise<FnmsBeacon[]> {
      return structuredClone(state.beacons);
    },
    async getBeaconSettings(): Promise<BeaconSettings> {
      return settings();
    },
    async setApprovedBeaconVersion(version: string, opts: SetApprovedVersionOptions): Promise<PinOutcome> {
      const decision = decidePin(settings(), version, opts);
      if (decision.action === 'keep') return { status: 'unchanged', version: decision.version };
      state.approvedVersion = decision.to;
      writes.push(decision.to);
      return { status: 'changed', from: decision.from, to: decision.to };
    },
  };
}
