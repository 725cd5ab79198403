/**
 * The stack outputs the operator CLI reads (CloudFormation DescribeStacks): one list for the stack, which
 * declares them, and for `beacon-proxy submit | status | plan | redrive --stack <name>`. No CDK import here,
 * so the CLI loads it cheaply.
 */
export const STACK_OUTPUTS = {
  /** Base URL of the HTTPS API with its stage and a trailing slash: `https://<id>.execute-api.<region>.amazonaws.com/v1/`. */
  apiUrl: 'ApiUrl',
  intakeQueueUrl: 'IntakeQueueUrl',
  intakeQueueArn: 'IntakeQueueArn',
  deadLetterQueueUrl: 'DeadLetterQueueUrl',
  deadLetterQueueArn: 'DeadLetterQueueArn',
  dashboardUrl: 'DashboardUrl',
  /** The customer managed key of the queues, table, topics and logs (operators' redrive needs it). */
  dataKeyArn: 'DataKeyArn',
  beaconInstancePolicyArn: 'BeaconInstancePolicyArn',
} as const;

export type StackOutputKey = (typeof STACK_OUTPUTS)[keyof typeof STACK_OUTPUTS];
