import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import type { InventoryConfigInput } from '../../lambdas/core/fnms/report-inventory.js';
import { ENV } from '../../lambdas/aws/env-names.js';
import type { FunctionVpc } from './beacon-function.js';

/** The beacon inventory a function reads: the report adapter's configuration, its secret, and (on premises) the VPC. */
export interface FnmsInventoryProps {
  config: InventoryConfigInput;
  /** Secrets Manager name: the Flexera One refresh token or client secret, or the Windows account's password. */
  secretName: string;
  /** Subnets routed to the FNMS server (on premises); absent: the function runs outside a VPC. */
  vpc?: FunctionVpc;
}

/** The environment of a function that reads the inventory. */
export function fnmsInventoryEnvironment(props: FnmsInventoryProps): Record<string, string> {
  return { [ENV.inventoryConfig]: JSON.stringify(props.config), [ENV.inventorySecretName]: props.secretName };
}

/** Read access to the inventory secret only. */
export function grantFnmsInventory(scope: Construct, fn: lambda.IFunction, props: FnmsInventoryProps): void {
  secretsmanager.Secret.fromSecretNameV2(scope, 'FnmsInventorySecret', props.secretName).grantRead(fn);
}
