import { SNSClient } from '@aws-sdk/client-sns';
import { ENV } from '../env-names.js';
import { SnsSlackNotifier } from '../notifier.js';
import { log, optionalEnv } from '../runtime.js';
import { SDK_CONFIG, instrumented } from './sdk.js';

export const notifier = () => new SnsSlackNotifier(instrumented(new SNSClient(SDK_CONFIG)), optionalEnv(ENV.topicArn), { log });
