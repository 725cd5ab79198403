import { readFileSync } from 'node:fs';
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { BEACON_DOCUMENTS } from '../../lambdas/core/document-contract.js';
import { Stack } from 'aws-cdk-lib';
import { BeaconDocuments } from '../../infra/constructs/beacon-documents.js';
import { type BeaconDocument, generatedDocumentPath, loadModuleFile, moduleObjectKey, sha256Hex } from '../../ssm-documents/documents.js';
import { synthStack } from './synth.js';

let template: ReturnType<typeof synthStack>['template'];
let resources: Record<string, { Type: string; Properties: Record<string, any> }>;

const TAG = { key: 'fleet:role', value: 'inventory-beacon' };

beforeAll(() => {
  ({ template } = synthStack({
    beaconTagKey: TAG.key,
    beaconTagValue: TAG.value,
    stackName: 'BeaconTest',
    pinMode: 'gateway',
    gatewayUrl: 'https://pin-gateway.corp.example',
    gatewaySecretName: 'team/pin-gateway-token',
    fnmsInventory: 'flexeraOne',
    fnmsOrgId: '1105',
    fnmsReportId: '42',
    fnmsReportColumns: 'name=R2_a_Beacon_Name,computerName=R2_a_Beacon_ComputerName,version=R2_a_Beacon_Version,status=R2_a_Beacon_Status,lastContact=R2_a_Beacon_LastContact',
    fnmsSecretName: 'team/fnms-token',
    chatAllowedUsers: 'U012ABC',
    chatAllowedChannels: 'C034DEF',
  }));
  resources = template.toJSON().Resources;
});

const ofType = (type: string) => Object.entries(resources).filter(([, resource]) => resource.Type === type);

/** Every IAM statement of the stack with the logical id of its policy. */
function statements(): Array<{ policy: string; Action: string[]; Resource: unknown[]; Condition?: Record<string, unknown> }> {
  return ofType('AWS::IAM::Policy').flatMap(([policy, resource]) =>
    resource.Properties.PolicyDocument.Statement.map((statement: any) => ({
      policy,
      Action: [].concat(statement.Action),
      Resource: [].concat(statement.Resource),
      ...(statement.Condition ? { Condition: statement.Condition } : {}),
    })),
  );
}

describe('encryption at rest with the stack key', () => {
  it('the customer managed key rotates', () => {
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  it('every queue (intake, its DLQ, the cleanup DLQ), both tables, both topics and every log group use the customer managed key', () => {
    const key = { 'Fn::GetAtt': [Match.stringLikeRegexp('^DataKey'), 'Arn'] };
    expect(ofType('AWS::SQS::Queue')).toHaveLength(3);
    template.allResourcesProperties('AWS::SQS::Queue', { KmsMasterKeyId: key });
    template.allResourcesProperties('AWS::DynamoDB::Table', { SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: key } });
    template.allResourcesProperties('AWS::SNS::Topic', { KmsMasterKeyId: key });
    expect(ofType('AWS::Logs::LogGroup').length).toBeGreaterThanOrEqual(11);
    template.allResourcesProperties('AWS::Logs::LogGroup', { KmsKeyId: key });
  });

  it('the state table keeps point-in-time recovery and expires locks by TTL', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });
});

describe('intake queue', () => {
  it('redrives to the dead-letter queue after a bounded number of receives', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('DeadLetterQueue'), 'Arn'] }, maxReceiveCount: 5 },
    });
  });

  it('reports partial batch failures, and the visibility timeout is at least six times the intake timeout', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { FunctionResponseTypes: ['ReportBatchItemFailures'] });
    const [, queue] = ofType('AWS::SQS::Queue').find(([, q]) => q.Properties.RedrivePolicy)!;
    const [, intake] = ofType('AWS::Lambda::Function').find(([id]) => id.startsWith('IntakeQueueIntake'))!;
    expect(queue.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * intake.Properties.Timeout);
  });

  it('refuses plain HTTP to the queues', () => {
    const policies = ofType('AWS::SQS::QueuePolicy').map(([, p]) => JSON.stringify(p.Properties.PolicyDocument));
    expect(policies).toHaveLength(3);
    for (const policy of policies) expect(policy).toContain('"aws:SecureTransport":"false"');
  });
});

describe('least privilege', () => {
  it('SendCommand runs only this stack\'s documents, and only on instances carrying the beacon tag', () => {
    const send = statements().filter((s) => s.Action.includes('ssm:SendCommand'));
    expect(new Set(send.map((s) => s.policy)).size).toBeGreaterThanOrEqual(1);
    for (const statement of send) {
      const text = JSON.stringify(statement.Resource);
      if (text.includes(':document/')) {
        if (statement.policy.startsWith('BeaconWorkflowSendCommandFn')) {
          expect(statement.Resource).toHaveLength(3);
          for (const name of Object.values(BEACON_DOCUMENTS)) expect(text).toContain(`document/${name}-BeaconTest`);
        }
        expect(text).toMatch(/document\/BeaconProxy-(Configure|Verify|Rollback)-BeaconTest/);
        expect(text).not.toContain('*');
      } else {
        expect(text).toMatch(/instance\/\*/);
        expect(statement.Condition).toEqual({ StringEquals: { [`ssm:resourceTag/${TAG.key}`]: TAG.value } });
      }
    }
    expect(send.some((s) => s.Condition)).toBe(true);
    expect(send.some((s) => JSON.stringify(s.Resource).includes(':document/'))).toBe(true);
  });

  it('reads only the named secrets, and only from the functions that need them', () => {
    const reads = statements().filter((s) => s.Action.includes('secretsmanager:GetSecretValue'));
    expect(reads.length).toBeGreaterThan(0);
    for (const statement of reads) {
      expect(statement.Resource).toHaveLength(1);
      expect(JSON.stringify(statement.Resource)).toMatch(/secret:(team\/fnms-token|team\/pin-gateway-token|beacon-proxy\/[a-z-]+)-\?\?\?\?\?\?/);
    }
    const fnmsReaders = reads.filter((s) => JSON.stringify(s.Resource).includes('team/fnms-token'));
    // The pin step, and the triggers' tag gate (new beacon, drift): FNMS must list a beacon before the default profile goes to it.
    expect(fnmsReaders.map((s) => s.policy).sort()).toEqual([expect.stringMatching(/^DriftCheckHandler/), expect.stringMatching(/^FnmsPinDecidePinFn/), expect.stringMatching(/^NewBeaconHandler/)]);
    const gatewayReaders = reads.filter((s) => JSON.stringify(s.Resource).includes('team/pin-gateway-token'));
    expect(gatewayReaders.map((s) => s.policy)).toEqual([expect.stringMatching(/^FnmsPinDecidePinFn/)]);
  });

  it('no statement grants a wildcard action', () => {
    for (const statement of statements()) {
      for (const action of statement.Action) expect(action, statement.policy).not.toMatch(/^[a-z0-9-]+:\*$|^\*$/);
    }
  });
});

describe('functions', () => {
  it('run Node.js 22 on arm64 with active tracing and their own log group', () => {
    // CDK's BucketDeployment handler (it uploads the documents' module file during deployments) is CDK's own
    // function and the only other one: it serves no request and is acknowledged in the cdk-nag suppressions.
    const all = ofType('AWS::Lambda::Function');
    const cdkUpload = all.filter(([id]) => id.startsWith('CustomCDKBucketDeployment'));
    expect(cdkUpload).toHaveLength(1);
    const functions = all.filter(([id]) => !id.startsWith('CustomCDKBucketDeployment'));
    expect(functions.length).toBeGreaterThanOrEqual(10);
    for (const [id, fn] of functions) {
      expect(fn.Properties.Runtime, id).toBe('nodejs22.x');
      expect(fn.Properties.TracingConfig, id).toEqual({ Mode: 'Active' });
      expect(fn.Properties.LoggingConfig?.LogGroup, id).toBeDefined();
    }
  });

  it('the workflow logs every execution and traces it', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: true },
    });
  });
});

describe('beacon documents', () => {
  it('registers the three generated documents as Command documents with stack-unique names, downloading the module from the stack\'s bucket', () => {
    const documents = ofType('AWS::SSM::Document');
    expect(documents).toHaveLength(3);
    const sha256 = sha256Hex(loadModuleFile());
    const withoutSource = (content: BeaconDocument) => ({ ...content, mainSteps: [{ ...content.mainSteps[0], inputs: { ...content.mainSteps[0].inputs, sourceInfo: '<source>' } }, content.mainSteps[1]] });
    for (const [kind, name] of Object.entries(BEACON_DOCUMENTS)) {
      const committed = JSON.parse(readFileSync(generatedDocumentPath(kind as keyof typeof BEACON_DOCUMENTS), 'utf8')) as BeaconDocument;
      const [, document] = documents.find(([, resource]) => resource.Properties.Name === `${name}-BeaconTest`)!;
      expect(document.Properties).toMatchObject({ DocumentType: 'Command', DocumentFormat: 'JSON', UpdateMethod: 'NewVersion' });
      // Everything but the bucket's host is the committed document: the script, its pinned SHA-256, the parameters.
      expect(withoutSource(document.Properties.Content)).toEqual(withoutSource(committed));
      const source = JSON.stringify(document.Properties.Content.mainSteps[0].inputs.sourceInfo);
      expect(source).toMatch(/"Fn::GetAtt":\["BeaconModuleBucket[0-9A-F]+","RegionalDomainName"\]/);
      expect(source).toContain(`/${moduleObjectKey(sha256)}`);
      // Registered only once the module file is in the bucket.
      expect((document as { DependsOn?: string[] }).DependsOn?.some((id) => /^BeaconModuleUpload/.test(id)), 'DependsOn the upload').toBe(true);
    }
    const [upload] = ofType('Custom::CDKBucketDeployment');
    expect(upload![1].Properties).toMatchObject({ Prune: false, DestinationBucketName: { Ref: expect.stringMatching(/^BeaconModuleBucket/) } });
  });

  it('refuses to synthesize when the committed documents pin another module than the file the stack uploads', () => {
    expect(() => new BeaconDocuments(new Stack(), 'Documents', { nameSuffix: 'x', module: { sha256: 'f'.repeat(64), host: 'bucket.s3.eu-west-1.amazonaws.com', deployment: undefined } as never })).toThrow(
      /pins module [0-9a-f]{64} but the stack uploads f{64}: run npm run build:documents/,
    );
  });
});

describe('alarms', () => {
  it('alarm on a non-empty DLQ, failed workflows and FNMS errors, each to the alarm topic', () => {
    const alarms = ofType('AWS::CloudWatch::Alarm');
    const text = JSON.stringify(alarms);
    expect(text).toContain('ApproximateNumberOfMessagesVisible');
    expect(text).toContain('ExecutionsFailed');
    expect(text).toContain('"MetricName":"FnmsErrors"');
    const entryErrors = alarms.find(([id]) => id.startsWith('AlarmsEntryFunctionErrors'));
    expect(JSON.stringify(entryErrors).match(/"MetricName":"Errors"/g)).toHaveLength(5);
    for (const [id, alarm] of alarms) {
      expect(alarm.Properties.AlarmActions, id).toEqual([{ Ref: expect.stringMatching(/^NotificationsAlarmTopic/) }]);
      if (id.startsWith('Alarms')) expect(alarm.Properties.Threshold, id).toBe(0);
    }
  });
});

describe('alarms see sparse metrics (defect 7)', () => {
  it('every metric-math alarm fills missing datapoints with 0, so one failed series alone breaches', () => {
    const mathAlarms = ofType('AWS::CloudWatch::Alarm').filter(([, alarm]) => alarm.Properties.Metrics?.some((m: any) => m.Expression));
    expect(mathAlarms.length).toBeGreaterThanOrEqual(2);
    for (const [id, alarm] of mathAlarms) {
      const metricIds = alarm.Properties.Metrics.filter((m: any) => m.MetricStat).map((m: any) => m.Id as string);
      const expression = alarm.Properties.Metrics.find((m: any) => m.Expression).Expression as string;
      for (const metricId of metricIds) expect(expression, id).toContain(`FILL(${metricId}, 0)`);
    }
  });
});

describe('cleanup of executions that end without their finally (defect 2)', () => {
  it('an EventBridge rule sends TIMED_OUT, ABORTED and FAILED executions of the workflow to the cleanup function', () => {
    const rules = ofType('AWS::Events::Rule').filter(([, rule]) => JSON.stringify(rule.Properties.EventPattern ?? {}).includes('Step Functions Execution Status Change'));
    expect(rules).toHaveLength(1);
    const [, rule] = rules[0]!;
    expect(rule.Properties.EventPattern).toMatchObject({ source: ['aws.states'], detail: { status: ['TIMED_OUT', 'ABORTED', 'FAILED'] } });
    expect(JSON.stringify(rule.Properties.Targets)).toMatch(/ExecutionCleanup/);
  });
});

describe('caller identity', () => {
  it('the intake believes a caller attribute only from the roles of the API, ChatOps, new-beacon and drift functions (their role ids)', () => {
    const intake = ofType('AWS::Lambda::Function').find(([, fn]) => fn.Properties.Environment?.Variables?.IDEMPOTENCY_TABLE_NAME !== undefined);
    const trusted = intake?.[1].Properties.Environment.Variables.TRUSTED_SENDER_ROLE_IDS;
    expect(trusted?.['Fn::Join']?.[0]).toBe(',');
    const roleIds = (trusted['Fn::Join'][1] as Array<{ 'Fn::GetAtt': [string, string] }>).map((ref) => ref['Fn::GetAtt']);
    expect(roleIds.map(([, attribute]) => attribute)).toEqual(['RoleId', 'RoleId', 'RoleId', 'RoleId']);
    expect(roleIds.map(([logicalId]) => logicalId.replace(/[0-9A-F]{8}$/, '')).sort()).toEqual(
      ['ChatOpsHandlerRole', 'DriftCheckHandlerRole', 'NewBeaconHandlerRole', 'RequestsApiHandlerRole'].sort(),
    );
  });
});

describe('HTTPS API', () => {
  it('every method requires IAM (SigV4) and validates the request', () => {
    const methods = ofType('AWS::ApiGateway::Method');
    // POST /requests, GET /requests/{id}, POST /requests/{id}/rerun, /cancel, /go, POST /pins/{id}/confirm, POST /plans;
    // GET /beacons/{instanceId}, POST .../rollback, POST .../retry.
    expect(methods.map(([, m]) => `${m.Properties.HttpMethod}`).sort()).toEqual(['GET', 'GET', 'POST', 'POST', 'POST', 'POST', 'POST', 'POST', 'POST', 'POST']);
    expect(ofType('AWS::ApiGateway::Resource').map(([, r]) => r.Properties.PathPart).sort()).toEqual(
      ['beacons', 'cancel', 'confirm', 'go', 'pins', 'plans', 'requests', 'rerun', 'retry', 'rollback', '{id}', '{id}', '{instanceId}'].sort(),
    );
    for (const [id, method] of methods) {
      expect(method.Properties.AuthorizationType, id).toBe('AWS_IAM');
      expect(method.Properties.RequestValidatorId, id).toBeDefined();
    }
    template.hasResourceProperties('AWS::ApiGateway::RequestValidator', { ValidateRequestBody: true, ValidateRequestParameters: true });
  });

  it('answers API Gateway\'s own validation failures in the product\'s error shape', () => {
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'BAD_REQUEST_BODY',
      StatusCode: '400',
      ResponseTemplates: { 'application/json': Match.stringLikeRegexp('"error":\\{"code":"INVALID_REQUEST"') },
    });
  });

  it('the API function may send to the intake queue and start the beacon workflow (a per-beacon rollback or retry), never send commands', () => {
    const apiPolicies = statements().filter((s) => s.policy.startsWith('RequestsApiHandler'));
    const actions = apiPolicies.flatMap((s) => s.Action);
    expect(actions).toEqual(expect.arrayContaining(['sqs:SendMessage', 'states:StartExecution']));
    expect(JSON.stringify(apiPolicies.filter((s) => s.Action.includes('states:StartExecution')).flatMap((s) => [s.Resource].flat()))).toMatch(/^\[\{"Ref":"BeaconWorkflowStateMachine[0-9A-F]+"\}\]$/);
    expect(actions).not.toContain('ssm:SendCommand');
  });
});

describe('ChatOps webhook', () => {
  it('is a function URL without IAM auth (the handler verifies signatures), reading only the chat secrets and the profile path', () => {
    template.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'NONE', TargetFunctionArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ChatOpsHandler'), 'Arn'] } });
    const chat = statements().filter((s) => s.policy.startsWith('ChatOpsHandler'));
    const secretResources = chat.filter((s) => s.Action.includes('secretsmanager:GetSecretValue')).map((s) => JSON.stringify(s.Resource));
    expect(secretResources).toHaveLength(2);
    expect(secretResources.join()).toContain('beacon-proxy/slack-signing-secret');
    expect(secretResources.join()).toContain('beacon-proxy/teams-security-token');
    const parameters = chat.filter((s) => s.Action.includes('ssm:GetParameter'));
    expect(JSON.stringify(parameters.map((s) => s.Resource))).toContain('parameter/beacon-proxy/profiles/*');
    expect(chat.flatMap((s) => s.Action)).not.toContain('ssm:SendCommand');
  });
});

describe('new beacon and drift triggers', () => {
  it('a schedule polls FNMS for new beacons and another runs the fleet verify pass, each invoking its function', () => {
    const schedules = ofType('AWS::Scheduler::Schedule');
    expect(schedules).toHaveLength(2);
    const targets = schedules.map(([, s]) => JSON.stringify(s.Properties.Target.Arn));
    expect(targets.some((t) => t.includes('NewBeaconHandler'))).toBe(true);
    expect(targets.some((t) => t.includes('DriftCheckHandler'))).toBe(true);
    for (const [id, schedule] of schedules) expect(schedule.Properties.ScheduleExpression, id).toMatch(/^rate\(/);
  });

  it('an EventBridge rule fires on the beacon tag changing on EC2 or SSM managed instances', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.tag'], 'detail-type': ['Tag Change on Resource'], detail: { 'changed-tag-keys': [TAG.key] } },
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^NewBeaconHandler'), 'Arn'] } })],
    });
  });

  it('the drift check may send only the verify document, and only to tagged beacons', () => {
    const send = statements().filter((s) => s.policy.startsWith('DriftCheckHandler') && s.Action.includes('ssm:SendCommand'));
    const documents = send.filter((s) => JSON.stringify(s.Resource).includes(':document/'));
    expect(documents).toHaveLength(1);
    expect(JSON.stringify(documents[0]!.Resource)).toContain('document/BeaconProxy-Verify-BeaconTest');
    expect(documents[0]!.Resource).toHaveLength(1);
    expect(send.find((s) => s.Condition)?.Condition).toEqual({ StringEquals: { [`ssm:resourceTag/${TAG.key}`]: TAG.value } });
  });
});
