import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { METRICS, METRIC_DIMENSIONS } from '../../lambdas/aws/env-names.js';
import { TERMINAL_BEACON_STATES } from '../../lambdas/core/ports.js';

/** Where the operations alarms trip; the README's runbook quotes these. */
export const OPERATIONS_THRESHOLDS = {
  /** The intake drains its queue in seconds: a message this old means the intake is stuck or failing. */
  intakeQueueAgeSeconds: 15 * 60,
  /** Throttled SSM calls per 5 minutes (SDK retries included) that, sustained, slow every beacon down. */
  ssmThrottlesPerPeriod: 25,
  /** Consecutive 5-minute periods over that rate before the alarm fires (a burst the SDK absorbs is normal). */
  ssmThrottlePeriods: 3,
} as const;

export interface OperationsDashboardProps {
  intakeQueue: sqs.IQueue;
  deadLetterQueue: sqs.IQueue;
  stateMachine: sfn.IStateMachine;
  alarmTopic: sns.ITopic;
  /** The stack's other alarms, shown in the dashboard's alarm status row. */
  alarms: cloudwatch.IAlarm[];
}

const FIVE_MINUTES = Duration.minutes(5);

function custom(metricName: string, dimensions: Record<string, string> = {}, label?: string): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS.namespace,
    metricName,
    dimensionsMap: { service: METRICS.service, ...dimensions },
    period: FIVE_MINUTES,
    statistic: 'Sum',
    ...(label ? { label } : {}),
  });
}

/**
 * The on-call view: what came in (by source and outcome), what became of each beacon, the workflow, the
 * intake queue and its DLQ, SSM throttling and FNMS errors, with the alarms on top. Also the alarms that
 * watch the queue's age and SSM throttling (the DLQ depth alarm lives with the stack's other alarms).
 */
export class OperationsDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;
  readonly dashboardName: string;
  readonly alarms: cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: OperationsDashboardProps) {
    super(scope, id);
    const stack = Stack.of(this);
    // Alarms take the plain metrics; the graphs add labels.
    const queueAge = props.intakeQueue.metricApproximateAgeOfOldestMessage({ period: FIVE_MINUTES, statistic: 'Maximum' });
    const ssmThrottles = custom(METRICS.ssmThrottles);

    const intakeStale = new cloudwatch.Alarm(this, 'IntakeQueueStale', {
      metric: queueAge,
      threshold: OPERATIONS_THRESHOLDS.intakeQueueAgeSeconds,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `A request has waited more than ${OPERATIONS_THRESHOLDS.intakeQueueAgeSeconds / 60} minutes in the intake queue: the intake function is failing or throttled; see its log group and the EntryFunctionErrors alarm.`,
    });
    const ssmThrottled = new cloudwatch.Alarm(this, 'SsmThrottled', {
      metric: ssmThrottles,
      threshold: OPERATIONS_THRESHOLDS.ssmThrottlesPerPeriod,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: OPERATIONS_THRESHOLDS.ssmThrottlePeriods,
      datapointsToAlarm: OPERATIONS_THRESHOLDS.ssmThrottlePeriods,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `SSM has throttled more than ${OPERATIONS_THRESHOLDS.ssmThrottlesPerPeriod} calls per 5 minutes for ${OPERATIONS_THRESHOLDS.ssmThrottlePeriods * 5} minutes: beacons wait longer; send fewer beacons at once or check other SSM users of the account.`,
    });
    this.alarms = [intakeStale, ssmThrottled];
    for (const alarm of this.alarms) alarm.addAlarmAction(new actions.SnsAction(props.alarmTopic));

    this.dashboardName = `${stack.stackName}-operations`;
    const requestsBySourceAndOutcome = new cloudwatch.MathExpression({
      expression: `SEARCH('{${METRICS.namespace},${METRIC_DIMENSIONS.outcome},service,${METRIC_DIMENSIONS.source}} MetricName="${METRICS.requests}"', 'Sum', 300)`,
      usingMetrics: {},
      label: '',
      period: FIVE_MINUTES,
    });
    const beaconOutcomes = TERMINAL_BEACON_STATES.map((state) => custom(METRICS.beaconOutcomes, { [METRIC_DIMENSIONS.outcome]: state }, state));
    const workflow = props.stateMachine;
    const workflowMetric = (metric: cloudwatch.Metric, label: string) => metric.with({ label, period: FIVE_MINUTES, statistic: 'Sum' });

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: this.dashboardName,
      defaultInterval: Duration.hours(24),
      widgets: [
        [
          new cloudwatch.TextWidget({
            markdown: `# beacon-proxy (${stack.stackName})\nRunbook: README "Operating it". Dead-lettered requests: \`beacon-proxy redrive --stack ${stack.stackName}\`.`,
            width: 8,
            height: 4,
          }),
          new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: [...props.alarms, ...this.alarms], width: 16, height: 4 }),
        ],
        [
          new cloudwatch.GraphWidget({ title: 'Requests by source and outcome', left: [requestsBySourceAndOutcome], stacked: true, width: 12 }),
          new cloudwatch.GraphWidget({ title: 'Beacons by outcome (ok, rolled back, failed, ...)', left: beaconOutcomes, stacked: true, width: 12 }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Workflow executions',
            left: [
              workflowMetric(workflow.metricStarted(), 'started'),
              workflowMetric(workflow.metricSucceeded(), 'succeeded'),
              workflowMetric(workflow.metricFailed(), 'failed'),
              workflowMetric(workflow.metricTimedOut(), 'timed out'),
              workflowMetric(workflow.metricAborted(), 'aborted'),
            ],
            width: 12,
          }),
          new cloudwatch.GraphWidget({
            title: 'Intake queue',
            left: [props.intakeQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum', label: 'waiting' })],
            right: [queueAge.with({ label: 'age of oldest message (s)' })],
            leftAnnotations: [],
            rightAnnotations: [{ value: OPERATIONS_THRESHOLDS.intakeQueueAgeSeconds, label: 'IntakeQueueStale alarm' }],
            width: 12,
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Dead-letter queue (redrive with beacon-proxy redrive)',
            left: [props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum', label: 'dead-lettered requests' })],
            width: 8,
          }),
          new cloudwatch.GraphWidget({
            title: 'SSM throttles',
            left: [ssmThrottles.with({ label: 'throttled SSM calls' })],
            leftAnnotations: [{ value: OPERATIONS_THRESHOLDS.ssmThrottlesPerPeriod, label: 'SsmThrottled alarm' }],
            width: 8,
          }),
          new cloudwatch.GraphWidget({ title: 'FNMS errors', left: [custom(METRICS.fnmsErrors, {}, 'FNMS calls failed after retries')], width: 8 }),
        ],
      ],
    });
  }

  /** The console address of the dashboard. */
  url(): string {
    const region = Stack.of(this).region;
    return `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards:name=${this.dashboardName}`;
  }
}
