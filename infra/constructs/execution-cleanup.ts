import { Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { CLEANUP_STATUSES, EXECUTION_STATUS_CHANGE } from '../../lambdas/execution-cleanup/handler.js';
import { WORKFLOW_CONSTANTS } from '../../lambdas/core/timing.js';
import { BeaconFunction } from './beacon-function.js';
import { grantCancelBeaconCommand } from './beacon-workflow.js';

export interface ExecutionCleanupProps {
  encryptionKey: kms.IKey;
  table: dynamodb.ITable;
  outcomeTopic: sns.ITopic;
  /** The per-beacon and the request workflows. */
  stateMachines: sfn.IStateMachine[];
  /** The workflow functions' environment (table, topic, timing). */
  environment: Record<string, string>;
}

/**
 * The finally of executions that never reach their own: an EventBridge rule on "Step Functions Execution
 * Status Change" (TIMED_OUT, ABORTED, FAILED) of the beacon and request workflows invokes the cleanup function, with
 * retries and a dead-letter queue of its own (alarmed).
 */
export class ExecutionCleanup extends Construct {
  readonly fn: lambda.Function;
  readonly rule: events.Rule;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: ExecutionCleanupProps) {
    super(scope, id);
    this.fn = new BeaconFunction(this, 'ExecutionCleanupFn', {
      folder: 'execution-cleanup',
      description: 'beacon-proxy: release the lock, record and notify for workflow executions that ended without their finally',
      encryptionKey: props.encryptionKey,
      environment: props.environment,
      timeout: Duration.seconds(WORKFLOW_CONSTANTS.cleanupFunctionTimeoutSeconds),
    }).fn;
    props.table.grantReadWriteData(this.fn);
    props.outcomeTopic.grantPublish(this.fn);
    this.fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['ssm:GetCommandInvocation'], resources: ['*'] }));
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: props.encryptionKey,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.rule = new events.Rule(this, 'ExecutionEndedRule', {
      description: 'beacon-proxy: workflow executions that timed out, were aborted or failed go to the cleanup function',
      eventPattern: {
        source: ['aws.states'],
        detailType: [EXECUTION_STATUS_CHANGE],
        detail: { status: [...CLEANUP_STATUSES], stateMachineArn: props.stateMachines.map((machine) => machine.stateMachineArn) },
      },
      targets: [new targets.LambdaFunction(this.fn, { retryAttempts: 8, maxEventAge: Duration.hours(24), deadLetterQueue: this.deadLetterQueue })],
    });
  }
}
