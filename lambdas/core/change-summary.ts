/**
 * How people see the changes of a request: the counts by outcome (ok / rolled back / failed / skipped / would
 * change / no change) and, per beacon, each change as `id: before -> after` (a plan reads like `terraform plan`:
 * current -> wanted, "no change" for a beacon already right). Plain text, shared by the CLI, the status
 * command and the chat summary. Pure.
 */
import { type DiffEntry, formatDiffLine } from './change-diff.js';

/** What a view of one beacon needs (a status record, a report row). */
export interface BeaconChangeView {
  instanceId: string;
  /** A name people know the beacon by, when there is one. */
  name?: string | null;
  state: string;
  diff?: DiffEntry[];
  restored?: DiffEntry[];
  diffOmitted?: number;
  reasons?: string[];
}

/** The outcome groups of the summary, in the order they are shown. */
export const OUTCOME_GROUPS = ['ok', 'rolled back', 'failed', 'skipped', 'would change', 'no change', 'running'] as const;
export type OutcomeGroup = (typeof OUTCOME_GROUPS)[number];

/** The group of a beacon state: a plan counts as "would change" or "no change" by its diff. */
export function outcomeGroup(beacon: Pick<BeaconChangeView, 'state' | 'diff'>): OutcomeGroup {
  switch (beacon.state) {
    case 'ok':
      return 'ok';
    case 'rolled-back':
      return 'rolled back';
    case 'failed':
    case 'error':
    case 'pin-failed':
      return 'failed';
    case 'skipped':
    case 'busy':
    case 'superseded':
    case 'not-run':
      return 'skipped';
    case 'dry-run':
      return (beacon.diff?.length ?? 0) > 0 ? 'would change' : 'no change';
    default:
      return 'running';
  }
}

export type OutcomeCounts = Record<OutcomeGroup, number>;

export function countOutcomes(beacons: ReadonlyArray<Pick<BeaconChangeView, 'state' | 'diff'>>): OutcomeCounts {
  const counts = Object.fromEntries(OUTCOME_GROUPS.map((group) => [group, 0])) as OutcomeCounts;
  for (const beacon of beacons) counts[outcomeGroup(beacon)] += 1;
  return counts;
}

/** `3 ok, 1 rolled back, 1 skipped` (groups with nobody left out; `none` for an empty request). */
export function formatCounts(counts: OutcomeCounts): string {
  const parts = OUTCOME_GROUPS.filter((group) => counts[group] > 0).map((group) => `${counts[group]} ${group}`);
  return parts.length > 0 ? parts.join(', ') : 'none';
}

const indent = (lines: string[], by = '  ') => lines.map((text) => `${by}${text}`);

/**
 * The changes of one beacon as lines: a heading (`<name> (<id>) <state>: ...`) and one indented line per change.
 * `maxChanges` keeps the first few of each list and says how many more there are.
 */
export function renderBeaconChanges(beacon: BeaconChangeView, options: { maxChanges?: number } = {}): string[] {
  const label = beacon.name ? `${beacon.name} (${beacon.instanceId})` : beacon.instanceId;
  const diff = beacon.diff ?? [];
  const restored = beacon.restored ?? [];
  const max = options.maxChanges ?? Number.POSITIVE_INFINITY;
  const list = (entries: DiffEntry[], extra = 0): string[] => {
    const lines = entries.slice(0, max).map(formatDiffLine);
    const more = entries.length - Math.min(entries.length, max) + extra;
    if (more > 0) lines.push(`… and ${more} more`);
    return indent(lines);
  };
  const omitted = beacon.diffOmitted ?? 0;
  const group = outcomeGroup(beacon);
  switch (group) {
    case 'no change':
      return [`${label}: no change (already as requested)`];
    case 'would change':
      return [`${label}: would change ${diff.length + omitted} value(s), current -> wanted:`, ...list(diff, omitted)];
    case 'ok':
      return diff.length + omitted === 0 ? [`${label}: ok, no change (already as requested)`] : [`${label}: ok, changed ${diff.length + omitted} value(s):`, ...list(diff, omitted)];
    case 'skipped':
    case 'running':
      return [`${label}: ${beacon.state}${beacon.reasons?.[0] ? ` (${beacon.reasons[0]})` : ''}; nothing changed`];
    default: {
      const lines = [`${label}: ${beacon.state}${beacon.reasons?.[0] ? `: ${beacon.reasons[0]}` : ''}`];
      // What the run changed stays changed unless a rollback put it back.
      const changedTitle =
        beacon.state === 'rolled-back' ? 'changed, then undone by the rollback:' : beacon.state === 'pin-failed' ? 'changed (the beacon is configured):' : 'changed (the rollback did not confirm: check these on the beacon):';
      if (diff.length > 0) lines.push(`  ${changedTitle}`, ...indent(list(diff)));
      if (restored.length > 0) lines.push('  restored by the rollback:', ...indent(list(restored)));
      if (diff.length === 0 && restored.length === 0) lines.push('  no change reported by the beacon');
      if (omitted > 0) lines.push(`  (${omitted} more change(s) not kept: see the command output)`);
      return lines;
    }
  }
}
