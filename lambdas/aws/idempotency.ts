/** Powertools idempotency for the intake: one requestId is accepted once, concurrent duplicates wait for the first. */
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { IdempotencyGuard } from '../intake/handler.js';

export function powertoolsIdempotency(tableName: string, expiresAfterSeconds = 24 * 60 * 60): IdempotencyGuard {
  const persistenceStore = new DynamoDBPersistenceLayer({ tableName });
  const config = new IdempotencyConfig({ eventKeyJmesPath: 'requestId', expiresAfterSeconds, throwOnNoIdempotencyKey: true });
  return {
    wrap: (fn) => makeIdempotent(fn, { persistenceStore, config }),
    registerLambdaContext: (context) => config.registerLambdaContext(context),
  };
}
