/**
 * Rollouts: how the beacons of one request are started. A request may carry
 * `rollout: { canary, waveSize, maxConcurrency, maxErrors, pauseAfterCanary }` (counts, or percentages of
 * the request's beacons as "10%"); tag targets get a canary and waves by default. The plan is computed once
 * the target is expanded; `decideRolloutStep` is the whole decision of the request-level reconciler: what to
 * start next, when to wait, when to halt. Pure: no clock, no AWS.
 */
import * as z from 'zod/mini';
import { RequestError } from './errors.js';

/** A count (0 or more) or a percentage of the request's beacons, "1%" to "100%". */
const amount = z.union([z.number(), z.string()]);

export const RolloutInputSchema = z.strictObject({
  canary: z.optional(amount),
  waveSize: z.optional(amount),
  maxConcurrency: z.optional(amount),
  maxErrors: z.optional(amount),
  pauseAfterCanary: z.optional(z.boolean()),
});

export type RolloutInput = z.infer<typeof RolloutInputSchema>;

/** A count, or a share of the request's beacons; resolved into a count when the target size is known. */
export type Amount = { count: number } | { percent: number };

export interface RolloutSpec {
  canary: Amount;
  waveSize: Amount;
  maxConcurrency: Amount;
  maxErrors: Amount;
  pauseAfterCanary: boolean;
}

/** Defaults by target kind. A tag target may be the whole fleet: one beacon first, then waves of a quarter. */
export const ROLLOUT_DEFAULTS: Record<'instances' | 'tag', RolloutSpec> = {
  // Up to 50 named beacons: all at once, every beacon runs whatever happens to the others (as before rollouts).
  instances: { canary: { count: 0 }, waveSize: { percent: 100 }, maxConcurrency: { count: 50 }, maxErrors: { percent: 100 }, pauseAfterCanary: false },
  tag: { canary: { count: 1 }, waveSize: { percent: 25 }, maxConcurrency: { count: 50 }, maxErrors: { percent: 5 }, pauseAfterCanary: false },
};

/** Upper bound of any count: far above a fleet, low enough that arithmetic stays exact. */
const MAX_COUNT = 1_000_000;

function parseAmount(value: number | string, field: string, options: { min: number }): Amount {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < options.min || value > MAX_COUNT) {
      throw new RequestError('INVALID_REQUEST', `${field} must be a whole number from ${options.min} to ${MAX_COUNT}, or a percentage such as "10%"`, field);
    }
    return { count: value };
  }
  const match = /^(\d{1,3})%$/.exec(value);
  const percent = match ? Number(match[1]) : Number.NaN;
  if (!(percent >= Math.max(options.min, 1) && percent <= 100)) {
    throw new RequestError('INVALID_REQUEST', `${field} must be a percentage from ${Math.max(options.min, 1)}% to 100%, or a whole number`, field);
  }
  return { percent };
}

/** Validates the request's `rollout` (already shape-checked by the request schema) over the target kind's defaults. */
export function parseRollout(input: RolloutInput | undefined, targetKind: 'instances' | 'tag'): RolloutSpec {
  const defaults = ROLLOUT_DEFAULTS[targetKind];
  if (!input) return defaults;
  return {
    canary: input.canary === undefined ? defaults.canary : parseAmount(input.canary, 'rollout.canary', { min: 0 }),
    waveSize: input.waveSize === undefined ? defaults.waveSize : parseAmount(input.waveSize, 'rollout.waveSize', { min: 1 }),
    maxConcurrency: input.maxConcurrency === undefined ? defaults.maxConcurrency : parseAmount(input.maxConcurrency, 'rollout.maxConcurrency', { min: 1 }),
    maxErrors: input.maxErrors === undefined ? defaults.maxErrors : parseAmount(input.maxErrors, 'rollout.maxErrors', { min: 0 }),
    pauseAfterCanary: input.pauseAfterCanary ?? defaults.pauseAfterCanary,
  };
}

/**
 * The rollout a request runs with. A dry run changes nothing, so it has no canary and never halts on
 * errors; it keeps the concurrency limit.
 */
export function rolloutSpecFor(request: { rollout: RolloutSpec; dryRun: boolean }): RolloutSpec {
  if (!request.dryRun) return request.rollout;
  return { canary: { count: 0 }, waveSize: { percent: 100 }, maxConcurrency: request.rollout.maxConcurrency, maxErrors: { percent: 100 }, pauseAfterCanary: false };
}

/** Beacons `[from, to)` in the order the target expanded to. */
export interface Wave {
  from: number;
  to: number;
}

export interface RolloutPlan {
  total: number;
  /** Consecutive, non-empty, covering [0, total). With a canary, wave 0 is the canary. */
  waves: Wave[];
  canary: number;
  maxConcurrency: number;
  /** The request halts when more beacons than this failed. */
  maxErrors: number;
  pauseAfterCanary: boolean;
}

/** A share of `total`, rounded up (at least `min` when the share is not zero); counts are capped at `total`. */
function resolve(amount: Amount, total: number, rounding: 'up' | 'down', min = 0): number {
  if ('count' in amount) return Math.min(amount.count, total);
  const exact = (total * amount.percent) / 100;
  const value = rounding === 'up' ? Math.ceil(exact) : Math.floor(exact);
  return Math.min(total, Math.max(min, value));
}

/** The plan of a request with `total` beacons. */
export function planRollout(spec: RolloutSpec, total: number): RolloutPlan {
  const canary = total > 1 ? resolve(spec.canary, total, 'up') : 0;
  const waveSize = Math.max(1, resolve(spec.waveSize, total, 'up', 1));
  const waves: Wave[] = [];
  if (canary > 0) waves.push({ from: 0, to: canary });
  for (let from = canary; from < total; from += waveSize) waves.push({ from, to: Math.min(total, from + waveSize) });
  return {
    total,
    waves,
    canary,
    maxConcurrency: Math.max(1, resolve(spec.maxConcurrency, total, 'up', 1)),
    maxErrors: resolve(spec.maxErrors, total, 'down'),
    pauseAfterCanary: spec.pauseAfterCanary && canary > 0 && canary < total,
  };
}

/** What the reconciler knows of a request's progress (counters kept with the request). */
export interface RolloutProgress {
  /** Beacons started so far: they are the first `started` of the expanded order. */
  started: number;
  /** Started beacons that reached a final state. */
  finished: number;
  /** Finished beacons that count as errors (failed, rolled back, error). */
  failed: number;
  /** Errors among the canary's beacons. */
  canaryFailed: number;
  /** An operator's go after the canary. */
  goAfterCanary: boolean;
  cancelRequested: boolean;
  /** The wait for an operator's go after the canary ran out. */
  goTimedOut?: boolean;
}

/**
 * Why a rollout stopped starting beacons: failures past maxErrors, a failed canary, an operator's cancel, or
 * no go after the canary within the wait.
 */
export type HaltReason = 'max-errors' | 'canary-failed' | 'cancelled' | 'no-go';

/** Beacon outcomes that count as errors for maxErrors and the canary: the change failed on the beacon. */
export const ERROR_BEACON_STATES = ['rolled-back', 'failed', 'error'] as const;

export function isErrorBeaconState(state: string): boolean {
  return (ERROR_BEACON_STATES as readonly string[]).includes(state);
}

/**
 * How a request ended. `completed`: every beacon started and finished (some may have failed within
 * maxErrors); `halted`: failures or a missing go stopped it; `cancelled`: an operator stopped it;
 * `pin-unconfirmed`: the beacon work is done but nobody confirmed the FNMS pin in time; `pin-failed`: the
 * pin was refused or FNMS failed; `failed`: the request's own workflow could not finish (see its reason);
 * `no-targets`: no managed instance carries the target tag.
 */
export type RequestOutcomeState = 'completed' | 'halted' | 'cancelled' | 'pin-unconfirmed' | 'pin-failed' | 'failed' | 'no-targets';

/** The outcome's name for a halt reason. */
export function outcomeOfHalt(reason: HaltReason | null): 'completed' | 'halted' | 'cancelled' {
  if (reason === null) return 'completed';
  return reason === 'cancelled' ? 'cancelled' : 'halted';
}

/** A halt in words, for the status, the summary and the audit trail. */
export function describeHalt(reason: HaltReason, plan: Pick<RolloutPlan, 'maxErrors' | 'canary' | 'total'>, progress: Pick<RolloutProgress, 'failed' | 'canaryFailed' | 'started'>): string {
  const notStarted = plan.total - progress.started;
  switch (reason) {
    case 'max-errors':
      return `${progress.failed} beacon(s) failed, more than maxErrors (${plan.maxErrors}): ${notStarted} beacon(s) were not started`;
    case 'canary-failed':
      return `the canary failed (${progress.canaryFailed} of ${plan.canary} beacon(s)): ${notStarted} beacon(s) were not started`;
    case 'cancelled':
      return `cancelled by an operator: ${notStarted} beacon(s) were not started`;
    case 'no-go':
      return `no operator gave the go after the canary in time: ${notStarted} beacon(s) were not started`;
  }
}

export type RolloutStep =
  /** Start beacons [from, to) now, then come back. */
  | { action: 'start'; from: number; to: number; wave: number }
  /** Beacons are running (or the next wave waits for the previous one): come back later. */
  | { action: 'wait'; running: number; wave: number }
  /** The canary finished well; the next wave waits for an operator's go. */
  | { action: 'await-go'; wave: number }
  /** Nothing more will start; `running` beacons are still finishing their document. */
  | { action: 'stopping'; reason: HaltReason; running: number; notStarted: number }
  /** Every started beacon is final: the request is over. */
  | { action: 'done'; reason: 'completed' | HaltReason; notStarted: number };

function waveOf(plan: RolloutPlan, index: number): number {
  const found = plan.waves.findIndex((wave) => index >= wave.from && index < wave.to);
  return found < 0 ? plan.waves.length : found;
}

/** The reconciler's decision for a request, from its plan and its counters. */
export function decideRolloutStep(plan: RolloutPlan, progress: RolloutProgress): RolloutStep {
  // A beacon may report its end before the reconciler moved its cursor past it (it starts, then records).
  const running = Math.max(0, progress.started - progress.finished);
  const notStarted = plan.total - progress.started;
  const halt: HaltReason | null = progress.cancelRequested
    ? 'cancelled'
    : plan.canary > 0 && progress.canaryFailed > 0
      ? 'canary-failed'
      : progress.failed > plan.maxErrors
        ? 'max-errors'
        : progress.goTimedOut
          ? 'no-go'
          : null;
  if (halt) {
    return running > 0 ? { action: 'stopping', reason: halt, running, notStarted } : { action: 'done', reason: halt, notStarted };
  }
  if (progress.started >= plan.total) {
    return running > 0 ? { action: 'wait', running, wave: plan.waves.length - 1 } : { action: 'done', reason: 'completed', notStarted: 0 };
  }
  const wave = waveOf(plan, progress.started);
  const current = plan.waves[wave]!;
  // A wave starts only when the one before it has finished completely.
  if (progress.started === current.from && running > 0) return { action: 'wait', running, wave };
  if (wave === 1 && plan.canary > 0 && progress.started === current.from && plan.pauseAfterCanary && !progress.goAfterCanary) {
    return { action: 'await-go', wave };
  }
  const room = plan.maxConcurrency - running;
  if (room <= 0) return { action: 'wait', running, wave };
  return { action: 'start', from: progress.started, to: Math.min(current.to, progress.started + room), wave };
}
