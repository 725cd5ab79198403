import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  CancelCommandCommand,
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  ListCommandsCommand,
  GetParameterCommand,
  InvalidPluginName,
  InvocationDoesNotExist,
  ParameterNotFound,
  SendCommandCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DynamoBeaconLock, DynamoRequestStore, documentClient } from '../../lambdas/aws/dynamo.js';
import { SnsSlackNotifier } from '../../lambdas/aws/notifier.js';
import { SecretsManagerSource, SsmProfileStore } from '../../lambdas/aws/parameters.js';
import { SfnWorkflowStarter } from '../../lambdas/aws/sfn-workflows.js';
import { SsmBeaconCommands } from '../../lambdas/aws/ssm-commands.js';
import { SqsRequestQueue } from '../../lambdas/aws/sqs-queue.js';
import { workflowExecutionName } from '../../lambdas/core/ports.js';
import { FixedClock } from '../../lambdas/memory/ports.js';
import { INSTANCE_A } from './fixtures.js';
import { DOCUMENT_STEPS } from '../../lambdas/core/document-contract.js';
import { loadBeaconDocuments } from '../../ssm-documents/documents.js';

const ddb = mockClient(DynamoDBDocumentClient);
const ssm = mockClient(SSMClient);
const sfn = mockClient(SFNClient);
const sqs = mockClient(SQSClient);
const sns = mockClient(SNSClient);
const secrets = mockClient(SecretsManagerClient);
const meta = { $metadata: {} };

beforeEach(() => {
  for (const mock of [ddb, ssm, sfn, sqs, sns, secrets]) mock.reset();
});
afterEach(() => undefined);

const db = () => documentClient(new DynamoDBClient({ region: 'eu-west-1' }));

describe('DynamoRequestStore', () => {
  it('records a request once: a second record of the same id is "exists", not an overwrite', async () => {
    ddb.on(PutCommand).resolvesOnce({}).rejectsOnce(new ConditionalCheckFailedException({ message: 'exists', ...meta }));
    const store = new DynamoRequestStore(db(), 'table');
    const record = { requestId: 'r1', state: 'accepted' as const, source: 'queue' as const, receivedAt: '2026-01-01T00:00:00Z' };
    expect(await store.recordRequest(record)).toBe('created');
    expect(await store.recordRequest(record)).toBe('exists');
    expect(ddb.commandCalls(PutCommand)[0]!.args[0].input).toMatchObject({ TableName: 'table', Item: { pk: 'REQ#r1', sk: 'REQUEST' }, ConditionExpression: 'attribute_not_exists(pk)' });
  });

  it('reads a request with its beacons and audit trail from one partition', async () => {
    ddb.on(QueryCommand).resolves({
      Items: [
        { pk: 'REQ#r1', sk: 'AUDIT#2026#request.accepted#', requestId: 'r1', at: '2026', event: 'request.accepted' },
        { pk: 'REQ#r1', sk: 'BEACON#i-1', requestId: 'r1', instanceId: 'i-1', state: 'ok', updatedAt: '2026' },
        { pk: 'REQ#r1', sk: 'REQUEST', requestId: 'r1', state: 'accepted' },
      ],
    });
    const status = await new DynamoRequestStore(db(), 'table').getRequestStatus('r1');
    expect(status).toEqual({
      request: { requestId: 'r1', state: 'accepted' },
      beacons: [{ requestId: 'r1', instanceId: 'i-1', state: 'ok', updatedAt: '2026' }],
      audit: [{ requestId: 'r1', at: '2026', event: 'request.accepted' }],
      rollout: null,
    });
  });

  it('an unknown request is null', async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    expect(await new DynamoRequestStore(db(), 'table').getRequestStatus('nope')).toBeNull();
  });
});

describe('DynamoBeaconLock', () => {
  it('acquires with a conditional update that admits a free, expired or own lock, and no newer request, with a TTL', async () => {
    ddb.on(UpdateCommand).resolves({});
    const clock = new FixedClock(new Date('2026-01-01T00:00:00Z'));
    const result = await new DynamoBeaconLock(db(), 'table', clock).acquire(INSTANCE_A, 'exec-1', 600, '2026-01-01T00:00:00.000Z#r1');
    expect(result).toEqual({ acquired: true, expiresAt: '2026-01-01T00:10:00.000Z' });
    const input = ddb.commandCalls(UpdateCommand)[0]!.args[0].input;
    expect(input.ConditionExpression).toBe('(attribute_not_exists(#owner) OR #owner = :owner OR expiresAtMs < :now) AND (attribute_not_exists(latestOrder) OR latestOrder <= :order)');
    expect(input.Key).toEqual({ pk: `LOCK#${INSTANCE_A}`, sk: 'LOCK' });
    expect(input.ExpressionAttributeValues).toMatchObject({ ':owner': 'exec-1', ':order': '2026-01-01T00:00:00.000Z#r1' });
  });

  it('a held lock reports its holder; a newer request\'s order reports superseded', async () => {
    ddb.on(UpdateCommand).rejects(new ConditionalCheckFailedException({ message: 'held', ...meta }));
    ddb
      .on(GetCommand)
      .resolvesOnce({ Item: { owner: 'exec-0', expiresAtMs: Date.parse('2026-01-01T01:00:00Z'), latestOrder: '2026-01-01T00:00:00.000Z#r0' } })
      .resolvesOnce({ Item: { latestOrder: '2026-01-02T00:00:00.000Z#r9' } });
    const lock = new DynamoBeaconLock(db(), 'table', new FixedClock());
    expect(await lock.acquire(INSTANCE_A, 'exec-1', 600, '2026-01-01T00:05:00.000Z#r1')).toEqual({ acquired: false, reason: 'busy', holder: 'exec-0', expiresAt: '2026-01-01T01:00:00.000Z' });
    expect(await lock.acquire(INSTANCE_A, 'exec-1', 600, '2026-01-01T00:05:00.000Z#r1')).toEqual({ acquired: false, reason: 'superseded', newer: '2026-01-02T00:00:00.000Z#r9' });
  });

  it('releases only the owner\'s lock (the item keeps the request order); releasing again is a no-op, not an error', async () => {
    ddb.on(UpdateCommand).resolvesOnce({}).rejectsOnce(new ConditionalCheckFailedException({ message: 'gone', ...meta }));
    const lock = new DynamoBeaconLock(db(), 'table', new FixedClock());
    expect(await lock.release(INSTANCE_A, 'exec-1')).toEqual({ released: true });
    expect(await lock.release(INSTANCE_A, 'exec-1')).toEqual({ released: false });
    expect(ddb.commandCalls(UpdateCommand)[0]!.args[0].input).toMatchObject({ UpdateExpression: 'REMOVE #owner, expiresAtMs', ConditionExpression: '#owner = :owner', ExpressionAttributeValues: { ':owner': 'exec-1' } });
  });
});

describe('SsmBeaconCommands', () => {
  const commands = () => new SsmBeaconCommands(new SSMClient({ region: 'eu-west-1', maxAttempts: 1 }), { outputLogGroup: '/beacon-proxy/commands', deliveryTimeoutSeconds: 600 });

  it('sends the named document to the instance with the parameters, TimeoutSeconds = the delivery deadline, the full transcript going to CloudWatch Logs', async () => {
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
    expect(await commands().sendCommand([INSTANCE_A], 'BeaconProxy-Configure-X', { DesiredState: ['e30='] }, { comment: 'beacon-proxy configure r1' })).toBe('cmd-1');
    expect(ssm.commandCalls(SendCommandCommand)[0]!.args[0].input).toEqual({
      InstanceIds: [INSTANCE_A],
      DocumentName: 'BeaconProxy-Configure-X',
      DocumentVersion: '$LATEST',
      Parameters: { DesiredState: ['e30='] },
      Comment: 'beacon-proxy configure r1',
      TimeoutSeconds: 600,
      CloudWatchOutputConfig: { CloudWatchOutputEnabled: true, CloudWatchLogGroupName: '/beacon-proxy/commands' },
    });
  });

  it('SSM throttling becomes ThrottledError, the name the state machine retries', async () => {
    ssm.on(SendCommandCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    const error = await commands().sendCommand([INSTANCE_A], 'doc', {}).catch((e: unknown) => e);
    expect((error as Error).name).toBe('ThrottledError');
  });

  it('an invocation that does not exist yet is null (pending), not an error', async () => {
    ssm.on(GetCommandInvocationCommand).rejects(new InvocationDoesNotExist({ message: 'no', ...meta }));
    expect(await commands().getInvocation('cmd-1', INSTANCE_A)).toBeNull();
  });

  it('reads the script step of a two-step document: SSM refuses GetCommandInvocation without the step name (PluginName)', async () => {
    // SSM's rule for documents with more than one step (download the module, run the script): the step must be named.
    const steps: string[] = loadBeaconDocuments().configure.mainSteps.map((step) => step.name);
    ssm.on(GetCommandInvocationCommand).callsFake((input: { PluginName?: string }) => {
      if (!input.PluginName || !steps.includes(input.PluginName)) throw new InvalidPluginName({ message: 'The plugin name is not valid.', ...meta });
      return input.PluginName === DOCUMENT_STEPS.script
        ? { Status: 'Success', StatusDetails: 'Success', StandardOutputContent: '{"ok":true}', StandardErrorContent: '', ExecutionStartDateTime: '2026-12-02T06:00:00Z' }
        : { Status: 'Success', StatusDetails: 'Success', StandardOutputContent: 'Content downloaded to C:\\ProgramData\\Amazon\\SSM\\...', StandardErrorContent: '', ExecutionStartDateTime: '2026-12-02T05:59:59Z' };
    });
    expect(steps).toHaveLength(2);
    expect(await commands().getInvocation('cmd-1', INSTANCE_A)).toMatchObject({ status: 'Success', stdout: '{"ok":true}' });
  });

  it('returns status, details, stdout, stderr and whether the script started', async () => {
    ssm.on(GetCommandInvocationCommand).resolves({ Status: 'TimedOut', StatusDetails: 'Delivery Timed Out', StandardOutputContent: '', StandardErrorContent: '', ExecutionStartDateTime: '' });
    expect(await commands().getInvocation('cmd-1', INSTANCE_A)).toEqual({ status: 'TimedOut', statusDetails: 'DeliveryTimedOut', stdout: '', stderr: '', executionStartedAt: null });
  });

  it('cancels a command on the instance, and finds a command again by its comment (ListCommands)', async () => {
    ssm.on(CancelCommandCommand).resolves({});
    ssm.on(ListCommandsCommand).resolvesOnce({ Commands: [{ CommandId: 'other', Comment: 'configure y' }], NextToken: 't' }).resolvesOnce({ Commands: [{ CommandId: 'cmd-7', Comment: 'configure x' }] });
    await commands().cancelCommand('cmd-1', [INSTANCE_A]);
    expect(ssm.commandCalls(CancelCommandCommand)[0]!.args[0].input).toEqual({ CommandId: 'cmd-1', InstanceIds: [INSTANCE_A] });
    expect(await commands().findCommand(INSTANCE_A, 'BeaconProxy-Configure-X', 'configure x')).toBe('cmd-7');
    expect(ssm.commandCalls(ListCommandsCommand)[0]!.args[0].input).toMatchObject({ InstanceId: INSTANCE_A, Filters: [{ key: 'DocumentName', value: 'BeaconProxy-Configure-X' }] });
  });

  it('finds managed instances by id and tag across pages', async () => {
    ssm
      .on(DescribeInstanceInformationCommand)
      .resolvesOnce({ InstanceInformationList: [{ InstanceId: INSTANCE_A, ComputerName: 'B1', PlatformType: 'Windows', PingStatus: 'Online' }], NextToken: 't' })
      .resolvesOnce({ InstanceInformationList: [{ InstanceId: 'mi-0123456789abcdef0', ComputerName: 'B2', PlatformType: 'Windows', PingStatus: 'ConnectionLost' }] });
    const found = await commands().findManagedInstances({ tag: { key: 'role', value: 'beacon' } });
    expect(found.map((i) => [i.instanceId, i.pingStatus])).toEqual([[INSTANCE_A, 'Online'], ['mi-0123456789abcdef0', 'ConnectionLost']]);
    expect(ssm.commandCalls(DescribeInstanceInformationCommand)[0]!.args[0].input.Filters).toEqual([{ Key: 'tag:role', Values: ['beacon'] }]);
    expect(ssm.commandCalls(DescribeInstanceInformationCommand)[1]!.args[0].input.NextToken).toBe('t');
  });
});

describe('SfnWorkflowStarter', () => {
  const input = { requestId: 'r1', instanceId: INSTANCE_A, request: {}, source: 'queue' as const, dryRun: false, replyTo: null, receivedAt: '2026-01-01T00:00:00.000Z' };

  it('starts the execution under its deterministic name; an existing one is not started again', async () => {
    sfn.on(StartExecutionCommand).resolvesOnce({ executionArn: 'arn' }).rejectsOnce(new ExecutionAlreadyExists({ message: 'exists', ...meta }));
    const starter = new SfnWorkflowStarter(new SFNClient({ region: 'eu-west-1' }), 'arn:sm');
    expect(await starter.startBeaconWorkflow(input)).toEqual({ executionName: `r1--${INSTANCE_A}`, started: true });
    expect(await starter.startBeaconWorkflow(input)).toEqual({ executionName: `r1--${INSTANCE_A}`, started: false });
    expect(JSON.parse(sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input.input!)).toEqual(input);
  });

  it('execution names stay within 80 characters and distinct for long request ids', () => {
    const a = workflowExecutionName('x'.repeat(64), INSTANCE_A);
    const b = workflowExecutionName(`${'x'.repeat(63)}y`, INSTANCE_A);
    expect(a.length).toBeLessThanOrEqual(80);
    expect(a).not.toBe(b);
    expect(a.endsWith(INSTANCE_A)).toBe(true);
  });
});

describe('SqsRequestQueue', () => {
  it('enqueues the request JSON unchanged, with source and reply-to as message attributes', async () => {
    sqs.on(SendMessageCommand).resolves({});
    await new SqsRequestQueue(new SQSClient({ region: 'eu-west-1' }), 'https://sqs/q').enqueue({ requestId: 'r1' }, { source: 'chatops', replyTo: { kind: 'slack', responseUrl: 'https://hooks.slack.com/x' } });
    expect(sqs.commandCalls(SendMessageCommand)[0]!.args[0].input).toEqual({
      QueueUrl: 'https://sqs/q',
      MessageBody: '{"requestId":"r1"}',
      MessageAttributes: {
        source: { DataType: 'String', StringValue: 'chatops' },
        replyTo: { DataType: 'String', StringValue: '{"kind":"slack","responseUrl":"https://hooks.slack.com/x"}' },
      },
    });
  });
});

describe('SnsSlackNotifier', () => {
  const outcome = { requestId: 'r1', instanceId: INSTANCE_A, state: 'ok' as const, summary: 'configured and verified' };

  it('publishes the outcome to the topic and answers Slack on its response_url', async () => {
    sns.on(PublishCommand).resolves({});
    const posts: Array<{ url: string; body: string }> = [];
    const fetchStub = (async (url: string, init: RequestInit) => {
      posts.push({ url, body: String(init.body) });
      return new Response('ok');
    }) as unknown as typeof fetch;
    await new SnsSlackNotifier(new SNSClient({ region: 'eu-west-1' }), 'arn:topic', { fetch: fetchStub }).notify(outcome, { kind: 'slack', responseUrl: 'https://hooks.slack.com/commands/1' });
    expect(sns.commandCalls(PublishCommand)[0]!.args[0].input).toMatchObject({ TopicArn: 'arn:topic', Subject: 'beacon-proxy: ok' });
    expect(posts).toHaveLength(1);
    expect(JSON.parse(posts[0]!.body)).toMatchObject({ response_type: 'ephemeral', text: expect.stringContaining('configured and verified') });
  });

  it('never calls a response_url outside hooks.slack.com, and a Slack failure does not fail the notification', async () => {
    sns.on(PublishCommand).resolves({});
    let calls = 0;
    const failing = (async () => {
      calls++;
      throw new Error('network down');
    }) as unknown as typeof fetch;
    const notifier = new SnsSlackNotifier(new SNSClient({ region: 'eu-west-1' }), 'arn:topic', { fetch: failing });
    await notifier.notify(outcome, { kind: 'slack', responseUrl: 'https://169.254.169.254/latest/meta-data' });
    expect(calls).toBe(0);
    await expect(notifier.notify(outcome, { kind: 'slack', responseUrl: 'https://hooks.slack.com/commands/1' })).resolves.toBeUndefined();
    expect(calls).toBe(1);
  });
});

describe('parameters and secrets', () => {
  it('reads a profile under the prefix; a missing one is null', async () => {
    ssm.on(GetParameterCommand, { Name: '/beacon-proxy/profiles/default' }).resolves({ Parameter: { Value: '{"protocol":"https"}' } });
    ssm.on(GetParameterCommand, { Name: '/beacon-proxy/profiles/other' }).rejects(new ParameterNotFound({ message: 'no', ...meta }));
    const profiles = new SsmProfileStore(new SSMClient({ region: 'eu-west-1' }), '/beacon-proxy/profiles/');
    expect(await profiles.getProfile('default')).toEqual({ protocol: 'https' });
    expect(await profiles.getProfile('other')).toBeNull();
    expect(await profiles.getProfile('../../etc')).toBeNull();
  });

  it('reads only the secrets it was given, and caches them', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: 's3cret' });
    const source = new SecretsManagerSource(new SecretsManagerClient({ region: 'eu-west-1' }), ['beacon-proxy/fnms-token']);
    expect(await source.getSecret('beacon-proxy/fnms-token')).toBe('s3cret');
    expect(await source.getSecret('beacon-proxy/fnms-token')).toBe('s3cret');
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    await expect(source.getSecret('someone-else/secret')).rejects.toThrow(/not one this function may read/);
  });
});
