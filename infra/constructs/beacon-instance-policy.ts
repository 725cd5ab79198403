import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export interface BeaconInstancePolicyProps {
  /** Password secrets the requests reference (exact ARNs, or `...:secret:path/*`). */
  secretArns: string[];
  /** Password SecureString parameters (exact names, or `/path/*`), in this stack's region. */
  parameterNames: string[];
  /** Customer managed keys of those secrets and parameters. */
  kmsKeyArns: string[];
  /** Where SSM streams the documents' full output (the workflow's CloudWatchOutputConfig). */
  commandLogGroup: logs.ILogGroup;
  /** Where the documents' module files are (aws:downloadContent with the instance's credentials): bucket and key prefix. */
  module: { bucketArn: string; keyPrefix: string };
}

/** The AWS service endpoints through which a beacon decrypts its password: nothing else may use the keys. */
export const PASSWORD_VIA_SERVICES = ['secretsmanager.*.amazonaws.com', 'ssm.*.amazonaws.com'] as const;

/**
 * What a beacon's instance role needs beside SSM's own AmazonSSMManagedInstanceCore: read exactly the
 * password secrets and parameters named in the stack's context, decrypt them with their keys (only through
 * Secrets Manager or Parameter Store), download the documents' module file, and stream the documents' output
 * to the command log group.
 * Operators attach it to the beacons' role (README: "Beacon instance role").
 */
export class BeaconInstancePolicy extends Construct {
  readonly policy: iam.ManagedPolicy;

  constructor(scope: Construct, id: string, props: BeaconInstancePolicyProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const statements: iam.PolicyStatement[] = [];
    if (props.secretArns.length > 0) {
      statements.push(new iam.PolicyStatement({ sid: 'ReadBeaconPasswordSecrets', actions: ['secretsmanager:GetSecretValue'], resources: props.secretArns }));
    }
    if (props.parameterNames.length > 0) {
      statements.push(
        new iam.PolicyStatement({
          sid: 'ReadBeaconPasswordParameters',
          actions: ['ssm:GetParameter'],
          resources: props.parameterNames.map((name) => `arn:${stack.partition}:ssm:${stack.region}:${stack.account}:parameter${name}`),
        }),
      );
    }
    if (props.kmsKeyArns.length > 0) {
      statements.push(
        new iam.PolicyStatement({
          sid: 'DecryptBeaconPasswordsViaSecretsManagerOrParameterStore',
          actions: ['kms:Decrypt'],
          resources: props.kmsKeyArns,
          conditions: { StringLike: { 'kms:ViaService': [...PASSWORD_VIA_SERVICES] } },
        }),
      );
    }
    statements.push(
      // aws:downloadContent (SSM Agent) first lists the URL's key as a folder (ListObjects, prefix "<key>/"; an
      // error there fails the step), then gets the object. Both are allowed under the module prefix only: read,
      // nothing else in the bucket. The prefix, not the one key: a command sent just before a deployment still
      // runs the module its document version pins (earlier modules stay in the bucket).
      new iam.PolicyStatement({ sid: 'ReadBeaconModule', actions: ['s3:GetObject'], resources: [`${props.module.bucketArn}/${props.module.keyPrefix}*`] }),
      new iam.PolicyStatement({
        sid: 'LookUpBeaconModule',
        actions: ['s3:ListBucket'],
        resources: [props.module.bucketArn],
        conditions: { StringLike: { 's3:prefix': `${props.module.keyPrefix}*` } },
      }),
      new iam.PolicyStatement({
        sid: 'WriteCommandOutput',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
        resources: [props.commandLogGroup.logGroupArn],
      }),
      // The SSM Agent looks the group up before streaming; DescribeLogGroups has no resource-level permission.
      new iam.PolicyStatement({ sid: 'FindCommandOutputLogGroup', actions: ['logs:DescribeLogGroups'], resources: ['*'] }),
    );
    this.policy = new iam.ManagedPolicy(this, 'Policy', {
      description: `beacon-proxy (${stack.stackName}): what a beacon's instance role needs to run the beacon documents`,
      statements,
    });
  }
}
