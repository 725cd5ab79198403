import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { BEACON_HISTORY_INDEX } from '../../lambdas/aws/table-keys.js';

export interface StateTableProps {
  encryptionKey: kms.IKey;
}

/**
 * Requests, per-beacon status, audit trail, beacon locks and trigger memory (one table, pk/sk, TTL), and
 * the Powertools idempotency records of the intake (their own table, as Powertools expects).
 */
export class StateTable extends Construct {
  readonly table: dynamodb.Table;
  readonly idempotencyTable: dynamodb.Table;

  constructor(scope: Construct, id: string, props: StateTableProps) {
    super(scope, id);
    const common = {
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: props.encryptionKey,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    };
    this.table = new dynamodb.Table(this, 'Table', {
      ...common,
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: 'ttl',
      // The audit trail outlives a stack deletion.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // A beacon's history across requests (GET /beacons/{instanceId}): a Query by instance id, never a scan.
    this.table.addGlobalSecondaryIndex({
      indexName: BEACON_HISTORY_INDEX.name,
      partitionKey: { name: BEACON_HISTORY_INDEX.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: BEACON_HISTORY_INDEX.sortKey, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
    this.idempotencyTable = new dynamodb.Table(this, 'IdempotencyTable', {
      ...common,
      partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: 'expiration',
      removalPolicy: RemovalPolicy.DESTROY,
    });
  }
}
