/**
 * The change of one item on a beacon: its value before and after, as the beacon document rendered it for
 * people (registry type and data, the WinINet blob decoded, an account as DOMAIN\name, a right or membership
 * as present/absent, a task's user and run level; never a password: a credential change reads `updated`).
 * A configure run lists what it changed, a plan (verify) what a run would change, a rollback what it put
 * back. Pure: the schema, the trimming that keeps every list bounded, and the one-line text form.
 */
import * as z from 'zod/mini';
import { RESULT_LINE } from './document-contract.js';

/** An id is an entry of the plan (`registry:Common\https_proxy`, `wininet:ProxyServer`, `task:<name>`, ...). */
export const DIFF_ID_MAX_LENGTH = 300;

export const DiffEntrySchema = z.object({
  id: z.string().check(z.minLength(1), z.maxLength(DIFF_ID_MAX_LENGTH)),
  before: z.string().check(z.maxLength(RESULT_LINE.maxLength)),
  after: z.string().check(z.maxLength(RESULT_LINE.maxLength)),
});
export type DiffEntry = z.infer<typeof DiffEntrySchema>;

export const DiffListSchema = z.array(DiffEntrySchema).check(z.maxLength(RESULT_LINE.maxDiffEntries));

const MARKER = RESULT_LINE.trimMarker;
const MARKER_PATTERN = new RegExp(`${escapeRegExp(MARKER.before)}(\\d+)${escapeRegExp(MARKER.after)}$`);

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * `text` cut to its first `keep` characters and the marker that says how many were cut (as the beacon does).
 * A value already trimmed (by the beacon, or earlier here) is cut further from its kept text, and its marker
 * then counts every character cut: trimming is idempotent.
 */
export function trimText(text: string, keep: number): string {
  const match = MARKER_PATTERN.exec(text);
  const kept = match ? text.slice(0, match.index) : text;
  const cut = match ? Number(match[1]) : 0;
  if (kept.length <= keep) return text;
  return `${kept.slice(0, keep)}${MARKER.before}${cut + kept.length - keep}${MARKER.after}`;
}

/** How many characters a trimmed value lost, or 0 when it is whole. */
export function trimmedCharacters(text: string): number {
  const match = MARKER_PATTERN.exec(text);
  return match ? Number(match[1]) : 0;
}

/** The length of what a value shows of itself (its marker aside). */
function shownLength(text: string): number {
  const match = MARKER_PATTERN.exec(text);
  return match ? match.index : text.length;
}

/**
 * The largest cap such that the values, each cut to at most `cap` characters, add up to `budget` (water
 * filling: short values stay whole, the longest share what is left), never below `floor`.
 */
export function fairCap(lengths: number[], budget: number, floor: number): number {
  const sorted = [...lengths].sort((a, b) => a - b);
  let remaining = budget;
  for (let i = 0; i < sorted.length; i += 1) {
    const share = Math.floor(remaining / (sorted.length - i));
    if (sorted[i]! > share) return Math.max(floor, share);
    remaining -= sorted[i]!;
  }
  // Every value fitted its share, so they all fit the budget: the longest stays whole.
  return Math.max(floor, sorted.at(-1) ?? floor);
}

export interface BoundedDiff {
  entries: DiffEntry[];
  /** Entries left out past the entry limit (counted, never silent). */
  omitted: number;
}

export interface DiffBounds {
  /** Entries kept per list; the rest are counted in `omitted`. */
  maxEntries: number;
  /** Characters of before/after values shared by all the lists; long values are trimmed fairly to fit. */
  valueBudget: number;
  /** A trimmed value keeps at least this many characters. */
  minValue: number;
  idLength: number;
}

/**
 * Diff lists within their bounds: at most `maxEntries` entries each (the rest counted, never silent), ids
 * within `idLength`, and values trimmed with the marker so that all of them together stay about within
 * `valueBudget` characters (short values stay whole; at least `minValue` characters kept of each).
 */
export function boundDiffLists(lists: ReadonlyArray<readonly DiffEntry[]>, bounds: DiffBounds): BoundedDiff[] {
  const kept = lists.map((entries) => entries.slice(0, bounds.maxEntries));
  const cap = fairCap(
    kept.flat().flatMap((entry) => [shownLength(entry.before), shownLength(entry.after)]),
    bounds.valueBudget,
    bounds.minValue,
  );
  return kept.map((entries, index) => ({
    entries: entries.map((entry) => ({
      id: trimText(entry.id, bounds.idLength),
      before: trimText(entry.before, cap),
      after: trimText(entry.after, cap),
    })),
    omitted: lists[index]!.length - entries.length,
  }));
}

/** One change as a line: `id: before -> after`. */
export function formatDiffLine(entry: DiffEntry): string {
  return `${entry.id}: ${entry.before} -> ${entry.after}`;
}
