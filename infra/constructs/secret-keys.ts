import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';

/**
 * A secret encrypted with a customer managed key is readable only with kms:Decrypt on that key as well.
 * Each reader gets it on the configured keys, and only through Secrets Manager (kms:ViaService), so the
 * grant opens nothing but the secrets the reader may already read.
 */
export function grantSecretKeys(readers: lambda.IFunction[], keyArns: string[]): void {
  if (keyArns.length === 0) return;
  for (const reader of readers) {
    reader.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'DecryptSecretsWithTheirCustomerKey',
        actions: ['kms:Decrypt'],
        resources: keyArns,
        conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(reader).region}.amazonaws.com` } },
      }),
    );
  }
}
