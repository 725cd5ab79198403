import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { RETRYABLE_ERRORS } from '../../lambdas/core/ports.js';
import { type RequestTiming, type RetryPolicy, WORKFLOW_CONSTANTS } from '../../lambdas/core/timing.js';
import { ENV } from '../../lambdas/aws/env-names.js';
import { INITIAL_LOOP, INITIAL_PIN } from '../../lambdas/rollout/state.js';
import { REQUEST_HANDLERS, REQUEST_STATES, type RequestHandlerId } from '../request-states.js';
import { BeaconFunction } from './beacon-function.js';
import { LAMBDA_SERVICE_ERRORS, LAMBDA_TIMEOUT_ERROR } from './beacon-workflow.js';

export interface RequestRolloutProps {
  encryptionKey: kms.IKey;
  table: dynamodb.ITable;
  outcomeTopic: sns.ITopic;
  environment: Record<string, string>;
  /** The per-beacon workflow the rollout starts. */
  beaconStateMachine: sfn.IStateMachine;
  /** The pin step (its own construct: it alone reads the FNMS and gateway secrets). */
  pinFunction: lambda.IFunction;
  timing: RequestTiming;
  /** Secrets Manager name of a Slack bot token (request messages by chat.postMessage), when configured. */
  slackBotTokenSecretName?: string;
}

/** The request workflow's name: known before it exists, so its own steps can continue it as a new execution. */
export const requestStateMachineName = (stackName: string) => `${stackName}-request-rollout`.slice(0, 80);

/**
 * The request workflow, one execution per request (named after it): expand the target page by page with a
 * checkpoint, start the beacons' workflows in waves (canary, maxConcurrency, maxErrors, halt, cancel), wait
 * for an operator's go when asked, decide the FNMS pin once for the request, wait for an operator's
 * confirmation (pinMode operator: a reminder, then `pin-unconfirmed`), and send the one summary.
 */
export class RequestRollout extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly functions: Record<RequestHandlerId, lambda.IFunction>;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: RequestRolloutProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const name = requestStateMachineName(stack.stackName);
    const requestArn = stack.formatArn({ service: 'states', resource: 'stateMachine', resourceName: name, arnFormat: 'arn:aws:states:region:account:stateMachine:name' as never });
    const environment = {
      ...props.environment,
      [ENV.requestTiming]: JSON.stringify(props.timing),
      [ENV.requestStateMachineArn]: requestArn,
      [ENV.stateMachineArn]: props.beaconStateMachine.stateMachineArn,
      ...(props.slackBotTokenSecretName ? { [ENV.slackBotTokenSecretName]: props.slackBotTokenSecretName } : {}),
    };
    const make = (handlerId: Exclude<RequestHandlerId, 'DecidePinFn'>, description: string, timeoutSeconds: number): lambda.Function =>
      new BeaconFunction(this, handlerId, {
        folder: REQUEST_HANDLERS[handlerId].folder,
        description: `beacon-proxy request workflow: ${description}`,
        encryptionKey: props.encryptionKey,
        environment,
        timeout: Duration.seconds(timeoutSeconds),
      }).fn;
    const fns = {
      PrepareTargetsFn: make('PrepareTargetsFn', 'expand the target page by page', props.timing.rolloutFunctionTimeoutSeconds),
      AdvanceRolloutFn: make('AdvanceRolloutFn', 'start the beacons in waves, halt, stop', props.timing.rolloutFunctionTimeoutSeconds),
      AwaitOperatorFn: make('AwaitOperatorFn', "ask an operator for a go or a pin confirmation", WORKFLOW_CONSTANTS.functionTimeoutSeconds),
      SummarizeRequestFn: make('SummarizeRequestFn', 'record how the request ended and send its summary', WORKFLOW_CONSTANTS.functionTimeoutSeconds),
    };
    this.functions = { ...fns, DecidePinFn: props.pinFunction };
    for (const fn of Object.values(fns)) props.table.grantReadWriteData(fn);
    for (const fn of [fns.AdvanceRolloutFn, fns.AwaitOperatorFn, fns.SummarizeRequestFn]) props.outcomeTopic.grantPublish(fn);
    // DescribeInstanceInformation has no resource-level permissions.
    fns.PrepareTargetsFn.addToRolePolicy(new iam.PolicyStatement({ actions: ['ssm:DescribeInstanceInformation'], resources: ['*'] }));
    props.beaconStateMachine.grantStartExecution(fns.AdvanceRolloutFn);
    // Continuing as a new execution (Step Functions' history limit): only this workflow.
    for (const fn of [fns.PrepareTargetsFn, fns.AdvanceRolloutFn]) fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [requestArn] }));
    if (props.slackBotTokenSecretName) {
      const secret = secretsmanager.Secret.fromSecretNameV2(this, 'SlackBotToken', props.slackBotTokenSecretName);
      for (const fn of [fns.AdvanceRolloutFn, fns.AwaitOperatorFn, fns.SummarizeRequestFn]) secret.grantRead(fn);
    }

    this.logGroup = new logs.LogGroup(this, 'ExecutionLogs', {
      logGroupName: `/aws/vendedlogs/states/${stack.stackName}-request-rollout`,
      encryptionKey: props.encryptionKey,
      retention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: name,
      comment: 'beacon-proxy: one request: expand its target, start its beacons in waves, decide its FNMS pin, summarize',
      definitionBody: sfn.DefinitionBody.fromChainable(this.definition(props.timing)),
      stateMachineType: sfn.StateMachineType.STANDARD,
      timeout: Duration.seconds(props.timing.stateMachineTimeoutSeconds),
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
    });
    // An operator's go or confirmation came before the wait: AwaitOperator ends its own wait (by ARN: the state machine depends on the function).
    fns.AwaitOperatorFn.addToRolePolicy(new iam.PolicyStatement({ actions: ['states:SendTaskSuccess'], resources: [requestArn] }));
  }

  private definition(timing: RequestTiming): sfn.IChainable {
    const c = WORKFLOW_CONSTANTS;
    const path = sfn.JsonPath;
    const fns = this.functions;
    const retry = (invoke: tasks.LambdaInvoke, errors: string[], policy: RetryPolicy) =>
      invoke.addRetry({
        errors,
        interval: Duration.seconds(policy.intervalSeconds),
        backoffRate: policy.backoffRate,
        maxAttempts: policy.maxAttempts,
        maxDelay: Duration.seconds(policy.maxDelaySeconds),
        jitterStrategy: sfn.JitterType.FULL,
      });
    const general = [RETRYABLE_ERRORS.throttled, RETRYABLE_ERRORS.transient, 'States.Timeout', LAMBDA_TIMEOUT_ERROR];
    const task = (stateName: string, fn: lambda.IFunction, resultPath: string, timeoutSeconds: number, payload?: Record<string, unknown>) => {
      const invoke = new tasks.LambdaInvoke(this, stateName, {
        stateName,
        lambdaFunction: fn,
        payloadResponseOnly: true,
        retryOnServiceExceptions: false,
        resultPath,
        // Above the function's timeout: the function is stopped first (Sandbox.Timedout), then retried.
        taskTimeout: sfn.Timeout.duration(Duration.seconds(timeoutSeconds + 10)),
        ...(payload ? { payload: sfn.TaskInput.fromObject(payload) } : {}),
      });
      retry(invoke, LAMBDA_SERVICE_ERRORS, c.lambdaServiceRetry);
      retry(invoke, general, c.generalRetry);
      return invoke;
    };
    /** An operator wait: the Lambda keeps the token and tells the operator; the state ends on SendTaskSuccess or its timeout. */
    const operatorWait = (stateName: string, resultPath: string, timeoutSeconds: number, payload: Record<string, unknown>) => {
      const invoke = new tasks.LambdaInvoke(this, stateName, {
        stateName,
        lambdaFunction: fns.AwaitOperatorFn,
        integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
        payload: sfn.TaskInput.fromObject({ ...payload, requestId: path.stringAt('$.requestId'), taskToken: path.taskToken }),
        resultPath,
        taskTimeout: sfn.Timeout.duration(Duration.seconds(timeoutSeconds)),
      });
      retry(invoke, LAMBDA_SERVICE_ERRORS, c.lambdaServiceRetry);
      retry(invoke, [RETRYABLE_ERRORS.throttled, RETRYABLE_ERRORS.transient, LAMBDA_TIMEOUT_ERROR], c.generalRetry);
      return invoke;
    };

    const ended = new sfn.Succeed(this, REQUEST_STATES.requestEnded);
    const continued = new sfn.Succeed(this, REQUEST_STATES.continuedAsNew, { comment: 'a new execution of this request (next generation) goes on from the rollout record' });
    // No Catch: a summary that fails past its retries fails the execution, and the cleanup function ends the request.
    const summarize = task(REQUEST_STATES.summarizeRequest, fns.SummarizeRequestFn, '$.summary', c.functionTimeoutSeconds).next(ended);

    // The pin: once the beacons are final. busy: another request holds the FNMS setting; await: an operator is asked.
    const remind = operatorWait(REQUEST_STATES.remindPinConfirmation, '$.pinConfirmation', timing.pinConfirmationSeconds - timing.pinReminderSeconds, {
      kind: 'pin',
      phase: 'remind',
      pin: path.objectAt('$.pin'),
    });
    remind.addCatch(summarize, { errors: [sfn.Errors.ALL], resultPath: '$.pinRemindError' });
    remind.next(summarize);
    const ask = operatorWait(REQUEST_STATES.askPinConfirmation, '$.pinConfirmation', timing.pinReminderSeconds, { kind: 'pin', phase: 'ask', pin: path.objectAt('$.pin') });
    ask.addCatch(remind, { errors: [sfn.Errors.TIMEOUT], resultPath: '$.pinAskError' });
    ask.addCatch(summarize, { errors: [sfn.Errors.ALL], resultPath: '$.pinAskError' });
    ask.next(summarize);
    const decidePin = task(REQUEST_STATES.decidePin, fns.DecidePinFn, '$.pin', c.pinFunctionTimeoutSeconds, {
      requestId: path.stringAt('$.requestId'),
      request: path.objectAt('$.request'),
      execution: path.objectAt('$.execution'),
      previous: path.objectAt('$.pin'),
    });
    decidePin.addCatch(summarize, { errors: [sfn.Errors.ALL], resultPath: '$.pinError' });
    const waitForPinLock = new sfn.Wait(this, REQUEST_STATES.waitForPinLock, { stateName: REQUEST_STATES.waitForPinLock, time: sfn.WaitTime.secondsPath('$.pin.waitSeconds') });
    decidePin.next(
      new sfn.Choice(this, REQUEST_STATES.checkPin)
        .when(sfn.Condition.stringEquals('$.pin.action', 'busy'), waitForPinLock.next(decidePin))
        .when(sfn.Condition.stringEquals('$.pin.action', 'await'), ask)
        .otherwise(summarize),
    );

    // The rollout loop: the reconciler starts, waits, pauses for a go, halts; `done` once every started beacon is final.
    const rolloutPayload = {
      requestId: path.stringAt('$.requestId'),
      request: path.objectAt('$.request'),
      source: path.stringAt('$.source'),
      dryRun: path.stringAt('$.dryRun'),
      replyTo: path.stringAt('$.replyTo'),
      receivedAt: path.stringAt('$.receivedAt'),
      generation: path.numberAt('$.generation'),
      execution: path.objectAt('$.execution'),
      loop: path.objectAt('$.loop'),
    };
    const advance = task(REQUEST_STATES.advanceRollout, fns.AdvanceRolloutFn, '$.loop', timing.rolloutFunctionTimeoutSeconds, rolloutPayload);
    advance.addCatch(summarize, { errors: [sfn.Errors.ALL], resultPath: '$.loopError' });
    const advanceAfterTimeout = task(REQUEST_STATES.goTimedOut, fns.AdvanceRolloutFn, '$.loop', timing.rolloutFunctionTimeoutSeconds, { ...rolloutPayload, signal: 'go-timeout' });
    advanceAfterTimeout.addCatch(summarize, { errors: [sfn.Errors.ALL], resultPath: '$.loopError' });
    const awaitGo = operatorWait(REQUEST_STATES.awaitGo, '$.go', timing.goWaitSeconds, { kind: 'go' });
    awaitGo.addCatch(advanceAfterTimeout, { errors: [sfn.Errors.TIMEOUT], resultPath: '$.goError' });
    awaitGo.addCatch(advance, { errors: [sfn.Errors.ALL], resultPath: '$.goError' });
    awaitGo.next(advance);
    const waitForBeacons = new sfn.Wait(this, REQUEST_STATES.waitForBeacons, { stateName: REQUEST_STATES.waitForBeacons, time: sfn.WaitTime.secondsPath('$.loop.waitSeconds') });
    const checkRollout = new sfn.Choice(this, REQUEST_STATES.checkRollout)
      .when(sfn.Condition.stringEquals('$.loop.status', 'continued'), continued)
      .when(sfn.Condition.stringEquals('$.loop.status', 'awaiting-go'), awaitGo)
      .when(sfn.Condition.stringEquals('$.loop.status', 'done'), decidePin)
      .otherwise(waitForBeacons.next(advance));
    advance.next(checkRollout);
    advanceAfterTimeout.next(checkRollout);

    // The expansion loop: pages of the target with a checkpoint, until every beacon has its row and position.
    const prepare = task(REQUEST_STATES.prepareTargets, fns.PrepareTargetsFn, '$.loop', timing.rolloutFunctionTimeoutSeconds, rolloutPayload);
    prepare.addCatch(summarize, { errors: [sfn.Errors.ALL], resultPath: '$.loopError' });
    const waitToExpand = new sfn.Wait(this, REQUEST_STATES.waitToExpand, { stateName: REQUEST_STATES.waitToExpand, time: sfn.WaitTime.secondsPath('$.loop.waitSeconds') });
    prepare.next(
      new sfn.Choice(this, REQUEST_STATES.checkExpanded)
        .when(sfn.Condition.stringEquals('$.loop.status', 'continued'), continued)
        .when(sfn.Condition.stringEquals('$.loop.status', 'expanded'), advance)
        .otherwise(waitToExpand.next(prepare)),
    );

    const start = new sfn.Pass(this, REQUEST_STATES.startRequest, {
      stateName: REQUEST_STATES.startRequest,
      parameters: {
        'requestId.$': '$.requestId',
        'request.$': '$.request',
        'source.$': '$.source',
        'dryRun.$': '$.dryRun',
        'replyTo.$': '$.replyTo',
        'receivedAt.$': '$.receivedAt',
        'generation.$': '$.generation',
        execution: { 'name.$': '$$.Execution.Name', 'startedAt.$': '$$.Execution.StartTime' },
        loop: INITIAL_LOOP,
        pin: INITIAL_PIN,
      },
    });
    return start.next(prepare);
  }
}
