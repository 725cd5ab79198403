/**
 * The operator CLI against a "deployed" stack: the stack outputs come from CloudFormation (mocked with
 * aws-sdk-client-mock), the API is the local server behind a stand-in of API Gateway that verifies
 * Signature Version 4 (computed independently of the SDK that signs) and applies the stack's resource
 * policy, and the credentials come from the SDK's default chain (environment variables here).
 */
import { request as httpRequest } from 'node:http';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@smithy/core/checksum';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { apiResourcePolicy } from '../../infra/constructs/requests-api.js';
import { STACK_OUTPUTS } from '../../infra/stack-outputs.js';
import { type ApiGatewayFront, GATEWAY_MESSAGES, startApiGatewayFront } from '../../local/api-gateway-front.js';
import { freshBeacon } from '../../local/beacon-model.js';
import { BUILTIN_BEACON_VERSION } from '../../local/builtin-fleet.js';
import { type Io, main } from '../../local/cli.js';
import type { PolicyStatementJson } from '../../local/iam-policy.js';
import { NOT_RECORDED_GRACE_MINUTES, type RemoteDeps } from '../../local/remote.js';
import { type LocalServer, startLocalServer } from '../../local/server.js';
import { type Harness, requestFor, startTwin } from '../e2e/twin-harness.js';

const REGION = 'eu-west-1';
const ACCOUNT = '123456789012';
const STACK = 'BeaconProxyTest';
const BEACON_A = 'i-0c110000000000a01';
const BEACON_B = 'i-0c110000000000a02';

const identity = (name: string, keyId: string) => ({ arn: `arn:aws:iam::${ACCOUNT}:role/${name}`, keyId, secret: `${name}-secret-access-key` });
const OPERATOR = identity('beacon-operator', 'AKIAOPERATOR00000001');
/** An SSO role: its name ends in a random suffix, so the context names it with a wildcard. */
const READER = { ...identity('aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_BeaconReadOnly_0a1b2c3d', 'AKIAREADER0000000001') };
const ADMIN = identity('account-admin', 'AKIAADMIN00000000001');
/** Everyone may call execute-api by their own IAM policy: only the resource policy tells them apart. */
const INVOKE_ANYTHING: PolicyStatementJson[] = [{ Effect: 'Allow', Action: 'execute-api:Invoke', Resource: '*' }];

const resourcePolicy = apiResourcePolicy({
  submit: [OPERATOR.arn],
  read: [OPERATOR.arn, `arn:aws:iam::${ACCOUNT}:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_BeaconReadOnly_*`],
}).toJSON().Statement as PolicyStatementJson[];

let harness: Harness;
let server: LocalServer;
let front: ApiGatewayFront;
const cloudFormation = mockClient(CloudFormationClient);

beforeAll(async () => {
  harness = await startTwin(
    [
      { instanceId: BEACON_A, computerName: 'CLI-A', model: freshBeacon({ computerName: 'CLI-A', beaconVersion: BUILTIN_BEACON_VERSION }) },
      { instanceId: BEACON_B, computerName: 'CLI-B', model: freshBeacon({ computerName: 'CLI-B', beaconVersion: BUILTIN_BEACON_VERSION }) },
    ],
    { autoDeliver: true },
  );
  server = await startLocalServer(harness.twin);
  front = await startApiGatewayFront({
    target: server.url,
    region: REGION,
    stage: 'v1',
    accountId: ACCOUNT,
    resourcePolicy,
    identities: Object.fromEntries(
      [OPERATOR, READER, ADMIN].map((who) => [who.keyId, { secretAccessKey: who.secret, principalArn: who.arn, identityPolicy: INVOKE_ANYTHING }]),
    ),
  });
}, 60_000);

afterAll(async () => {
  await front?.close();
  await server?.close();
  await harness?.twin.stop();
});

beforeEach(() => {
  cloudFormation.reset();
  cloudFormation.on(DescribeStacksCommand, { StackName: STACK }).resolves({
    Stacks: [
      {
        StackName: STACK,
        CreationTime: new Date(),
        StackStatus: 'UPDATE_COMPLETE',
        Outputs: [
          { OutputKey: STACK_OUTPUTS.apiUrl, OutputValue: front.url },
          { OutputKey: STACK_OUTPUTS.intakeQueueUrl, OutputValue: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/intake` },
        ],
      },
    ],
  });
  signInAs(OPERATOR);
});

afterEach(() => {
  for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) delete process.env[name];
});

/** The default credential chain reads these first: the CLI is given no credentials of its own. */
function signInAs(who: { keyId: string; secret: string }): void {
  process.env.AWS_ACCESS_KEY_ID = who.keyId;
  process.env.AWS_SECRET_ACCESS_KEY = who.secret;
  delete process.env.AWS_SESSION_TOKEN;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], stdin = '', deps: Partial<RemoteDeps> = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const io: Io = { stdout: (text) => void (stdout += text), stderr: (text) => void (stderr += text), readStdin: async () => stdin, isTTY: false };
  const code = await main([...args, '--stack', STACK, '--region', REGION], io, { sleep: () => new Promise((resolve) => setTimeout(resolve, 25)), ...deps });
  return { code, stdout, stderr };
}

const forwarded = () => front.log.filter((entry) => entry.reason === 'forwarded').length;

describe('beacon-proxy submit / status against the deployed stack', () => {
  it('a plan (submit --dry-run --watch) lists per beacon every value a run would change, current -> wanted', async () => {
    const request = requestFor([BEACON_A, BEACON_B], { requestId: 'cli-plan-fresh' });
    const run = await cli(['submit', '-', '--dry-run', '--watch', '--interval', '1'], JSON.stringify(request));
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('Plan (current -> wanted):');
    expect(run.stdout).toMatch(new RegExp(`${BEACON_A}: would change \\d+ value\\(s\\), current -> wanted:\n`));
    expect(run.stdout).toContain('  registry:Common\\https_proxy: absent -> REG_SZ https://proxy.corp.example:8080\n');
    expect(run.stdout).toContain('  service:logon: NT AUTHORITY\\SYSTEM -> CORP\\svc-beacon\n');
  });

  it('submit signs the call with the caller\'s credentials, --watch shows each beacon with a progress bar until all are final', async () => {
    const request = requestFor([BEACON_A, BEACON_B], { requestId: 'cli-submit-watch' });
    const run = await cli(['submit', '-', '--watch', '--interval', '1'], JSON.stringify(request));
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const [accepted] = run.stdout.split('\nrequest ');
    expect(JSON.parse(accepted!)).toMatchObject({ requestId: 'cli-submit-watch' });
    expect(run.stdout).toMatch(new RegExp(`${BEACON_A}\\s+ok\\s+\\[#{20}\\]`));
    expect(run.stdout).toMatch(/2 beacon\(s\): 2 ok\s+\[#{20}\] 2 of 2 final\n/);
    // The watch ends with the request: its rollout and the FNMS pin it decided once for its beacons.
    expect(run.stdout).toMatch(new RegExp(`rollout: completed: every beacon finished; 2 of 2 started, 2 finished, 0 failed\\n  FNMS pin \\(gateway\\): (pinned|unchanged) ${BEACON_VERSION_PATTERN}\\n$`));
    expect(front.log.find((entry) => entry.method === 'POST')).toMatchObject({ principal: OPERATOR.arn, path: '/v1/requests', status: 202 });
  });

  it('status without --watch shows the state once; a read-only role may read', async () => {
    signInAs(READER);
    const run = await cli(['status', 'cli-submit-watch']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('request cli-submit-watch: completed (from api');
    // Caller identity: the SigV4 signer, as API Gateway (here the verifying front) hands it to the function.
    expect(run.stdout).toContain(`requested by ${OPERATOR.arn}`);
    expect(run.stdout).toContain(`${BEACON_B}`);
    expect(front.log.at(-1)).toMatchObject({ principal: READER.arn, method: 'GET', status: 200 });
  });

  it('status --diff shows each final beacon\'s changes, id: before -> after; a plan of configured beacons says no change', async () => {
    signInAs(READER);
    const run = await cli(['status', 'cli-submit-watch', '--diff']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Changes (before -> after):');
    expect(run.stdout).toMatch(new RegExp(`${BEACON_B}: ok, changed \\d+ value\\(s\\):\n`));
    expect(run.stdout).toContain('  service:logon: NT AUTHORITY\\SYSTEM -> CORP\\svc-beacon\n');
    expect(run.stdout).toContain('  credential: none -> updated\n');
    signInAs(OPERATOR);
    const plan = await cli(['submit', '-', '--dry-run', '--watch', '--interval', '1'], JSON.stringify(requestFor([BEACON_A, BEACON_B], { requestId: 'cli-plan-done' })));
    expect(plan.stdout).toContain(`${BEACON_A}: no change (already as requested)`);
    expect(plan.stdout).toContain(`${BEACON_B}: no change (already as requested)`);
  });

  it('cancel, go and confirm-pin are signed operator actions: a request that ended refuses cancel (ALREADY_ENDED, exit 2); an unknown pin is PIN_NOT_PENDING; a reader may not act', async () => {
    signInAs(OPERATOR);
    const cancel = await cli(['cancel', 'cli-submit-watch', '--rollback']);
    expect(cancel.code).toBe(2);
    expect(JSON.parse(cancel.stdout)).toMatchObject({ error: { code: 'ALREADY_ENDED', field: 'requestId' } });
    expect(front.log.at(-1)).toMatchObject({ principal: OPERATOR.arn, method: 'POST', path: '/v1/requests/cli-submit-watch/cancel', status: 409 });
    const confirm = await cli(['confirm-pin', 'pin-nobody-asked']);
    expect(confirm.code).toBe(2);
    expect(JSON.parse(confirm.stdout)).toMatchObject({ error: { code: 'PIN_NOT_PENDING' } });
    signInAs(READER);
    const go = await cli(['go', 'cli-submit-watch']);
    expect(go.code).toBe(1);
    expect(front.log.at(-1)).toMatchObject({ principal: READER.arn, path: '/v1/requests/cli-submit-watch/go', status: 403 });
  });

  it('a read-only role may not submit: exit 1, the message names the context that admits submitters, nothing is queued', async () => {
    signInAs(READER);
    const before = forwarded();
    const run = await cli(['submit', '-'], JSON.stringify(requestFor([BEACON_A], { requestId: 'cli-reader-submit' })));
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('not authorized to submit the request');
    expect(run.stderr).toContain('with an explicit deny');
    expect(run.stderr).toContain('apiSubmitPrincipals');
    expect(forwarded()).toBe(before);
    expect(await harness.twin.store.getRequestStatus('cli-reader-submit')).toBeNull();
  });

  it('an account administrator whose own IAM policy allows execute-api:Invoke on * is still refused (explicit deny)', async () => {
    signInAs(ADMIN);
    const submit = await cli(['submit', '-'], JSON.stringify(requestFor([BEACON_A], { requestId: 'cli-admin' })));
    expect(submit.code).toBe(1);
    expect(submit.stderr).toContain(`User: ${ADMIN.arn} is not authorized`);
    const read = await cli(['status', 'cli-submit-watch']);
    expect(read.code).toBe(1);
    expect(read.stderr).toContain('apiReadPrincipals');
  });

  it('plan returns the desired state from the stack and changes nothing', async () => {
    const run = await cli(['plan', '-'], JSON.stringify(requestFor([BEACON_A], { requestId: 'cli-plan' })));
    expect(run.code).toBe(0);
    const plan = JSON.parse(run.stdout);
    expect(plan).toMatchObject({ requestId: 'cli-plan', changed: false });
    expect(plan.desiredState.protocol).toBe('https');
    expect(await harness.twin.store.getRequestStatus('cli-plan')).toBeNull();
  });

  it('a request a rule refuses exits 2 with the same error JSON as validate, before any AWS call', async () => {
    const before = front.log.length;
    const run = await cli(['submit', '-'], JSON.stringify(requestFor([BEACON_A], { proxy: 'http://proxy.corp.example/wpad.dat' })));
    expect(run.code).toBe(2);
    expect(JSON.parse(run.stdout)).toEqual({ error: { code: 'PAC_UNSUPPORTED', message: expect.any(String), field: 'proxy' } });
    expect(front.log.length).toBe(before);
    expect(cloudFormation.commandCalls(DescribeStacksCommand)).toHaveLength(0);
  });

  it('rerun runs a recorded request again as a new, linked request (--watch until final); a reader may not re-run', async () => {
    signInAs(READER);
    const refused = await cli(['rerun', 'cli-submit-watch']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('apiSubmitPrincipals');
    signInAs(OPERATOR);
    const run = await cli(['rerun', 'cli-submit-watch', '--watch', '--interval', '1']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const answer = JSON.parse(run.stdout.split('\nrequest ')[0]!) as { requestId: string; rerunOf: string };
    expect(answer).toMatchObject({ rerunOf: 'cli-submit-watch', requestId: expect.stringMatching(/^cli-submit-watch\.rerun-/) });
    expect(run.stdout).toMatch(/2 beacon\(s\): 2 ok\s+\[#{20}\] 2 of 2 final\n(  .*\n)*$/);
    expect(front.log.find((entry) => entry.path === '/v1/requests/cli-submit-watch/rerun' && entry.status === 202)).toMatchObject({ principal: OPERATOR.arn });
    expect((await harness.twin.store.getRequestStatus(answer.requestId))?.request.rerunOf).toBe('cli-submit-watch');
  });

  it('rerun of an unknown request exits 2 with NOT_FOUND; a path-shaped id is refused before any call', async () => {
    const unknown = await cli(['rerun', 'no-such-request']);
    expect(unknown.code).toBe(2);
    expect(JSON.parse(unknown.stdout).error.code).toBe('NOT_FOUND');
    const before = front.log.length;
    const dots = await cli(['rerun', '..']);
    expect(dots.code).toBe(2);
    expect(JSON.parse(dots.stdout).error).toMatchObject({ code: 'INVALID_REQUEST', field: 'id' });
    expect(front.log.length).toBe(before);
  });

  it('status of an unknown request exits 2 with NOT_FOUND on stdout', async () => {
    const run = await cli(['status', 'no-such-request']);
    expect(run.code).toBe(2);
    expect(JSON.parse(run.stdout).error.code).toBe('NOT_FOUND');
  });

  it('status --watch of a request the intake never records gives up after the grace period with NOT_FOUND and a hint', async () => {
    let now = Date.parse('2026-12-02T10:00:00Z');
    const run = await cli(['status', 'never-recorded', '--watch', '--interval', '60'], '', {
      now: () => new Date(now),
      sleep: async (ms) => void (now += ms),
    });
    expect(run.code).toBe(2);
    expect(run.stdout).toContain('not recorded yet (waiting for the intake)');
    const error = JSON.parse(run.stdout.slice(run.stdout.indexOf('{')));
    expect(error.error).toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining(`after ${NOT_RECORDED_GRACE_MINUTES} minutes`) });
    expect(error.error.message).toContain('dead-letter queue');
  });

  it('an unknown stack, or one without the ApiUrl output, exits 1 and says what to check', async () => {
    cloudFormation.on(DescribeStacksCommand).rejects(Object.assign(new Error(`Stack with id ${STACK} does not exist`), { name: 'ValidationError' }));
    const missing = await cli(['status', 'cli-submit-watch']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`no stack "${STACK}" in ${REGION}`);
    cloudFormation.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: STACK, CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE', Outputs: [] }] });
    const old = await cli(['status', 'cli-submit-watch']);
    expect(old.code).toBe(1);
    expect(old.stderr).toContain(`has no output ${STACK_OUTPUTS.apiUrl}`);
  });

  it('--stack is required', async () => {
    let stderr = '';
    const code = await main(['status', 'x'], { stdout: () => undefined, stderr: (text) => void (stderr += text), readStdin: async () => '' });
    expect(code).toBe(1);
    expect(stderr).toContain('--stack NAME is required');
  });
});

const BEACON_VERSION_PATTERN = BUILTIN_BEACON_VERSION.replace(/\./g, '\\.');

/** A raw call to the front, optionally signed, to see what it refuses. */
function rawCall(path: string, body: string, headers: Record<string, string>): Promise<{ status: number; body: { message?: string } }> {
  const url = new URL(path, front.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers }, (res) => {
      let text = '';
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function signedHeaders(path: string, body: string, who: { keyId: string; secret: string }, options: { region?: string; service?: string; at?: Date } = {}) {
  const url = new URL(path, front.url);
  const signer = new SignatureV4({ service: options.service ?? 'execute-api', region: options.region ?? REGION, credentials: { accessKeyId: who.keyId, secretAccessKey: who.secret }, sha256: Sha256 });
  const signed = await signer.sign(
    { method: 'POST', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: url.pathname, query: {}, headers: { host: url.host, 'content-type': 'application/json' }, body },
    options.at ? { signingDate: options.at } : {},
  );
  return signed.headers as Record<string, string>;
}

describe('the SigV4-verifying front (API Gateway\'s IAM authorization, locally)', () => {
  const body = JSON.stringify(requestFor([BEACON_A], { requestId: 'front-raw' }));

  it('a request without a signature is refused with API Gateway\'s message', async () => {
    const response = await rawCall('plans', body, { 'content-type': 'application/json' });
    expect(response).toEqual({ status: 403, body: { message: GATEWAY_MESSAGES.missingToken } });
  });

  it('a correctly signed request passes (the SDK signs, the front recomputes the signature from the specification)', async () => {
    const response = await rawCall('plans', body, await signedHeaders('plans', body, OPERATOR));
    expect(response.status).toBe(200);
  });

  it('a wrong secret, a body changed after signing, another region or service, or an old signature are refused', async () => {
    const wrongSecret = await rawCall('plans', body, await signedHeaders('plans', body, { ...OPERATOR, secret: 'not-the-secret' }));
    expect(wrongSecret).toEqual({ status: 403, body: { message: GATEWAY_MESSAGES.signatureMismatch } });
    const tampered = await rawCall('plans', body.replace('proxy.corp.example', 'evil.example.com'), await signedHeaders('plans', body, OPERATOR));
    expect(tampered.status).toBe(403);
    const region = await rawCall('plans', body, await signedHeaders('plans', body, OPERATOR, { region: 'us-east-1' }));
    expect(region.body.message).toContain('region');
    const service = await rawCall('plans', body, await signedHeaders('plans', body, OPERATOR, { service: 's3' }));
    expect(service.body.message).toContain("'execute-api'");
    const stale = await rawCall('plans', body, await signedHeaders('plans', body, OPERATOR, { at: new Date(Date.now() - 10 * 60_000) }));
    expect(stale.body.message).toContain('Signature expired');
    const unknownKey = await rawCall('plans', body, await signedHeaders('plans', body, { keyId: 'AKIAUNKNOWN000000001', secret: 'x' }));
    expect(unknownKey.body.message).toBe(GATEWAY_MESSAGES.invalidToken);
  });

});

describe('beacon-proxy beacon / rollback / retry (per-beacon day-2 commands) against the deployed stack', () => {
  it('a read-only role reads a beacon\'s history but may not roll it back; the operator rolls it back (signed), sees it final, and the history names who did it', async () => {
    signInAs(READER);
    const history = await cli(['beacon', BEACON_B]);
    expect(history.code).toBe(0);
    expect(history.stdout).toMatch(new RegExp(`beacon ${BEACON_B}: \\d+ run\\(s\\), newest first`));
    expect(history.stdout).toMatch(/cli-submit-watch\s+configure\s+ok\s+proxy proxy\.corp\.example:8080, from api/);
    const before = forwarded();
    const refused = await cli(['rollback', BEACON_B]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('apiSubmitPrincipals');
    expect(forwarded()).toBe(before);

    signInAs(OPERATOR);
    const rollback = await cli(['rollback', BEACON_B, '--watch', '--diff', '--interval', '1']);
    expect(rollback.code, rollback.stderr).toBe(0);
    const { requestId, restores } = JSON.parse(rollback.stdout.split('\nrequest ')[0]!) as { requestId: string; restores: string };
    // The run that changed the beacon; a re-run that found it already right (an earlier test) is passed over.
    expect(restores).toBe('cli-submit-watch');
    expect(rollback.stdout).toMatch(new RegExp(`${BEACON_B}\\s+rolled-back\\s+\\[#{20}\\]`));
    expect(rollback.stdout).toMatch(/service:logon: CORP\\svc-beacon -> NT AUTHORITY\\SYSTEM/);
    expect((await harness.twin.store.getRequestStatus(requestId))!.request.requestedBy).toBe(OPERATOR.arn);

    const after = await cli(['beacon', BEACON_B, '--limit', '1']);
    expect(after.stdout).toContain(`${requestId}  rollback  rolled-back restore the capture of cli-submit-watch, from api by ${OPERATOR.arn}  (rollback of cli-submit-watch)`);
    expect(after.stdout).toMatch(/older runs: add --cursor \S+ \(or --all\)/);
    const again = await cli(['rollback', BEACON_B]);
    expect(again.code).toBe(2);
    expect(JSON.parse(again.stdout)).toMatchObject({ error: { code: 'ALREADY_ROLLED_BACK', field: 'instanceId' } });
  }, 180_000);

  it('an instance id that is not an SSM id exits 2 with INVALID_INSTANCE_ID before any call', async () => {
    const before = front.log.length;
    const run = await cli(['retry', 'i-nothex']);
    expect(run.code).toBe(2);
    expect(JSON.parse(run.stdout)).toMatchObject({ error: { code: 'INVALID_INSTANCE_ID' } });
    expect(front.log.length).toBe(before);
  });
});
