import { Duration, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { FnmsConfigInput } from '../../lambdas/core/fnms/config.js';
import { ENV } from '../../lambdas/aws/env-names.js';
import { BeaconFunction } from './beacon-function.js';

export interface NewBeaconTriggersProps {
  encryptionKey: kms.IKey;
  queue: sqs.IQueue;
  table: dynamodb.ITable;
  environment: Record<string, string>;
  beaconTag: { key: string; value: string };
  fnmsConfig: FnmsConfigInput;
  fnmsSecretName: string;
  profileParameterPrefix: string;
  defaultProfile: string;
  scheduleMinutes: number;
}

/** A new beacon gets the default profile: found by polling FNMS's beacon list, or by the beacon tag being put on an instance. */
export class NewBeaconTriggers extends Construct {
  readonly handler: BeaconFunction;
  readonly schedule: scheduler.Schedule;
  readonly tagRule: events.Rule;

  constructor(scope: Construct, id: string, props: NewBeaconTriggersProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.handler = new BeaconFunction(this, 'Handler', {
      folder: 'new-beacon',
      description: 'beacon-proxy: queue the default profile for beacons not seen before',
      encryptionKey: props.encryptionKey,
      timeout: Duration.minutes(2),
      environment: {
        ...props.environment,
        [ENV.queueUrl]: props.queue.queueUrl,
        [ENV.fnmsConfig]: JSON.stringify(props.fnmsConfig),
        [ENV.fnmsSecretName]: props.fnmsSecretName,
        [ENV.profilePrefix]: props.profileParameterPrefix,
        [ENV.defaultProfile]: props.defaultProfile,
      },
    });
    const fn = this.handler.fn;
    secretsmanager.Secret.fromSecretNameV2(this, 'FnmsSecret', props.fnmsSecretName).grantRead(fn);
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['ssm:DescribeInstanceInformation'], resources: ['*'] }));
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['ssm:GetParameter'],
        resources: [`arn:${stack.partition}:ssm:${stack.region}:${stack.account}:parameter${props.profileParameterPrefix}/${props.defaultProfile}`],
      }),
    );
    props.queue.grantSendMessages(fn);
    props.table.grantReadWriteData(fn);

    this.schedule = new scheduler.Schedule(this, 'PollFnmsBeacons', {
      description: 'beacon-proxy: poll the FNMS beacon list for new beacons',
      schedule: scheduler.ScheduleExpression.rate(Duration.minutes(props.scheduleMinutes)),
      timeWindow: scheduler.TimeWindow.flexible(Duration.minutes(Math.min(15, props.scheduleMinutes))),
      target: new schedulerTargets.LambdaInvoke(fn, { input: scheduler.ScheduleTargetInput.fromObject({ source: 'beacon-proxy.schedule' }), retryAttempts: 2 }),
    });

    this.tagRule = new events.Rule(this, 'BeaconTagAdded', {
      description: `beacon-proxy: the ${props.beaconTag.key} tag changed on an instance`,
      eventPattern: {
        source: ['aws.tag'],
        detailType: ['Tag Change on Resource'],
        detail: { 'changed-tag-keys': [props.beaconTag.key], service: ['ec2', 'ssm'], 'resource-type': ['instance', 'managed-instance'] },
      },
      targets: [new eventTargets.LambdaFunction(fn, { retryAttempts: 2, maxEventAge: Duration.hours(2) })],
    });
  }
}
