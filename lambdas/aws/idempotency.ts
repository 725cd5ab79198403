/**
 * The intake's IdempotencyGuard (contract in lambdas/core/ports.ts) on Powertools idempotency with DynamoDB
 * persistence: keyed on requestId, validated on the request's content hash (payload validation), so the same
 * id with other content is a REQUEST_CONFLICT instead of the first request's stored result.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { IdempotencyConfig, IdempotencyValidationError, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { AcceptedRequest, IdempotencyGuard } from '../core/ports.js';
import { REQUEST_IDENTITY, requestConflict } from '../core/request-identity.js';

/** `client`: the DynamoDB client to use (the local twin passes one bound to its in-process DynamoDB). */
export function powertoolsIdempotency(tableName: string, client?: DynamoDBClient, expiresAfterSeconds: number = REQUEST_IDENTITY.derivedIdWindowSeconds): IdempotencyGuard {
  const persistenceStore = new DynamoDBPersistenceLayer(client ? { tableName, awsSdkV3Client: client } : { tableName });
  const config = new IdempotencyConfig({
    eventKeyJmesPath: 'requestId',
    payloadValidationJmesPath: 'contentHash',
    expiresAfterSeconds,
    throwOnNoIdempotencyKey: true,
  });
  return {
    wrap: (fn) => {
      const idempotent = makeIdempotent(fn, { persistenceStore, config });
      return async (accepted: AcceptedRequest) => {
        try {
          return await idempotent(accepted);
        } catch (error) {
          if (error instanceof IdempotencyValidationError || (error as Error)?.name === 'IdempotencyValidationError') throw requestConflict(accepted.requestId);
          throw error;
        }
      };
    },
    registerLambdaContext: (context) => config.registerLambdaContext(context as Context),
  };
}
