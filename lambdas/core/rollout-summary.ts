/**
 * What a request tells its requester, in words: one progress message when its rollout starts, a question
 * when it waits for a go, and one summary when it ends (counts by outcome, the failed beacons with their
 * reasons, the pin, where to follow it). Slack's response_url takes 5 posts per command, so these few
 * messages are all the chat ever gets; per-beacon outcomes go to the notification topic only. Pure.
 */
import type { BeaconStatusRecord, RolloutRecord } from './ports.js';
import { type RolloutPlan, describeHalt } from './rollout.js';

/** Failed beacons listed by name in a summary; the rest are counted. */
export const SUMMARY_FAILED_BEACONS = 10;

export interface MessageText {
  /** One line: a chat title, an email subject. */
  title: string;
  lines: string[];
}

/** Where to follow a request: the API's status URL when the stack has one, and the chat and CLI commands. */
export function followLines(requestId: string, statusUrl: string | null): string[] {
  return [`Follow it: status ${requestId} (chat), beacon-proxy status ${requestId} --stack <name>${statusUrl ? `, or ${statusUrl}` : ''}`];
}

function count(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

/** The plan in one line: canary, waves, concurrency, error budget. */
export function describePlan(plan: RolloutPlan): string {
  const parts = [count(plan.total, 'beacon')];
  if (plan.canary > 0) parts.push(`canary of ${plan.canary}${plan.pauseAfterCanary ? ', then a go from an operator' : ''}`);
  const waves = plan.waves.slice(plan.canary > 0 ? 1 : 0);
  if (waves.length > 1) parts.push(`${waves.length} waves of up to ${waves.reduce((most, wave) => Math.max(most, wave.to - wave.from), 0)}`);
  parts.push(`at most ${plan.maxConcurrency} at once`);
  parts.push(plan.maxErrors >= plan.total ? 'no stop on failures' : `stops after ${count(plan.maxErrors + 1, 'failure')}`);
  return parts.join(', ');
}

/** The progress reply when the rollout starts its first beacons. */
export function startedMessage(rollout: Pick<RolloutRecord, 'requestId' | 'dryRun'>, plan: RolloutPlan, statusUrl: string | null): MessageText {
  return {
    title: `Request ${rollout.requestId} started${rollout.dryRun ? ' (dry run: read-only checks)' : ''}`,
    lines: [`Rollout: ${describePlan(plan)}.`, 'One summary follows here when every beacon is final.', ...followLines(rollout.requestId, statusUrl)],
  };
}

/** The question after a canary that finished well (pauseAfterCanary). */
export function goRequestMessage(rollout: Pick<RolloutRecord, 'requestId' | 'counts'>, plan: RolloutPlan, deadline: string, statusUrl: string | null): MessageText {
  return {
    title: `Request ${rollout.requestId}: the canary finished; waiting for your go`,
    lines: [
      `The canary (${count(plan.canary, 'beacon')}) ended: ${describeCounts(rollout.counts)}.`,
      `To start the other ${count(plan.total - plan.canary, 'beacon')}: go ${rollout.requestId} (chat), POST /requests/${rollout.requestId}/go, or beacon-proxy go ${rollout.requestId} --stack <name>.`,
      `To stop here: cancel ${rollout.requestId}. Without a go by ${deadline} the request halts and the other beacons are not started.`,
      ...followLines(rollout.requestId, statusUrl),
    ],
  };
}

/** "3 ok, 1 rolled back" in a stable order (most frequent first, then by name). */
export function describeCounts(counts: Record<string, number>): string {
  const entries = Object.entries(counts).filter(([, n]) => n > 0);
  if (entries.length === 0) return 'none finished';
  return entries
    .sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
    .map(([state, n]) => `${n} ${state.replace(/-/g, ' ')}`)
    .join(', ');
}

export interface SummaryInput {
  rollout: RolloutRecord;
  plan: RolloutPlan;
  /** Failed beacons (rolled back, failed, error) with their reasons, at most SUMMARY_FAILED_BEACONS. */
  failed: readonly BeaconStatusRecord[];
  statusUrl: string | null;
  /** pinMode none: the warning every result carries. */
  pinWarning?: string | null;
  /**
   * Lines to show under a failed beacon besides its reasons: the place for the first few changes it made or
   * would have made (the show-the-change renderer). Default: none.
   */
  describeFailedBeacon?: (beacon: BeaconStatusRecord) => string[];
}

/** The one summary a request posts when it ends. */
export function requestSummary(input: SummaryInput): MessageText {
  const { rollout, plan } = input;
  const outcome = rollout.outcome;
  const notStarted = Math.max(0, plan.total - rollout.started);
  const counts = { ...rollout.counts, ...(notStarted > 0 ? { [rollout.cancel ? 'cancelled' : 'not-started']: (rollout.counts[rollout.cancel ? 'cancelled' : 'not-started'] ?? 0) + notStarted } : {}) };
  const title = `Request ${rollout.requestId} ${outcome ? outcome.state.replace(/-/g, ' ') : 'finished'}${rollout.dryRun ? ' (dry run)' : ''}`;
  const lines = [`${count(plan.total, 'beacon')}: ${describeCounts(counts)}.`];
  if (rollout.halt) lines.push(`Stopped: ${describeHalt(rollout.halt.reason, plan, rollout)}.`);
  if (rollout.cancel) lines.push(`Cancelled by ${rollout.cancel.by} at ${rollout.cancel.at}${rollout.cancel.rollback ? ', running beacons rolled back' : ''}.`);
  const failedTotal = input.failed.length;
  if (failedTotal > 0) {
    lines.push('Failed beacons:');
    for (const beacon of input.failed.slice(0, SUMMARY_FAILED_BEACONS)) {
      lines.push(`- ${beacon.instanceId} ${beacon.state.replace(/-/g, ' ')}: ${(beacon.reasons ?? []).slice(0, 2).join('; ') || 'no reason recorded'}`);
      for (const detail of input.describeFailedBeacon?.(beacon) ?? []) lines.push(`    ${detail}`);
    }
    const errors = (rollout.counts['rolled-back'] ?? 0) + (rollout.counts.failed ?? 0) + (rollout.counts.error ?? 0);
    if (errors > SUMMARY_FAILED_BEACONS) lines.push(`- and ${errors - SUMMARY_FAILED_BEACONS} more (status lists every beacon)`);
  }
  const pin = rollout.pin;
  if (pin) lines.push(describePin(pin));
  if (input.pinWarning) lines.push(`Warning: ${input.pinWarning}`);
  if (outcome && outcome.state !== 'completed' && !rollout.halt && !rollout.cancel && outcome.reason) lines.push(outcome.reason);
  lines.push(...followLines(rollout.requestId, input.statusUrl));
  return { title, lines };
}

/** The pin's line in a summary. */
export function describePin(pin: NonNullable<RolloutRecord['pin']>): string {
  switch (pin.status) {
    case 'pinned':
      return `FNMS approved version: ${pin.version}${pin.from ? ` (was ${pin.from})` : ''}, set through the pin gateway.`;
    case 'unchanged':
      return `FNMS approved version: ${pin.version} (already approved; nothing to set).`;
    case 'confirmed':
      return `FNMS approved version: ${pin.version}, confirmed by ${pin.confirmedBy} at ${pin.confirmedAt}${pin.pinId ? ` (${pin.pinId})` : ''}.`;
    case 'awaiting':
      return `FNMS approved version: waiting for an operator to set ${pin.version} and confirm ${pin.pinId}.`;
    case 'unconfirmed':
      return `FNMS approved version: NOT CONFIRMED. Nobody confirmed setting ${pin.version} (${pin.pinId}) in time; the beacons are configured, but an automatic upgrade may reset their service account until it is set.`;
    case 'refused':
      return `FNMS approved version: not changed (${pin.code}: ${pin.reason}).`;
    case 'failed':
      return `FNMS approved version: NOT PINNED (${pin.code}: ${pin.reason}).`;
    case 'skipped':
      return `FNMS approved version: not touched (${pin.reason ?? 'no beacon ended configured'}).`;
    case 'none':
      return 'FNMS approved version: not pinned (pinMode none).';
  }
}

/** How an operator's commands are spelled where the lines are read: in chat (`go r1`) or with the CLI (`beacon-proxy go r1`). */
export type CommandSpelling = 'chat' | 'cli';

/** The state a request shows while it runs and after: the rollout's outcome, else its phase (the record's state before a rollout exists). */
export function requestDisplayState(recordState: string, rollout: Pick<RolloutRecord, 'phase' | 'outcome'> | null | undefined): string {
  if (!rollout) return recordState;
  return rollout.outcome?.state ?? rollout.phase;
}

/**
 * The request's rollout and pin in a few lines, for a status answer (the CLI's and chat's): phase or
 * outcome with the counters, halt or cancel, what it waits for and the command that answers it, the pin.
 */
export function rolloutStatusLines(rollout: RolloutRecord, spelling: CommandSpelling): string[] {
  const command = (words: string) => (spelling === 'cli' ? `beacon-proxy ${words}` : words);
  const lines: string[] = [];
  const ended = rollout.outcome;
  lines.push(`rollout: ${ended ? `${ended.state}: ${ended.reason}` : rollout.phase}; ${rollout.started} of ${rollout.expansion.total} started, ${rollout.finished} finished, ${rollout.failed} failed`);
  if (rollout.cancel) lines.push(`cancelled by ${rollout.cancel.by} at ${rollout.cancel.at}${rollout.cancel.rollback ? ' (with rollback)' : ''}`);
  else if (rollout.halt) lines.push(`halted: ${rollout.halt.detail}`);
  if (rollout.phase === 'awaiting-go' && !ended) lines.push(`waiting for a go: ${command(`go ${rollout.requestId}`)} (or ${command(`cancel ${rollout.requestId}`)})`);
  const pin = rollout.pin;
  if (pin) {
    const what =
      pin.status === 'awaiting'
        ? `awaiting an operator: set FNMS "Beacon version approved for use" to ${pin.version}, then ${command(`confirm-pin ${pin.pinId}`)}`
        : pin.status === 'confirmed'
          ? `${pin.version} confirmed by ${pin.confirmedBy} at ${pin.confirmedAt}`
          : `${pin.status}${pin.version ? ` ${pin.version}` : ''}${pin.code ? ` (${pin.code}${pin.reason ? `: ${pin.reason}` : ''})` : pin.reason ? ` (${pin.reason})` : ''}`;
    lines.push(`FNMS pin (${pin.mode}): ${what}`);
  }
  return lines;
}

/** A summary as plain text (notification topic, email). */
export function messageText(message: MessageText): string {
  return [message.title, ...message.lines].join('\n');
}
