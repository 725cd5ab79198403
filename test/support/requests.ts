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

/**
 * The biggest request the rules allow: machine scope (two WinINet views), split endpoints, the CRL switch with
 * a full-length reason, interactive logon, a local account (created: one more entry), and bypass
 * entries of full length until one more would pass the request's or the desired state's size limit.
 * `fits(request)` says whether a candidate is still allowed (both limits checked by the caller's renderer).
 */
export function largestRequest(fits: (request: Record<string, unknown>) => boolean): Record<string, unknown> {
  const base: Record<string, unknown> = {
    requestId: `largest-${'x'.repeat(56)}`,
    target: { instanceIds: ['i-0123456789abcdef0'] },
    protocol: 'https',
    proxy: 'proxy-main.datacenter-one.corp.example:8080',
    endpoints: {
      download: 'proxy-download.datacenter-two.corp.example:8081',
      upload: 'proxy-upload.datacenter-three.corp.example:8082',
      launcher: 'proxy-launcher.datacenter-four.corp.example:8083',
      wininet: 'proxy-wininet.datacenter-five.corp.example:8084',
    },
    wininetScope: 'machine',
    account: { kind: 'local', name: 'svc-beacon', passwordParameterName: '/beacon-proxy/svc-beacon/password', interactiveLogon: true },
    checkCertificateRevocation: { disable: true, acknowledgeRisk: true, reason: `CA unreachable ${'r'.repeat(480)}`.slice(0, 500) },
    bypass: [] as string[],
  };
  const bypass: string[] = [];
  for (let index = 0; index < 64; index += 1) {
    // Full-length entries: 253 characters each, all different.
    const entry = `*.h${String(index).padStart(2, '0')}-${'b'.repeat(240)}.corp.example`.slice(0, 253);
    if (!fits({ ...base, bypass: [...bypass, entry, '<local>'] })) break;
    bypass.push(entry);
  }
  return { ...base, bypass: [...bypass, '<local>'] };
}
