/**
 * The intake Lambda as the stack wires it (the module's `handler`, its environment, the AWS clients mocked at the
 * SDK): which producers may name a caller (TRUSTED_SENDER_ROLE_IDS), that a request reaches DynamoDB and Step
 * Functions, that a refused operator command reaches the topic, and the metrics the dashboards read (issue 14).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ENV } from '../../lambdas/aws/env-names.js';
import { MESSAGE_ATTRIBUTES } from '../../lambdas/intake/message-attributes.js';
import { lambdaContext, sqsEvent, sqsRecord, validRequest } from './fixtures.js';

const TRUSTED = 'AROATRUSTEDAPI';
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:beacon-proxy-notifications';
const ddb = mockClient(DynamoDBDocumentClient);
const ddbRaw = mockClient(DynamoDBClient);
const sfn = mockClient(SFNClient);
const sns = mockClient(SNSClient);
const saved = { ...process.env };
let handler: (typeof import('../../lambdas/intake/handler.js'))['handler'];

beforeAll(async () => {
  Object.assign(process.env, {
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    [ENV.tableName]: 'beacon-proxy-test',
    [ENV.idempotencyTableName]: 'beacon-proxy-idempotency-test',
    [ENV.stateMachineArn]: 'arn:aws:states:eu-west-1:123456789012:stateMachine:beacon',
    [ENV.requestStateMachineArn]: 'arn:aws:states:eu-west-1:123456789012:stateMachine:request',
    [ENV.topicArn]: TOPIC,
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    // Two producers, as the stack writes the list (comma-separated role ids).
    [ENV.trustedSenderRoleIds]: `AROAOTHERPRODUCER,${TRUSTED}`,
  });
});

afterAll(() => {
  ddb.restore();
  ddbRaw.restore();
  sfn.restore();
  sns.restore();
  process.env = saved;
});

beforeEach(async () => {
  // A fresh module per test: the Lambda entry builds its dependencies once per module, on the first invocation, so
  // each test sees the wiring as a cold start does (and a mutation run sees each mutant of the wiring).
  vi.resetModules();
  ({ handler } = await import('../../lambdas/intake/handler.js'));
  ddb.reset();
  ddbRaw.reset();
  sfn.reset();
  sns.reset();
  ddbRaw.onAnyCommand().resolves({});
  ddb.onAnyCommand().resolves({});
  ddb.on(QueryCommand).resolves({ Items: [] });
  sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:aws:states:eu-west-1:123456789012:execution:request:x', startDate: new Date() });
  sns.on(PublishCommand).resolves({ MessageId: 'sns-1' });
});

const VOUCHED = { kind: 'iam', arn: 'arn:aws:sts::123456789012:assumed-role/ops/alice' };
function fromSender(requestId: string, senderId: string, messageId: string) {
  const record = sqsRecord(JSON.stringify(validRequest({ requestId })), messageId, { [MESSAGE_ATTRIBUTES.caller]: JSON.stringify(VOUCHED), [MESSAGE_ATTRIBUTES.source]: 'api' });
  return { ...record, attributes: { ...record.attributes, SenderId: senderId } };
}
const recordedCaller = (requestId: string) =>
  ddb.commandCalls(PutCommand).map((call) => call.args[0].input.Item as Record<string, unknown>).find((item) => item.sk === 'REQUEST' && item.requestId === requestId)?.caller;

describe('the intake Lambda as deployed', () => {
  it('a producer listed in TRUSTED_SENDER_ROLE_IDS names the caller; any other sender is the caller itself', async () => {
    const result = await handler(sqsEvent(fromSender('req-trusted', `${TRUSTED}:api-session`, 'm1'), fromSender('req-other', 'AROAUNKNOWN:someone', 'm2')), lambdaContext);
    expect(result.batchItemFailures).toEqual([]);
    expect(recordedCaller('req-trusted')).toEqual(VOUCHED);
    expect(recordedCaller('req-other')).toEqual({ kind: 'sqs', senderId: 'AROAUNKNOWN:someone' });
    expect(sfn.commandCalls(StartExecutionCommand).map((call) => call.args[0].input.stateMachineArn)).toEqual([
      process.env[ENV.requestStateMachineArn],
      process.env[ENV.requestStateMachineArn],
    ]);
  });

  it('publishes the Requests metric by source and outcome, and the accepted and started counts', async () => {
    const lines: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      await handler(sqsEvent(fromSender('req-metrics', `${TRUSTED}:api-session`, 'm1')), lambdaContext);
    } finally {
      write.mockRestore();
    }
    const emf = lines.flatMap((line) => line.split('\n')).filter((line) => line.includes('"_aws"')).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(emf).toContainEqual(expect.objectContaining({ Requests: 1, source: 'api', outcome: 'accepted' }));
    expect(emf).toContainEqual(expect.objectContaining({ RequestsAccepted: 1, WorkflowsStarted: 1 }));
  });

  it('a refused operator command reaches the notification topic; the message is not retried', async () => {
    const command = sqsRecord(JSON.stringify({ action: 'cancel', requestId: 'req-nowhere', rollback: false, by: 'x' }), 'm-op', { [MESSAGE_ATTRIBUTES.kind]: 'operator', [MESSAGE_ATTRIBUTES.source]: 'chatops' });
    const result = await handler(sqsEvent(command), lambdaContext);
    expect(result.batchItemFailures).toEqual([]);
    const published = sns.commandCalls(PublishCommand).map((call) => call.args[0].input);
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({ TopicArn: TOPIC, Subject: 'beacon-proxy: cancel req-nowhere refused: NOT_FOUND' });
  });
});
