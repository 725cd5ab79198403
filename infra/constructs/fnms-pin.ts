import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Duration } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { type RequestTiming, WORKFLOW_CONSTANTS } from '../../lambdas/core/timing.js';
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
  | {
      pinMode: 'operator';
      /** The beacon inventory: no release older than a beacon it lists is asked for. */
      inventory: FnmsInventoryProps | null;
      /** Which FNMS web interface the operator uses (the instruction names it). */
      product: 'flexeraOne' | 'onPremises';
    }
  | { pinMode: 'none' }
) & { requestTiming: RequestTiming };

/**
 * The request workflow's pin step (DecidePin), once per request after its beacons finished, serialized
 * across requests by a lock on the FNMS setting. `gateway`: calls the customer's pin gateway (our contract,
 * not a Flexera API) and reads the beacon inventory; the only reader of the gateway secret. `operator`:
 * decides the release and records the value an operator is asked to set. `none`: pins nothing, warns.
 */
export class FnmsPin extends Construct {
  readonly fn: lambda.Function;

  constructor(scope: Construct, id: string, props: FnmsPinProps) {
    super(scope, id);
    const gateway = props.pinMode === 'gateway' ? props : null;
    const inventory = props.pinMode === 'none' ? null : props.inventory;
    this.fn = new BeaconFunction(this, 'DecidePinFn', {
      folder: 'decide-pin',
      description: `beacon-proxy request workflow: decide the approved beacon version once per request (pinMode ${props.pinMode})`,
      encryptionKey: props.encryptionKey,
      ...(inventory?.vpc ? { vpc: inventory.vpc } : {}),
      environment: {
        ...props.environment,
        [ENV.pinMode]: props.pinMode,
        [ENV.requestTiming]: JSON.stringify(props.requestTiming),
        ...(props.pinMode === 'operator' ? { [ENV.fnmsProduct]: props.product } : {}),
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
