/**
 * Issue 12.10: the stack's parts are one construct, BeaconProxy, that a team adds to its own CDK app with
 * typed props; the stack this project deploys is a thin user of it.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { BeaconProxy, type BeaconProxyProps } from '../../infra/beacon-proxy.js';
import { BUNDLING_CONTEXT_KEY } from '../../infra/constructs/beacon-function.js';
import { acknowledgeNagFindings } from '../../infra/nag-suppressions.js';
import { teamApp } from '../../infra/examples/team-app.js';
import { synthStack } from './synth.js';

function teamStack(props?: BeaconProxyProps): { stack: Stack; proxy: BeaconProxy } {
  const app = new App({ context: { [BUNDLING_CONTEXT_KEY]: 'stub' } });
  const stack = new Stack(app, 'PlatformTeam', { env: { account: '111122223333', region: 'eu-west-1' } });
  // The team's own resource next to ours: never acknowledged on its behalf.
  const proxy = new BeaconProxy(stack, 'Beacons', props);
  return { stack, proxy };
}

const GATEWAY_PROPS: BeaconProxyProps = {
  pinMode: 'gateway',
  gatewayUrl: 'https://pin-gateway.corp.example',
  gatewayAuthMode: 'bearer',
  triggerMode: 'apply',
  beaconTagKey: 'fleet:role',
  beaconTagValue: 'inventory-beacon',
  chatAllowedUsers: ['U012ABC'],
};

describe('BeaconProxy in a team\'s own CDK app', () => {
  // Two synths (seconds each on a loaded machine): in the hook, whose timeout is the long one.
  let own: ReturnType<Template['toJSON']>;
  let theirs: ReturnType<Template['toJSON']>;
  beforeAll(() => {
    own = synthStack().template.toJSON();
    theirs = Template.fromStack(teamStack().stack).toJSON();
  });

  it('deploys everything the project\'s stack deploys: the same resources, the same logical ids', () => {
    const shapes = (template: typeof own) =>
      Object.entries(template.Resources as Record<string, { Type: string }>)
        .map(([, resource]) => resource.Type)
        .sort();
    expect(shapes(theirs)).toEqual(shapes(own));
    // The project's stack adds the construct as `Default`, which CDK leaves out of logical ids: a stack
    // deployed before the construct existed keeps every resource (no replacement on the next deploy).
    expect(Object.keys(own.Resources).some((id) => id.startsWith('Default'))).toBe(false);
    // Everything is inside the construct but CDK's per-stack singletons (the scheduler's target roles, the
    // module upload handler), which CDK always puts at the stack's root.
    expect(Object.keys(theirs.Resources).filter((id) => !id.startsWith('Beacons')).filter((id) => !/^(SchedulerRoleForTarget|CustomCDKBucketDeployment)/.test(id))).toEqual([]);
  });

  it('takes typed props with the context keys\' names and defaults: the tag, the pin gateway, the trigger mode and chat reach the functions', () => {
    const { stack, proxy } = teamStack(GATEWAY_PROPS);
    expect(proxy.config.triggerMode).toBe('apply');
    expect(proxy.config.deliveryTimeoutSeconds).toBe(600);
    expect(proxy.chatOps).toBeDefined();
    const template = Template.fromStack(stack);
    const variables = Object.values(template.findResources('AWS::Lambda::Function')).map(
      (fn) => (fn as { Properties: { Environment?: { Variables?: Record<string, unknown> } } }).Properties.Environment?.Variables ?? {},
    );
    expect(variables.some((env) => JSON.stringify(env).includes('inventory-beacon'))).toBe(true);
    expect(variables.some((env) => JSON.stringify(env).includes('https://pin-gateway.corp.example'))).toBe(true);
  });

  it('passes cdk-nag in the team\'s stack with the construct\'s own acknowledgements, which never reach the team\'s resources', () => {
    const { stack, proxy } = teamStack(GATEWAY_PROPS);
    // A wildcard policy of the team's own, with an action our acknowledgements cover inside the construct.
    new iam.Policy(stack, 'TeamWildcard', {
      statements: [new iam.PolicyStatement({ actions: ['xray:PutTraceSegments'], resources: ['*'] })],
      roles: [new iam.Role(stack, 'TeamRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') })],
    });
    acknowledgeNagFindings(proxy);
    const findings = new AwsSolutionsChecks().validateScope(stack).violations.map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`);
    expect(findings).toEqual(['AwsSolutions-IAM5[Resource::*] at PlatformTeam/TeamWildcard/Resource']);
  }, 180_000);

  it('refuses a bad prop at synth, naming it and what to do', () => {
    expect(() => teamStack({ gatewayUrl: 'http://pin-gateway.corp.example', pinMode: 'gateway' })).toThrow(/invalid BeaconProxy prop gatewayUrl: gatewayUrl must be an https:\/\/ URL/);
    expect(() => teamStack({ pinMode: 'gateway' })).toThrow(/invalid BeaconProxy prop gatewayUrl: required when pinMode is gateway/);
    expect(() => teamStack({ gatewayURL: 'https://x.example' } as BeaconProxyProps)).toThrow(/unknown BeaconProxy prop gatewayURL: the settings are the context values of README "Deploying to AWS"/);
    expect(() => teamStack({ deliveryTimeoutSeconds: 3600, executionTimeoutMinutes: 10 })).toThrow(/invalid workflow timing/);
  });

  it('is one per stack: a second BeaconProxy is refused with the reason (names derive from the stack name)', () => {
    const { stack } = teamStack();
    expect(() => new BeaconProxy(stack, 'Again')).toThrow(/PlatformTeam already has a BeaconProxy \(PlatformTeam\/Beacons\): add one per stack/);
  });
});

describe('the README example app (infra/examples/team-app.ts)', () => {
  it('synthesizes with the construct inside the team\'s stack and passes cdk-nag', () => {
    const { stack, beacons } = teamApp(new App({ context: { [BUNDLING_CONTEXT_KEY]: 'stub' } }));
    expect(beacons.node.path).toBe('InventoryPlatform/Beacons');
    expect(beacons.config.apiSubmitPrincipals).toEqual(['arn:aws:iam::111122223333:role/fnms-admins']);
    const findings = new AwsSolutionsChecks().validateScope(stack).violations.map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`);
    expect(findings).toEqual([]);
  }, 180_000);
});
