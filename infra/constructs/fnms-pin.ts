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

export interface FnmsPinProps {
  encryptionKey: kms.IKey;
  table: dynamodb.ITable;
  environment: Record<string, string>;
  /** The adapter configuration (base URL, auth mode, paths); validated by the core at cold start. */
  fnmsConfig: FnmsConfigInput;
  /** Name of the Secrets Manager secret holding the refresh token or bearer token. */
  secretName: string;
}

/** The Lambda that pins FNMS's approved beacon version; the only reader of the FNMS secret. */
export class FnmsPin extends Construct {
  readonly fn: lambda.Function;
  readonly secret: secretsmanager.ISecret;

  constructor(scope: Construct, id: string, props: FnmsPinProps) {
    super(scope, id);
    this.secret = secretsmanager.Secret.fromSecretNameV2(this, 'Secret', props.secretName);
    this.fn = new BeaconFunction(this, 'PinVersionFn', {
      folder: 'pin-version',
      description: 'beacon-proxy workflow: pin the FNMS approved beacon version',
      encryptionKey: props.encryptionKey,
      environment: { ...props.environment, [ENV.fnmsConfig]: JSON.stringify(props.fnmsConfig), [ENV.fnmsSecretName]: props.secretName },
      // Above one full FNMS attempt; the client budgets its calls from the remaining time anyway.
      timeout: Duration.seconds(WORKFLOW_CONSTANTS.pinFunctionTimeoutSeconds),
    }).fn;
    this.secret.grantRead(this.fn);
    props.table.grantReadWriteData(this.fn);
  }
}
