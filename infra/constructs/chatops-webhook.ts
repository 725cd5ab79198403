import { CfnOutput, Duration, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/aws/env-names.js';
import { BeaconFunction } from './beacon-function.js';

export interface ChatOpsWebhookProps {
  encryptionKey: kms.IKey;
  queue: sqs.IQueue;
  table: dynamodb.ITable;
  environment: Record<string, string>;
  slackSigningSecretName: string;
  teamsSecretName: string;
  allowlist: { users: string[]; channels: string[] };
  /** Parameter Store path under which the named profiles live. */
  profileParameterPrefix: string;
}

/**
 * Slack and Teams webhooks on a Lambda function URL. No IAM auth (chat platforms cannot sign SigV4): the
 * handler verifies every request's signature before reading anything else, and answers 401 otherwise.
 */
export class ChatOpsWebhook extends Construct {
  readonly handler: BeaconFunction;
  readonly url: lambda.FunctionUrl;

  constructor(scope: Construct, id: string, props: ChatOpsWebhookProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.handler = new BeaconFunction(this, 'Handler', {
      folder: 'chatops-webhook',
      description: 'beacon-proxy ChatOps: Slack slash command and Teams outgoing webhook',
      encryptionKey: props.encryptionKey,
      // Slack wants an answer within 3 s; the handler only verifies, reads a profile and enqueues.
      timeout: Duration.seconds(10),
      environment: {
        ...props.environment,
        [ENV.queueUrl]: props.queue.queueUrl,
        [ENV.slackSecretName]: props.slackSigningSecretName,
        [ENV.teamsSecretName]: props.teamsSecretName,
        [ENV.chatAllowlist]: JSON.stringify(props.allowlist),
        [ENV.profilePrefix]: props.profileParameterPrefix,
      },
    });
    const fn = this.handler.fn;
    for (const [secretId, name] of [
      ['SlackSigningSecret', props.slackSigningSecretName],
      ['TeamsSecurityToken', props.teamsSecretName],
    ] as const) {
      secretsmanager.Secret.fromSecretNameV2(this, secretId, name).grantRead(fn);
    }
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['ssm:GetParameter'],
        resources: [`arn:${stack.partition}:ssm:${stack.region}:${stack.account}:parameter${props.profileParameterPrefix}/*`],
      }),
    );
    props.queue.grantSendMessages(fn);
    // Status reads and the replay memory (conditional writes).
    props.table.grantReadWriteData(fn);
    this.url = fn.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE });
    new CfnOutput(this, 'WebhookUrl', { value: this.url.url, description: 'ChatOps webhook base URL: Slack -> <url>slack, Teams -> <url>teams' });
  }
}
