/**
 * The dashboard's numbers come from the handlers that know them: requests by source and outcome (intake,
 * API refusals), beacons by outcome (RecordOutcome), SSM throttles (every throttled SSM answer, counted
 * inside the SDK's retry loop). Emitted as Powertools EMF records with the dashboard's dimensions.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DescribeInstanceInformationCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { METRICS, METRIC_DIMENSIONS } from '../../lambdas/aws/env-names.js';
import { countMetric } from '../../lambdas/aws/runtime.js';
import { SsmBeaconCommands, countThrottledAttempts } from '../../lambdas/aws/ssm-commands.js';
import type { BeaconState, RequestSource } from '../../lambdas/core/ports.js';
import { createIntakeHandler } from '../../lambdas/intake/handler.js';
import { MESSAGE_ATTRIBUTES } from '../../lambdas/intake/message-attributes.js';
import {
  FixedClock,
  MemoryNotifier,
  MemoryPinLedger,
  MemoryRequestQueue,
  MemoryRequestStore,
  MemoryRequestWorkflowStarter,
  MemoryRolloutStore,
  MemoryTaskTokens,
} from '../../lambdas/memory/ports.js';
import { createRecordOutcomeHandler } from '../../lambdas/record-outcome/handler.js';
import { createRequestsApiHandler } from '../../lambdas/requests-api/handler.js';
import { BEACON_TAG, INSTANCE_A, lambdaContext, sqsEvent, sqsRecord, validRequest } from './fixtures.js';

describe('requests by source and outcome', () => {
  let counted: Array<[RequestSource, string]>;
  beforeEach(() => {
    counted = [];
  });
  const intake = () =>
    createIntakeHandler({
      store: new MemoryRequestStore(),
      requests: new MemoryRequestWorkflowStarter(),
      operator: { rollouts: new MemoryRolloutStore(new MemoryRequestStore()), ledger: new MemoryPinLedger(), tokens: new MemoryTaskTokens() },
      notifier: new MemoryNotifier(),
      clock: new FixedClock(),
      countRequest: (source, outcome) => void counted.push([source, outcome]),
    });

  it('the intake counts each request once by where it came from and what became of it', async () => {
    const handler = intake();
    await handler(
      sqsEvent(
        sqsRecord(JSON.stringify(validRequest({ requestId: 'from-api' })), 'm1', { [MESSAGE_ATTRIBUTES.source]: 'api' }),
        sqsRecord(JSON.stringify(validRequest({ requestId: 'bad', proxy: 'proxy.corp.example/wpad.dat' })), 'm2'),
        sqsRecord(JSON.stringify(validRequest({ requestId: 'by-tag', target: { tag: BEACON_TAG } })), 'm3', { [MESSAGE_ATTRIBUTES.source]: 'drift' }),
        // Redelivered: the same request is not counted twice.
        sqsRecord(JSON.stringify(validRequest({ requestId: 'from-api' })), 'm4', { [MESSAGE_ATTRIBUTES.source]: 'api' }),
      ),
      lambdaContext,
    );
    expect(counted.sort()).toEqual([
      ['api', 'accepted'],
      ['drift', 'accepted'],
      ['queue', 'invalid'],
    ]);
  });

  it('the API counts what it refuses itself (accepted ones are counted by the intake, source api)', async () => {
    let refused = 0;
    const api = createRequestsApiHandler({
      queue: new MemoryRequestQueue(),
      store: new MemoryRequestStore(),
      operator: { rollouts: new MemoryRolloutStore(new MemoryRequestStore()), ledger: new MemoryPinLedger(), tokens: new MemoryTaskTokens() },
      clock: new FixedClock(),
      countRefused: () => void (refused += 1),
    });
    const event = (body: unknown) => ({ httpMethod: 'POST', resource: '/requests', path: '/requests', body: JSON.stringify(body), isBase64Encoded: false, pathParameters: null, headers: {}, requestContext: { domainName: 'x', stage: 'v1' } }) as unknown as APIGatewayProxyEvent;
    expect((await api(event(validRequest()))).statusCode).toBe(202);
    expect((await api(event(validRequest({ proxy: 'user:pw@proxy:8080' })))).statusCode).toBe(400);
    expect(refused).toBe(1);
  });
});

describe('beacons by outcome', () => {
  it('RecordOutcome counts the final state of each beacon, once (a retried step counts nothing twice)', async () => {
    const states: BeaconState[] = [];
    const outcomes = new MemoryRequestStore();
    const record = createRecordOutcomeHandler({ store: outcomes, rollouts: new MemoryRolloutStore(outcomes), ledger: new MemoryPinLedger(), clock: new FixedClock(), countOutcome: (state) => void states.push(state) });
    const base = { requestId: 'r', instanceId: INSTANCE_A, request: validRequest(), source: 'api' as const, dryRun: false, replyTo: null, receivedAt: '2026-01-01T00:00:00.000Z' };
    await record({ ...base, outcome: { state: 'ok' } });
    await record({ ...base, instanceId: 'i-0000000000000000b', outcome: { state: 'rolled-back' } });
    await record({ ...base, instanceId: 'i-0000000000000000c', outcome: { state: 'failed' } });
    await record({ ...base, instanceId: 'i-0000000000000000c', outcome: { state: 'failed' } });
    expect(states).toEqual(['ok', 'rolled-back', 'failed']);
  });
});

describe('the EMF record the dashboard reads', () => {
  it('a count with dimensions is published at once with service, source and outcome as its dimensions', () => {
    const written: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    try {
      countMetric(METRICS.requests, 1, { [METRIC_DIMENSIONS.source]: 'chatops', [METRIC_DIMENSIONS.outcome]: 'accepted' });
    } finally {
      spy.mockRestore();
    }
    const record = JSON.parse(written.find((line) => line.includes('"_aws"'))!);
    expect(record._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: METRICS.namespace, Metrics: [{ Name: METRICS.requests, Unit: 'Count' }] });
    expect([...record._aws.CloudWatchMetrics[0].Dimensions[0]].sort()).toEqual(['outcome', 'service', 'source']);
    expect(record).toMatchObject({ service: METRICS.service, source: 'chatops', outcome: 'accepted', Requests: 1 });
  });
});

describe('SSM throttles', () => {
  let server: Server;
  let url: string;
  let throttleNext = 0;
  beforeAll(async () => {
    // A real HTTP endpoint answering as SSM does when it throttles (400, awsJson1.1 error shape).
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (throttleNext > 0) {
          throttleNext -= 1;
          res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': 'ThrottlingException' });
          res.end(JSON.stringify({ __type: 'ThrottlingException', message: 'Rate exceeded' }));
          return;
        }
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify({ InstanceInformationList: [{ InstanceId: INSTANCE_A, PingStatus: 'Online', PlatformType: 'Windows', ComputerName: 'B1' }] }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const client = (count: () => void) =>
    countThrottledAttempts(new SSMClient({ region: 'eu-west-1', endpoint: url, credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 4, retryMode: 'standard' }), count);

  it('every throttled answer is counted, also those the SDK retried successfully', async () => {
    let throttled = 0;
    throttleNext = 2;
    const found = await new SsmBeaconCommands(client(() => void (throttled += 1))).findManagedInstances({ instanceIds: [INSTANCE_A] });
    expect(found).toEqual([{ instanceId: INSTANCE_A, computerName: 'B1', platformType: 'Windows', pingStatus: 'Online' }]);
    expect(throttled).toBe(2);
  });

  it('a call still throttled after the SDK gave up counts each attempt and reaches the workflow as ThrottledError', async () => {
    let throttled = 0;
    throttleNext = 4;
    await expect(new SsmBeaconCommands(client(() => void (throttled += 1))).findManagedInstances({})).rejects.toMatchObject({ name: 'ThrottledError' });
    expect(throttled).toBe(4);
  });

  it('other failures are not counted as throttles', async () => {
    let throttled = 0;
    const ssm = client(() => void (throttled += 1));
    ssm.middlewareStack.add(() => async () => {
      throw Object.assign(new Error('no'), { name: 'InvalidInstanceId' });
    }, { step: 'deserialize', priority: 'low' });
    await expect(ssm.send(new DescribeInstanceInformationCommand({}))).rejects.toMatchObject({ name: 'InvalidInstanceId' });
    expect(throttled).toBe(0);
  });
});
