import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { alarmSourceConditions } from './data-key.js';

export interface NotificationsProps {
  encryptionKey: kms.IKey;
  notificationEmail?: string | undefined;
  alarmEmail?: string | undefined;
}

/** Two encrypted topics: outcomes of requests (for requesters), and alarms (for operators). */
export class Notifications extends Construct {
  readonly outcomeTopic: sns.Topic;
  readonly alarmTopic: sns.Topic;

  constructor(scope: Construct, id: string, props: NotificationsProps) {
    super(scope, id);
    this.outcomeTopic = new sns.Topic(this, 'OutcomeTopic', { masterKey: props.encryptionKey, enforceSSL: true, displayName: 'beacon-proxy outcomes' });
    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', { masterKey: props.encryptionKey, enforceSSL: true, displayName: 'beacon-proxy alarms' });
    this.alarmTopic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsOfThisAccount',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.alarmTopic.topicArn],
        conditions: alarmSourceConditions(Stack.of(this)),
      }),
    );
    if (props.notificationEmail) this.outcomeTopic.addSubscription(new subscriptions.EmailSubscription(props.notificationEmail));
    if (props.alarmEmail) this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
  }
}
