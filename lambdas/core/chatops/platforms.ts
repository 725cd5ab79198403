import type { SlackSlashCommand, TeamsActivity } from './types.js';

/** Hosts a Slack `response_url` may point at; anything else is dropped (no posting to arbitrary URLs). */
export const SLACK_RESPONSE_HOSTS: readonly string[] = ['hooks.slack.com', 'hooks.slack-gov.com'];

function slackResponseUrl(value: string | null): string | null {
  if (value === null) return null;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' && SLACK_RESPONSE_HOSTS.includes(url.hostname) && url.port === '' && url.username === '' ? url.toString() : null;
  } catch {
    return null;
  }
}

/**
 * Reads a Slack slash-command body (application/x-www-form-urlencoded). Null when `command`, `user_id` or
 * `channel_id` is missing. Verify the signature over the raw body first.
 */
export function parseSlackSlashCommand(body: string): SlackSlashCommand | null {
  const form = new URLSearchParams(body);
  const command = form.get('command');
  const userId = form.get('user_id');
  const channelId = form.get('channel_id');
  if (!command || !userId || !channelId) return null;
  return {
    command,
    text: form.get('text') ?? '',
    userId,
    userName: form.get('user_name'),
    channelId,
    teamId: form.get('team_id'),
    responseUrl: slackResponseUrl(form.get('response_url')),
    triggerId: form.get('trigger_id'),
  };
}

const ENTITIES: Record<string, string> = { nbsp: ' ', amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", '#39': "'" };

/** The command in a Teams message: the `<at>bot</at>` mention and HTML markup removed, entities decoded. */
export function teamsCommandText(html: string): string {
  return html
    .replace(/<at>[\s\S]*?<\/at>/gi, ' ')
    .replace(/<br\s*\/?>/gi, ' ')
    .replace(/<[^>]*>/g, '')
    .replace(/&(nbsp|amp|lt|gt|quot|apos|#39);/g, (_, name: string) => ENTITIES[name] ?? '')
    .trim();
}

function stringAt(value: unknown, ...path: string[]): string | null {
  let current: unknown = value;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return null;
    current = (current as Record<string, unknown>)[key];
  }
  return typeof current === 'string' && current.length > 0 ? current : null;
}

/**
 * Reads a Teams outgoing-webhook activity (the JSON body, as text or parsed). Null when it is not a
 * message with an id, a sender and a channel or conversation. Verify the signature over the raw body first.
 */
export function parseTeamsActivity(body: string | unknown): TeamsActivity | null {
  let activity: unknown = body;
  if (typeof body === 'string') {
    try {
      activity = JSON.parse(body);
    } catch {
      return null;
    }
  }
  const messageId = stringAt(activity, 'id');
  const userId = stringAt(activity, 'from', 'aadObjectId') ?? stringAt(activity, 'from', 'id');
  const channelId = stringAt(activity, 'channelData', 'teamsChannelId') ?? stringAt(activity, 'channelData', 'channel', 'id') ?? stringAt(activity, 'conversation', 'id');
  if (stringAt(activity, 'type') !== 'message' || messageId === null || userId === null || channelId === null) return null;
  return {
    messageId,
    text: teamsCommandText(stringAt(activity, 'text') ?? ''),
    userId,
    aadObjectId: stringAt(activity, 'from', 'aadObjectId'),
    userName: stringAt(activity, 'from', 'name'),
    channelId,
  };
}
