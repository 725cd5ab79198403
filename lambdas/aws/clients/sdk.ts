/**
 * Shared SDK client settings and the optional instrumentation hook. Each AWS service has its own client
 * module next to this one, so a handler loads only the SDK packages it uses (a cold start pays for every
 * package imported).
 */
import { systemClock } from '../../core/ports.js';

/** Adaptive retry: SSM and Step Functions throttle without a published rate. */
export const SDK_CONFIG = { retryMode: 'adaptive', maxAttempts: 5 } as const;

let instrument: <T>(client: T) => T = (client) => client;

/** Wraps every client built after this call (the intake's SDK-call tracing, lambdas/aws/tracing.ts, when the stack sets traceSdkCalls). */
export function instrumentClients(wrap: <T>(client: T) => T): void {
  instrument = wrap;
}

export function instrumented<T>(client: T): T {
  return instrument(client);
}

export const clock = systemClock;
