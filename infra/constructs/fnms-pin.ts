import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Duration } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { WORKFLOW_CONSTANTS } from '../../lambdas/core/timing.js';
import type { FnmsConfigInput } from '../../lambdas/core/fnms/config.js';
import { ENV } from '../../lambdas/aws/env-names.js';
import { BeaconFunction } from './beacon-function.js';
import { type FnmsInventoryProps, fnmsInventoryEnvironment, grantFnmsInventory } from './fnms-inventory.js';

export type FnmsPinProps = {
  encryptionKey: kms.IKey;
  table: dynamodb.ITable;
  environment: Record<string, string>;
} & (
  | {
      pinMode: 'gateway';
      /** The pin gateway client configuration (base URL, auth); validated by the core at cold start. */
      gatewayConfig: FnmsConfigInput;
      /** Secrets Manager name of the gateway's refresh token or bearer token. */
      gatewaySecretName: string;
      /** The beacon inventory: no release older than a beacon it lists is approved. */
      inventory: FnmsInventoryProps | null;
    }
  | { pinMode: 'none' }
);

/**
 * The workflow's pin step. `gateway`: calls the customer's pin gateway (our contract, not a Flexera API) and
 * reads the beacon inventory; the only reader of the gateway secret. `none`: pins nothing, warns.
 */
export class FnmsPin extends Construct {
  readonly fn: lambda.Function;

  constructor(scope: Construct, id: string, props: FnmsPinProps) {
    super(scope, id);
    const gateway = props.pinMode === 'gateway' ? props : null;
    const inventory = gateway?.inventory ?? null;
    this.fn = new BeaconFunction(this, 'PinVersionFn', {
      folder: 'pin-version',
      description: `beacon-proxy workflow: pin the approved beacon version (pinMode ${props.pinMode})`,
      encryptionKey: props.encryptionKey,
      ...(inventory?.vpc ? { vpc: inventory.vpc } : {}),
      environment: {
        ...props.environment,
        [ENV.pinMode]: props.pinMode,
        ...(gateway ? { [ENV.gatewayConfig]: JSON.stringify(gateway.gatewayConfig), [ENV.gatewaySecretName]: gateway.gatewaySecretName } : {}),
        ...(inventory ? fnmsInventoryEnvironment(inventory) : {}),
      },
      // Above one full FNMS attempt; the client budgets its calls from the remaining time anyway.
      timeout: Duration.seconds(WORKFLOW_CONSTANTS.pinFunctionTimeoutSeconds),
    }).fn;
    if (gateway) secretsmanager.Secret.fromSecretNameV2(this, 'GatewaySecret', gateway.gatewaySecretName).grantRead(this.fn);
    if (inventory) grantFnmsInventory(this, this.fn, inventory);
    props.table.grantReadWriteData(this.fn);
  }
}
