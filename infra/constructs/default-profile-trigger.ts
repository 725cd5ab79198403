import { Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { ENV } from '../../lambdas/aws/env-names.js';

/** What a trigger that queues the default profile for beacons (new-beacon, drift check) is given. */
export interface DefaultProfileTriggerProps {
  encryptionKey: kms.IKey;
  queue: sqs.IQueue;
  table: dynamodb.ITable;
  environment: Record<string, string>;
  beaconTag: { key: string; value: string };
  profileParameterPrefix: string;
  defaultProfile: string;
}

/** The environment such a trigger's function needs, beside the stack-wide one. */
export function defaultProfileEnvironment(props: DefaultProfileTriggerProps): Record<string, string> {
  return {
    ...props.environment,
    [ENV.queueUrl]: props.queue.queueUrl,
    [ENV.profilePrefix]: props.profileParameterPrefix,
    [ENV.defaultProfile]: props.defaultProfile,
  };
}

/** Least privilege for such a trigger: read only the default profile, queue requests, remember what it saw. */
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
