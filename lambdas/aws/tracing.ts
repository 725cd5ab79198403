/**
 * X-Ray subsegments for every AWS SDK call a function makes (Powertools Tracer), for stacks deployed with
 * `traceSdkCalls=true`. Imported with import() only then: the X-Ray SDK under the Tracer costs about 60 ms of
 * cold init (npm run bench), and Lambda's active tracing records each invocation without it.
 */
import { Tracer } from '@aws-lambda-powertools/tracer';
import { instrumentClients } from './clients/sdk.js';
import { METRICS } from './env-names.js';

const tracer = new Tracer({ serviceName: METRICS.service });

/** Traces every SDK client built from now on (call at import, before the first invocation builds them). */
export function traceSdkClients(): void {
  instrumentClients((client) => tracer.captureAWSv3Client(client));
}

export function annotateColdStart(): void {
  tracer.annotateColdStart();
}
