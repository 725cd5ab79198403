/**
 * `beacon-proxy redrive --stack <name>`: the queue ARNs come from the stack outputs (CloudFormation
 * DescribeStacks), the move is an SQS message move task polled until it ends. AWS edges mocked with
 * aws-sdk-client-mock; the CLI runs in-process exactly as `main` runs for a user.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { GetQueueAttributesCommand, ListMessageMoveTasksCommand, SQSClient, StartMessageMoveTaskCommand } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { STACK_OUTPUTS } from '../../infra/stack-outputs.js';
import { type Io, main } from '../../local/cli.js';

const REGION = 'eu-west-1';
const STACK = 'BeaconProxy';
const DLQ_ARN = `arn:aws:sqs:${REGION}:123456789012:BeaconProxy-DeadLetterQueue`;
const INTAKE_ARN = `arn:aws:sqs:${REGION}:123456789012:BeaconProxy-Queue`;
const DLQ_URL = `https://sqs.${REGION}.amazonaws.com/123456789012/BeaconProxy-DeadLetterQueue`;

const cloudFormation = mockClient(CloudFormationClient);
const sqs = mockClient(SQSClient);

beforeEach(() => {
  cloudFormation.reset();
  sqs.reset();
  cloudFormation.on(DescribeStacksCommand, { StackName: STACK }).resolves({
    Stacks: [
      {
        StackName: STACK,
        CreationTime: new Date(),
        StackStatus: 'UPDATE_COMPLETE',
        Outputs: [
          { OutputKey: STACK_OUTPUTS.deadLetterQueueArn, OutputValue: DLQ_ARN },
          { OutputKey: STACK_OUTPUTS.deadLetterQueueUrl, OutputValue: DLQ_URL },
          { OutputKey: STACK_OUTPUTS.intakeQueueArn, OutputValue: INTAKE_ARN },
        ],
      },
    ],
  });
  process.env.AWS_ACCESS_KEY_ID = 'AKIAREDRIVE000000001';
  process.env.AWS_SECRET_ACCESS_KEY = 'redrive-secret';
});

async function redrive(extra: string[] = []): Promise<{ code: number; stdout: string; stderr: string; sleeps: number[] }> {
  let stdout = '';
  let stderr = '';
  const sleeps: number[] = [];
  const io: Io = { stdout: (text) => void (stdout += text), stderr: (text) => void (stderr += text), readStdin: async () => '' };
  const code = await main(['redrive', '--stack', STACK, '--region', REGION, ...extra], io, {
    sleep: async (ms) => void sleeps.push(ms),
  });
  return { code, stdout, stderr, sleeps };
}

describe('beacon-proxy redrive', () => {
  it('moves the dead-letter queue back to the intake queue named by the stack outputs and prints what moved', async () => {
    sqs.on(GetQueueAttributesCommand, { QueueUrl: DLQ_URL }).resolves({ Attributes: { ApproximateNumberOfMessages: '3', ApproximateNumberOfMessagesNotVisible: '0' } });
    sqs.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: 'task-handle-1' });
    sqs
      .on(ListMessageMoveTasksCommand)
      .resolvesOnce({ Results: [{ TaskHandle: 'task-handle-1', Status: 'RUNNING', SourceArn: DLQ_ARN, ApproximateNumberOfMessagesMoved: 1, ApproximateNumberOfMessagesToMove: 3 }] })
      .resolvesOnce({ Results: [{ TaskHandle: 'task-handle-1', Status: 'RUNNING', SourceArn: DLQ_ARN, ApproximateNumberOfMessagesMoved: 2, ApproximateNumberOfMessagesToMove: 3 }] })
      // A finished task no longer shows its handle; older tasks follow the newest.
      .resolves({
        Results: [
          { Status: 'COMPLETED', SourceArn: DLQ_ARN, DestinationArn: INTAKE_ARN, ApproximateNumberOfMessagesMoved: 3, ApproximateNumberOfMessagesToMove: 3 },
          { Status: 'COMPLETED', SourceArn: DLQ_ARN, ApproximateNumberOfMessagesMoved: 7, ApproximateNumberOfMessagesToMove: 7 },
        ],
      });
    const run = await redrive(['--max-per-second', '10']);
    expect(run.code).toBe(0);
    expect(sqs.commandCalls(StartMessageMoveTaskCommand).map((call) => call.args[0].input)).toEqual([{ SourceArn: DLQ_ARN, DestinationArn: INTAKE_ARN, MaxNumberOfMessagesPerSecond: 10 }]);
    expect(JSON.parse(run.stdout)).toEqual({ stack: STACK, status: 'COMPLETED', moved: 3, toMove: 3, from: DLQ_ARN, to: INTAKE_ARN });
    expect(run.stderr).toContain('RUNNING: 1 of 3 moved');
    expect(run.stderr).toContain('RUNNING: 2 of 3 moved');
    expect(run.stderr).toContain('moved 3 request(s)');
    expect(sqs.commandCalls(ListMessageMoveTasksCommand)).toHaveLength(3);
    expect(run.sleeps).toEqual([2000, 2000]);
    expect(cloudFormation.commandCalls(DescribeStacksCommand)[0]!.args[0].input).toEqual({ StackName: STACK });
  });

  it('an empty dead-letter queue moves nothing and starts no task', async () => {
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0' } });
    const run = await redrive();
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('nothing to redrive');
    expect(sqs.commandCalls(StartMessageMoveTaskCommand)).toHaveLength(0);
  });

  it('a failed move task exits 1 with SQS\'s reason; what did not move stays in the DLQ', async () => {
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '2' } });
    sqs.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: 'task-handle-2' });
    sqs.on(ListMessageMoveTasksCommand).resolves({
      Results: [{ Status: 'FAILED', SourceArn: DLQ_ARN, ApproximateNumberOfMessagesMoved: 1, ApproximateNumberOfMessagesToMove: 2, FailureReason: 'AccessDenied: kms:GenerateDataKey' }],
    });
    const run = await redrive();
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({ status: 'FAILED', moved: 1, failureReason: 'AccessDenied: kms:GenerateDataKey' });
    expect(run.stderr).toContain('still in the dead-letter queue');
  });

  it('a move task already running is reported, not retried', async () => {
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '2' } });
    sqs.on(StartMessageMoveTaskCommand).rejects(Object.assign(new Error('There is already a task running. Only one active task is allowed for a source queue arn at a given time.'), { name: 'UnsupportedOperation' }));
    const run = await redrive();
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('a move task is already running on this queue');
    expect(sqs.commandCalls(ListMessageMoveTasksCommand)).toHaveLength(0);
  });

  it('a stack without the queue outputs says which output is missing', async () => {
    cloudFormation.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: STACK, CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE', Outputs: [] }] });
    const run = await redrive();
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`has no output ${STACK_OUTPUTS.deadLetterQueueArn}`);
  });
});
