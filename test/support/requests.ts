import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RequestInput } from '../../lambdas/core/request.js';

export const ROOT = join(import.meta.dirname, '..', '..');

export const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:beacon/svc-beacon-AbCdEf';

/** A valid https request with one proxy; tests override what they examine. */
export function validInput(overrides: Partial<Record<keyof RequestInput, unknown>> = {}): Record<string, unknown> {
  return {
    requestId: 'req-test-1',
    target: { instanceIds: ['i-0123456789abcdef0'] },
    protocol: 'https',
    proxy: 'proxy.corp.example:8080',
    account: { kind: 'domain', name: 'CORP\\svc-beacon', passwordSecretArn: SECRET_ARN },
    ...overrides,
  };
}

export function example(name: string): unknown {
  return JSON.parse(readFileSync(join(ROOT, 'examples', `${name}.json`), 'utf8'));
}
