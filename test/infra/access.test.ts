/**
 * Who may do what, read from the synthesized template: the API's resource policy (submit vs read, deny by
 * default), the chat function's narrow table access, service principals held to this account, secrets
 * under customer keys, FNMS over https, and the managed policy for the beacons' instance role.
 */
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { API_PERMISSIONS } from '../../infra/constructs/requests-api.js';
import { PASSWORD_VIA_SERVICES } from '../../infra/constructs/beacon-instance-policy.js';
import { STACK_OUTPUTS } from '../../infra/stack-outputs.js';
import { apiGatewayDecision } from '../../local/api-gateway-front.js';
import { type PolicyStatementJson, evaluatePolicies } from '../../local/iam-policy.js';
import { BEACON_INSTANCE_ROLE_ARN, deployedModuleBucket, documentsFor } from '../../local/module-bucket.js';
import { MODULE_KEY_PREFIX, loadModuleFile, moduleLocationOf } from '../../ssm-documents/documents.js';
import { synthStack } from './synth.js';

const ACCOUNT = '123456789012';
const OPERATOR = `arn:aws:iam::${ACCOUNT}:role/beacon-operator`;
const READERS = `arn:aws:iam::${ACCOUNT}:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_BeaconReadOnly_*`;
const SECRET_KEY = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const BEACON_KEY = 'arn:aws:kms:eu-west-1:123456789012:key/mrk-0123456789abcdef0123456789abcdef';
const BEACON_SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:beacon/svc-beacon-AbCdEf';
const BEACON_SECRETS_PREFIX = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:beacon/pool/*';

type Resources = Record<string, { Type: string; Properties: Record<string, any> }>;

let configured: ReturnType<typeof synthStack>;
let defaults: ReturnType<typeof synthStack>;
let resources: Resources;

beforeAll(() => {
  configured = synthStack({
    apiSubmitPrincipals: OPERATOR,
    apiReadPrincipals: `${OPERATOR},${READERS}`,
    secretKmsKeyArns: SECRET_KEY,
    beaconSecretArns: `${BEACON_SECRET},${BEACON_SECRETS_PREFIX}`,
    beaconParameterNames: '/beacon-proxy/passwords/svc-local,/beacon-proxy/passwords/pool/*',
    beaconKmsKeyArns: BEACON_KEY,
    pinMode: 'gateway',
    gatewayUrl: 'https://fnms-gateway.corp.example',
    chatAllowedUsers: 'U012ABC',
    chatAllowedChannels: 'C034DEF',
  });
  defaults = synthStack();
  resources = configured.template.toJSON().Resources;
});

const ofType = (all: Resources, type: string) => Object.entries(all).filter(([, resource]) => resource.Type === type);

function roleStatements(all: Resources, policyPrefix: string): PolicyStatementJson[] {
  return ofType(all, 'AWS::IAM::Policy')
    .filter(([id]) => id.startsWith(policyPrefix))
    .flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement as PolicyStatementJson[]);
}

function apiPolicy(all: Resources): PolicyStatementJson[] {
  const apis = ofType(all, 'AWS::ApiGateway::RestApi');
  expect(apis).toHaveLength(1);
  return apis[0]![1].Properties.Policy.Statement as PolicyStatementJson[];
}

describe('1. the API admits only the principals named for each permission', () => {
  const call = (statements: PolicyStatementJson[], principalArn: string, method: string, path: string, identityPolicy: PolicyStatementJson[] = []) =>
    apiGatewayDecision(statements, identityPolicy, { principalArn, resource: `arn:aws:execute-api:eu-west-1:${ACCOUNT}:api1/v1/${method}${path}`, apiPrefix: `arn:aws:execute-api:eu-west-1:${ACCOUNT}:api1/` });
  const ssoReader = `arn:aws:iam::${ACCOUNT}:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_BeaconReadOnly_5f2e`;
  const invokeAnything: PolicyStatementJson[] = [{ Effect: 'Allow', Action: 'execute-api:Invoke', Resource: '*' }];

  it('submitting (every POST, future sub-resources included) and reading (GET) are separate permissions', () => {
    const policy = apiPolicy(resources);
    for (const path of ['/requests', '/plans', '/requests/chg-1/rerun', '/requests/chg-1/cancel']) {
      expect(call(policy, OPERATOR, 'POST', path), path).toBe('allow');
      expect(call(policy, ssoReader, 'POST', path, invokeAnything), path).toBe('explicit-deny');
    }
    expect(call(policy, ssoReader, 'GET', '/requests/chg-1')).toBe('allow');
    expect(call(policy, OPERATOR, 'GET', '/requests/chg-1')).toBe('allow');
  });

  it('deny by default: a principal of the account whose own IAM policy allows execute-api:Invoke on * is refused', () => {
    const policy = apiPolicy(resources);
    const admin = `arn:aws:iam::${ACCOUNT}:role/account-admin`;
    expect(call(policy, admin, 'POST', '/requests', invokeAnything)).toBe('explicit-deny');
    expect(call(policy, admin, 'GET', '/requests/chg-1', invokeAnything)).toBe('explicit-deny');
    // Why the Deny statements exist: within one account an Allow in the caller's own policy is enough.
    const allowOnly = policy.filter((statement) => statement.Effect === 'Allow');
    expect(call(allowOnly, admin, 'POST', '/requests', invokeAnything)).toBe('allow');
  });

  it('with no principals configured nobody may submit or read, whatever their own policy says', () => {
    const policy = apiPolicy(defaults.template.toJSON().Resources);
    expect(policy.every((statement) => statement.Effect === 'Deny' && statement.Condition === undefined)).toBe(true);
    expect(call(policy, OPERATOR, 'POST', '/requests', invokeAnything)).toBe('explicit-deny');
    expect(call(policy, OPERATOR, 'GET', '/requests/x', invokeAnything)).toBe('explicit-deny');
    Annotations.fromStack(defaults.stack).hasInfo('*', Match.stringLikeRegexp('The HTTPS API admits nobody'));
  });

  it('the resource policy is the template\'s: ArnLike on aws:PrincipalArn, the permission\'s methods as resources', () => {
    configured.template.hasResourceProperties('AWS::ApiGateway::RestApi', {
      Policy: {
        Statement: Match.arrayWith([
          Match.objectLike({ Sid: 'AllowSubmitToNamedPrincipals', Effect: 'Allow', Resource: [...API_PERMISSIONS.submit], Condition: { ArnLike: { 'aws:PrincipalArn': [OPERATOR] } } }),
          Match.objectLike({ Sid: 'DenySubmitToEveryoneElse', Effect: 'Deny', Resource: [...API_PERMISSIONS.submit], Condition: { ArnNotLike: { 'aws:PrincipalArn': [OPERATOR] } } }),
          Match.objectLike({ Sid: 'AllowReadToNamedPrincipals', Effect: 'Allow', Resource: [...API_PERMISSIONS.read], Condition: { ArnLike: { 'aws:PrincipalArn': [OPERATOR, READERS] } } }),
          Match.objectLike({ Sid: 'DenyReadToEveryoneElse', Effect: 'Deny', Resource: [...API_PERMISSIONS.read] }),
        ]),
      },
    });
  });
});

describe('3. least privilege at the edges', () => {
  it('the chat function touches the table only through request reads and replay-mark puts (leading keys), nothing else', () => {
    const chat = roleStatements(resources, 'ChatOpsHandler');
    const dynamo = chat.filter((statement) => [].concat(statement.Action as never).some((action: string) => action.startsWith('dynamodb:')));
    expect(dynamo).toEqual([
      expect.objectContaining({ Action: ['dynamodb:GetItem', 'dynamodb:Query'], Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['REQ#*'] } } }),
      expect.objectContaining({ Action: 'dynamodb:PutItem', Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['MARK#replay#*'] } } }),
    ]);
    for (const statement of dynamo) expect(statement.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^StateTable/), 'Arn'] });
    const actions = chat.flatMap((statement) => [].concat(statement.Action as never)) as string[];
    expect(actions).toEqual(expect.arrayContaining(['sqs:SendMessage', 'secretsmanager:GetSecretValue', 'ssm:GetParameter']));
    expect(actions.filter((action) => /^(states|ssm:SendCommand|sns|dynamodb:(Delete|Update|Batch|Scan))/.test(action))).toEqual([]);
  });

  it('every service principal in a KMS key or SNS topic policy is held to this account (no confused deputy)', () => {
    const documents = [
      ...ofType(resources, 'AWS::KMS::Key').map(([, key]) => key.Properties.KeyPolicy),
      ...ofType(resources, 'AWS::SNS::TopicPolicy').map(([, policy]) => policy.Properties.PolicyDocument),
    ];
    const services = documents.flatMap((document) => document.Statement.filter((statement: any) => statement.Principal?.Service));
    expect(services.length).toBeGreaterThanOrEqual(3);
    for (const statement of services) {
      const text = JSON.stringify(statement.Condition ?? {});
      if (JSON.stringify(statement.Principal).includes('logs.')) {
        // CloudWatch Logs sends no aws:SourceAccount to KMS: the encryption context names this account's log groups.
        expect(statement.Condition.ArnLike['kms:EncryptionContext:aws:logs:arn']['Fn::Join'][1]).toEqual(expect.arrayContaining([{ Ref: 'AWS::AccountId' }]));
        continue;
      }
      expect(text, statement.Sid).toContain('"aws:SourceAccount":{"Ref":"AWS::AccountId"}');
      expect(text, statement.Sid).toContain('aws:SourceArn');
      expect(text, statement.Sid).toContain(':alarm:*');
    }
  });

  it('every reader of a chat or FNMS secret may decrypt it with the configured customer key, through Secrets Manager only', () => {
    const readers = ofType(resources, 'AWS::IAM::Policy').filter(([, policy]) => JSON.stringify(policy.Properties.PolicyDocument).includes('secretsmanager:GetSecretValue'));
    // The chat function and the pin step (gateway configured; no inventory here, so the new-beacon function reads no secret).
    expect(readers.length).toBe(2);
    const decrypters = ofType(resources, 'AWS::IAM::Policy').filter(([, policy]) => JSON.stringify(policy.Properties.PolicyDocument).includes('DecryptSecretsWithTheirCustomerKey'));
    expect(decrypters.map(([id]) => id).sort()).toEqual(readers.map(([id]) => id).sort());
    for (const [id, policy] of readers) {
      const decrypt = (policy.Properties.PolicyDocument.Statement as PolicyStatementJson[]).find((statement) => statement.Sid === 'DecryptSecretsWithTheirCustomerKey');
      expect(decrypt, id).toMatchObject({ Action: 'kms:Decrypt', Resource: SECRET_KEY, Condition: { StringEquals: { 'kms:ViaService': expect.anything() } } });
      expect(JSON.stringify(decrypt!.Condition)).toContain('secretsmanager.');
    }
    expect(JSON.stringify(defaults.template.toJSON())).not.toContain('DecryptSecretsWithTheirCustomerKey');
  });
});

describe('4. FNMS over https only', () => {
  it('the default (pinMode operator: an operator sets and confirms the pin) synthesizes without the pins-nothing warning; pinMode none warns', () => {
    Annotations.fromStack(defaults.stack).hasNoWarning('*', Match.stringLikeRegexp('pins nothing'));
    Annotations.fromStack(synthStack({ pinMode: 'none' }).stack).hasWarning('*', Match.stringLikeRegexp('pinMode is none: deploying this stack pins nothing'));
  });

  it('a configured pin gateway synthesizes without that warning', () => {
    Annotations.fromStack(configured.stack).hasNoWarning('*', Match.stringLikeRegexp('pins nothing'));
  });

  it.each(['gatewayUrl', 'gatewayTokenUrl', 'fnmsUrl'])('an http %s fails the synth with the key named', (key) => {
    expect(() => synthStack({ [key]: 'http://fnms.corp.example' })).toThrow(`invalid context value ${key}: ${key} must be an https:// URL`);
  });
});

describe('6. the managed policy for beacon instance roles', () => {
  let statements: PolicyStatementJson[];
  beforeAll(() => {
    const policies = ofType(resources, 'AWS::IAM::ManagedPolicy');
    expect(policies).toHaveLength(1);
    statements = policies[0]![1].Properties.PolicyDocument.Statement as PolicyStatementJson[];
  });
  const sid = (name: string) => statements.find((statement) => statement.Sid === name);

  it('reads exactly the listed password secrets and parameters', () => {
    expect(sid('ReadBeaconPasswordSecrets')).toMatchObject({ Action: 'secretsmanager:GetSecretValue', Resource: [BEACON_SECRET, BEACON_SECRETS_PREFIX] });
    const parameters = JSON.stringify(sid('ReadBeaconPasswordParameters'));
    expect(parameters).toContain('"ssm:GetParameter"');
    expect(parameters).toContain(':parameter/beacon-proxy/passwords/svc-local"');
    expect(parameters).toContain(':parameter/beacon-proxy/passwords/pool/*"');
  });

  it('decrypts with their keys, only through Secrets Manager or Parameter Store', () => {
    expect(sid('DecryptBeaconPasswordsViaSecretsManagerOrParameterStore')).toEqual(
      expect.objectContaining({ Action: 'kms:Decrypt', Resource: BEACON_KEY, Condition: { StringLike: { 'kms:ViaService': [...PASSWORD_VIA_SERVICES] } } }),
    );
  });

  it('writes the documents\' output to the command log group, and nothing else', () => {
    expect(sid('WriteCommandOutput')).toMatchObject({
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
      Resource: { 'Fn::GetAtt': [expect.stringMatching(/^CommandOutputLogs/), 'Arn'] },
    });
    const actions = statements.flatMap((statement) => [].concat(statement.Action as never)) as string[];
    expect(actions.sort()).toEqual(
      ['kms:Decrypt', 'logs:CreateLogStream', 'logs:DescribeLogGroups', 'logs:DescribeLogStreams', 'logs:PutLogEvents', 's3:GetObject', 's3:ListBucket', 'secretsmanager:GetSecretValue', 'ssm:GetParameter'].sort(),
    );
  });

  it('is exported as a stack output for attaching to the beacons\' role', () => {
    configured.template.hasOutput(STACK_OUTPUTS.beaconInstancePolicyArn, {
      Value: { Ref: Match.stringLikeRegexp('^BeaconInstancePolicy') },
      Export: { Name: `BeaconProxy-${STACK_OUTPUTS.beaconInstancePolicyArn}` },
    });
  });

  it('with nothing listed it only downloads the documents\' module and writes command output (gMSA fleets need no password)', () => {
    const [policy] = ofType(defaults.template.toJSON().Resources, 'AWS::IAM::ManagedPolicy');
    expect(policy![1].Properties.PolicyDocument.Statement.map((statement: PolicyStatementJson) => statement.Sid)).toEqual(['ReadBeaconModule', 'LookUpBeaconModule', 'WriteCommandOutput', 'FindCommandOutputLogGroup']);
  });

  describe('reads the documents\' module, and nothing else of the module bucket', () => {
    const LOCAL_BUCKET = 'module-bucket-of-this-stack';
    /** The policy as IAM sees it once deployed: the module bucket's ARN in place of its GetAtt. */
    function deployedStatements(): PolicyStatementJson[] {
      const resolve = (value: unknown): unknown => {
        if (Array.isArray(value)) return value.map(resolve);
        if (value && typeof value === 'object') {
          const node = value as Record<string, unknown>;
          const getAtt = node['Fn::GetAtt'] as [string, string] | undefined;
          if (getAtt) {
            expect(getAtt[0]).toMatch(/^BeaconModuleBucket/);
            return `arn:aws:s3:::${LOCAL_BUCKET}`;
          }
          if (node['Fn::Join']) {
            const [separator, parts] = node['Fn::Join'] as [string, unknown[]];
            return parts.map(resolve).join(separator);
          }
          return Object.fromEntries(Object.entries(node).map(([key, inner]) => [key, resolve(inner)]));
        }
        return value;
      };
      return statements.filter((statement) => /Module/.test(statement.Sid ?? '')).map((statement) => resolve(statement) as PolicyStatementJson);
    }

    it('read only (GetObject, and ListBucket held by a prefix condition), on the module prefix of the stack\'s own bucket', () => {
      const module = resources[Object.keys(resources).find((id) => /^BeaconModuleBucket[0-9A-F]+$/.test(id))!];
      expect(module?.Type).toBe('AWS::S3::Bucket');
      expect(deployedStatements()).toEqual([
        { Sid: 'ReadBeaconModule', Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${LOCAL_BUCKET}/${MODULE_KEY_PREFIX}*` },
        { Sid: 'LookUpBeaconModule', Effect: 'Allow', Action: 's3:ListBucket', Resource: `arn:aws:s3:::${LOCAL_BUCKET}`, Condition: { StringLike: { 's3:prefix': `${MODULE_KEY_PREFIX}*` } } },
      ]);
    });

    it('aws:downloadContent with exactly this policy gets the module the documents pin (its ListObjects and GetObject pass); other keys, other buckets and writes are denied', () => {
      const policy = deployedStatements();
      const bucket = deployedModuleBucket(LOCAL_BUCKET, policy);
      const { url } = moduleLocationOf(documentsFor(bucket).configure);
      expect(bucket.download(url).equals(loadModuleFile())).toBe(true);
      // An object of the bucket outside the module prefix: the download is refused (AccessDenied), not served.
      bucket.put('other/notes.txt', 'not for beacons');
      expect(() => bucket.download(`https://${bucket.host}/other/notes.txt`)).toThrow(expect.objectContaining({ code: 'AccessDenied' }));
      // Without the policy's statements (SSM's managed core policy only) the agent's ListObjects is already denied.
      expect(() => deployedModuleBucket(LOCAL_BUCKET, []).download(url)).toThrow(expect.objectContaining({ code: 'AccessDenied' }));
      const request = (action: string, resource: string) => evaluatePolicies(policy, { principal: { arn: BEACON_INSTANCE_ROLE_ARN }, action, resource });
      const moduleObject = `arn:aws:s3:::${LOCAL_BUCKET}/${MODULE_KEY_PREFIX}${'0'.repeat(64)}.ps1`;
      for (const action of ['s3:PutObject', 's3:DeleteObject', 's3:PutObjectAcl', 's3:GetObjectVersion']) expect(request(action, moduleObject), action).toBe('implicit-deny');
      expect(request('s3:GetObject', `arn:aws:s3:::another-bucket/${MODULE_KEY_PREFIX}x.ps1`)).toBe('implicit-deny');
    });
  });
});

describe('cdk-nag with every access setting in use', () => {
  it('reports no unacknowledged finding (listed password prefixes are acknowledged with a reason)', () => {
    const report = new AwsSolutionsChecks().validateScope(configured.stack);
    expect(report.violations.map((violation) => `${violation.ruleName} at ${violation.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
  });
});

describe('per-beacon day-2 commands: the same submit/read split, least privilege', () => {
  const call = (principalArn: string, method: string, path: string) =>
    apiGatewayDecision(apiPolicy(resources), [{ Effect: 'Allow', Action: 'execute-api:Invoke', Resource: '*' }], {
      principalArn,
      resource: `arn:aws:execute-api:eu-west-1:${ACCOUNT}:api1/v1/${method}${path}`,
      apiPrefix: `arn:aws:execute-api:eu-west-1:${ACCOUNT}:api1/`,
    });
  const ssoReader = `arn:aws:iam::${ACCOUNT}:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_BeaconReadOnly_5f2e`;
  const beacon = '/beacons/i-0123456789abcdef0';

  it('a beacon\'s history is read; its rollback and retry are submit: a read-only role sees the history and can change nothing', () => {
    expect(call(ssoReader, 'GET', beacon)).toBe('allow');
    expect(call(OPERATOR, 'GET', beacon)).toBe('allow');
    for (const action of ['rollback', 'retry']) {
      expect(call(OPERATOR, 'POST', `${beacon}/${action}`), action).toBe('allow');
      expect(call(ssoReader, 'POST', `${beacon}/${action}`), action).toBe('explicit-deny');
    }
  });

  it('the routes exist with IAM authorization: GET /beacons/{instanceId}, POST .../rollback and .../retry', () => {
    const paths = Object.fromEntries(ofType(resources, 'AWS::ApiGateway::Resource').map(([id, r]) => [id, r.Properties.PathPart as string]));
    const methods = ofType(resources, 'AWS::ApiGateway::Method')
      .map(([, m]) => [m.Properties.HttpMethod as string, paths[m.Properties.ResourceId?.Ref as string], m.Properties.AuthorizationType as string])
      .filter(([, path]) => path === '{instanceId}' || path === 'rollback' || path === 'retry');
    expect(methods.sort()).toEqual([
      ['GET', '{instanceId}', 'AWS_IAM'],
      ['POST', 'retry', 'AWS_IAM'],
      ['POST', 'rollback', 'AWS_IAM'],
    ]);
  });

  it('the API function writes only request and pin items (leading keys REQ#, PIN#), starts only the beacon workflow, answers only the request workflow\'s waits, and reads the history through the byBeacon index', () => {
    const statements = roleStatements(resources, 'RequestsApiHandler');
    const actions = (statement: PolicyStatementJson) => [].concat(statement.Action as never) as string[];
    const writes = statements.filter((s) => actions(s).some((a) => /^dynamodb:(Put|Update|Delete|BatchWrite)/.test(a)));
    // Day-2 commands put request items; operators' actions (cancel, go, confirm a pin) update the rollout and the pin ledger.
    expect(writes).toEqual([expect.objectContaining({ Action: ['dynamodb:PutItem', 'dynamodb:UpdateItem'], Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['REQ#*', 'PIN#*'] } } })]);
    const starts = statements.filter((s) => actions(s).some((a) => a === 'states:StartExecution'));
    expect(starts).toEqual([expect.objectContaining({ Action: 'states:StartExecution', Resource: { Ref: expect.stringMatching(/^BeaconWorkflowStateMachine/) } })]);
    const others = statements.filter((s) => actions(s).some((a) => a.startsWith('states:') && a !== 'states:StartExecution'));
    expect(others.flatMap(actions).sort()).toEqual(['states:SendTaskFailure', 'states:SendTaskHeartbeat', 'states:SendTaskSuccess']);
    expect(JSON.stringify(others.map((s) => s.Resource))).toMatch(/RequestRollout/);
    const query = statements.find((s) => actions(s).includes('dynamodb:Query'))!;
    expect(JSON.stringify(query.Resource)).toContain('/index/*');
    configured.template.hasResourceProperties('AWS::DynamoDB::Table', {
      GlobalSecondaryIndexes: [
        Match.objectLike({ IndexName: 'byBeacon', KeySchema: [{ AttributeName: 'historyBeacon', KeyType: 'HASH' }, { AttributeName: 'historyAt', KeyType: 'RANGE' }] }),
      ],
    });
  });
});
