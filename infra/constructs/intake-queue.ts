import { Duration } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambdaEvents from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { BeaconFunction } from './beacon-function.js';

export interface IntakeQueueProps {
  encryptionKey: kms.IKey;
  environment: Record<string, string>;
  /** Receives before a message goes to the dead-letter queue. */
  maxReceiveCount?: number;
}

/**
 * The one entry of every trigger: an encrypted SQS queue with a dead-letter queue, consumed by the intake
 * Lambda with partial batch failures. Invalid requests are consumed (recorded, never retried); only
 * failures that a retry can fix return to the queue and, after maxReceiveCount, land in the DLQ.
 */
export class IntakeQueue extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly intake: BeaconFunction;

  constructor(scope: Construct, id: string, props: IntakeQueueProps) {
    super(scope, id);
    const functionTimeout = Duration.seconds(60);
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: props.encryptionKey,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: props.encryptionKey,
      enforceSSL: true,
      // At least six times the function timeout (Lambda's guidance for SQS event sources).
      visibilityTimeout: Duration.seconds(functionTimeout.toSeconds() * 6),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount ?? 5 },
    });
    this.intake = new BeaconFunction(this, 'Intake', {
      folder: 'intake',
      description: 'beacon-proxy intake: validate, record, start one workflow per beacon',
      encryptionKey: props.encryptionKey,
      environment: props.environment,
      timeout: functionTimeout,
    });
    this.intake.fn.addEventSource(
      new lambdaEvents.SqsEventSource(this.queue, { batchSize: 10, maxBatchingWindow: Duration.seconds(1), reportBatchItemFailures: true, maxConcurrency: 5 }),
    );
  }
}
