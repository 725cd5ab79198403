import { Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { ENV } from '../../lambdas/aws/env-names.js';
import type { TriggerMode } from '../../lambdas/core/triggers.js';

/** What a trigger that queues the default profile for beacons (new-beacon, drift check) is given. */
export interface DefaultProfileTriggerProps {
  encryptionKey: kms.IKey;
  queue: sqs.IQueue;
  table: dynamodb.ITable;
  environment: Record<string, string>;
  beaconTag: { key: string; value: string };
  profileParameterPrefix: string;
  defaultProfile: string;
  /** How far the trigger goes: off (its schedules and rules are disabled), observe (dry runs only), apply. */
  mode: TriggerMode;
  /** The beacon tag alone configures an instance (otherwise the FNMS inventory must list it). */
  autoApplyTagOnly: boolean;
}

/** The environment such a trigger's function needs, beside the stack-wide one. */
export function defaultProfileEnvironment(props: DefaultProfileTriggerProps): Record<string, string> {
  return {
    ...props.environment,
    [ENV.queueUrl]: props.queue.queueUrl,
    [ENV.profilePrefix]: props.profileParameterPrefix,
    [ENV.defaultProfile]: props.defaultProfile,
    [ENV.triggerMode]: props.mode,
    [ENV.autoApplyTagOnly]: String(props.autoApplyTagOnly),
  };
}

/** Least privilege for such a trigger: read only the default profile, queue requests, remember what it saw and read the beacons' baselines. */
export function grantDefaultProfileTrigger(fn: lambda.IFunction, props: DefaultProfileTriggerProps): void {
  const stack = Stack.of(fn);
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['ssm:GetParameter'],
      resources: [`arn:${stack.partition}:ssm:${stack.region}:${stack.account}:parameter${props.profileParameterPrefix}/${props.defaultProfile}`],
    }),
  );
  props.queue.grantSendMessages(fn);
  props.table.grantReadWriteData(fn);
}
