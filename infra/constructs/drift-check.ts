import { Duration, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/aws/env-names.js';
import { BeaconFunction } from './beacon-function.js';
import { grantSendBeaconCommand } from './beacon-workflow.js';

export interface DriftCheckProps {
  encryptionKey: kms.IKey;
  queue: sqs.IQueue;
  table: dynamodb.ITable;
  environment: Record<string, string>;
  beaconTag: { key: string; value: string };
  /** The verify document: the only document this function may send. */
  verifyDocumentArn: string;
  profileParameterPrefix: string;
  defaultProfile: string;
  checkEndpoint: string;
  scheduleHours: number;
}

/** The scheduled verify pass across the fleet; beacons that drifted get the default profile again. */
export class DriftCheck extends Construct {
  readonly handler: BeaconFunction;
  readonly schedule: scheduler.Schedule;

  constructor(scope: Construct, id: string, props: DriftCheckProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.handler = new BeaconFunction(this, 'Handler', {
      folder: 'drift-check',
      description: 'beacon-proxy: verify the fleet and re-apply where it drifted',
      encryptionKey: props.encryptionKey,
      timeout: Duration.minutes(5),
      environment: {
        ...props.environment,
        [ENV.queueUrl]: props.queue.queueUrl,
        [ENV.profilePrefix]: props.profileParameterPrefix,
        [ENV.defaultProfile]: props.defaultProfile,
        [ENV.verifyCheckEndpoint]: props.checkEndpoint,
      },
    });
    const fn = this.handler.fn;
    grantSendBeaconCommand(fn, [props.verifyDocumentArn], props.beaconTag, stack);
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['ssm:DescribeInstanceInformation', 'ssm:ListCommandInvocations', 'ssm:GetCommandInvocation'], resources: ['*'] }));
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['ssm:GetParameter'],
        resources: [`arn:${stack.partition}:ssm:${stack.region}:${stack.account}:parameter${props.profileParameterPrefix}/${props.defaultProfile}`],
      }),
    );
    props.queue.grantSendMessages(fn);
    props.table.grantReadWriteData(fn);
    this.schedule = new scheduler.Schedule(this, 'VerifyFleet', {
      description: 'beacon-proxy: verify every beacon and re-apply where it drifted',
      schedule: scheduler.ScheduleExpression.rate(Duration.hours(props.scheduleHours)),
      timeWindow: scheduler.TimeWindow.flexible(Duration.minutes(30)),
      target: new schedulerTargets.LambdaInvoke(fn, { input: scheduler.ScheduleTargetInput.fromObject({ source: 'beacon-proxy.drift-check' }), retryAttempts: 2 }),
    });
  }
}
