import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { RETRYABLE_ERRORS } from '../../lambdas/core/ports.js';
import { maxPollFailures, pollFailureWaitSeconds, type RetryPolicy, WORKFLOW_CONSTANTS, type WorkflowTiming } from '../../lambdas/core/timing.js';
import { ENV } from '../../lambdas/aws/env-names.js';
import { initialPollState } from '../../lambdas/poll-command/handler.js';
import { FAIL_ERRORS, STATES, WORKFLOW_HANDLERS, type WorkflowHandlerId } from '../workflow-states.js';
import { BeaconFunction } from './beacon-function.js';

/** Errors of the Lambda service itself (not of the handler): always worth a retry with backoff. */
export const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.ClientExecutionTimeoutException',
  'Lambda.TooManyRequestsException',
];

/** What Step Functions reports when a Lambda function is killed at its timeout. */
export const LAMBDA_TIMEOUT_ERROR = 'Sandbox.Timedout';

export interface BeaconWorkflowProps {
  encryptionKey: kms.IKey;
  table: dynamodb.ITable;
  outcomeTopic: sns.ITopic;
  /** Environment shared by every step function (table, tag, document names...). */
  environment: Record<string, string>;
  /** ARNs of this stack's beacon documents: the only documents SendCommand may run. */
  documentArns: string[];
  beaconTag: { key: string; value: string };
  /** The derived timing model (deriveWorkflowTiming): every deadline of the workflow. */
  timing: WorkflowTiming;
  /** Where SSM writes full document transcripts (GetCommandInvocation only returns 24,000 characters). */
  commandLogGroup: logs.ILogGroup;
}

/**
 * The per-beacon workflow: resolve -> lock -> (cancelled?) -> configure -> poll -> judge -> (cancelled with
 * rollback?) -> record -> notify, with rollback when the beacon did not roll back by itself. The FNMS pin is
 * decided once per request by the request workflow, after its beacons finished. Every path, failures included, passes through
 * ReleaseLock, RecordOutcome and NotifyRequester (the workflow's finally).
 */
export class BeaconWorkflow extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly functions: Record<WorkflowHandlerId, lambda.IFunction>;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: BeaconWorkflowProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const environment = {
      ...props.environment,
      [ENV.workflowTiming]: JSON.stringify(props.timing),
      [ENV.commandLogGroup]: props.commandLogGroup.logGroupName,
    };
    const make = (handlerId: WorkflowHandlerId, description: string): lambda.Function =>
      new BeaconFunction(this, handlerId, {
        folder: WORKFLOW_HANDLERS[handlerId].folder,
        description: `beacon-proxy workflow: ${description}`,
        encryptionKey: props.encryptionKey,
        environment,
        timeout: Duration.seconds(props.timing.functionTimeoutSeconds),
      }).fn;
    const fns = {
      ResolveTargetFn: make('ResolveTargetFn', 'resolve the target beacon'),
      AcquireLockFn: make('AcquireLockFn', 'take the per-beacon lock'),
      ReleaseLockFn: make('ReleaseLockFn', 'release the per-beacon lock'),
      SendCommandFn: make('SendCommandFn', 'send a beacon document'),
      PollCommandFn: make('PollCommandFn', 'poll and judge a document run'),
      RecordOutcomeFn: make('RecordOutcomeFn', 'record the outcome'),
      NotifyRequesterFn: make('NotifyRequesterFn', 'notify the requester'),
      CheckCancelledFn: make('CheckCancelledFn', "check whether the beacon's request was cancelled"),
    };
    this.functions = fns;
    this.grant(fns, props);

    this.logGroup = new logs.LogGroup(this, 'ExecutionLogs', {
      logGroupName: `/aws/vendedlogs/states/${stack.stackName}-beacon-workflow`,
      encryptionKey: props.encryptionKey,
      retention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      comment: 'beacon-proxy: configure one FlexNet inventory beacon to use a proxy',
      definitionBody: sfn.DefinitionBody.fromChainable(this.definition(props)),
      stateMachineType: sfn.StateMachineType.STANDARD,
      timeout: Duration.seconds(props.timing.stateMachineTimeoutSeconds),
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
    });
  }

  private grant(fns: Record<WorkflowHandlerId, lambda.Function>, props: BeaconWorkflowProps): void {
    const stack = Stack.of(this);
    props.table.grantReadData(fns.CheckCancelledFn);
    for (const fn of [fns.AcquireLockFn, fns.ReleaseLockFn, fns.SendCommandFn, fns.PollCommandFn, fns.RecordOutcomeFn, fns.NotifyRequesterFn]) props.table.grantReadWriteData(fn);
    // DescribeInstanceInformation, GetCommandInvocation and ListCommands have no resource-level permissions.
    fns.ResolveTargetFn.addToRolePolicy(new iam.PolicyStatement({ actions: ['ssm:DescribeInstanceInformation'], resources: ['*'] }));
    fns.PollCommandFn.addToRolePolicy(new iam.PolicyStatement({ actions: ['ssm:GetCommandInvocation', 'ssm:ListCommands'], resources: ['*'] }));
    fns.SendCommandFn.addToRolePolicy(new iam.PolicyStatement({ actions: ['ssm:ListCommands'], resources: ['*'] }));
    grantSendBeaconCommand(fns.SendCommandFn, props.documentArns, props.beaconTag, stack);
    grantCancelBeaconCommand(fns.PollCommandFn);
    props.outcomeTopic.grantPublish(fns.NotifyRequesterFn);
  }

  private definition(props: BeaconWorkflowProps): sfn.IChainable {
    const timing = props.timing;
    const c = WORKFLOW_CONSTANTS;
    const retry = (invoke: tasks.LambdaInvoke, errors: string[], policy: RetryPolicy) =>
      invoke.addRetry({
        errors,
        interval: Duration.seconds(policy.intervalSeconds),
        backoffRate: policy.backoffRate,
        maxAttempts: policy.maxAttempts,
        maxDelay: Duration.seconds(policy.maxDelaySeconds),
        jitterStrategy: sfn.JitterType.FULL,
      });
    const task = (stateName: string, fn: lambda.IFunction, resultPath: string, payload?: Record<string, unknown>, options: { kind?: 'send' | 'poll' } = {}) => {
      const invoke = new tasks.LambdaInvoke(this, stateName, {
        stateName,
        lambdaFunction: fn,
        payloadResponseOnly: true,
        retryOnServiceExceptions: false,
        resultPath,
        taskTimeout: sfn.Timeout.duration(Duration.seconds(timing.taskTimeoutSeconds)),
        ...(payload ? { payload: sfn.TaskInput.fromObject(payload) } : {}),
      });
      const general = [RETRYABLE_ERRORS.throttled, RETRYABLE_ERRORS.transient, 'States.Timeout', LAMBDA_TIMEOUT_ERROR];
      if (options.kind === 'poll') {
        // The poll loop tries again by itself: a failed poll is retried briefly, then counted by the loop.
        retry(invoke, LAMBDA_SERVICE_ERRORS, c.pollRetry);
        retry(invoke, general, c.pollRetry);
        return invoke;
      }
      retry(invoke, LAMBDA_SERVICE_ERRORS, c.lambdaServiceRetry);
      // Matched before the general retrier below: a throttled SendCommand retries soon and for long.
      if (options.kind === 'send') retry(invoke, [RETRYABLE_ERRORS.throttled], c.sendThrottleRetry);
      // Every step is idempotent (a retried send finds its earlier command), so a timed-out attempt is retried too.
      retry(invoke, general, c.generalRetry);
      return invoke;
    };
    const path = sfn.JsonPath;
    const ids = { requestId: path.stringAt('$.requestId'), instanceId: path.stringAt('$.instanceId') };
    const fns = this.functions;
    const caught = { errors: [sfn.Errors.ALL], resultPath: '$.error' };
    const comment = (kind: string) => path.format(`${kind} {}`, path.executionName);

    // The finally: every branch ends here. A failed finally step ends the execution with FinallyIncomplete,
    // which the cleanup function (EventBridge) completes.
    const succeeded = new sfn.Succeed(this, STATES.workflowSucceeded);
    const failed = new sfn.Fail(this, STATES.workflowFailed, { error: FAIL_ERRORS.beaconNotConfigured, cause: 'the beacon was not configured; see the request status for the reasons' });
    const finallyIncomplete = new sfn.Fail(this, STATES.finallyIncomplete, {
      error: FAIL_ERRORS.finallyIncomplete,
      cause: 'releasing the lock, recording the outcome or notifying the requester failed; the cleanup function completes it',
    });
    // A per-beacon rollback that restored its capture did what was asked.
    const rollbackAsked = sfn.Condition.and(sfn.Condition.isPresent('$.action.kind'), sfn.Condition.stringEquals('$.action.kind', 'rollback'));
    const checkOutcome = new sfn.Choice(this, STATES.checkOutcome)
      .when(sfn.Condition.or(...['ok', 'dry-run', 'skipped'].map((state) => sfn.Condition.stringEquals('$.outcome.state', state))), succeeded)
      .when(sfn.Condition.and(rollbackAsked, sfn.Condition.stringEquals('$.outcome.state', 'rolled-back')), succeeded)
      .otherwise(failed);
    const checkFinally = new sfn.Choice(this, STATES.checkFinally)
      .when(sfn.Condition.or(sfn.Condition.isPresent('$.releaseError'), sfn.Condition.isPresent('$.recordError')), finallyIncomplete)
      .otherwise(checkOutcome);
    const notify = task(STATES.notifyRequester, fns.NotifyRequesterFn, '$.notified');
    notify.addCatch(finallyIncomplete, { errors: [sfn.Errors.ALL], resultPath: '$.notifyError' });
    const record = task(STATES.recordOutcome, fns.RecordOutcomeFn, '$.recorded');
    record.addCatch(notify, { errors: [sfn.Errors.ALL], resultPath: '$.recordError' });
    const release = task(STATES.releaseLock, fns.ReleaseLockFn, '$.released', { instanceId: ids.instanceId, owner: path.executionName });
    release.addCatch(record, { errors: [sfn.Errors.ALL], resultPath: '$.releaseError' });
    release.next(record);
    record.next(notify);
    notify.next(checkFinally);

    const outcome = (stateName: string, state: string) =>
      new sfn.Pass(this, stateName, { stateName, result: sfn.Result.fromObject({ state }), resultPath: '$.outcome' }).next(release);
    const targetSkipped = outcome(STATES.targetSkipped, 'skipped');
    const dryRunPlanned = outcome(STATES.dryRunPlanned, 'dry-run');
    const beaconBusy = outcome(STATES.beaconBusy, 'busy');
    const superseded = outcome(STATES.superseded, 'superseded');
    const configured = outcome(STATES.configured, 'ok');
    const configureNotRun = outcome(STATES.configureNotRun, 'not-run');
    const cancelledBeforeConfigure = outcome(STATES.cancelledBeforeConfigure, 'cancelled');
    const beaconRolledBack = outcome(STATES.beaconRolledBack, 'rolled-back');
    const rolledBackByPipeline = outcome(STATES.rolledBackByPipeline, 'rolled-back');
    const rollbackFailed = outcome(STATES.rollbackFailed, 'failed');
    const stepFailed = outcome(STATES.stepFailed, 'error');

    /**
     * Watches one command to its end: poll (the step judges a finished command itself), cancel past the
     * deadline and wait for a terminal status. A poll that fails past its retries goes back to waiting;
     * after `maxPollFailures` of them (which alone cover the command's whole window) the loop gives up.
     */
    const watch = (
      kind: 'plan' | 'configure' | 'rollback',
      names: { start: string; wait: string; poll: string; check: string; failed?: string; checkFailures?: string; waitAfterFailure?: string },
      commandPath: string,
      pollPath: string,
      onDone: sfn.IChainable,
      onGiveUp: sfn.IChainable,
    ) => {
      const document = kind === 'plan' ? 'verify' : kind;
      const start = new sfn.Pass(this, names.start, { stateName: names.start, result: sfn.Result.fromObject(initialPollState(timing.firstPollSeconds)), resultPath: pollPath });
      const wait = new sfn.Wait(this, names.wait, { stateName: names.wait, time: sfn.WaitTime.secondsPath(`${pollPath}.waitSeconds`) });
      const poll = task(names.poll, fns.PollCommandFn, pollPath, { ...ids, command: path.objectAt(commandPath), poll: path.objectAt(pollPath) }, { kind: 'poll' });
      const check = new sfn.Choice(this, names.check).when(sfn.Condition.booleanEquals(`${pollPath}.done`, true), onDone).otherwise(wait);
      start.next(wait).next(poll).next(check);
      if (!names.failed || !names.checkFailures || !names.waitAfterFailure) {
        poll.addCatch(onGiveUp, caught);
        return start;
      }
      const limit = maxPollFailures(timing.pollDeadlineSeconds[document], timing.cancelWaitSeconds, timing.maxPollSeconds);
      const countFailure = new sfn.Pass(this, names.failed, {
        stateName: names.failed,
        parameters: { 'count.$': `States.MathAdd(${pollPath}.failures.count, 1)` },
        resultPath: `${pollPath}.failures`,
      });
      const waitAfterFailure = new sfn.Wait(this, names.waitAfterFailure, { stateName: names.waitAfterFailure, time: sfn.WaitTime.duration(Duration.seconds(pollFailureWaitSeconds(timing.maxPollSeconds))) });
      poll.addCatch(countFailure, { errors: [sfn.Errors.ALL], resultPath: `${pollPath}.lastError` });
      countFailure.next(
        new sfn.Choice(this, names.checkFailures)
          .when(sfn.Condition.numberGreaterThanEquals(`${pollPath}.failures.count`, limit), onGiveUp)
          .otherwise(waitAfterFailure.next(poll)),
      );
      return start;
    };
    /**
     * A send step that failed may still have sent its command: the poll step finds it by its comment (no
     * command id, no send time: the poll measures the delivery deadline from its first look).
     */
    const sendUnconfirmed = (stateName: string, kind: 'configure' | 'rollback', commandPath: string, commentOf: string) =>
      new sfn.Pass(this, stateName, { stateName, parameters: { kind, comment: commentOf }, resultPath: commandPath });

    // Rollback, tried up to `rollbackAttempts` times: a rollback that did not run or did not confirm is sent again.
    const rollbackComment = path.format('rollback#{} {}', path.stringAt('$.rollbackAttempt.n'), path.executionName);
    const sendRollback = task(
      STATES.sendRollback,
      fns.SendCommandFn,
      '$.rollbackCommand',
      { document: 'rollback', ...ids, captureId: path.stringAt('$.rollbackAttempt.captureId'), comment: rollbackComment },
      { kind: 'send' },
    );
    // The capture a failed configure restores is its own (the request id); a per-beacon rollback names one.
    const startRollback = new sfn.Pass(this, STATES.startRollback, { stateName: STATES.startRollback, parameters: { n: 1, 'captureId.$': '$.requestId' }, resultPath: '$.rollbackAttempt' });
    const startBeaconRollback = new sfn.Pass(this, STATES.startBeaconRollback, {
      stateName: STATES.startBeaconRollback,
      parameters: { n: 1, 'captureId.$': '$.action.captureId' },
      resultPath: '$.rollbackAttempt',
    });
    const nextAttempt = new sfn.Pass(this, STATES.nextRollbackAttempt, {
      stateName: STATES.nextRollbackAttempt,
      parameters: { 'n.$': 'States.MathAdd($.rollbackAttempt.n, 1)', 'captureId.$': '$.rollbackAttempt.captureId' },
      resultPath: '$.rollbackAttempt',
    });
    const waitBeforeRetry = new sfn.Wait(this, STATES.waitBeforeRollbackRetry, { stateName: STATES.waitBeforeRollbackRetry, time: sfn.WaitTime.duration(Duration.seconds(timing.maxPollSeconds)) });
    const checkAttempts = new sfn.Choice(this, STATES.checkRollbackAttempts)
      .when(sfn.Condition.numberLessThan('$.rollbackAttempt.n', timing.rollbackAttempts), nextAttempt.next(waitBeforeRetry).next(sendRollback))
      .otherwise(rollbackFailed);
    const rollbackUnconfirmed = new sfn.Pass(this, STATES.rollbackUnconfirmed, { stateName: STATES.rollbackUnconfirmed }).next(checkAttempts);
    const checkRollbackVerdict = new sfn.Choice(this, STATES.checkRollbackVerdict)
      .when(sfn.Condition.stringEquals('$.rollbackPoll.verdict.status', 'ok'), rolledBackByPipeline)
      .otherwise(checkAttempts);
    const watchRollback = watch(
      'rollback',
      {
        start: STATES.startRollbackPolling,
        wait: STATES.waitForRollback,
        poll: STATES.pollRollback,
        check: STATES.checkRollbackDone,
        failed: STATES.rollbackPollFailed,
        checkFailures: STATES.checkRollbackPollFailures,
        waitAfterFailure: STATES.waitAfterRollbackPollFailure,
      },
      '$.rollbackCommand',
      '$.rollbackPoll',
      checkRollbackVerdict,
      rollbackUnconfirmed,
    );
    sendRollback.addCatch(sendUnconfirmed(STATES.rollbackSendUnconfirmed, 'rollback', '$.rollbackCommand', rollbackComment).next(watchRollback), { errors: [sfn.Errors.ALL], resultPath: '$.rollbackSendError' });
    sendRollback.next(watchRollback);
    startRollback.next(sendRollback);
    startBeaconRollback.next(sendRollback);

    // After a configure that succeeded: a request cancelled with rollback rolls this beacon back.
    const checkCancelledAfter = task(STATES.checkCancelledAfterConfigure, fns.CheckCancelledFn, '$.cancelCheck', ids);
    // Not knowing whether the request was cancelled keeps the beacon as configured (the summary says so).
    checkCancelledAfter.addCatch(configured, { errors: [sfn.Errors.ALL], resultPath: '$.cancelCheckError' });
    checkCancelledAfter.next(
      new sfn.Choice(this, STATES.checkCancelAfterConfigure)
        .when(sfn.Condition.and(sfn.Condition.booleanEquals('$.cancelCheck.cancelled', true), sfn.Condition.booleanEquals('$.cancelCheck.rollback', true)), startRollback)
        .otherwise(configured),
    );

    // Configure. Whatever is not a confirmed success, a self-rollback or a document that never ran is rolled back.
    const checkVerdict = new sfn.Choice(this, STATES.checkVerdict)
      .when(sfn.Condition.stringEquals('$.poll.verdict.status', 'ok'), checkCancelledAfter)
      .when(sfn.Condition.stringEquals('$.poll.verdict.status', 'rolled-back'), beaconRolledBack)
      .when(sfn.Condition.stringEquals('$.poll.verdict.status', 'not-run'), configureNotRun)
      .otherwise(startRollback);
    const configureUnconfirmed = new sfn.Pass(this, STATES.configureUnconfirmed, { stateName: STATES.configureUnconfirmed }).next(startRollback);
    const watchConfigure = watch(
      'configure',
      {
        start: STATES.startConfigurePolling,
        wait: STATES.waitForConfigure,
        poll: STATES.pollConfigure,
        check: STATES.checkConfigureDone,
        failed: STATES.configurePollFailed,
        checkFailures: STATES.checkConfigurePollFailures,
        waitAfterFailure: STATES.waitAfterConfigurePollFailure,
      },
      '$.command',
      '$.poll',
      checkVerdict,
      configureUnconfirmed,
    );
    const sendConfigure = task(STATES.sendConfigure, fns.SendCommandFn, '$.command', { document: 'configure', ...ids, request: path.objectAt('$.request'), comment: comment('configure') }, { kind: 'send' });
    sendConfigure.addCatch(sendUnconfirmed(STATES.configureSendUnconfirmed, 'configure', '$.command', comment('configure')).next(watchConfigure), { errors: [sfn.Errors.ALL], resultPath: '$.sendError' });
    sendConfigure.next(watchConfigure);

    // Dry run: the read-only verify document compares the beacon with the desired state. Its failed checks
    // are what a real run would change; nothing is locked or written. Read-only, so a failure just ends the plan.
    const sendPlan = task(STATES.sendPlan, fns.SendCommandFn, '$.command', { document: 'verify', ...ids, request: path.objectAt('$.request'), comment: comment('plan') }, { kind: 'send' });
    sendPlan.addCatch(dryRunPlanned, caught);
    sendPlan.next(watch('plan', { start: STATES.startPlanPolling, wait: STATES.waitForPlan, poll: STATES.pollPlan, check: STATES.checkPlanDone }, '$.command', '$.poll', dryRunPlanned, dryRunPlanned));

    // Lock taken: a request cancelled meanwhile changes nothing more on this beacon.
    const checkCancelledBefore = task(STATES.checkCancelledBeforeConfigure, fns.CheckCancelledFn, '$.cancelCheck', ids);
    checkCancelledBefore.addCatch(stepFailed, caught);
    checkCancelledBefore.next(
      new sfn.Choice(this, STATES.checkCancelBeforeConfigure).when(sfn.Condition.booleanEquals('$.cancelCheck.cancelled', true), cancelledBeforeConfigure).otherwise(sendConfigure),
    );

    // The lock: busy -> wait and try again until the busy wait is over; superseded -> a newer request came first.
    const startLocking = new sfn.Pass(this, STATES.startLocking, { stateName: STATES.startLocking, result: sfn.Result.fromObject({ attempt: 0, firstTriedAt: null }), resultPath: '$.lock' });
    const acquire = task(STATES.acquireLock, fns.AcquireLockFn, '$.lock', { ...ids, owner: path.executionName, receivedAt: path.stringAt('$.receivedAt'), lock: path.objectAt('$.lock') });
    acquire.addCatch(stepFailed, caught);
    const waitForLock = new sfn.Wait(this, STATES.waitForLock, { stateName: STATES.waitForLock, time: sfn.WaitTime.secondsPath('$.lock.waitSeconds') });
    startLocking.next(acquire).next(
      new sfn.Choice(this, STATES.checkLock)
        // A per-beacon rollback (day 2) restores its capture; a configure first asks whether its request was cancelled.
        .when(sfn.Condition.booleanEquals('$.lock.acquired', true), new sfn.Choice(this, STATES.checkAction).when(rollbackAsked, startBeaconRollback).otherwise(checkCancelledBefore))
        .when(sfn.Condition.booleanEquals('$.lock.superseded', true), superseded)
        .when(sfn.Condition.booleanEquals('$.lock.giveUp', true), beaconBusy)
        .otherwise(waitForLock.next(acquire)),
    );

    const resolve = task(STATES.resolveTarget, fns.ResolveTargetFn, '$.target', ids);
    resolve.addCatch(stepFailed, caught);
    return resolve.next(
      new sfn.Choice(this, STATES.checkTargetEligible)
        .when(sfn.Condition.booleanEquals('$.target.eligible', false), targetSkipped)
        .otherwise(new sfn.Choice(this, STATES.checkDryRun).when(sfn.Condition.booleanEquals('$.dryRun', true), sendPlan).otherwise(startLocking)),
    );
  }
}

/** CancelCommand has no resource-level permissions; the poll step only cancels the command it watches. */
export function grantCancelBeaconCommand(grantee: iam.IGrantable): void {
  grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'CancelWatchedCommand', actions: ['ssm:CancelCommand'], resources: ['*'] }));
}

/**
 * SendCommand is authorised per resource: the document must be one of this stack's, and each instance
 * must carry the beacon tag. Two statements, because the tag condition only applies to instances.
 */
export function grantSendBeaconCommand(grantee: iam.IGrantable, documentArns: string[], beaconTag: { key: string; value: string }, stack: Stack): void {
  grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'SendOnlyBeaconDocuments', actions: ['ssm:SendCommand'], resources: documentArns }));
  grantee.grantPrincipal.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'SendOnlyToTaggedBeacons',
      actions: ['ssm:SendCommand'],
      resources: [
        `arn:${stack.partition}:ec2:${stack.region}:${stack.account}:instance/*`,
        `arn:${stack.partition}:ssm:${stack.region}:${stack.account}:managed-instance/*`,
      ],
      conditions: { StringEquals: { [`ssm:resourceTag/${beaconTag.key}`]: beaconTag.value } },
    }),
  );
}
