/**
 * SendConfigure (issue 14): the probe URL the stack is configured with reaches the beacon's desired state, a
 * request's own probe URL wins, and the CRL switch is audited only when a request turns the check off. The last
 * test runs the Lambda module itself as the stack wires it (environment, SSM client).
 */
import { ListCommandsCommand, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { decodeDesiredState } from '../../lambdas/core/desired-state.js';
import { DOCUMENT_PARAMETERS } from '../../lambdas/core/document-contract.js';
import { ENV } from '../../lambdas/aws/env-names.js';
import { createSendCommandHandler } from '../../lambdas/send-command/handler.js';
import { FixedClock, MemoryBeaconCommands, MemoryRequestStore } from '../../lambdas/memory/ports.js';
import { StackConfigSchema, workflowTimingFor } from '../../infra/config.js';
import { INSTANCE_A, lambdaContext, validRequest } from './fixtures.js';

const TIMING = workflowTimingFor(StackConfigSchema.parse({}));
const DOCUMENT_NAMES = { configure: 'BeaconProxy-Configure-Test', verify: 'BeaconProxy-Verify-Test', rollback: 'BeaconProxy-Rollback-Test' };
const STACK_PROBE = 'https://fnms.corp.example/ManageSoftRL/';
const comment = 'configure req-test-1--i-0123456789abcdef0';

let commands: MemoryBeaconCommands;
let store: MemoryRequestStore;

beforeEach(() => {
  commands = new MemoryBeaconCommands();
  store = new MemoryRequestStore();
});

const send = (probeUrl?: string | null) =>
  createSendCommandHandler({ commands, store, clock: new FixedClock(), documentNames: DOCUMENT_NAMES, timing: TIMING, ...(probeUrl !== undefined ? { probeUrl } : {}) });
const sentProbe = (index = 0) => decodeDesiredState(commands.sent[index]!.parameters[DOCUMENT_PARAMETERS.desiredState.name]![0]!).probe;

describe('the endpoint probe of a configure run', () => {
  it('the probe URL configured on the stack reaches the beacon\'s desired state', async () => {
    await send(STACK_PROBE)({ document: 'configure', requestId: 'req-test-1', instanceId: INSTANCE_A, request: validRequest(), comment });
    expect(sentProbe()).toEqual({ url: STACK_PROBE });
  });

  it('a request\'s own probe URL wins over the stack\'s', async () => {
    await send(STACK_PROBE)({ document: 'configure', requestId: 'req-test-1', instanceId: INSTANCE_A, request: validRequest({ probeUrl: 'https://other-fnms.corp.example/ManageSoftRL/' }), comment });
    expect(sentProbe()).toEqual({ url: 'https://other-fnms.corp.example/ManageSoftRL/' });
  });

  it('without a stack probe URL (or with none) the beacon probes nothing', async () => {
    await send()({ document: 'configure', requestId: 'req-test-1', instanceId: INSTANCE_A, request: validRequest(), comment });
    await send(null)({ document: 'configure', requestId: 'req-test-1', instanceId: INSTANCE_A, request: validRequest(), comment: `${comment}-2` });
    expect([sentProbe(0), sentProbe(1)]).toEqual([null, null]);
  });
});

describe('the CRL switch', () => {
  it('a request that leaves the revocation check alone writes nothing to the audit trail', async () => {
    await send(STACK_PROBE)({ document: 'configure', requestId: 'req-test-1', instanceId: INSTANCE_A, request: validRequest(), comment });
    expect(store.audit.size).toBe(0);
  });

  it('a request that turns the check back on writes nothing either: only turning it off is audited', async () => {
    await send()({ document: 'configure', requestId: 'req-test-1', instanceId: INSTANCE_A, request: validRequest({ checkCertificateRevocation: { disable: false } }), comment });
    expect(store.audit.size).toBe(0);
  });
});

describe('the SendConfigure Lambda as the stack wires it', () => {
  const ssm = mockClient(SSMClient);
  const saved = { ...process.env };
  afterAll(() => {
    ssm.restore();
    process.env = saved;
  });

  it('the stack\'s ENDPOINT_PROBE_URL reaches the desired state SendCommand carries, with the stack\'s document name', async () => {
    Object.assign(process.env, {
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      [ENV.tableName]: 'beacon-proxy-test',
      [ENV.documentNames]: JSON.stringify(DOCUMENT_NAMES),
      [ENV.workflowTiming]: JSON.stringify(TIMING),
      [ENV.endpointProbeUrl]: STACK_PROBE,
    });
    ssm.on(ListCommandsCommand).resolves({ Commands: [] });
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-wired-1' } });
    // A fresh module: the Lambda entry builds its dependencies on the first invocation of the module (a cold start).
    vi.resetModules();
    const { handler } = await import('../../lambdas/send-command/handler.js');
    const result = await handler({ document: 'configure', requestId: 'req-test-1', instanceId: INSTANCE_A, request: validRequest(), comment }, lambdaContext);
    expect(result).toMatchObject({ kind: 'configure', commandId: 'cmd-wired-1' });
    const input = ssm.commandCalls(SendCommandCommand)[0]!.args[0].input;
    expect(input.DocumentName).toBe(DOCUMENT_NAMES.configure);
    expect(decodeDesiredState(input.Parameters![DOCUMENT_PARAMETERS.desiredState.name]![0]!).probe).toEqual({ url: STACK_PROBE });
  });
});
