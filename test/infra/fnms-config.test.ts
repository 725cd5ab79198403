/**
 * The FNMS settings of the stack: pinMode (operator refused until it exists, gateway needs its URL, none
 * warns), the beacon inventory report (Flexera One or on premises, validated at synth with the context key
 * named), and the optional VPC of the functions that read an on-premises FNMS.
 */
import { describe, expect, it } from 'vitest';
import { StackConfigSchema, gatewayConfigFrom, inventoryConfigFrom, requestTimingFor, stackConfigFrom } from '../../infra/config.js';
import { ENV } from '../../lambdas/aws/env-names.js';
import { synthStack } from './synth.js';

const COLUMNS = 'name=Beacon name,computerName=Computer name,version=Version,status=Status,lastContact=Last contact';
const config = (values: Record<string, unknown>) => stackConfigFrom((key) => values[key]);

describe('context values of FNMS and the pin', () => {
  it('defaults: pinMode operator, no inventory; synth works offline', () => {
    const defaults = config({});
    expect(defaults.pinMode).toBe('operator');
    expect(defaults.fnmsInventory).toBe('none');
    expect(gatewayConfigFrom(defaults)).toBeNull();
    expect(inventoryConfigFrom(defaults)).toBeNull();
  });

  it('pinMode is operator (the default), gateway or none; anything else is refused naming the key', () => {
    expect(config({ pinMode: 'operator' }).pinMode).toBe('operator');
    expect(config({ pinMode: 'none' }).pinMode).toBe('none');
    expect(() => config({ pinMode: 'always' })).toThrow(/pinMode/);
  });

  it('the operator waits nest: the reminder before the deadline, refused naming the key otherwise', () => {
    expect(() => requestTimingFor(config({ pinReminderSeconds: 7200, pinConfirmationSeconds: 3600 }))).toThrow(/pinReminderSeconds/);
    expect(requestTimingFor(config({ pinReminderSeconds: 3600, pinConfirmationSeconds: 7200 }))).toMatchObject({ pinReminderSeconds: 3600, pinConfirmationSeconds: 7200 });
  });

  it('pinMode gateway needs the gateway URL (https), and its token URL with refresh-token auth', () => {
    expect(() => config({ pinMode: 'gateway' })).toThrow(/gatewayUrl: required when pinMode is gateway/);
    expect(() => config({ pinMode: 'gateway', gatewayUrl: 'http://gw.corp.example' })).toThrow(/gatewayUrl/);
    expect(() => config({ pinMode: 'gateway', gatewayUrl: 'https://gw.corp.example', gatewayAuthMode: 'refreshToken' })).toThrow(/gatewayTokenUrl/);
    expect(gatewayConfigFrom(config({ pinMode: 'gateway', gatewayUrl: 'https://gw.corp.example' }))).toEqual({ baseUrl: 'https://gw.corp.example', auth: { kind: 'bearer' } });
  });

  it('a Flexera One inventory needs org, report and columns; client credentials need the client id', () => {
    const base = { fnmsInventory: 'flexeraOne', fnmsOrgId: '1105', fnmsReportId: '42', fnmsReportColumns: COLUMNS };
    expect(inventoryConfigFrom(config({ ...base, fnmsRegion: 'eu' }))).toMatchObject({ kind: 'flexeraOne', region: 'eu', orgId: '1105', reportId: '42', auth: { kind: 'refreshToken' } });
    expect(() => config({ ...base, fnmsOrgId: undefined })).toThrow(/fnmsOrgId: required/);
    expect(() => config({ ...base, fnmsReportColumns: 'name=a,computerName=b' })).toThrow(/fnmsReportColumns: invalid column mapping at version/);
    expect(() => config({ ...base, fnmsAuth: 'clientCredentials' })).toThrow(/fnmsClientId: required/);
    expect(() => config({ ...base, fnmsRegion: 'us' })).toThrow(/fnmsRegion/);
  });

  it('an on-premises inventory needs the https URL and a Windows account; a malformed account is named', () => {
    const base = { fnmsInventory: 'onPremises', fnmsUrl: 'https://fnms.corp.example', fnmsAccount: 'CORP\\svc-fnms-ws', fnmsReportId: 17, fnmsReportColumns: COLUMNS };
    expect(inventoryConfigFrom(config(base))).toMatchObject({ kind: 'onPremises', url: 'https://fnms.corp.example', reportId: 17, account: 'CORP\\svc-fnms-ws', rowLimit: 50_000 });
    expect(() => config({ ...base, fnmsAccount: undefined })).toThrow(/fnmsAccount: required/);
    expect(() => config({ ...base, fnmsAccount: 'two words' })).toThrow(/invalid context value fnmsAccount/);
    expect(() => config({ ...base, fnmsUrl: 'http://fnms.corp.example' })).toThrow(/fnmsUrl/);
  });

  it('the VPC needs its subnets; ids are checked', () => {
    expect(() => config({ fnmsVpcId: 'vpc-0123456789abcdef0' })).toThrow(/fnmsSubnetIds: required with fnmsVpcId/);
    expect(() => config({ fnmsSubnetIds: 'subnet-0123456789abcdef0' })).toThrow(/fnmsVpcId: required/);
    expect(() => config({ fnmsVpcId: 'vpc-0123456789abcdef0', fnmsSubnetIds: 'subnet-1' })).toThrow(/fnmsSubnetIds/);
  });

  it('every key is known to the schema (no stray context key is silently ignored)', () => {
    expect(Object.keys(StackConfigSchema.shape)).toEqual(expect.arrayContaining(['pinMode', 'gatewayUrl', 'fnmsInventory', 'fnmsReportColumns', 'fnmsVpcId']));
  });
});

type Resources = Record<string, { Type: string; Properties: Record<string, any>; DependsOn?: string[] }>;
const functionEnv = (resources: Resources, prefix: string) => Object.entries(resources).find(([id, r]) => r.Type === 'AWS::Lambda::Function' && id.startsWith(prefix))![1].Properties;

describe('the synthesized stack per FNMS setting', () => {
  it('defaults: the pin step runs in operator mode (no gateway secret), no FNMS schedule, the tag rule stays', () => {
    const { template } = synthStack();
    const resources = template.toJSON().Resources as Resources;
    const pin = functionEnv(resources, 'FnmsPinDecidePinFn');
    expect(pin.Environment.Variables[ENV.pinMode]).toBe('operator');
    expect(pin.Environment.Variables[ENV.gatewayConfig]).toBeUndefined();
    expect(pin.Environment.Variables[ENV.inventoryConfig]).toBeUndefined();
    const schedules = Object.values(resources).filter((r) => r.Type === 'AWS::Scheduler::Schedule').map((r) => JSON.stringify(r.Properties.Target.Arn));
    expect(schedules.some((t) => t.includes('NewBeaconHandler'))).toBe(false);
    expect(Object.values(resources).some((r) => r.Type === 'AWS::Events::Rule' && JSON.stringify(r.Properties.Targets).includes('NewBeaconHandler'))).toBe(true);
    expect(JSON.stringify(resources)).not.toContain('pin-gateway-token');
  });

  it('on premises in a VPC: the FNMS readers run in the given subnets, with the report config and secret, and nothing else does', () => {
    const { template } = synthStack({
      pinMode: 'gateway',
      gatewayUrl: 'https://pin-gateway.corp.example',
      fnmsInventory: 'onPremises',
      fnmsUrl: 'https://fnms.corp.example',
      fnmsAccount: 'CORP\\svc-fnms-ws',
      fnmsReportId: '17',
      fnmsReportColumns: COLUMNS,
      fnmsVpcId: 'vpc-0123456789abcdef0',
      fnmsSubnetIds: 'subnet-0123456789abcdef0,subnet-0123456789abcdef1',
    });
    const resources = template.toJSON().Resources as Resources;
    for (const prefix of ['FnmsPinDecidePinFn', 'NewBeaconHandler', 'DriftCheckHandler']) {
      const fn = functionEnv(resources, prefix);
      expect(fn.VpcConfig.SubnetIds, prefix).toEqual(['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1']);
      expect(JSON.parse(fn.Environment.Variables[ENV.inventoryConfig])).toMatchObject({ kind: 'onPremises', account: 'CORP\\svc-fnms-ws', reportId: 17 });
      expect(fn.Environment.Variables[ENV.inventorySecretName]).toBe('beacon-proxy/fnms-api');
    }
    const inVpc = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::Lambda::Function' && r.Properties.VpcConfig);
    expect(inVpc).toHaveLength(3);
    // Lambda creates the function's network interfaces with its execution role: without these the deployment fails.
    for (const [id, resource] of inVpc) {
      const fn = resource;
      const roleId = fn.Properties.Role['Fn::GetAtt'][0] as string;
      const actions = Object.values(resources)
        .filter((r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties.Roles).includes(roleId))
        .flatMap((r) => r.Properties.PolicyDocument.Statement.flatMap((st: { Action: string | string[] }) => ([] as string[]).concat(st.Action)));
      expect(actions, id).toEqual(expect.arrayContaining(['ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses']));
      expect(fn.DependsOn ?? [], id).toEqual(expect.arrayContaining([expect.stringMatching(/DefaultPolicy/)]));
    }
    const schedules = Object.values(resources).filter((r) => r.Type === 'AWS::Scheduler::Schedule').map((r) => JSON.stringify(r.Properties.Target.Arn));
    expect(schedules.some((t) => t.includes('NewBeaconHandler'))).toBe(true);
  });
});
