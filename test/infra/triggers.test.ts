/**
 * The automatic triggers on a first deploy (issue 16.4) and the tag gate (12.5): the trigger mode and the
 * tag-only opt-in are validated and reach the functions; `off` disables the schedules and the tag rule; the
 * chat resources exist only when chat is configured; cdk-nag stays clean either way.
 */
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { stackConfigFrom } from '../../infra/config.js';
import { ENV } from '../../lambdas/aws/env-names.js';
import { synthStack } from './synth.js';

type Resources = Record<string, { Type: string; Properties: Record<string, any> }>;

const config = (context: Record<string, unknown>) => stackConfigFrom((key) => context[key]);
const refusal = (context: Record<string, unknown>): string => {
  try {
    config(context);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(context)}`);
};

const ofType = (resources: Resources, type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const functionNamed = (resources: Resources, prefix: string) => ofType(resources, 'AWS::Lambda::Function').find(([id]) => id.startsWith(prefix))![1];
const policiesOf = (resources: Resources, prefix: string) =>
  ofType(resources, 'AWS::IAM::Policy')
    .filter(([id]) => id.startsWith(prefix))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown }>);

describe('triggerMode, autoApplyTagOnly, driftTickMinutes and chatEnabled in context', () => {
  it('the triggers observe by default after a deploy; the tag alone is not enough by default; chat is off until someone is allowlisted', () => {
    expect(config({})).toMatchObject({ triggerMode: 'observe', autoApplyTagOnly: false, driftTickMinutes: 15, driftCheckScheduleHours: 24 });
    expect(config({}).chatEnabled).toBeUndefined();
  });

  it('accepts off, observe and apply; anything else is refused naming the key', () => {
    for (const mode of ['off', 'observe', 'apply']) expect(config({ triggerMode: mode }).triggerMode).toBe(mode);
    expect(refusal({ triggerMode: 'on' })).toMatch(/^invalid context value triggerMode: /);
  });

  it('booleans come as text from -c and as JSON from cdk.json; "false" is false, and anything but true/false is refused', () => {
    expect(config({ autoApplyTagOnly: 'true' }).autoApplyTagOnly).toBe(true);
    expect(config({ autoApplyTagOnly: 'false' }).autoApplyTagOnly).toBe(false);
    expect(config({ autoApplyTagOnly: true }).autoApplyTagOnly).toBe(true);
    expect(refusal({ autoApplyTagOnly: 'yes' })).toBe('invalid context value autoApplyTagOnly: autoApplyTagOnly must be true or false');
    expect(config({ chatEnabled: 'false' }).chatEnabled).toBe(false);
  });

  it('chatEnabled=false beside an allowlist is a contradiction, refused', () => {
    expect(refusal({ chatEnabled: 'false', chatAllowedUsers: 'U012ABC' })).toMatch(/^invalid context value chatEnabled: is false while chatAllowedUsers/);
  });

  it('the drift tick is 5 to 60 minutes (never longer than the shortest drift interval, 1 h)', () => {
    expect(config({ driftTickMinutes: '5' }).driftTickMinutes).toBe(5);
    expect(refusal({ driftTickMinutes: 3 })).toMatch(/^invalid context value driftTickMinutes/);
    expect(refusal({ driftTickMinutes: 61 })).toMatch(/^invalid context value driftTickMinutes/);
  });
});

describe('the synthesized triggers', () => {
  let defaults: ReturnType<typeof synthStack>;
  let resources: Resources;
  beforeAll(() => {
    defaults = synthStack();
    resources = defaults.template.toJSON().Resources;
  });

  it('by default the new-beacon and drift functions run in observe mode, with the tag gate closed, and say so at synth', () => {
    for (const prefix of ['NewBeaconHandler', 'DriftCheckHandler']) {
      const variables = functionNamed(resources, prefix).Properties.Environment.Variables;
      expect(variables[ENV.triggerMode], prefix).toBe('observe');
      expect(variables[ENV.autoApplyTagOnly], prefix).toBe('false');
    }
    Annotations.fromStack(defaults.stack).hasInfo('*', Match.stringLikeRegexp('triggerMode is observe: .* -c triggerMode=apply'));
    Annotations.fromStack(defaults.stack).hasInfo('*', Match.stringLikeRegexp('fnmsInventory is none and autoApplyTagOnly is false'));
  });

  it('the drift schedule ticks every driftTickMinutes and the function starts a pass every driftCheckScheduleHours', () => {
    const drift = ofType(resources, 'AWS::Scheduler::Schedule').find(([, s]) => JSON.stringify(s.Properties.Target.Arn).includes('DriftCheckHandler'))![1];
    expect(drift.Properties.ScheduleExpression).toBe('rate(15 minutes)');
    expect(drift.Properties.State).toBe('ENABLED');
    expect(functionNamed(resources, 'DriftCheckHandler').Properties.Environment.Variables[ENV.driftIntervalHours]).toBe('24');
  });

  it('the new-beacon function may tell the outcome topic why it refused an instance', () => {
    const publish = policiesOf(resources, 'NewBeaconHandler').filter((s) => ([] as string[]).concat(s.Action).includes('sns:Publish'));
    expect(JSON.stringify(publish.map((s) => s.Resource))).toContain('NotificationsOutcomeTopic');
  });

  it('without chat configured there is no chat function, no function URL, no chat secret grant and no WebhookUrl output', () => {
    expect(ofType(resources, 'AWS::Lambda::Url')).toEqual([]);
    expect(ofType(resources, 'AWS::Lambda::Function').filter(([id]) => id.startsWith('ChatOps'))).toEqual([]);
    const text = JSON.stringify(resources);
    expect(text).not.toContain('slack-signing-secret');
    expect(text).not.toContain('teams-security-token');
    expect(Object.keys(defaults.template.toJSON().Outputs ?? {}).filter((key) => key.includes('WebhookUrl'))).toEqual([]);
  });

  it('cdk-nag finds nothing unacknowledged without chat', () => {
    const report = new AwsSolutionsChecks().validateScope(defaults.stack);
    expect(report.violations.map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
  });
});

describe('chat configured, triggers off, tag-only opt-in', () => {
  let synth: ReturnType<typeof synthStack>;
  let resources: Resources;
  beforeAll(() => {
    synth = synthStack({ chatAllowedUsers: 'U012ABC', chatAllowedChannels: 'C034DEF', triggerMode: 'off', autoApplyTagOnly: 'true' });
    resources = synth.template.toJSON().Resources;
  });

  it('chat configured: the chat function with its function URL, the two chat secrets granted to it only, and the WebhookUrl output', () => {
    expect(ofType(resources, 'AWS::Lambda::Url')).toHaveLength(1);
    const secretReads = ofType(resources, 'AWS::IAM::Policy').flatMap(([id, p]) =>
      (p.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown }>)
        .filter((s) => ([] as string[]).concat(s.Action).includes('secretsmanager:GetSecretValue') && /slack|teams/.test(JSON.stringify(s.Resource)))
        .map(() => id),
    );
    expect(secretReads).toHaveLength(2);
    expect(secretReads.every((id) => id.startsWith('ChatOpsHandler'))).toBe(true);
    expect(Object.keys(synth.template.toJSON().Outputs).some((key) => key.includes('WebhookUrl'))).toBe(true);
  });

  it('chatEnabled=true deploys the webhook before anyone is allowlisted (it admits nobody yet)', () => {
    const { template } = synthStack({ chatEnabled: 'true' });
    expect(Object.keys(template.toJSON().Resources).filter((id) => id.startsWith('ChatOpsHandler'))).not.toEqual([]);
  });

  it('triggerMode off disables the new-beacon schedule, the tag rule and the drift schedule', () => {
    const tagRule = ofType(resources, 'AWS::Events::Rule').find(([, r]) => JSON.stringify(r.Properties.EventPattern ?? {}).includes('aws.tag'))![1];
    expect(tagRule.Properties.State).toBe('DISABLED');
    const schedules = ofType(resources, 'AWS::Scheduler::Schedule');
    expect(schedules.length).toBeGreaterThan(0);
    for (const [id, schedule] of schedules) expect(schedule.Properties.State, id).toBe('DISABLED');
    expect(functionNamed(resources, 'DriftCheckHandler').Properties.Environment.Variables[ENV.triggerMode]).toBe('off');
  });

  it('tag-only opt-in reaches the functions and synth warns who can then configure a beacon', () => {
    expect(functionNamed(resources, 'NewBeaconHandler').Properties.Environment.Variables[ENV.autoApplyTagOnly]).toBe('true');
    Annotations.fromStack(synth.stack).hasWarning('*', Match.stringLikeRegexp('autoApplyTagOnly is true: whoever may put the beacon-proxy:role tag'));
  });

  it('cdk-nag finds nothing unacknowledged with chat', () => {
    const report = new AwsSolutionsChecks().validateScope(synth.stack);
    expect(report.violations.map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
  });
});
