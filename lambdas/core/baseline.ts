/**
 * A beacon's drift baseline: the desired state last applied *and verified* on it, kept as the request content
 * that applied it, so the drift pass verifies each beacon against its own state and a re-apply is the same
 * request content again. Written when a configure run ends configured and verified; a dry run, a rollback or a
 * failed run never changes it. A beacon without one was never configured through beacon-proxy: only those get
 * the default profile.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';
import { type RequestSource, requestOrder } from './ports.js';
import type { BeaconState } from './ports.js';

/**
 * Request fields that say where, when and how a request is delivered, not what a beacon should be: they are
 * not part of a baseline (a re-apply gets its own id and targets one beacon).
 */
export const DELIVERY_FIELDS = ['requestId', 'target', 'dryRun', 'rollout'] as const;

/** Outcomes after which the beacon holds the request's desired state, read back and verified on the beacon. */
export const BASELINE_STATES: readonly BeaconState[] = [
  'ok',
  // Configured and verified; only the FNMS pin failed. The beacon holds this state: re-applying an older
  // baseline would undo what the operator asked for.
  'pin-failed',
];

export interface BeaconBaseline {
  instanceId: string;
  /**
   * The request in input form without its delivery fields (a profile: no target, no requestId). Holds secret
   * references only, never a secret. null while the beacon is held (`hold`): there is nothing to verify against.
   */
  content: Record<string, unknown> | null;
  /**
   * Set by a per-beacon rollback that restored a capture: the operator undid beacon-proxy's change, so the
   * drift pass neither verifies nor re-applies anything on the beacon (nor gives it the default profile)
   * until a configure records a new baseline.
   */
  hold?: { reason: 'rolled-back'; restoredCapture: string };
  /** sha256 of the canonical JSON of `content`: beacons with the same baseline share one verify command. */
  digest: string;
  /** The request whose content this is: the first one that applied it (a re-apply of the same content keeps it). */
  requestId: string;
  source: RequestSource;
  /** `requestOrder` of the last request that applied it: an older request never replaces a newer baseline. */
  order: string;
  /** The request that applied it last, and when. */
  lastAppliedBy: string;
  appliedAt: string;
}

/** The baseline content of a request in input form. */
export function baselineContent(request: Record<string, unknown>): Record<string, unknown> {
  const content: Record<string, unknown> = { ...request };
  for (const field of DELIVERY_FIELDS) delete content[field];
  return content;
}

export function contentDigest(content: Record<string, unknown>): string {
  return createHash('sha256').update(canonicalJson(content)).digest('hex');
}

/** What the workflow knows when a beacon's run ended. */
export interface AppliedRun {
  /** A per-beacon rollback (lambdas/core/beacon-history.ts) rather than a configure. */
  action?: { kind: 'rollback'; captureId: string };
  instanceId: string;
  requestId: string;
  request: Record<string, unknown>;
  source: RequestSource;
  receivedAt: string;
  dryRun: boolean;
}

/** The baseline a finished run leaves, or null when the run does not change it (dry run, not configured and verified). */
export function baselineAfterRun(run: AppliedRun, state: BeaconState, at: string): BeaconBaseline | null {
  if (run.action?.kind === 'rollback') return state === 'rolled-back' ? heldBaseline(run, run.action.captureId, at) : null;
  if (run.dryRun || !BASELINE_STATES.includes(state)) return null;
  const content = baselineContent(run.request);
  return {
    instanceId: run.instanceId,
    content,
    digest: contentDigest(content),
    requestId: run.requestId,
    source: run.source,
    order: requestOrder(run.receivedAt, run.requestId),
    lastAppliedBy: run.requestId,
    appliedAt: at,
  };
}

/**
 * The baseline a confirmed per-beacon rollback leaves: a hold, newer than the configure it undid (its own
 * request order), so the drift pass does not re-apply what the operator undid.
 */
export function heldBaseline(run: AppliedRun, restoredCapture: string, at: string): BeaconBaseline {
  return {
    instanceId: run.instanceId,
    content: null,
    hold: { reason: 'rolled-back', restoredCapture },
    digest: createHash('sha256').update(`hold\0${run.requestId}`).digest('hex'),
    requestId: run.requestId,
    source: run.source,
    order: requestOrder(run.receivedAt, run.requestId),
    lastAppliedBy: run.requestId,
    appliedAt: at,
  };
}
