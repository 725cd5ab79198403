import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/aws/env-names.js';
import { BeaconFunction } from './beacon-function.js';
import { grantSendBeaconCommand } from './beacon-workflow.js';
import { type DefaultProfileTriggerProps, defaultProfileEnvironment, grantDefaultProfileTrigger } from './default-profile-trigger.js';
import { type FnmsInventoryProps, fnmsInventoryEnvironment, grantFnmsInventory } from './fnms-inventory.js';

export interface DriftCheckProps extends DefaultProfileTriggerProps {
  /** The verify document: the only document this function may send. */
  verifyDocumentArn: string;
  checkEndpoint: string;
  /** A pass starts this often. */
  scheduleHours: number;
  /** The function runs this often and continues the pass in progress (a checkpoint in the table). */
  tickMinutes: number;
  /** The FNMS beacon inventory: the tag gate for beacons never configured (null: none is read). */
  inventory: FnmsInventoryProps | null;
}

/** The function's timeout: each tick works through pages within it and leaves the rest to the next tick. */
export const DRIFT_FUNCTION_TIMEOUT = Duration.minutes(5);

/**
 * The fleet verify pass: each beacon against its own baseline (the default profile for beacons never
 * configured); drifted beacons get it re-applied (apply) or planned as a dry run (observe).
 */
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
      timeout: DRIFT_FUNCTION_TIMEOUT,
      ...(props.inventory?.vpc ? { vpc: props.inventory.vpc } : {}),
      environment: {
        ...defaultProfileEnvironment(props),
        ...(props.inventory ? fnmsInventoryEnvironment(props.inventory) : {}),
        [ENV.verifyCheckEndpoint]: props.checkEndpoint,
        [ENV.driftIntervalHours]: String(props.scheduleHours),
      },
    });
    const fn = this.handler.fn;
    if (props.inventory) grantFnmsInventory(this, fn, props.inventory);
    grantSendBeaconCommand(fn, [props.verifyDocumentArn], props.beaconTag, stack);
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['ssm:DescribeInstanceInformation', 'ssm:ListCommandInvocations', 'ssm:GetCommandInvocation'], resources: ['*'] }));
    grantDefaultProfileTrigger(fn, props);
    this.schedule = new scheduler.Schedule(this, 'VerifyFleet', {
      description: `beacon-proxy: continue the drift pass (a new one every ${props.scheduleHours} h): verify each beacon against its baseline, re-apply where it drifted`,
      schedule: scheduler.ScheduleExpression.rate(Duration.minutes(props.tickMinutes)),
      target: new schedulerTargets.LambdaInvoke(fn, { input: scheduler.ScheduleTargetInput.fromObject({ source: 'beacon-proxy.drift-check' }), retryAttempts: 2 }),
      // triggerMode off: no verify pass at all.
      enabled: props.mode !== 'off',
    });
  }
}
