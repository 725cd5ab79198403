import { SQSClient } from '@aws-sdk/client-sqs';
import { ENV } from '../env-names.js';
import { env } from '../runtime.js';
import { SqsRequestQueue } from '../sqs-queue.js';
import { SDK_CONFIG, instrumented } from './sdk.js';

export const requestQueue = () => new SqsRequestQueue(instrumented(new SQSClient(SDK_CONFIG)), env(ENV.queueUrl));
