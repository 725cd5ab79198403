/** AWS SDK clients and port adapters, built from the function's environment. One instance per cold start. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { BeaconDocumentKind } from '../core/document-contract.js';
import { systemClock } from '../core/ports.js';
import { DynamoBeaconLock, DynamoFleetMemory, DynamoRequestStore, documentClient } from './dynamo.js';
import { ENV } from './env-names.js';
import { SnsSlackNotifier } from './notifier.js';
import { SecretsManagerSource, SsmProfileStore } from './parameters.js';
import { env, log, numberEnv, optionalEnv, tracer } from './runtime.js';
import { SfnWorkflowStarter } from './sfn-workflows.js';
import { SsmBeaconCommands } from './ssm-commands.js';
import { SqsRequestQueue } from './sqs-queue.js';

// Adaptive retry: SSM and Step Functions throttle without a published rate.
const sdk = { retryMode: 'adaptive', maxAttempts: 5 } as const;

let ssmClient: SSMClient | undefined;
const ssm = () => (ssmClient ??= tracer.captureAWSv3Client(new SSMClient(sdk)));
let db: ReturnType<typeof documentClient> | undefined;
const dynamo = () => (db ??= documentClient(tracer.captureAWSv3Client(new DynamoDBClient({}))));

export const clock = systemClock;
export const requestStore = () => new DynamoRequestStore(dynamo(), env(ENV.tableName));
export const beaconLock = () => new DynamoBeaconLock(dynamo(), env(ENV.tableName), clock);
export const fleetMemory = () => new DynamoFleetMemory(dynamo(), env(ENV.tableName), clock);
export const beaconCommands = () => {
  const outputLogGroup = optionalEnv(ENV.commandLogGroup);
  return new SsmBeaconCommands(ssm(), { ...(outputLogGroup ? { outputLogGroup } : {}), executionTimeoutSeconds: numberEnv(ENV.commandTimeoutSeconds, 1800) });
};
export const workflowStarter = () => new SfnWorkflowStarter(tracer.captureAWSv3Client(new SFNClient(sdk)), env(ENV.stateMachineArn));
export const requestQueue = () => new SqsRequestQueue(tracer.captureAWSv3Client(new SQSClient(sdk)), env(ENV.queueUrl));
export const notifier = () => new SnsSlackNotifier(tracer.captureAWSv3Client(new SNSClient(sdk)), optionalEnv(ENV.topicArn), { log });
export const profileStore = () => new SsmProfileStore(ssm(), env(ENV.profilePrefix));
export const secretSource = (names: string[]) => new SecretsManagerSource(tracer.captureAWSv3Client(new SecretsManagerClient(sdk)), names);
export const beaconTag = () => ({ key: env(ENV.beaconTagKey), value: env(ENV.beaconTagValue) });
export const documentNames = (): Record<BeaconDocumentKind, string> => JSON.parse(env(ENV.documentNames)) as Record<BeaconDocumentKind, string>;
