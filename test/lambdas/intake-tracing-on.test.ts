/**
 * SDK-call tracing of the intake is opt-in (stack setting traceSdkCalls -> TRACE_SDK_CALLS), decided when the module
 * loads. test/infra/bundling.test.ts checks the same in a child process, which the mutation run cannot see; this
 * file loads the module in-process, as Lambda would (the tracer is on only inside Lambda).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV } from '../../lambdas/aws/env-names.js';

const saved = { ...process.env };
beforeAll(() => {
  Object.assign(process.env, {
    AWS_REGION: 'eu-west-1',
    AWS_LAMBDA_FUNCTION_NAME: 'intake',
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
    [ENV.traceSdkCalls]: 'true',
  });
});
afterAll(() => {
  process.env = saved;
});

describe('SDK-call tracing of the intake', () => {
  it('traceSdkCalls=true: every SDK client the intake builds traces its calls (X-Ray subsegments)', async () => {
    await import('../../lambdas/intake/handler.js');
    const { instrumented } = await import('../../lambdas/aws/clients/sdk.js');
    expect(instrumented(new DynamoDBClient({})).middlewareStack.identify()).toContain('XRaySDKInstrumentation - build');
  });
});
