import { decidePin, isLatestVersion } from './pin.js';
import { type BeaconSettings, type FnmsApi, LATEST_VERSION, type PinOutcome, type SetApprovedVersionOptions } from './types.js';

/** State of the in-memory FNMS. */
export interface InMemoryFnmsState {
  approvedVersion: string;
  availableVersions: string[];
}

/** A pin gateway (FnmsApi) over plain state, for handler and workflow tests without HTTP. */
export interface InMemoryFnms extends FnmsApi {
  readonly state: InMemoryFnmsState;
  /** Every approved-version write, in order. */
  readonly writes: string[];
}

/** Creates an in-memory FNMS applying the same pin rules (`decidePin`) as the HTTP client. */
export function createInMemoryFnms(initial: Partial<InMemoryFnmsState> = {}): InMemoryFnms {
  const state: InMemoryFnmsState = {
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
