/**
 * Outcomes to the notification topic, and to Slack's response_url when the request came from a slash
 * command. Only https://hooks.slack.com/ is ever called (the URL arrives in a webhook body).
 */
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { describeCaller } from '../core/caller.js';
import { type Log, type Notifier, type Outcome, type ReplyTo, silentLog } from '../core/ports.js';

export const SLACK_RESPONSE_URL_PREFIX = 'https://hooks.slack.com/';

export function outcomeText(outcome: Outcome): string {
  const lines = [
    `beacon-proxy ${outcome.requestId}: ${outcome.summary}`,
    ...(outcome.reasons ?? []).map((reason) => `- ${reason}`),
    ...(outcome.warnings ?? []).map((warning) => `- warning: ${warning}`),
    ...(outcome.caller ? [`requested by ${describeCaller(outcome.caller)}`] : []),
  ];
  return lines.join('\n');
}

export class SnsSlackNotifier implements Notifier {
  constructor(
    private readonly sns: SNSClient,
    private readonly topicArn: string | undefined,
    private readonly options: { fetch?: typeof fetch; log?: Log; timeoutMs?: number } = {},
  ) {}

  async notify(outcome: Outcome, replyTo?: ReplyTo): Promise<void> {
    if (this.topicArn) {
      await this.sns.send(
        new PublishCommand({
          TopicArn: this.topicArn,
          Subject: `beacon-proxy: ${outcome.state}`.slice(0, 100),
          Message: JSON.stringify({ ...outcome, text: outcomeText(outcome) }),
          MessageAttributes: { state: { DataType: 'String', StringValue: outcome.state } },
        }),
      );
    }
    if (replyTo?.kind === 'slack') await this.answerSlack(replyTo.responseUrl, outcome);
  }

  private async answerSlack(responseUrl: string, outcome: Outcome): Promise<void> {
    const log = this.options.log ?? silentLog;
    if (!responseUrl.startsWith(SLACK_RESPONSE_URL_PREFIX)) {
      log.warn('refused a response_url outside hooks.slack.com', { requestId: outcome.requestId });
      return;
    }
    try {
      const response = await (this.options.fetch ?? fetch)(responseUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ response_type: 'ephemeral', replace_original: false, text: outcomeText(outcome) }),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 5000),
      });
      if (!response.ok) log.warn('Slack refused the answer', { requestId: outcome.requestId, status: response.status });
    } catch (error) {
      // The topic has the outcome; a chat that cannot be reached must not fail the workflow.
      log.warn('Slack answer failed', { requestId: outcome.requestId, error: (error as Error).message });
    }
  }
}
