import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';

export const INSTANCE_A = 'i-0123456789abcdef0';
export const INSTANCE_B = 'i-0fedcba9876543210';
export const BEACON_TAG = { key: 'beacon-proxy:role', value: 'flexnet-beacon' };

export function validRequest(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    requestId: 'req-test-1',
    target: { instanceIds: [INSTANCE_A] },
    protocol: 'https',
    proxy: 'proxy.corp.example:8080',
    account: { kind: 'gmsa', name: 'CORP\\svc-beacon$' },
    beaconVersion: { pin: 'current' },
    ...overrides,
  };
}

export function sqsRecord(body: string, messageId: string, attributes: Record<string, string> = {}): SQSRecord {
  return {
    messageId,
    receiptHandle: `receipt-${messageId}`,
    body,
    attributes: { ApproximateReceiveCount: '1', SentTimestamp: '0', SenderId: 'test', ApproximateFirstReceiveTimestamp: '0' },
    messageAttributes: Object.fromEntries(Object.entries(attributes).map(([name, value]) => [name, { dataType: 'String', stringValue: value, stringListValues: [], binaryListValues: [] }])),
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:eu-west-1:123456789012:intake',
    awsRegion: 'eu-west-1',
  };
}

export const sqsEvent = (...records: SQSRecord[]): SQSEvent => ({ Records: records });

export const lambdaContext = {
  functionName: 'intake',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:intake',
  memoryLimitInMB: '512',
  awsRequestId: 'aws-request-1',
  logGroupName: '/aws/lambda/intake',
  logStreamName: 'stream',
  callbackWaitsForEmptyEventLoop: false,
  getRemainingTimeInMillis: () => 30_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
} as Context;

/** A result line as the beacon documents print it. */
export function resultLine(overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({ ok: true, changed: ['Common\\https_proxy'], checks: [{ name: 'Common\\https_proxy', expected: 'https://proxy.corp.example:8080', actual: 'https://proxy.corp.example:8080', ok: true }], beaconVersion: '13.2.0', captureId: 'req-test-1', error: null, ...overrides });
}
