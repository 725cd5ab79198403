/** Powertools idempotency for the intake: one requestId is accepted once, concurrent duplicates wait for the first. */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { IdempotencyGuard } from '../intake/handler.js';

/** `client`: the DynamoDB client to use (the local twin passes one bound to its in-process DynamoDB). */
export function powertoolsIdempotency(tableName: string, expiresAfterSeconds = 24 * 60 * 60, client?: DynamoDBClient): IdempotencyGuard {
  const persistenceStore = new DynamoDBPersistenceLayer(client ? { tableName, awsSdkV3Client: client } : { tableName });
  const config = new IdempotencyConfig({ eventKeyJmesPath: 'requestId', expiresAfterSeconds, throwOnNoIdempotencyKey: true });
  return {
    wrap: (fn) => makeIdempotent(fn, { persistenceStore, config }),
    registerLambdaContext: (context) => config.registerLambdaContext(context),
  };
}
