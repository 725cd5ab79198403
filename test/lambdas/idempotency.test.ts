import { createHash } from 'node:crypto';
import { ConditionalCheckFailedException, DynamoDBClient, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { powertoolsIdempotency } from '../../lambdas/aws/idempotency.js';
import type { AcceptedRequest, AcceptResult } from '../../lambdas/core/ports.js';
import { requestContentHash } from '../../lambdas/core/request-identity.js';
import { INSTANCE_A, lambdaContext, validRequest } from './fixtures.js';

const dynamo = mockClient(DynamoDBClient);

const accepted: AcceptedRequest = {
  requestId: 'req-test-1',
  request: validRequest(),
  contentHash: requestContentHash(validRequest()),
  dryRun: false,
  rerunOf: null,
  caller: { kind: 'sqs', senderId: 'AIDAEXAMPLEOPERATOR' },
  source: 'queue',
  replyTo: null,
  target: { kind: 'instances', instanceIds: [INSTANCE_A] },
};

beforeEach(() => dynamo.reset());

describe('Powertools idempotency of the intake (DynamoDB persistence)', () => {
  it('keys the record on requestId and runs the accept step once; a completed requestId returns the stored result', async () => {
    const stored: AcceptResult = { requestId: 'req-test-1', execution: 'req-test-1', started: true };
    let runs = 0;
    const accept = async (input: AcceptedRequest): Promise<AcceptResult> => {
      runs += 1;
      return { requestId: input.requestId, execution: input.requestId, started: true };
    };
    dynamo.on(PutItemCommand).resolvesOnce({});
    dynamo.on(UpdateItemCommand).resolves({});
    const guard = powertoolsIdempotency('idempotency-table');
    guard.registerLambdaContext?.(lambdaContext);
    const wrapped = guard.wrap(accept);
    expect(await wrapped(accepted)).toEqual(stored);
    const put = dynamo.commandCalls(PutItemCommand)[0]!.args[0].input;
    expect(put.TableName).toBe('idempotency-table');
    // The key hashes the requestId alone (eventKeyJmesPath), so the same request from another trigger matches.
    expect(put.Item?.id?.S?.endsWith(`#${createHash('md5').update(JSON.stringify('req-test-1')).digest('base64')}`)).toBe(true);

    const key = put.Item!.id!.S!;
    dynamo.on(PutItemCommand).rejects(
      new ConditionalCheckFailedException({
        message: 'exists',
        $metadata: {},
        Item: {
          id: { S: key },
          status: { S: 'COMPLETED' },
          // Payload validation: the hash of the accepted request's content hash.
          validation: { S: createHash('md5').update(JSON.stringify(accepted.contentHash)).digest('base64') },
          expiration: { N: String(Math.floor(Date.now() / 1000) + 3600) },
          data: { M: { requestId: { S: stored.requestId }, execution: { S: stored.execution }, started: { BOOL: true } } },
        },
      }),
    );
    expect(await wrapped({ ...accepted, source: 'api' })).toEqual(stored);
    expect(runs).toBe(1);
    // The same id with other content is not the stored result: REQUEST_CONFLICT, and nothing runs.
    await expect(wrapped({ ...accepted, contentHash: 'f'.repeat(64) })).rejects.toMatchObject({ code: 'REQUEST_CONFLICT', field: 'requestId' });
    expect(runs).toBe(1);
  });

  it('a request already being accepted elsewhere is not run again: the message is retried later', async () => {
    dynamo.on(PutItemCommand).rejects(
      new ConditionalCheckFailedException({
        message: 'in progress',
        $metadata: {},
        Item: { id: { S: 'x' }, status: { S: 'INPROGRESS' }, validation: { S: createHash('md5').update(JSON.stringify(accepted.contentHash)).digest('base64') }, expiration: { N: String(Math.floor(Date.now() / 1000) + 3600) }, in_progress_expiration: { N: String(Date.now() + 60_000) } },
      }),
    );
    let runs = 0;
    const wrapped = powertoolsIdempotency('idempotency-table').wrap(async () => {
      runs += 1;
      return { requestId: 'req-test-1', execution: 'req-test-1', started: false };
    });
    await expect(wrapped(accepted)).rejects.toThrow(/already in progress|in progress/i);
    expect(runs).toBe(0);
  });
});
