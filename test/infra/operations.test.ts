/** The on-call view: the CloudWatch dashboard's widgets and the alarms on queue age, DLQ depth and SSM throttles. */
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { METRICS } from '../../lambdas/aws/env-names.js';
import { OPERATIONS_THRESHOLDS } from '../../infra/constructs/operations-dashboard.js';
import { STACK_OUTPUTS } from '../../infra/stack-outputs.js';
import { synthStack } from './synth.js';

interface Widget {
  type: string;
  properties: { title?: string; metrics?: unknown[][]; alarms?: unknown[]; markdown?: string };
}

let template: ReturnType<typeof synthStack>['template'];
let widgets: Widget[];
let resources: Record<string, { Type: string; Properties: Record<string, any> }>;

beforeAll(() => {
  ({ template } = synthStack({ stackName: 'BeaconOps' }));
  resources = template.toJSON().Resources;
  const [dashboard] = Object.values(resources).filter((resource) => resource.Type === 'AWS::CloudWatch::Dashboard');
  // The body is a Fn::Join of JSON text and references; references become a placeholder string.
  const parts = dashboard!.Properties.DashboardBody['Fn::Join'][1] as unknown[];
  widgets = JSON.parse(parts.map((part) => (typeof part === 'string' ? part : 'REF')).join('')).widgets;
});

const widget = (title: RegExp): Widget => {
  const found = widgets.find((w) => title.test(w.properties.title ?? ''));
  if (!found) throw new Error(`no widget titled ${title}; titles: ${widgets.map((w) => w.properties.title).join(', ')}`);
  return found;
};
/** The metric names (or expressions) a graph draws. */
const drawn = (w: Widget) =>
  (w.properties.metrics ?? []).map((metric) =>
    metric
      .map((part) => (typeof part === 'string' ? part : ((part as { expression?: string }).expression ?? '')))
      .filter(Boolean)
      .join(' '),
  );

it('the stack declares every output the operator CLI reads', () => {
  for (const key of Object.values(STACK_OUTPUTS)) expect(Object.keys(template.findOutputs(key)), key).toEqual([key]);
});

describe('7. the operations dashboard', () => {
  it('is named after the stack and its URL is a stack output', () => {
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'BeaconOps-operations' });
    expect(JSON.stringify(template.findOutputs(STACK_OUTPUTS.dashboardUrl))).toContain('#dashboards:name=BeaconOps-operations');
  });

  it('shows requests by source and outcome (a search over both dimensions)', () => {
    const [expression] = drawn(widget(/Requests by source and outcome/));
    expect(expression).toContain(`SEARCH('{${METRICS.namespace},outcome,service,source} MetricName="${METRICS.requests}"', 'Sum', 300)`);
  });

  it('shows beacons ok / rolled back / failed (every final state)', () => {
    const lines = drawn(widget(/Beacons by outcome/));
    for (const state of ['ok', 'rolled-back', 'failed', 'pin-failed', 'error', 'busy', 'skipped', 'dry-run']) {
      expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${METRICS.namespace} ${METRICS.beaconOutcomes} outcome ${state} service ${METRICS.service}`)));
    }
  });

  it('shows workflow executions failed and timed out', () => {
    const lines = drawn(widget(/Workflow executions/)).join('\n');
    for (const metric of ['ExecutionsStarted', 'ExecutionsFailed', 'ExecutionsTimedOut', 'ExecutionsAborted']) expect(lines).toContain(`AWS/States ${metric}`);
  });

  it('shows the intake queue depth and the age of its oldest message, and the DLQ depth', () => {
    const intake = drawn(widget(/Intake queue/)).join('\n');
    expect(intake).toContain('AWS/SQS ApproximateNumberOfMessagesVisible');
    expect(intake).toContain('AWS/SQS ApproximateAgeOfOldestMessage');
    expect(drawn(widget(/Dead-letter queue/)).join('\n')).toContain('AWS/SQS ApproximateNumberOfMessagesVisible');
  });

  it('shows SSM throttles and FNMS errors', () => {
    expect(drawn(widget(/SSM throttles/)).join('\n')).toContain(`${METRICS.namespace} ${METRICS.ssmThrottles}`);
    expect(drawn(widget(/FNMS errors/)).join('\n')).toContain(`${METRICS.namespace} ${METRICS.fnmsErrors}`);
  });

  it('puts every alarm of the stack on top, and points at the redrive command', () => {
    const status = widgets.find((w) => w.type === 'alarm');
    const alarms = Object.values(resources).filter((resource) => resource.Type === 'AWS::CloudWatch::Alarm' || resource.Type === 'AWS::CloudWatch::CompositeAlarm');
    expect(status?.properties.alarms).toHaveLength(alarms.length);
    expect(widgets.find((w) => w.type === 'text')?.properties.markdown).toContain('beacon-proxy redrive --stack BeaconOps');
  });
});

describe('7. alarms on queue age, DLQ depth and SSM throttles', () => {
  const topic = [{ Ref: Match.stringLikeRegexp('^NotificationsAlarmTopic') }];

  it('the intake queue\'s oldest message older than the threshold alarms', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateAgeOfOldestMessage',
      Namespace: 'AWS/SQS',
      Statistic: 'Maximum',
      Threshold: OPERATIONS_THRESHOLDS.intakeQueueAgeSeconds,
      ComparisonOperator: 'GreaterThanThreshold',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^IntakeQueue(?!DeadLetter)'), 'QueueName'] } }],
      AlarmActions: topic,
    });
  });

  it('a message in the DLQ alarms', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Threshold: 0,
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('DeadLetterQueue'), 'QueueName'] } }],
      AlarmActions: topic,
    });
  });

  it('sustained SSM throttling alarms', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: METRICS.ssmThrottles,
      Namespace: METRICS.namespace,
      Statistic: 'Sum',
      Threshold: OPERATIONS_THRESHOLDS.ssmThrottlesPerPeriod,
      EvaluationPeriods: OPERATIONS_THRESHOLDS.ssmThrottlePeriods,
      DatapointsToAlarm: OPERATIONS_THRESHOLDS.ssmThrottlePeriods,
      TreatMissingData: 'notBreaching',
      AlarmActions: topic,
    });
  });
});
