import { CfnOutput, Duration, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/aws/env-names.js';
import { CHAT_REPLAY_KEY_PREFIX, TABLE_KEY_PREFIXES } from '../../lambdas/aws/table-keys.js';
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
 * The internet-facing function touches the state table through two narrow doors, held by the partition key
 * (`dynamodb:LeadingKeys`): it reads request records (the `status` command) and writes its own replay
 * marks (conditional puts). No lock rows, no trigger memory, no other table, no deletes or scans.
 */
export function grantChatTableAccess(fn: lambda.IFunction, table: dynamodb.ITable): void {
  const leadingKeys = (prefix: string) => ({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${prefix}*`] } });
  fn.addToRolePolicy(
    new iam.PolicyStatement({ sid: 'ReadRequestRecordsOnly', actions: ['dynamodb:GetItem', 'dynamodb:Query'], resources: [table.tableArn], conditions: leadingKeys(TABLE_KEY_PREFIXES.request) }),
  );
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      sid: 'WriteChatReplayMarksOnly',
      actions: ['dynamodb:PutItem'],
      resources: [table.tableArn],
      conditions: leadingKeys(`${TABLE_KEY_PREFIXES.mark}${CHAT_REPLAY_KEY_PREFIX}`),
    }),
  );
  // The table is encrypted with the stack's key: reading and writing items needs it (as CDK's table grants add).
  table.encryptionKey?.grant(fn, 'kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*');
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
    grantChatTableAccess(fn, props.table);
    this.url = fn.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE });
    new CfnOutput(this, 'WebhookUrl', { value: this.url.url, description: 'ChatOps webhook base URL: Slack -> <url>slack, Teams -> <url>teams' });
  }
}
