/**
 * Request messages to the requester: always the notification topic (kind=request), and the chat that asked
 * at most once per event. The events a request can post are few enough for Slack's 5 posts per
 * response_url: started, awaiting-go, pin-confirmation, pin-reminder, summary.
 */
import type { MessageText } from '../core/rollout-summary.js';
import type { Caller } from '../core/caller.js';
import type { FleetMemory, Notifier, Outcome, ReplyTo, RequestEvent } from '../core/ports.js';

/** Every request event that may reach chat (at most once each): within Slack's 5 posts per response_url. */
export const CHAT_EVENTS: readonly RequestEvent[] = ['started', 'awaiting-go', 'pin-confirmation', 'pin-reminder', 'summary'];

/** How long a "posted to chat" mark is kept (longer than any request). */
const CHAT_MARK_TTL_SECONDS = 60 * 24 * 60 * 60;

export const chatMarkKey = (requestId: string, event: RequestEvent) => `chat#${requestId}#${event}`;

export interface RequesterDeps {
  notifier: Notifier;
  memory: FleetMemory;
}

export async function tellRequester(
  deps: RequesterDeps,
  message: { requestId: string; event: RequestEvent; state: Outcome['state']; text: MessageText; replyTo: ReplyTo | null; warnings?: string[]; caller?: Caller | null },
): Promise<void> {
  let chat = message.replyTo && CHAT_EVENTS.includes(message.event) ? message.replyTo : undefined;
  // At most once per event: a retried step does not post twice (the topic may get it twice).
  if (chat && !(await deps.memory.markOnce(chatMarkKey(message.requestId, message.event), CHAT_MARK_TTL_SECONDS))) chat = undefined;
  await deps.notifier.notify(
    {
      requestId: message.requestId,
      kind: 'request',
      event: message.event,
      state: message.state,
      summary: message.text.title,
      lines: message.text.lines,
      ...(message.warnings?.length ? { warnings: message.warnings } : {}),
      ...(message.caller ? { caller: message.caller } : {}),
    },
    chat,
  );
}

/** The status URL of a request under the API's base URL, or null when the stack has no API URL (locally). */
export function statusLinkFor(apiUrl: string | undefined | null): (requestId: string) => string | null {
  return (requestId) => (apiUrl ? `${apiUrl.replace(/\/?$/, '/')}requests/${encodeURIComponent(requestId)}` : null);
}
