import { Annotations, CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { RemovalPolicy } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { ENV } from '../lambdas/aws/env-names.js';
import { type StackConfig, gatewayConfigFrom, inventoryConfigFrom, requestTimingFor, workflowTimingFor } from './config.js';
import { Alarms } from './constructs/alarms.js';
import { BeaconInstancePolicy } from './constructs/beacon-instance-policy.js';
import { BeaconDocuments } from './constructs/beacon-documents.js';
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

export interface BeaconProxyStackProps extends StackProps {
  config: StackConfig;
}

/** Wiring only: each concern is a construct in infra/constructs. */
export class BeaconProxyStack extends Stack {
  readonly intake: IntakeQueue;
  readonly workflow: BeaconWorkflow;
  readonly rollout: RequestRollout;
  readonly documents: BeaconDocuments;
  readonly state: StateTable;
  readonly notifications: Notifications;
  readonly api: RequestsApi;
  readonly chatOps: ChatOpsWebhook;
  readonly config: StackConfig;
  readonly newBeacon: NewBeaconTriggers;
  readonly driftCheck: DriftCheck;
  readonly beaconInstancePolicy: BeaconInstancePolicy;
  readonly dashboard: OperationsDashboard;
  readonly cleanup: ExecutionCleanup;

  constructor(scope: Construct, id: string, props: BeaconProxyStackProps) {
    super(scope, id, props);
    const { config } = props;
    this.config = config;
    const key = new DataKey(this, 'DataKey').key;
    this.state = new StateTable(this, 'State', { encryptionKey: key });
    this.notifications = new Notifications(this, 'Notifications', { encryptionKey: key, notificationEmail: config.notificationEmail, alarmEmail: config.alarmEmail });
    this.documents = new BeaconDocuments(this, 'Documents', { nameSuffix: config.documentNameSuffix ?? this.stackName });
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
        [ENV.requestStateMachineArn]: this.rollout.stateMachine.stateMachineArn,
        ...operatorEnvironment,
      },
    });
    const intakeFn = this.intake.intake.fn;
    this.state.table.grantReadWriteData(intakeFn);
    this.state.idempotencyTable.grantReadWriteData(intakeFn);
    // The intake starts the request's workflow (which expands the target and starts the beacons' workflows).
    this.rollout.stateMachine.grantStartExecution(intakeFn);
    this.rollout.stateMachine.grantTaskResponse(intakeFn);
    this.notifications.outcomeTopic.grantPublish(intakeFn);

    this.api = new RequestsApi(this, 'RequestsApi', {
      encryptionKey: key,
      queue: this.intake.queue,
      table: this.state.table,
      environment: { ...environment, ...operatorEnvironment },
      submitPrincipals: config.apiSubmitPrincipals,
      readPrincipals: config.apiReadPrincipals,
    });

    // Operator actions (cancel, go, confirm a pin) write the rollout and the pin ledger and wake the waits.
    this.state.table.grantReadWriteData(this.api.handler.fn);
    this.rollout.stateMachine.grantTaskResponse(this.api.handler.fn);

    this.chatOps = new ChatOpsWebhook(this, 'ChatOps', {
      encryptionKey: key,
      queue: this.intake.queue,
      table: this.state.table,
      environment,
      slackSigningSecretName: config.slackSigningSecretName,
      teamsSecretName: config.teamsSecretName,
      allowlist: { users: config.chatAllowedUsers, channels: config.chatAllowedChannels },
      profileParameterPrefix: config.profileParameterPrefix,
    });

    const triggers = {
      encryptionKey: key,
      queue: this.intake.queue,
      table: this.state.table,
      environment,
      beaconTag,
      profileParameterPrefix: config.profileParameterPrefix,
      defaultProfile: config.defaultProfile,
    };
    this.newBeacon = new NewBeaconTriggers(this, 'NewBeacon', { ...triggers, inventory, scheduleMinutes: config.newBeaconScheduleMinutes });
    this.driftCheck = new DriftCheck(this, 'DriftCheck', {
      ...triggers,
      verifyDocumentArn: this.documents.arnOf('verify'),
      checkEndpoint: config.verifyCheckEndpoint,
      scheduleHours: config.driftCheckScheduleHours,
    });

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
      this.chatOps.handler.fn,
      ...(gatewayConfig || inventory ? [pin.fn] : []),
      ...(inventory ? [this.newBeacon.handler.fn] : []),
    ];
    grantSecretKeys(secretReaders, config.secretKmsKeyArns);
    this.beaconInstancePolicy = new BeaconInstancePolicy(this, 'BeaconInstance', {
      secretArns: config.beaconSecretArns,
      parameterNames: config.beaconParameterNames,
      kmsKeyArns: config.beaconKmsKeyArns,
      commandLogGroup,
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
      exportName: `${this.stackName}-${STACK_OUTPUTS.beaconInstancePolicyArn}`,
      description: "Attach to the beacons' instance role: read their password secrets, decrypt them, write command output",
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
      entryFunctions: [this.intake.intake.fn, this.api.handler.fn, this.chatOps.handler.fn, this.newBeacon.handler.fn, this.driftCheck.handler.fn],
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
}
