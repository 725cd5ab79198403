/**
 * Notifications: every outcome to the notification topic (message attribute `kind`: `beacon` or `request`,
 * and `event` for request messages, so subscriptions can filter), and request messages to the chat that
 * asked. Slack: the command's response_url (https://hooks.slack.com/ only; it takes 5 posts within 30
 * minutes of the command, so a post after that is not tried), or chat.postMessage to the command's channel
 * when a bot token is configured.
 */
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { describeCaller } from '../core/caller.js';
import { type Log, type Notifier, type Outcome, type ReplyTo, notificationKind, silentLog } from '../core/ports.js';

export const SLACK_RESPONSE_URL_PREFIX = 'https://hooks.slack.com/';
export const SLACK_POST_MESSAGE_URL = 'https://slack.com/api/chat.postMessage';
/** How long after the command Slack accepts posts on its response_url (platform facts). */
export const SLACK_RESPONSE_URL_SECONDS = 30 * 60;

export function outcomeText(outcome: Outcome): string {
  if (outcome.lines) {
    const lines = outcome.lines;
    const warnings = (outcome.warnings ?? []).filter((warning) => !lines.some((line) => line.includes(warning)));
    return [outcome.summary, ...lines, ...warnings.map((warning) => `Warning: ${warning}`)].join('\n');
  }
  const lines = [
    `beacon-proxy ${outcome.requestId}: ${outcome.summary}`,
    ...(outcome.reasons ?? []).map((reason) => `- ${reason}`),
    ...(outcome.warnings ?? []).map((warning) => `- warning: ${warning}`),
    ...(outcome.caller ? [`requested by ${describeCaller(outcome.caller)}`] : []),
  ];
  return lines.join('\n');
}

export interface NotifierOptions {
  fetch?: typeof fetch;
  log?: Log;
  timeoutMs?: number;
  /** A Slack bot token (chat.postMessage), or null when none is configured. */
  botToken?: () => Promise<string | null>;
  now?: () => Date;
}

export class SnsSlackNotifier implements Notifier {
  constructor(
    private readonly sns: SNSClient,
    private readonly topicArn: string | undefined,
    private readonly options: NotifierOptions = {},
  ) {}

  async notify(outcome: Outcome, replyTo?: ReplyTo): Promise<void> {
    if (this.topicArn) {
      const kind = notificationKind(outcome);
      await this.sns.send(
        new PublishCommand({
          TopicArn: this.topicArn,
          Subject: `beacon-proxy: ${kind === 'request' ? outcome.summary : outcome.state}`.replace(/[^\x20-\x7e]/g, ' ').slice(0, 100),
          Message: JSON.stringify({ ...outcome, kind, text: outcomeText(outcome) }),
          MessageAttributes: {
            kind: { DataType: 'String', StringValue: kind },
            state: { DataType: 'String', StringValue: outcome.state },
            ...(outcome.event ? { event: { DataType: 'String', StringValue: outcome.event } } : {}),
          },
        }),
      );
    }
    if (replyTo?.kind === 'slack') await this.answerSlack(replyTo, outcome);
  }

  private async answerSlack(replyTo: ReplyTo, outcome: Outcome): Promise<void> {
    const log = this.options.log ?? silentLog;
    const post = this.options.fetch ?? fetch;
    const text = outcomeText(outcome);
    try {
      const token = replyTo.channelId ? await this.options.botToken?.() : null;
      if (token && replyTo.channelId) {
        const response = await post(SLACK_POST_MESSAGE_URL, {
          method: 'POST',
          headers: { 'content-type': 'application/json; charset=utf-8', authorization: `Bearer ${token}` },
          body: JSON.stringify({ channel: replyTo.channelId, text }),
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 5000),
        });
        const answer = (await response.json().catch(() => ({}))) as { ok?: boolean; error?: string };
        if (answer.ok) return;
        log.warn('Slack chat.postMessage refused the message; trying the response_url', { requestId: outcome.requestId, error: answer.error ?? response.status });
      }
      if (!replyTo.responseUrl.startsWith(SLACK_RESPONSE_URL_PREFIX)) {
        log.warn('refused a response_url outside hooks.slack.com', { requestId: outcome.requestId });
        return;
      }
      const issuedAt = replyTo.issuedAt ? Date.parse(replyTo.issuedAt) : Number.NaN;
      const now = (this.options.now?.() ?? new Date()).getTime();
      if (Number.isFinite(issuedAt) && now - issuedAt > SLACK_RESPONSE_URL_SECONDS * 1000) {
        log.info('the Slack response_url expired (30 minutes); the notification topic and status have the message', { requestId: outcome.requestId });
        return;
      }
      const response = await post(replyTo.responseUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ response_type: 'ephemeral', replace_original: false, text }),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 5000),
      });
      if (!response.ok) log.warn('Slack refused the answer', { requestId: outcome.requestId, status: response.status });
    } catch (error) {
      // The topic has the outcome; a chat that cannot be reached must not fail the workflow.
      log.warn('Slack answer failed', { requestId: outcome.requestId, error: (error as Error).message });
    }
  }
}
