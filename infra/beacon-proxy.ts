import { Annotations, CfnOutput, Fn, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as logs from 'aws-cdk-lib/aws-logs';
import { RemovalPolicy } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ENV } from '../lambdas/aws/env-names.js';
import { type BeaconProxyOptions, type StackConfig, beaconProxyConfig, chatConfigured, gatewayConfigFrom, inventoryConfigFrom, requestTimingFor, workflowTimingFor } from './config.js';
import { Alarms } from './constructs/alarms.js';
import { BeaconInstancePolicy } from './constructs/beacon-instance-policy.js';
import { BeaconDocuments } from './constructs/beacon-documents.js';
import { BeaconModule } from './constructs/beacon-module.js';
import { BeaconWorkflow } from './constructs/beacon-workflow.js';
import { ChatOpsWebhook } from './constructs/chatops-webhook.js';
import { DataKey } from './constructs/data-key.js';
import { DriftCheck } from './constructs/drift-check.js';
import { ExecutionCleanup } from './constructs/execution-cleanup.js';
import { FnmsPin } from './constructs/fnms-pin.js';
import { IntakeQueue } from './constructs/intake-queue.js';
import { NewBeaconTriggers } from './constructs/new-beacon-triggers.js';
import { Notifications } from './constructs/notifications.js';
import { OperationsDashboard } from './constructs/operations-dashboard.js';
import { RequestRollout } from './constructs/request-rollout.js';
import { RequestsApi } from './constructs/requests-api.js';
import { grantSecretKeys } from './constructs/secret-keys.js';
import { StateTable } from './constructs/state-table.js';
import { STACK_OUTPUTS } from './stack-outputs.js';

/**
 * Typed props: every context value of README "Deploying to AWS" (the same names as the CDK context keys), each optional
 * with the same default and the same validation as `-c key=value` (a bad value fails the synth naming it).
 */
export type BeaconProxyProps = BeaconProxyOptions;

/** The construct id of the stack's own BeaconProxy: `Default` is left out of logical ids, so they stay as they were. */
export const BEACON_PROXY_ID_IN_STACK = 'Default';

/**
 * beacon-proxy as one construct: add it to any stack of your CDK app (README, "Use it in your own CDK app").
 * One per stack: names of the SSM documents, log groups and the dashboard derive from the stack name.
 * Wiring only: each concern is a construct in infra/constructs.
 */
export class BeaconProxy extends Construct {
  readonly intake: IntakeQueue;
  readonly workflow: BeaconWorkflow;
  readonly rollout: RequestRollout;
  readonly documents: BeaconDocuments;
  readonly module: BeaconModule;
  readonly state: StateTable;
  readonly notifications: Notifications;
  readonly api: RequestsApi;
  /** Deployed only when chat is configured (chatAllowedUsers / chatAllowedChannels, or chatEnabled=true). */
  readonly chatOps: ChatOpsWebhook | undefined;
  /** The settings after defaults and validation. */
  readonly config: StackConfig;
  readonly newBeacon: NewBeaconTriggers;
  readonly driftCheck: DriftCheck;
  readonly beaconInstancePolicy: BeaconInstancePolicy;
  readonly dashboard: OperationsDashboard;
  readonly cleanup: ExecutionCleanup;

  constructor(scope: Construct, id: string, props: BeaconProxyProps = {}) {
    super(scope, id);
    const stack = Stack.of(this);
    const other = stack.node.findAll().find((node) => node !== this && node instanceof BeaconProxy);
    if (other) {
      throw new Error(`${stack.stackName} already has a BeaconProxy (${other.node.path}): add one per stack (the SSM documents, log groups and dashboard are named after the stack)`);
    }
    const config = beaconProxyConfig(props);
    this.config = config;
    const key = new DataKey(this, 'DataKey').key;
    this.state = new StateTable(this, 'State', { encryptionKey: key });
    this.notifications = new Notifications(this, 'Notifications', { encryptionKey: key, notificationEmail: config.notificationEmail, alarmEmail: config.alarmEmail });
    this.module = new BeaconModule(this, 'BeaconModule');
    this.documents = new BeaconDocuments(this, 'Documents', { nameSuffix: config.documentNameSuffix ?? stack.stackName, module: this.module });
    const commandLogGroup = new logs.LogGroup(this, 'CommandOutputLogs', { encryptionKey: key, retention: logs.RetentionDays.SIX_MONTHS, removalPolicy: RemovalPolicy.DESTROY });

    const beaconTag = { key: config.beaconTagKey, value: config.beaconTagValue };
    const timing = workflowTimingFor(config);
    const environment: Record<string, string> = {
      [ENV.workflowTiming]: JSON.stringify(timing),
      [ENV.tableName]: this.state.table.tableName,
      [ENV.topicArn]: this.notifications.outcomeTopic.topicArn,
      [ENV.beaconTagKey]: beaconTag.key,
      [ENV.beaconTagValue]: beaconTag.value,
      [ENV.documentNames]: JSON.stringify(this.documents.names),
      ...(config.beaconProbeUrl !== 'none' ? { [ENV.endpointProbeUrl]: config.beaconProbeUrl } : {}),
    };

    // The beacon inventory: a saved FNMS report through Flexera's documented report API (null: none configured).
    const inventoryConfig = inventoryConfigFrom(config);
    const inventory = inventoryConfig
      ? {
          config: inventoryConfig,
          secretName: config.fnmsSecretName,
          ...(config.fnmsVpcId ? { vpc: { vpcId: config.fnmsVpcId, subnetIds: config.fnmsSubnetIds, securityGroupIds: config.fnmsSecurityGroupIds } } : {}),
        }
      : null;
    if (!inventory) {
      Annotations.of(this).addWarning('fnmsInventory is none: new beacons are found by the beacon tag only, and pins are not checked against the beacons FNMS knows (README, "FNMS set-up")');
    }
    const gatewayConfig = gatewayConfigFrom(config);
    if (config.pinMode === 'none') {
      Annotations.of(this).addWarningV2(
        'beacon-proxy:pin-none',
        'pinMode is none: deploying this stack pins nothing in FNMS, so an automatic beacon upgrade may reset the service account (every result carries that warning). Leave pinMode at operator (an operator sets the value and confirms) or set -c pinMode=gateway with -c gatewayUrl=https://<your gateway>.',
      );
    }
    const requestTiming = requestTimingFor(config);
    const fnmsProduct = config.fnmsInventory === 'flexeraOne' ? 'flexeraOne' : 'onPremises';
    const pinCommon = { encryptionKey: key, table: this.state.table, environment, requestTiming };
    const pin = new FnmsPin(
      this,
      'FnmsPin',
      gatewayConfig
        ? { ...pinCommon, pinMode: 'gateway', gatewayConfig, gatewaySecretName: config.gatewaySecretName, inventory }
        : config.pinMode === 'operator'
          ? { ...pinCommon, pinMode: 'operator', inventory, product: fnmsProduct }
          : { ...pinCommon, pinMode: 'none' },
    );
    this.workflow = new BeaconWorkflow(this, 'BeaconWorkflow', {
      encryptionKey: key,
      table: this.state.table,
      outcomeTopic: this.notifications.outcomeTopic,
      environment,
      documentArns: this.documents.arns,
      beaconTag,
      timing,
      commandLogGroup,
    });
    this.rollout = new RequestRollout(this, 'RequestRollout', {
      encryptionKey: key,
      table: this.state.table,
      outcomeTopic: this.notifications.outcomeTopic,
      environment: { ...environment, [ENV.fnmsProduct]: fnmsProduct, [ENV.pinMode]: config.pinMode },
      beaconStateMachine: this.workflow.stateMachine,
      pinFunction: pin.fn,
      timing: requestTiming,
      ...(config.slackBotTokenSecretName ? { slackBotTokenSecretName: config.slackBotTokenSecretName } : {}),
    });
    // Cancel, go and pin confirmations end the request workflow's operator waits.
    const operatorEnvironment = { [ENV.requestTiming]: JSON.stringify(requestTiming) };

    this.intake = new IntakeQueue(this, 'IntakeQueue', {
      encryptionKey: key,
      environment: {
        ...environment,
        [ENV.idempotencyTableName]: this.state.idempotencyTable.tableName,
        // The request's workflow (which expands the target and starts the beacons' workflows); the beacon
        // workflow for per-beacon commands (chat rollback/retry) the intake starts itself.
        [ENV.requestStateMachineArn]: this.rollout.stateMachine.stateMachineArn,
        [ENV.stateMachineArn]: this.workflow.stateMachine.stateMachineArn,
        ...operatorEnvironment,
        ...(config.traceSdkCalls ? { [ENV.traceSdkCalls]: 'true' } : {}),
      },
    });
    const intakeFn = this.intake.intake.fn;
    this.state.table.grantReadWriteData(intakeFn);
    this.state.idempotencyTable.grantReadWriteData(intakeFn);
    this.rollout.stateMachine.grantStartExecution(intakeFn);
    this.rollout.stateMachine.grantTaskResponse(intakeFn);
    this.workflow.stateMachine.grantStartExecution(intakeFn);
    this.notifications.outcomeTopic.grantPublish(intakeFn);

    this.api = new RequestsApi(this, 'RequestsApi', {
      encryptionKey: key,
      queue: this.intake.queue,
      table: this.state.table,
      environment: { ...environment, ...operatorEnvironment },
      submitPrincipals: config.apiSubmitPrincipals,
      readPrincipals: config.apiReadPrincipals,
      stateMachine: this.workflow.stateMachine,
      requestStateMachine: this.rollout.stateMachine,
    });

    // An internet-facing function URL and grants on the chat secrets only for a stack that uses chat.
    this.chatOps = chatConfigured(config)
      ? new ChatOpsWebhook(this, 'ChatOps', {
          encryptionKey: key,
          queue: this.intake.queue,
          table: this.state.table,
          environment,
          slackSigningSecretName: config.slackSigningSecretName,
          teamsSecretName: config.teamsSecretName,
          allowlist: { users: config.chatAllowedUsers, channels: config.chatAllowedChannels },
          profileParameterPrefix: config.profileParameterPrefix,
        })
      : undefined;

    const triggers = {
      encryptionKey: key,
      queue: this.intake.queue,
      table: this.state.table,
      environment,
      beaconTag,
      profileParameterPrefix: config.profileParameterPrefix,
      defaultProfile: config.defaultProfile,
      mode: config.triggerMode,
      autoApplyTagOnly: config.autoApplyTagOnly,
    };
    this.newBeacon = new NewBeaconTriggers(this, 'NewBeacon', { ...triggers, inventory, scheduleMinutes: config.newBeaconScheduleMinutes, outcomeTopic: this.notifications.outcomeTopic });
    this.driftCheck = new DriftCheck(this, 'DriftCheck', {
      ...triggers,
      inventory,
      verifyDocumentArn: this.documents.arnOf('verify'),
      checkEndpoint: config.verifyCheckEndpoint,
      scheduleHours: config.driftCheckScheduleHours,
      tickMinutes: config.driftTickMinutes,
    });
    this.announceTriggerMode(config, inventory !== null);

    // The intake believes the `caller` message attribute only from these producers' roles (SQS SenderId =
    // role id:session); a message anyone else sends is attributed to its own SenderId.
    const producers = [this.api.handler.role, ...(this.chatOps ? [this.chatOps.handler.role] : []), this.newBeacon.handler.role, this.driftCheck.handler.role];
    intakeFn.addEnvironment(ENV.trustedSenderRoleIds, Fn.join(',', producers.map((role) => role!.roleId)));

    this.cleanup = new ExecutionCleanup(this, 'ExecutionCleanup', {
      encryptionKey: key,
      table: this.state.table,
      outcomeTopic: this.notifications.outcomeTopic,
      stateMachines: [this.workflow.stateMachine, this.rollout.stateMachine],
      environment: { ...environment, ...operatorEnvironment },
    });

    // Every reader of the FNMS, pin gateway or chat secrets may decrypt them when a customer key encrypts them
    // (and only a reader: with no inventory the new-beacon function reads no secret; with pinMode none the pin step reads one only for the inventory).
    const secretReaders = [
      ...(this.chatOps ? [this.chatOps.handler.fn] : []),
      ...(gatewayConfig || inventory ? [pin.fn] : []),
      ...(inventory ? [this.newBeacon.handler.fn, this.driftCheck.handler.fn] : []),
    ];
    grantSecretKeys(secretReaders, config.secretKmsKeyArns);
    this.beaconInstancePolicy = new BeaconInstancePolicy(this, 'BeaconInstance', {
      secretArns: config.beaconSecretArns,
      parameterNames: config.beaconParameterNames,
      kmsKeyArns: config.beaconKmsKeyArns,
      commandLogGroup,
      module: { bucketArn: this.module.bucket.bucketArn, keyPrefix: this.module.keyPrefix },
    });
    if (config.apiSubmitPrincipals.length === 0 && config.apiReadPrincipals.length === 0) {
      Annotations.of(this).addInfoV2('beacon-proxy:api-admits-nobody', 'The HTTPS API admits nobody (apiSubmitPrincipals and apiReadPrincipals are empty): name the IAM roles that may submit and read.');
    }

    new CfnOutput(this, STACK_OUTPUTS.apiUrl, { value: this.api.api.url, description: 'HTTPS API base URL (SigV4): POST requests, GET requests/{id}, POST plans' });
    new CfnOutput(this, STACK_OUTPUTS.intakeQueueArn, { value: this.intake.queue.queueArn, description: 'Intake queue (redrive destination)' });
    new CfnOutput(this, STACK_OUTPUTS.deadLetterQueueUrl, { value: this.intake.deadLetterQueue.queueUrl, description: 'Dead-lettered requests' });
    new CfnOutput(this, STACK_OUTPUTS.deadLetterQueueArn, { value: this.intake.deadLetterQueue.queueArn, description: 'Dead-lettered requests (beacon-proxy redrive moves them back)' });
    new CfnOutput(this, STACK_OUTPUTS.dataKeyArn, { value: key.keyArn, description: 'Key of the queues, table, topics and logs (redrive needs kms:Decrypt and kms:GenerateDataKey on it)' });
    new CfnOutput(this, STACK_OUTPUTS.beaconInstancePolicyArn, {
      value: this.beaconInstancePolicy.policy.managedPolicyArn,
      exportName: `${stack.stackName}-${STACK_OUTPUTS.beaconInstancePolicyArn}`,
      description: "Attach to the beacons' instance role: read their password secrets, decrypt them, download the documents' module, write command output",
    });
    new CfnOutput(this, STACK_OUTPUTS.intakeQueueUrl, { value: this.intake.queue.queueUrl, description: 'Send request JSON here' });
    new CfnOutput(this, 'OutcomeTopicArn', { value: this.notifications.outcomeTopic.topicArn, description: 'Outcomes of every beacon' });
    new CfnOutput(this, 'StateMachineArn', { value: this.workflow.stateMachine.stateMachineArn, description: 'The per-beacon workflow' });
    new CfnOutput(this, 'RequestStateMachineArn', { value: this.rollout.stateMachine.stateMachineArn, description: 'The request workflow (rollout, pin, summary): one execution per request' });

    new Alarms(this, 'Alarms', {
      alarmTopic: this.notifications.alarmTopic,
      deadLetterQueue: this.intake.deadLetterQueue,
      stateMachine: this.workflow.stateMachine,
      requestStateMachine: this.rollout.stateMachine,
      entryFunctions: [this.intake.intake.fn, this.api.handler.fn, ...(this.chatOps ? [this.chatOps.handler.fn] : []), this.newBeacon.handler.fn, this.driftCheck.handler.fn],
      cleanupFunction: this.cleanup.fn,
      cleanupDeadLetterQueue: this.cleanup.deadLetterQueue,
    });

    this.dashboard = new OperationsDashboard(this, 'Operations', {
      intakeQueue: this.intake.queue,
      deadLetterQueue: this.intake.deadLetterQueue,
      stateMachine: this.workflow.stateMachine,
      alarmTopic: this.notifications.alarmTopic,
      alarms: this.node.findAll().filter((node): node is cloudwatch.AlarmBase => node instanceof cloudwatch.AlarmBase),
    });
    new CfnOutput(this, STACK_OUTPUTS.dashboardUrl, { value: this.dashboard.url(), description: 'CloudWatch dashboard of the pipeline' });
  }

  /** What the automatic triggers will do once deployed, said at synth (README, "First deploy"). */
  private announceTriggerMode(config: StackConfig, hasInventory: boolean): void {
    const notes = Annotations.of(this);
    if (config.triggerMode === 'observe') {
      notes.addInfoV2(
        'beacon-proxy:triggers-observe',
        'triggerMode is observe: the new-beacon, tag and drift triggers only plan (dry runs, nothing changes on a beacon). After a dry run and a canary, deploy with -c triggerMode=apply.',
      );
    } else if (config.triggerMode === 'off') {
      notes.addInfoV2('beacon-proxy:triggers-off', 'triggerMode is off: the new-beacon schedule, the tag rule and the drift pass are disabled.');
    }
    if (config.autoApplyTagOnly) {
      notes.addWarningV2(
        'beacon-proxy:tag-only',
        `autoApplyTagOnly is true: whoever may put the ${config.beaconTagKey} tag on an instance gets the default profile applied (its account added to the local Administrators). Protect the tag key with a tag policy or SCP (README, "The beacon tag is a security boundary").`,
      );
    } else if (!hasInventory) {
      notes.addInfoV2(
        'beacon-proxy:tag-gate-closed',
        'fnmsInventory is none and autoApplyTagOnly is false: the tag rule and the drift pass never apply the default profile to a beacon nobody configured (they report why); beacons configured through requests are kept in their state as usual.',
      );
    }
  }
}
