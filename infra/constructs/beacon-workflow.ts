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
import { ENV } from '../../lambdas/aws/env-names.js';
import { STATES, WORKFLOW_HANDLERS, WORKFLOW_TIMING, type WorkflowHandlerId } from '../workflow-states.js';
import { BeaconFunction } from './beacon-function.js';

/** Errors of the Lambda service itself (not of the handler): always worth a retry with backoff. */
export const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.ClientExecutionTimeoutException',
  'Lambda.TooManyRequestsException',
];

export interface BeaconWorkflowProps {
  encryptionKey: kms.IKey;
  table: dynamodb.ITable;
  outcomeTopic: sns.ITopic;
  /** Environment shared by every step function (table, tag, document names...). */
  environment: Record<string, string>;
  /** ARNs of this stack's beacon documents: the only documents SendCommand may run. */
  documentArns: string[];
  beaconTag: { key: string; value: string };
  /** The FNMS pin Lambda (its own construct: it alone reads the FNMS secret). */
  pinFunction: lambda.IFunction;
  commandTimeoutSeconds: number;
  /** Where SSM writes full document transcripts (GetCommandInvocation only returns 24,000 characters). */
  commandLogGroup: logs.ILogGroup;
}

/**
 * The per-beacon workflow: resolve -> lock -> configure -> poll -> judge -> pin -> record -> notify, with
 * rollback when the beacon did not roll back by itself. Every path, failures included, passes through
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
      [ENV.commandTimeoutSeconds]: String(props.commandTimeoutSeconds),
      [ENV.lockTtlSeconds]: String(Math.max(WORKFLOW_TIMING.lockTtlSeconds, WORKFLOW_TIMING.executionTimeoutMinutes * 60 + 600)),
      [ENV.firstPollSeconds]: String(WORKFLOW_TIMING.firstPollSeconds),
      [ENV.maxPollSeconds]: String(WORKFLOW_TIMING.maxPollSeconds),
      [ENV.commandLogGroup]: props.commandLogGroup.logGroupName,
    };
    const make = (handlerId: Exclude<WorkflowHandlerId, 'PinVersionFn'>, description: string): lambda.Function =>
      new BeaconFunction(this, handlerId, { folder: WORKFLOW_HANDLERS[handlerId].folder, description: `beacon-proxy workflow: ${description}`, encryptionKey: props.encryptionKey, environment }).fn;
    const fns = {
      ResolveTargetFn: make('ResolveTargetFn', 'resolve the target beacon'),
      AcquireLockFn: make('AcquireLockFn', 'take the per-beacon lock'),
      ReleaseLockFn: make('ReleaseLockFn', 'release the per-beacon lock'),
      SendCommandFn: make('SendCommandFn', 'send a beacon document'),
      PollCommandFn: make('PollCommandFn', 'poll a document run'),
      JudgeResultFn: make('JudgeResultFn', 'judge the result line'),
      RecordOutcomeFn: make('RecordOutcomeFn', 'record the outcome'),
      NotifyRequesterFn: make('NotifyRequesterFn', 'notify the requester'),
    };
    this.functions = { ...fns, PinVersionFn: props.pinFunction };
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
      timeout: Duration.minutes(WORKFLOW_TIMING.executionTimeoutMinutes),
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
    });
  }

  private grant(fns: Record<Exclude<WorkflowHandlerId, 'PinVersionFn'>, lambda.Function>, props: BeaconWorkflowProps): void {
    const stack = Stack.of(this);
    for (const fn of [fns.AcquireLockFn, fns.ReleaseLockFn, fns.SendCommandFn, fns.RecordOutcomeFn]) props.table.grantReadWriteData(fn);
    // DescribeInstanceInformation and GetCommandInvocation have no resource-level permissions.
    fns.ResolveTargetFn.addToRolePolicy(new iam.PolicyStatement({ actions: ['ssm:DescribeInstanceInformation'], resources: ['*'] }));
    fns.PollCommandFn.addToRolePolicy(new iam.PolicyStatement({ actions: ['ssm:GetCommandInvocation'], resources: ['*'] }));
    grantSendBeaconCommand(fns.SendCommandFn, props.documentArns, props.beaconTag, stack);
    props.outcomeTopic.grantPublish(fns.NotifyRequesterFn);
  }

  private definition(props: BeaconWorkflowProps): sfn.IChainable {
    const task = (stateName: string, fn: lambda.IFunction, resultPath: string, payload?: Record<string, unknown>, options: { sendsCommand?: boolean } = {}) => {
      const invoke = new tasks.LambdaInvoke(this, stateName, {
        stateName,
        lambdaFunction: fn,
        payloadResponseOnly: true,
        retryOnServiceExceptions: false,
        resultPath,
        taskTimeout: sfn.Timeout.duration(Duration.seconds(90)),
        ...(payload ? { payload: sfn.TaskInput.fromObject(payload) } : {}),
      });
      invoke.addRetry({ errors: LAMBDA_SERVICE_ERRORS, interval: Duration.seconds(2), backoffRate: 2, maxAttempts: 6, jitterStrategy: sfn.JitterType.FULL });
      if (options.sendsCommand) {
        // Matched before the general retrier below: a throttled SendCommand retries soon and for long.
        const send = WORKFLOW_TIMING.sendThrottleRetry;
        invoke.addRetry({
          errors: [RETRYABLE_ERRORS.throttled],
          interval: Duration.seconds(send.intervalSeconds),
          backoffRate: send.backoffRate,
          maxAttempts: send.maxAttempts,
          maxDelay: Duration.seconds(send.maxDelaySeconds),
          jitterStrategy: sfn.JitterType.FULL,
        });
      }
      invoke.addRetry({
        errors: [RETRYABLE_ERRORS.throttled, RETRYABLE_ERRORS.transient, 'States.Timeout'],
        interval: Duration.seconds(5),
        backoffRate: 2,
        maxAttempts: 5,
        maxDelay: Duration.seconds(60),
        jitterStrategy: sfn.JitterType.FULL,
      });
      return invoke;
    };
    const path = sfn.JsonPath;
    const ids = { requestId: path.stringAt('$.requestId'), instanceId: path.stringAt('$.instanceId') };
    const fns = this.functions;
    const caught = { errors: [sfn.Errors.ALL], resultPath: '$.error' };

    // The finally: every branch ends here.
    const succeeded = new sfn.Succeed(this, STATES.workflowSucceeded);
    const failed = new sfn.Fail(this, STATES.workflowFailed, { error: 'BeaconNotConfigured', cause: 'the beacon was not configured; see the request status for the reasons' });
    const checkOutcome = new sfn.Choice(this, STATES.checkOutcome)
      .when(sfn.Condition.or(...['ok', 'dry-run', 'skipped'].map((state) => sfn.Condition.stringEquals('$.outcome.state', state))), succeeded)
      .otherwise(failed);
    const notify = task(STATES.notifyRequester, fns.NotifyRequesterFn, '$.notified');
    notify.addCatch(checkOutcome, { errors: [sfn.Errors.ALL], resultPath: '$.notifyError' });
    const record = task(STATES.recordOutcome, fns.RecordOutcomeFn, '$.recorded');
    record.addCatch(notify, { errors: [sfn.Errors.ALL], resultPath: '$.recordError' });
    const release = task(STATES.releaseLock, fns.ReleaseLockFn, '$.released', { instanceId: ids.instanceId, owner: path.stringAt('$$.Execution.Name') });
    release.addCatch(record, { errors: [sfn.Errors.ALL], resultPath: '$.releaseError' });
    release.next(record);
    record.next(notify);
    notify.next(checkOutcome);

    const outcome = (stateName: string, state: string) =>
      new sfn.Pass(this, stateName, { stateName, result: sfn.Result.fromObject({ state }), resultPath: '$.outcome' }).next(release);
    const targetSkipped = outcome(STATES.targetSkipped, 'skipped');
    const dryRunPlanned = outcome(STATES.dryRunPlanned, 'dry-run');
    const beaconBusy = outcome(STATES.beaconBusy, 'busy');
    const configured = outcome(STATES.configured, 'ok');
    const pinFailed = outcome(STATES.pinFailed, 'pin-failed');
    const beaconRolledBack = outcome(STATES.beaconRolledBack, 'rolled-back');
    const rolledBackByPipeline = outcome(STATES.rolledBackByPipeline, 'rolled-back');
    const rollbackFailed = outcome(STATES.rollbackFailed, 'failed');
    const stepFailed = outcome(STATES.stepFailed, 'error');

    const startPolling = (stateName: string, resultPath: string) =>
      new sfn.Pass(this, stateName, {
        stateName,
        result: sfn.Result.fromObject({ attempt: 0, waitSeconds: WORKFLOW_TIMING.firstPollSeconds, done: false, timedOut: false, status: 'Pending', stdout: '', stderr: '' }),
        resultPath,
      });
    const pollLoop = (names: { start: string; wait: string; poll: string; check: string; judge: string }, commandPath: string, pollPath: string, verdictPath: string, onGiveUp: sfn.IChainable) => {
      const start = startPolling(names.start, pollPath);
      const wait = new sfn.Wait(this, names.wait, { stateName: names.wait, time: sfn.WaitTime.secondsPath(`${pollPath}.waitSeconds`) });
      const poll = task(names.poll, fns.PollCommandFn, pollPath, {
        commandId: path.stringAt(`${commandPath}.commandId`),
        instanceId: ids.instanceId,
        sentAt: path.stringAt(`${commandPath}.sentAt`),
        attempt: path.numberAt(`${pollPath}.attempt`),
      });
      poll.addCatch(onGiveUp, caught);
      const judge = task(names.judge, fns.JudgeResultFn, verdictPath, {
        status: path.stringAt(`${pollPath}.status`),
        stdout: path.stringAt(`${pollPath}.stdout`),
        stderr: path.stringAt(`${pollPath}.stderr`),
      });
      judge.addCatch(onGiveUp, caught);
      const check = new sfn.Choice(this, names.check)
        .when(sfn.Condition.booleanEquals(`${pollPath}.done`, true), judge)
        .when(sfn.Condition.booleanEquals(`${pollPath}.timedOut`, true), onGiveUp)
        .otherwise(wait);
      start.next(wait).next(poll).next(check);
      return { start, judge };
    };

    // Rollback path: the beacon did not restore its capture by itself.
    const sendRollback = task(STATES.sendRollback, fns.SendCommandFn, '$.rollbackCommand', {
      document: 'rollback',
      ...ids,
      // The configure document keys its capture by request id.
      captureId: path.stringAt('$.requestId'),
    }, { sendsCommand: true });
    sendRollback.addCatch(rollbackFailed, caught);
    const rollback = pollLoop(
      { start: STATES.startRollbackPolling, wait: STATES.waitForRollback, poll: STATES.pollRollback, check: STATES.checkRollbackDone, judge: STATES.judgeRollback },
      '$.rollbackCommand',
      '$.rollbackPoll',
      '$.rollbackVerdict',
      rollbackFailed,
    );
    sendRollback.next(rollback.start);
    rollback.judge.next(
      new sfn.Choice(this, STATES.checkRollbackVerdict).when(sfn.Condition.stringEquals('$.rollbackVerdict.status', 'ok'), rolledBackByPipeline).otherwise(rollbackFailed),
    );
    const configureUnconfirmed = new sfn.Pass(this, STATES.configureUnconfirmed, { stateName: STATES.configureUnconfirmed }).next(sendRollback);

    // Pin after success.
    const pin = task(STATES.pinVersion, fns.PinVersionFn, '$.pin', {
      ...ids,
      request: path.objectAt('$.request'),
      beaconVersion: path.stringAt('$.verdict.beaconVersion'),
    });
    pin.addCatch(pinFailed, caught);
    // pinMode none answers `skipped: true` (not pinned by design, with a warning): the beacon is configured.
    const pinSkipped = sfn.Condition.and(sfn.Condition.isPresent('$.pin.skipped'), sfn.Condition.booleanEquals('$.pin.skipped', true));
    pin.next(new sfn.Choice(this, STATES.checkPin).when(sfn.Condition.or(sfn.Condition.booleanEquals('$.pin.pinned', true), pinSkipped), configured).otherwise(pinFailed));

    // Configure.
    const sendConfigure = task(STATES.sendConfigure, fns.SendCommandFn, '$.command', { document: 'configure', ...ids, request: path.objectAt('$.request') }, { sendsCommand: true });
    sendConfigure.addCatch(stepFailed, caught);
    const configure = pollLoop(
      { start: STATES.startConfigurePolling, wait: STATES.waitForConfigure, poll: STATES.pollConfigure, check: STATES.checkConfigureDone, judge: STATES.judgeConfigure },
      '$.command',
      '$.poll',
      '$.verdict',
      configureUnconfirmed,
    );
    sendConfigure.next(configure.start);
    configure.judge.next(
      new sfn.Choice(this, STATES.checkVerdict)
        .when(sfn.Condition.stringEquals('$.verdict.status', 'ok'), pin)
        .when(sfn.Condition.stringEquals('$.verdict.status', 'rolled-back'), beaconRolledBack)
        .otherwise(sendRollback),
    );

    // Dry run: the read-only verify document compares the beacon with the desired state. Its failed checks
    // are what a real run would change; nothing is locked or written.
    const sendPlan = task(STATES.sendPlan, fns.SendCommandFn, '$.command', { document: 'verify', ...ids, request: path.objectAt('$.request') }, { sendsCommand: true });
    sendPlan.addCatch(dryRunPlanned, caught);
    const plan = pollLoop(
      { start: STATES.startPlanPolling, wait: STATES.waitForPlan, poll: STATES.pollPlan, check: STATES.checkPlanDone, judge: STATES.judgePlan },
      '$.command',
      '$.poll',
      '$.verdict',
      dryRunPlanned,
    );
    sendPlan.next(plan.start);
    plan.judge.next(dryRunPlanned);

    const acquire = task(STATES.acquireLock, fns.AcquireLockFn, '$.lock', { ...ids, owner: path.stringAt('$$.Execution.Name') });
    const busy = WORKFLOW_TIMING.busyRetry;
    acquire.addRetry({
      errors: [RETRYABLE_ERRORS.beaconBusy],
      interval: Duration.seconds(busy.intervalSeconds),
      backoffRate: busy.backoffRate,
      maxAttempts: busy.maxAttempts,
      maxDelay: Duration.seconds(busy.maxDelaySeconds),
      jitterStrategy: sfn.JitterType.FULL,
    });
    acquire.addCatch(beaconBusy, { errors: [RETRYABLE_ERRORS.beaconBusy], resultPath: '$.error' });
    acquire.addCatch(stepFailed, caught);
    acquire.next(sendConfigure);

    const resolve = task(STATES.resolveTarget, fns.ResolveTargetFn, '$.target', ids);
    resolve.addCatch(stepFailed, caught);
    return resolve.next(
      new sfn.Choice(this, STATES.checkTargetEligible)
        .when(sfn.Condition.booleanEquals('$.target.eligible', false), targetSkipped)
        .otherwise(new sfn.Choice(this, STATES.checkDryRun).when(sfn.Condition.booleanEquals('$.dryRun', true), sendPlan).otherwise(acquire)),
    );
  }
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
