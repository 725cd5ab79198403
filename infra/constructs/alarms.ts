import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { METRICS } from '../../lambdas/aws/env-names.js';

export interface AlarmsProps {
  alarmTopic: sns.ITopic;
  deadLetterQueue: sqs.IQueue;
  stateMachine: sfn.IStateMachine;
  /** The request workflow (one execution per request). */
  requestStateMachine?: sfn.IStateMachine;
  /** Entry functions (intake, API, ChatOps, triggers): an error there means a request may have been lost. */
  entryFunctions: lambda.IFunction[];
  /** The cleanup of executions that ended without their finally: its failures and its dead letters. */
  cleanupFunction: lambda.IFunction;
  cleanupDeadLetterQueue: sqs.IQueue;
}

/**
 * Sum of sparse series: CloudWatch metric math yields a point only where every series has one, so each
 * series is filled with 0 first (an error in one function alone must breach).
 */
export function filledSum(metrics: Record<string, cloudwatch.IMetric>, period: Duration): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({ expression: Object.keys(metrics).map((id) => `FILL(${id}, 0)`).join(' + '), usingMetrics: metrics, period });
}

/** What an operator must look at: a message nobody could process, a beacon not configured, FNMS failing. */
export class Alarms extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: AlarmsProps) {
    super(scope, id);
    const add = (alarmId: string, metric: cloudwatch.IMetric, description: string) => {
      const alarm = new cloudwatch.Alarm(this, alarmId, {
        metric,
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      alarm.addAlarmAction(new actions.SnsAction(props.alarmTopic));
      this.alarms.push(alarm);
    };
    add(
      'DeadLetterQueueNotEmpty',
      props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
      'A request could not be processed after retries and sits in the dead-letter queue; inspect it and redrive.',
    );
    add(
      'WorkflowFailed',
      filledSum(
        {
          failed: props.stateMachine.metricFailed({ period: Duration.minutes(5), statistic: 'Sum' }),
          timedOut: props.stateMachine.metricTimedOut({ period: Duration.minutes(5), statistic: 'Sum' }),
          aborted: props.stateMachine.metricAborted({ period: Duration.minutes(5), statistic: 'Sum' }),
        },
        Duration.minutes(5),
      ),
      'A beacon workflow ended without configuring its beacon (failed, rolled back, busy, timed out or aborted); see the request status.',
    );
    add(
      'FnmsErrors',
      new cloudwatch.Metric({ namespace: METRICS.namespace, metricName: METRICS.fnmsErrors, dimensionsMap: { service: METRICS.service }, period: Duration.minutes(5), statistic: 'Sum' }),
      'FNMS calls failed after retries: the approved beacon version may not be pinned; check the FNMS URL, the secret and FNMS itself.',
    );
    add(
      'PinUnconfirmed',
      new cloudwatch.Metric({ namespace: METRICS.namespace, metricName: METRICS.pinUnconfirmed, dimensionsMap: { service: METRICS.service }, period: Duration.minutes(5), statistic: 'Sum' }),
      'A request ended pin-unconfirmed: nobody confirmed "Beacon version approved for use" in time (pinMode operator). Its beacons are configured; set the value in FNMS and send the request again, or confirm a newer pin.',
    );
    if (props.requestStateMachine) {
      add(
        'RequestWorkflowFailed',
        filledSum(
          {
            failed: props.requestStateMachine.metricFailed({ period: Duration.minutes(5), statistic: 'Sum' }),
            timedOut: props.requestStateMachine.metricTimedOut({ period: Duration.minutes(5), statistic: 'Sum' }),
            aborted: props.requestStateMachine.metricAborted({ period: Duration.minutes(5), statistic: 'Sum' }),
          },
          Duration.minutes(5),
        ),
        'A request workflow ended without its summary (failed, timed out or aborted): beacons not started were not changed; see the request status.',
      );
    }
    const errors = Object.fromEntries(props.entryFunctions.map((fn, index) => [`e${index}`, fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' })]));
    add(
      'EntryFunctionErrors',
      filledSum(errors, Duration.minutes(5)),
      'An entry function (intake, API, ChatOps, new-beacon or drift trigger) failed; see its log group.',
    );
    add(
      'ExecutionCleanupFailed',
      filledSum(
        {
          errors: props.cleanupFunction.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
          deadLetters: props.cleanupDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
        },
        Duration.minutes(5),
      ),
      'The cleanup of a workflow execution that ended without its finally failed: a beacon lock, status or notification may be missing; see the cleanup log group and its dead-letter queue.',
    );
  }
}
