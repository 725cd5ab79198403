/**
 * The fleet drift pass as data. A pass is a snapshot of the online tagged beacons cut into pages of at most
 * 50 (one SendCommand each per baseline), worked through over as many invocations as it takes: a checkpoint
 * says which page comes next, so a pass of thousands of beacons continues where the last invocation stopped.
 *   sending:   each page's beacons are verified against their own baseline (the default profile for beacons
 *              never configured), one verify command per distinct baseline;
 *   reviewing: once a page's verify commands ended (or their deadline passed), each drifted beacon gets its
 *              baseline re-applied (apply), planned as a dry run (observe), or is reported (the tag gate);
 *   done:      the next pass starts when the interval has passed since this one started.
 */
import type { Verdict } from './result.js';

/** A page holds at most what one SendCommand takes. */
export const DRIFT_PAGE_SIZE = 50;

/** How long a drift invocation holds the pass (longer than any Lambda may run: 15 minutes). */
export const DRIFT_LEASE_SECONDS = 15 * 60;

/** How long a pass's pages (its report) are kept. */
export const DRIFT_PAGE_TTL_SECONDS = 30 * 24 * 60 * 60;

export interface DriftTarget {
  instanceId: string;
  computerName: string | null;
}

/** The baseline a beacon was verified against: a request's content, or the default profile (never configured). */
export type VerifiedAgainst = { kind: 'baseline'; requestId: string; digest: string } | { kind: 'default-profile'; profile: string };

export interface DriftCommand {
  commandId: string;
  instanceIds: string[];
  against: VerifiedAgainst;
}

export type DriftAction =
  /** The baseline (or the default profile) was queued again. */
  | 'reapplied'
  /** Observe mode: a dry-run request shows what a re-apply would change. */
  | 'planned'
  /** Never configured and refused by the tag gate: reported, not applied. */
  | 'gated'
  /** The verify gave no judgement (did not run, cut short, still running at its deadline). */
  | 'unknown'
  /** The baseline changed after the verify was sent (another request applied a newer state): checked again next pass. */
  | 'superseded'
  /** The stored baseline is no longer a valid request (e.g. after an upgrade of the rules); fix it with a new request. */
  | 'invalid-baseline'
  /** An operator rolled the beacon back (its baseline is a hold): not verified, nothing re-applied, until its next configure. */
  | 'held';

export interface DriftFinding {
  instanceId: string;
  action: DriftAction;
  against: VerifiedAgainst;
  /** The request queued for it (reapplied, planned). */
  requestId?: string;
  /** What differs on the beacon: the failed checks, expected against found. */
  changes?: string[];
  reason?: string;
}

export interface DriftPageReview {
  reviewedAt: string;
  inSync: string[];
  findings: DriftFinding[];
}

export interface DriftPage {
  passId: string;
  index: number;
  targets: DriftTarget[];
  /** Verify commands sent for this page so far, one per distinct baseline. */
  commands: DriftCommand[];
  /** Beacons no verify could be sent to (their baseline is no longer a valid request, or the default profile is missing). */
  unverified: Array<{ instanceId: string; against: VerifiedAgainst; action: 'invalid-baseline' | 'unknown' | 'held'; reason: string }>;
  /** When the last verify command of the page was sent; null until the page is sent completely. */
  sentAt: string | null;
  review: DriftPageReview | null;
}

export interface DriftTotals {
  beacons: number;
  inSync: number;
  reapplied: number;
  planned: number;
  gated: number;
  unknown: number;
  superseded: number;
  invalidBaseline: number;
  /** Beacons rolled back by an operator: left alone. */
  held: number;
}

export type DriftPhase = 'sending' | 'reviewing' | 'done';

export interface DriftCheckpoint {
  /** Bumped by every write; a write names the version it read (optimistic concurrency). */
  version: number;
  passId: string;
  startedAt: string;
  phase: DriftPhase;
  pages: number;
  /** The next page to send (sending) or to review (reviewing). */
  nextPage: number;
  totals: DriftTotals;
  finishedAt: string | null;
  /** The invocation working on the pass, until when (a crashed one's lease expires). */
  lease: { owner: string; until: string } | null;
}

export const emptyTotals = (): DriftTotals => ({ beacons: 0, inSync: 0, reapplied: 0, planned: 0, gated: 0, unknown: 0, superseded: 0, invalidBaseline: 0, held: 0 });

/** A pass id from its start time: sortable, short enough for request ids (`drift-plan-<passId>-<instanceId>` fits 64). */
export function driftPassId(startedAt: Date): string {
  return startedAt.toISOString().replace(/[-:]/g, '').slice(0, 15);
}

/** Whether a new pass is due: none ran yet, or the last one is done and started at least `intervalSeconds` ago. */
export function isPassDue(checkpoint: DriftCheckpoint | null, now: Date, intervalSeconds: number): boolean {
  if (!checkpoint) return true;
  if (checkpoint.phase !== 'done') return false;
  return now.getTime() - Date.parse(checkpoint.startedAt) >= intervalSeconds * 1000;
}

export function pageTargets(targets: DriftTarget[], pageSize = DRIFT_PAGE_SIZE): DriftTarget[][] {
  const pages: DriftTarget[][] = [];
  for (let start = 0; start < targets.length; start += pageSize) pages.push(targets.slice(start, start + pageSize));
  return pages;
}

/** What a verify says about one beacon: in sync, drifted (with what differs), or no judgement. */
export type VerifyJudgement = { kind: 'in-sync' } | { kind: 'drifted'; changes: string[] } | { kind: 'unknown'; reason: string };

export function judgeVerify(status: string, verdict: Verdict): VerifyJudgement {
  if (verdict.status === 'ok') return { kind: 'in-sync' };
  if (verdict.status === 'unparseable' || verdict.status === 'not-run') return { kind: 'unknown', reason: `${status}: ${verdict.reasons.join('; ')}` };
  return { kind: 'drifted', changes: verdict.reasons };
}

export function addFinding(totals: DriftTotals, action: DriftAction): void {
  const key = ({ reapplied: 'reapplied', planned: 'planned', gated: 'gated', unknown: 'unknown', superseded: 'superseded', 'invalid-baseline': 'invalidBaseline', held: 'held' } as const)[action];
  totals[key] += 1;
}

/** At most this much of what differs is kept per beacon in the pass's pages (the dry-run request has it all). */
const MAX_CHANGES = 8;
const MAX_CHANGE_LENGTH = 300;

export function boundedChanges(changes: string[]): string[] {
  const kept = changes.slice(0, MAX_CHANGES).map((change) => (change.length > MAX_CHANGE_LENGTH ? `${change.slice(0, MAX_CHANGE_LENGTH - 1)}…` : change));
  return changes.length > MAX_CHANGES ? [...kept, `and ${changes.length - MAX_CHANGES} more`] : kept;
}

export function describeAgainst(against: VerifiedAgainst): string {
  return against.kind === 'baseline' ? `its baseline from request ${against.requestId}` : `the default profile "${against.profile}" (never configured through beacon-proxy)`;
}
