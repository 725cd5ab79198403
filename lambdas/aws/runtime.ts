/** Lambda plumbing shared by the handlers: environment, Powertools, lazily built dependencies. */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import type { Log } from '../core/ports.js';
import { type EnvName, METRICS } from './env-names.js';

export const logger = new Logger({ serviceName: METRICS.service });
export const metrics = new Metrics({ namespace: METRICS.namespace, serviceName: METRICS.service });

export const log: Log = {
  info: (message, extra) => logger.info(message, extra ?? {}),
  warn: (message, extra) => logger.warn(message, extra ?? {}),
  error: (message, extra) => logger.error(message, extra ?? {}),
};

/** Counts `name`; with dimensions it is published at once as its own EMF record (service stays a dimension). */
export function countMetric(name: string, value = 1, dimensions?: Record<string, string>): void {
  if (!dimensions) {
    metrics.addMetric(name, MetricUnit.Count, value);
    return;
  }
  const single = metrics.singleMetric();
  single.addDimensions(dimensions);
  single.addMetric(name, MetricUnit.Count, value);
}

export function env(name: EnvName): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`environment variable ${name} is not set (the stack sets it)`);
  return value;
}

export function optionalEnv(name: EnvName): string | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
}

export function numberEnv(name: EnvName, fallback: number): number {
  const value = optionalEnv(name);
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0) throw new Error(`environment variable ${name} must be a positive number, not ${value}`);
  return parsed;
}

type LambdaHandler<E, R> = (event: E, context: Context) => Promise<R>;

/**
 * The Lambda entry point of a handler factory. Dependencies are built on the first invocation, so tests
 * can import the module without AWS environment, and every invocation gets logger context and flushed metrics.
 */
export function lambdaEntry<E, R>(build: () => LambdaHandler<E, R> | ((event: E) => Promise<R>)): LambdaHandler<E, R> {
  let handler: LambdaHandler<E, R> | undefined;
  return async (event, context) => {
    handler ??= build() as LambdaHandler<E, R>;
    logger.addContext(context);
    try {
      return await handler(event, context);
    } finally {
      metrics.publishStoredMetrics();
    }
  };
}
