import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { RemovalPolicy } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { ENV } from '../lambdas/aws/env-names.js';
import type { FnmsConfigInput } from '../lambdas/core/fnms/config.js';
import type { StackConfig } from './config.js';
import { Alarms } from './constructs/alarms.js';
import { BeaconDocuments } from './constructs/beacon-documents.js';
import { BeaconWorkflow } from './constructs/beacon-workflow.js';
import { ChatOpsWebhook } from './constructs/chatops-webhook.js';
import { DataKey } from './constructs/data-key.js';
import { DriftCheck } from './constructs/drift-check.js';
import { FnmsPin } from './constructs/fnms-pin.js';
import { IntakeQueue } from './constructs/intake-queue.js';
import { NewBeaconTriggers } from './constructs/new-beacon-triggers.js';
import { Notifications } from './constructs/notifications.js';
import { RequestsApi } from './constructs/requests-api.js';
import { StateTable } from './constructs/state-table.js';

export interface BeaconProxyStackProps extends StackProps {
  config: StackConfig;
}

/** Wiring only: each concern is a construct in infra/constructs. */
export class BeaconProxyStack extends Stack {
  readonly intake: IntakeQueue;
  readonly workflow: BeaconWorkflow;
  readonly documents: BeaconDocuments;
  readonly state: StateTable;
  readonly notifications: Notifications;
  readonly api: RequestsApi;
  readonly chatOps: ChatOpsWebhook;
  readonly config: StackConfig;
  readonly newBeacon: NewBeaconTriggers;
  readonly driftCheck: DriftCheck;

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
    const environment: Record<string, string> = {
      [ENV.tableName]: this.state.table.tableName,
      [ENV.topicArn]: this.notifications.outcomeTopic.topicArn,
      [ENV.beaconTagKey]: beaconTag.key,
      [ENV.beaconTagValue]: beaconTag.value,
      [ENV.documentNames]: JSON.stringify(this.documents.names),
      ...(config.beaconProbeUrl !== 'none' ? { [ENV.endpointProbeUrl]: config.beaconProbeUrl } : {}),
    };

    const fnmsConfig: FnmsConfigInput = {
      baseUrl: config.fnmsBaseUrl,
      auth: config.fnmsAuthMode === 'bearer' ? { kind: 'bearer' } : { kind: 'refreshToken', ...(config.fnmsTokenUrl ? { tokenUrl: config.fnmsTokenUrl } : {}) },
    };
    const pin = new FnmsPin(this, 'FnmsPin', { encryptionKey: key, table: this.state.table, environment, secretName: config.fnmsSecretName, fnmsConfig });
    this.workflow = new BeaconWorkflow(this, 'BeaconWorkflow', {
      encryptionKey: key,
      table: this.state.table,
      outcomeTopic: this.notifications.outcomeTopic,
      environment,
      documentArns: this.documents.arns,
      beaconTag,
      pinFunction: pin.fn,
      commandTimeoutSeconds: config.commandTimeoutMinutes * 60,
      commandLogGroup,
    });

    this.intake = new IntakeQueue(this, 'IntakeQueue', {
      encryptionKey: key,
      environment: {
        ...environment,
        [ENV.idempotencyTableName]: this.state.idempotencyTable.tableName,
        [ENV.stateMachineArn]: this.workflow.stateMachine.stateMachineArn,
      },
    });
    const intakeFn = this.intake.intake.fn;
    this.state.table.grantReadWriteData(intakeFn);
    this.state.idempotencyTable.grantReadWriteData(intakeFn);
    this.workflow.stateMachine.grantStartExecution(intakeFn);
    this.notifications.outcomeTopic.grantPublish(intakeFn);
    intakeFn.addToRolePolicy(new iam.PolicyStatement({ actions: ['ssm:DescribeInstanceInformation'], resources: ['*'] }));

    this.api = new RequestsApi(this, 'RequestsApi', { encryptionKey: key, queue: this.intake.queue, table: this.state.table, environment });

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
    this.newBeacon = new NewBeaconTriggers(this, 'NewBeacon', { ...triggers, fnmsConfig, fnmsSecretName: config.fnmsSecretName, scheduleMinutes: config.newBeaconScheduleMinutes });
    this.driftCheck = new DriftCheck(this, 'DriftCheck', {
      ...triggers,
      verifyDocumentArn: this.documents.arnOf('verify'),
      checkEndpoint: config.verifyCheckEndpoint,
      scheduleHours: config.driftCheckScheduleHours,
    });

    new CfnOutput(this, 'IntakeQueueUrl', { value: this.intake.queue.queueUrl, description: 'Send request JSON here' });
    new CfnOutput(this, 'OutcomeTopicArn', { value: this.notifications.outcomeTopic.topicArn, description: 'Outcomes of every beacon' });
    new CfnOutput(this, 'StateMachineArn', { value: this.workflow.stateMachine.stateMachineArn });

    new Alarms(this, 'Alarms', {
      alarmTopic: this.notifications.alarmTopic,
      deadLetterQueue: this.intake.deadLetterQueue,
      stateMachine: this.workflow.stateMachine,
      entryFunctions: [this.intake.intake.fn, this.api.handler.fn, this.chatOps.handler.fn, this.newBeacon.handler.fn, this.driftCheck.handler.fn],
    });
  }
}
