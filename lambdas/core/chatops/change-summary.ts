/**
 * The chat summary of a request's changes: the counts by outcome, the FNMS pin outcome, and the first few
 * changes (before -> after) of the beacons that failed or were rolled back; for a plan, of the beacons that
 * would change. Kept within the platforms' message limits by showing fewer beacons, fewer changes and shorter
 * values, never by cutting the counts. The values are the beacon's own rendering (no password ever leaves a
 * beacon; user info of proxy addresses is hidden there). Pure: the caller maps its status records in.
 */
import { formatDiffLine, trimText } from '../change-diff.js';
import { type BeaconChangeView, countOutcomes, formatCounts, outcomeGroup } from '../change-summary.js';
import { toSlackMessage, toTeamsMessage } from './replies.js';
import type { ChatReply, SlackMessage, TeamsMessage } from './types.js';

export interface ChatChangeSummaryInput {
  requestId: string;
  /** A plan (dry run): the beacons that would change are listed instead of the failed ones. */
  dryRun: boolean;
  beacons: BeaconChangeView[];
  /** The FNMS pin outcome in words (e.g. `approved version 13.2.0 (was "latest")`), when there is one. */
  pin?: string | null;
}

/** The most the summary shows; the fitting steps down from here. */
export const CHAT_CHANGE_DETAIL = { beacons: 3, changesPerBeacon: 3, valueLength: 80 } as const;

interface Detail {
  beacons: number;
  changesPerBeacon: number;
  valueLength: number;
}

function label(beacon: BeaconChangeView): string {
  return beacon.name ? `${beacon.name} (${beacon.instanceId})` : beacon.instanceId;
}

function summaryLines(input: ChatChangeSummaryInput, detail: Detail): string[] {
  const counts = countOutcomes(input.beacons);
  const lines = [`${input.dryRun ? 'Plan' : 'Beacons'}: ${formatCounts(counts)}`];
  if (input.pin) lines.push(`FNMS: ${input.pin}`);
  const listed = input.beacons.filter((beacon) => {
    const group = outcomeGroup(beacon);
    return input.dryRun ? group === 'would change' : group === 'failed' || group === 'rolled back';
  });
  for (const beacon of listed.slice(0, detail.beacons)) {
    const reason = input.dryRun ? '' : beacon.reasons?.[0] ? `: ${trimText(beacon.reasons[0], detail.valueLength * 2)}` : '';
    lines.push(`${label(beacon)} ${input.dryRun ? 'would change' : beacon.state}${reason}`);
    // A failed beacon: what it changed (undone when rolled back) and what the rollback put back.
    const changes = input.dryRun ? (beacon.diff ?? []) : [...(beacon.diff ?? []), ...(beacon.restored ?? [])];
    for (const change of changes.slice(0, detail.changesPerBeacon)) {
      lines.push(`  ${formatDiffLine({ id: change.id, before: trimText(change.before, detail.valueLength), after: trimText(change.after, detail.valueLength) })}`);
    }
    const more = changes.length - Math.min(changes.length, detail.changesPerBeacon) + (beacon.diffOmitted ?? 0);
    if (more > 0) lines.push(`  … and ${more} more change(s)`);
  }
  if (listed.length > detail.beacons) lines.push(`… and ${listed.length - detail.beacons} more beacon(s) ${input.dryRun ? 'that would change' : 'that failed'}`);
  lines.push(`Every beacon and change: status ${input.requestId}`);
  return lines;
}

/** Steps from the most detail to the least; the last one always fits (counts and the status hint only). */
const STEPS: Detail[] = [
  { ...CHAT_CHANGE_DETAIL },
  { beacons: 3, changesPerBeacon: 2, valueLength: 60 },
  { beacons: 2, changesPerBeacon: 2, valueLength: 40 },
  { beacons: 1, changesPerBeacon: 1, valueLength: 40 },
  { beacons: 0, changesPerBeacon: 0, valueLength: 40 },
];

function reply(input: ChatChangeSummaryInput, detail: Detail): ChatReply {
  return { kind: 'status', title: `${input.dryRun ? 'Plan' : 'Result'} of request ${input.requestId}`, lines: summaryLines(input, detail) };
}

const CUT_MARK = '… (cut)';

/** The summary as one platform-neutral reply, with the most detail that fits both Slack and Teams whole. */
export function chatChangeSummary(input: ChatChangeSummaryInput): ChatReply {
  for (const detail of STEPS) {
    const candidate = reply(input, detail);
    const slack = toSlackMessage(candidate).blocks[0]!.text.text;
    const teams = toTeamsMessage(candidate).text;
    if (!slack.includes(CUT_MARK) && !teams.includes(CUT_MARK)) return candidate;
  }
  return reply(input, STEPS.at(-1)!);
}

/** The summary as a Slack message (a response_url POST); `inChannel` as for every other reply. */
export function chatChangeSummaryForSlack(input: ChatChangeSummaryInput, options: { inChannel?: boolean } = {}): SlackMessage {
  return toSlackMessage(chatChangeSummary(input), options);
}

/** The summary as a Teams message. */
export function chatChangeSummaryForTeams(input: ChatChangeSummaryInput): TeamsMessage {
  return toTeamsMessage(chatChangeSummary(input));
}
