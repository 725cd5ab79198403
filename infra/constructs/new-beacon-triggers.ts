import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import { Construct } from 'constructs';
import { BeaconFunction } from './beacon-function.js';
import { type DefaultProfileTriggerProps, defaultProfileEnvironment, grantDefaultProfileTrigger } from './default-profile-trigger.js';
import { type FnmsInventoryProps, fnmsInventoryEnvironment, grantFnmsInventory } from './fnms-inventory.js';

export interface NewBeaconTriggersProps extends DefaultProfileTriggerProps {
  /** The beacon inventory (saved FNMS report); null: no schedule, only the tag rule. */
  inventory: FnmsInventoryProps | null;
  scheduleMinutes: number;
  /** Where an instance the tag gate refused is reported. */
  outcomeTopic: sns.ITopic;
}

/** A new beacon gets the default profile: found in the FNMS beacon inventory (a schedule), or by the beacon tag being put on an instance. */
export class NewBeaconTriggers extends Construct {
  readonly handler: BeaconFunction;
  /** Absent when no inventory is configured. */
  readonly schedule: scheduler.Schedule | undefined;
  readonly tagRule: events.Rule;

  constructor(scope: Construct, id: string, props: NewBeaconTriggersProps) {
    super(scope, id);
    this.handler = new BeaconFunction(this, 'Handler', {
      folder: 'new-beacon',
      description: 'beacon-proxy: queue the default profile for beacons not seen before',
      encryptionKey: props.encryptionKey,
      timeout: Duration.minutes(2),
      ...(props.inventory?.vpc ? { vpc: props.inventory.vpc } : {}),
      environment: { ...defaultProfileEnvironment(props), ...(props.inventory ? fnmsInventoryEnvironment(props.inventory) : {}) },
    });
    const fn = this.handler.fn;
    if (props.inventory) grantFnmsInventory(this, fn, props.inventory);
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['ssm:DescribeInstanceInformation'], resources: ['*'] }));
    grantDefaultProfileTrigger(fn, props);
    props.outcomeTopic.grantPublish(fn);
    // triggerMode off: nothing invokes the function (the handler also does nothing when invoked by hand).
    const enabled = props.mode !== 'off';

    this.schedule = !props.inventory
      ? undefined
      : new scheduler.Schedule(this, 'PollFnmsBeacons', {
      description: 'beacon-proxy: read the FNMS beacon inventory report for new beacons',
      schedule: scheduler.ScheduleExpression.rate(Duration.minutes(props.scheduleMinutes)),
      timeWindow: scheduler.TimeWindow.flexible(Duration.minutes(Math.min(15, props.scheduleMinutes))),
      target: new schedulerTargets.LambdaInvoke(fn, { input: scheduler.ScheduleTargetInput.fromObject({ source: 'beacon-proxy.schedule' }), retryAttempts: 2 }),
      enabled,
    });

    this.tagRule = new events.Rule(this, 'BeaconTagAdded', {
      description: `beacon-proxy: the ${props.beaconTag.key} tag changed on an instance`,
      enabled,
      eventPattern: {
        source: ['aws.tag'],
        detailType: ['Tag Change on Resource'],
        detail: { 'changed-tag-keys': [props.beaconTag.key], service: ['ec2', 'ssm'], 'resource-type': ['instance', 'managed-instance'] },
      },
      targets: [new eventTargets.LambdaFunction(fn, { retryAttempts: 2, maxEventAge: Duration.hours(2) })],
    });
  }
}
