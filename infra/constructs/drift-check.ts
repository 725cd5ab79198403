import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/aws/env-names.js';
import { BeaconFunction } from './beacon-function.js';
import { grantSendBeaconCommand } from './beacon-workflow.js';
import { type DefaultProfileTriggerProps, defaultProfileEnvironment, grantDefaultProfileTrigger } from './default-profile-trigger.js';

export interface DriftCheckProps extends DefaultProfileTriggerProps {
  /** The verify document: the only document this function may send. */
  verifyDocumentArn: string;
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
      environment: { ...defaultProfileEnvironment(props), [ENV.verifyCheckEndpoint]: props.checkEndpoint },
    });
    const fn = this.handler.fn;
    grantSendBeaconCommand(fn, [props.verifyDocumentArn], props.beaconTag, stack);
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['ssm:DescribeInstanceInformation', 'ssm:ListCommandInvocations', 'ssm:GetCommandInvocation'], resources: ['*'] }));
    grantDefaultProfileTrigger(fn, props);
    this.schedule = new scheduler.Schedule(this, 'VerifyFleet', {
      description: 'beacon-proxy: verify every beacon and re-apply where it drifted',
      schedule: scheduler.ScheduleExpression.rate(Duration.hours(props.scheduleHours)),
      timeWindow: scheduler.TimeWindow.flexible(Duration.minutes(30)),
      target: new schedulerTargets.LambdaInvoke(fn, { input: scheduler.ScheduleTargetInput.fromObject({ source: 'beacon-proxy.drift-check' }), retryAttempts: 2 }),
    });
  }
}
