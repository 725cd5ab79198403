import type { DesiredState } from '../desired-state.js';
import { formatHostPort } from '../proxy-address.js';
import type { BeaconRequest, Target } from '../request.js';
import { CHAT_HELP_LINES } from './command.js';
import type { RequestStatus } from '../ports.js';
import { describeCounts, requestDisplayState, rolloutStatusLines } from '../rollout-summary.js';
import type { ChatReply, ChatStatusView, SlackMessage, TeamsMessage } from './types.js';

/** Beacons a chat status lists one by one; above it, counts by state and the beacons not ok (at most this many). */
export const CHAT_STATUS_BEACONS = 20;

/** What `status` shows of a request: the rollout's state and lines, and its beacons (counts and the ones not ok for a large request). */
export function chatStatusView(requestId: string, status: RequestStatus): ChatStatusView {
  const updatedAt = [status.request.receivedAt, status.rollout?.updatedAt, ...status.beacons.map((b) => b.updatedAt)].filter((at): at is string => Boolean(at)).sort().at(-1);
  const large = status.beacons.length > CHAT_STATUS_BEACONS;
  const counts: Record<string, number> = {};
  for (const beacon of status.beacons) counts[beacon.state] = (counts[beacon.state] ?? 0) + 1;
  const listed = large ? status.beacons.filter((beacon) => beacon.state !== 'ok' && beacon.state !== 'queued').slice(0, CHAT_STATUS_BEACONS) : status.beacons;
  return {
    requestId,
    status: requestDisplayState(status.request.state, status.rollout),
    ...(updatedAt ? { updatedAt } : {}),
    ...(status.rollout ? { rollout: rolloutStatusLines(status.rollout, 'chat') } : {}),
    ...(large ? { counts: describeCounts(counts) } : {}),
    beacons: listed.map((beacon) => ({ instanceId: beacon.instanceId, status: beacon.state, pinnedVersion: beacon.pinnedVersion ?? null, ...(beacon.reasons?.length ? { detail: beacon.reasons.join('; ') } : {}) })),
  };
}

/** Slack section text holds at most 3,000 characters; longer answers are cut with a note. */
const SLACK_SECTION_LIMIT = 3000;
const TEAMS_TEXT_LIMIT = 20_000;

function describeTarget(target: Target): string {
  return target.kind === 'tag' ? `tag ${target.key}=${target.value}` : target.instanceIds.join(', ');
}

/** A request was queued. */
export function replyAccepted(requestId: string, options: { target?: Target; profile?: string } = {}): ChatReply {
  const lines = [`Request id: ${requestId}`];
  if (options.target) lines.push(`Target: ${describeTarget(options.target)}`);
  if (options.profile) lines.push(`Profile: ${options.profile}`);
  lines.push(`Follow it with: status ${requestId}`);
  return { kind: 'accepted', title: 'Request accepted', lines };
}

/** What `apply` would do: the desired state in a few lines (protocol, proxy values, WinINet, account, tasks). */
export function replyPlan(request: BeaconRequest, state: DesiredState, options: { profile?: string } = {}): ChatReply {
  const lines: string[] = [`Target: ${describeTarget(request.target)}`];
  if (options.profile) lines.push(`Profile: ${options.profile}`);
  lines.push(`Protocol: ${state.protocol}`, `Proxy: ${formatHostPort(request.proxy)}`);
  for (const value of state.registry) {
    lines.push(value.value === null ? `  ${value.path}\\${value.name}: remove` : `  ${value.path}\\${value.name} = ${value.value}`);
  }
  lines.push(
    `WinINet (${state.wininet.scope}): proxy ${state.wininet.proxyServer}, bypass ${state.wininet.bypass.join(';') || '(none)'}, automatic configuration script removed`,
    `Account: ${state.account.kind} ${state.account.name}${state.account.createIfMissing ? ' (created if missing)' : ''}, local Administrators, rights ${state.account.rights.join(', ')}`,
    `Runs as the account: service "${state.service.displayName}" (restarted), tasks ${state.tasks.map((task) => `"${task}"`).join(', ')}`,
    `FNMS approved beacon version: ${request.beaconVersion.pin === 'current' ? "the beacon's current version" : request.beaconVersion.pin}${request.beaconVersion.allowDowngrade ? ' (downgrade allowed)' : ''}`,
  );
  if (request.crl.disable) lines.push(`Certificate revocation check: DISABLED (${request.crl.reason ?? 'no reason'})`);
  lines.push('Nothing was changed. Run apply with the same target and profile to configure.');
  return { kind: 'plan', title: `Plan for request ${request.requestId}`, lines };
}

/** Progress of a request. */
export function replyStatus(view: ChatStatusView): ChatReply {
  const lines = [`Status: ${view.status}${view.updatedAt ? ` (updated ${view.updatedAt})` : ''}`, ...(view.rollout ?? [])];
  if (view.beacons.length === 0 && !view.counts) lines.push('No beacon started yet.');
  if (view.counts) lines.push(`Beacons: ${view.counts}.`);
  // A large request lists only the beacons an operator must look at (the caller chose them), after the counts.
  if (view.counts && view.beacons.length > 0) lines.push('Not ok:');
  for (const beacon of view.beacons) {
    const version = beacon.pinnedVersion ? `, FNMS pinned ${beacon.pinnedVersion}` : '';
    lines.push(`${beacon.instanceId}: ${beacon.status}${version}${beacon.detail ? ` - ${beacon.detail}` : ''}`);
  }
  return { kind: 'status', title: `Request ${view.requestId}`, lines };
}

/** A refusal or failure: the stable code and what to do. */
export function replyError(error: { code: string; message: string; field?: string }): ChatReply {
  const lines = [error.message];
  if (error.field && error.field !== '$') lines.push(`Field: ${error.field}`);
  lines.push('Type help for the commands.');
  return { kind: 'error', title: `Refused: ${error.code}`, lines };
}

/** The command list. */
export function replyHelp(): ChatReply {
  return { kind: 'help', title: 'Beacon proxy commands', lines: [...CHAT_HELP_LINES] };
}

/** Escapes text for Slack mrkdwn (&, <, > only, as Slack documents). */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function escapeTeams(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/([\\`*_[\]#])/g, '\\$1');
}

function clip(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 20)}\n… (cut)`;
}

/** Keeps whole lines within `budget` characters (newlines included), marking the cut. */
function fitLines(lines: string[], budget: number): string[] {
  const kept: string[] = [];
  let used = 0;
  for (const [index, line] of lines.entries()) {
    const reserve = index < lines.length - 1 ? 12 : 0;
    if (used + line.length + 1 + reserve > budget) {
      kept.push('… (cut)');
      break;
    }
    kept.push(line);
    used += line.length + 1;
  }
  return kept;
}

/** Slack body for a reply: ephemeral (only the caller sees it) unless `inChannel`. */
export function toSlackMessage(reply: ChatReply, options: { inChannel?: boolean } = {}): SlackMessage {
  const title = `*${escapeSlack(reply.title)}*`;
  // Help and plans are columns of settings: a code block keeps their alignment and backslashes.
  const fenced = reply.kind === 'help' || reply.kind === 'plan';
  const budget = SLACK_SECTION_LIMIT - title.length - 1 - (fenced ? 8 : 0);
  const lines = fitLines(
    reply.lines.map((line) => escapeSlack(line).replace(/```/g, "'''")),
    budget,
  );
  const body = [title, ...(fenced ? ['```', ...lines, '```'] : lines)].join('\n');
  return {
    response_type: options.inChannel ? 'in_channel' : 'ephemeral',
    text: escapeSlack(reply.title),
    blocks: [{ type: 'section', text: { type: 'mrkdwn', text: body } }],
  };
}

/** Teams outgoing-webhook answer for a reply (markdown text, user text escaped). */
export function toTeamsMessage(reply: ChatReply): TeamsMessage {
  const text = [`**${escapeTeams(reply.title)}**`, ...reply.lines.map(escapeTeams)].join('\n\n');
  return { type: 'message', text: clip(text, TEAMS_TEXT_LIMIT) };
}
