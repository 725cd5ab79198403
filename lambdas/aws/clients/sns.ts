import { SNSClient } from '@aws-sdk/client-sns';
import { ENV } from '../env-names.js';
import { SnsSlackNotifier } from '../notifier.js';
import { log, optionalEnv } from '../runtime.js';
import { SDK_CONFIG, instrumented } from './sdk.js';

/** The Slack bot token when the stack names one (read once, on the first chat message). */
async function slackBotToken(): Promise<string | null> {
  const name = optionalEnv(ENV.slackBotTokenSecretName);
  if (!name) return null;
  const { secretSource } = await import('./secrets.js');
  return (await secretSource([name]).getSecret(name)).trim() || null;
}

let token: Promise<string | null> | undefined;

export const notifier = () =>
  new SnsSlackNotifier(instrumented(new SNSClient(SDK_CONFIG)), optionalEnv(ENV.topicArn), { log, botToken: () => (token ??= slackBotToken().catch(() => ((token = undefined), null))) });
