import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../lambdas/core/canonical-json.js';
import { BEACON_SAFE_TEXT, documentParameters, renderDesiredState } from '../../lambdas/core/desired-state.js';
import { RequestError } from '../../lambdas/core/errors.js';
import { PATTERNS, parseRequest } from '../../lambdas/core/request.js';
import { SECRET_ARN } from '../support/requests.js';

const NASTY = ['"', "'", '`', '$(', '${', '\n', '\r', '\u0000', '\u001b', ';', '|', '&', '<', '>', '\\', ' ', '\u00e9', '\u2028', '%', '@', ':', '/', '$'];

/** Strings that are often nearly valid and often carry injection payloads. */
const hostile = fc.oneof(
  fc.string({ unit: 'grapheme-composite', maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.tuple(fc.constantFrom('proxy.corp.example:8080', 'CORP\\svc', 'i-0123456789abcdef0', '<local>', 'svc$', '13.2.0'), fc.constantFrom(...NASTY), fc.boolean()).map(
    ([valid, bad, before]) => (before ? bad + valid : valid + bad),
  ),
  fc.constantFrom('proxy.corp.example:8080', 'http://10.0.0.1:3128', '[2001:db8::1]:80', 'CORP\\svc-beacon', 'CORP\\gmsa$', 'svc', '<local>', '*.corp.example'),
);

/** Mostly a valid value, sometimes a hostile one: each field is probed while the rest stays valid. */
const field = <T,>(valid: fc.Arbitrary<T>) => fc.oneof({ arbitrary: valid, weight: 6 }, { arbitrary: hostile, weight: 1 });

const requestLike = fc.record(
  {
    requestId: field(fc.constant('req-1')),
    target: fc.oneof(
      fc.record({ instanceIds: fc.array(field(fc.constant('i-0123456789abcdef0')), { minLength: 1, maxLength: 1 }) }),
      fc.record({ tag: fc.record({ key: field(fc.constant('flexera:beacon')), value: field(fc.constant('true')) }) }),
    ),
    protocol: fc.constantFrom('http', 'https'),
    proxy: field(fc.constantFrom('proxy.corp.example:8080', 'http://10.0.0.1:3128', '[2001:db8::1]:80')),
    endpoints: fc.record({ download: field(fc.constant('dl:81')), wininet: field(fc.constant('w.example:82')) }, { requiredKeys: [] }),
    bypass: fc.array(field(fc.constantFrom('<local>', '*.corp.example', '10.*')), { maxLength: 3 }),
    account: fc.oneof(
      fc.record({ kind: fc.constantFrom('domain', 'local'), name: field(fc.constantFrom('CORP\\svc', 'svc', 'svc@corp.example')), passwordSecretArn: field(fc.constant(SECRET_ARN)) }),
      fc.record({ kind: fc.constant('gmsa'), name: field(fc.constant('CORP\\gmsa$')) }),
    ),
    wininetScope: fc.constantFrom('account', 'machine'),
    checkCertificateRevocation: fc.record({ disable: fc.boolean(), acknowledgeRisk: fc.boolean(), reason: field(fc.constant('ticket 1')) }),
    beaconVersion: fc.record({ pin: field(fc.constantFrom('current', '13.2.0')), allowDowngrade: fc.boolean() }),
  },
  { requiredKeys: ['target', 'protocol', 'proxy', 'account'] },
);

function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) value.forEach((entry) => strings(entry, out));
  else if (value && typeof value === 'object') Object.entries(value).forEach(([key, entry]) => (out.push(key), strings(entry, out)));
  return out;
}

describe('whatever the input', () => {
  it('no rendered string ever contains a character outside the allowed set', () => {
    let accepted = 0;
    fc.assert(
      fc.property(requestLike, (input) => {
        let request;
        try {
          request = parseRequest(input);
        } catch (error) {
          expect(error).toBeInstanceOf(RequestError);
          return;
        }
        accepted += 1;
        for (const text of strings(renderDesiredState(request))) {
          expect(text).toMatch(BEACON_SAFE_TEXT);
          expect(text).not.toContain('$(');
        }
      }),
      { numRuns: 3000 },
    );
    // The property means nothing unless many hostile-looking inputs were accepted and rendered.
    expect(accepted).toBeGreaterThan(100);
  });

  it('validation refuses with a RequestError or accepts; it never crashes', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), requestLike, fc.jsonValue()), (input) => {
        try {
          parseRequest(input);
        } catch (error) {
          expect(error).toBeInstanceOf(RequestError);
          expect((error as RequestError).field.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

const validRequest = fc.record({
  requestId: fc.stringMatching(PATTERNS.requestId),
  target: fc.record({ instanceIds: fc.uniqueArray(fc.stringMatching(/^i-[0-9a-f]{17}$/), { minLength: 1, maxLength: 5 }) }),
  protocol: fc.constantFrom('http', 'https'),
  proxy: fc.tuple(fc.constantFrom('p.example', '10.0.0.1', '[2001:db8::1]', 'PROXY.Corp.Example'), fc.integer({ min: 1, max: 65535 })).map(([h, p]) => `${h}:${p}`),
  bypass: fc.array(fc.constantFrom('<local>', '*.corp.example', '10.*', '<-loopback>', 'host1'), { maxLength: 5 }),
  account: fc.constantFrom(
    { kind: 'domain', name: 'CORP\\svc-beacon', passwordSecretArn: SECRET_ARN },
    { kind: 'local', name: 'svc', passwordParameterName: '/p/pw', interactiveLogon: true },
    { kind: 'gmsa', name: 'CORP\\gmsa$' },
  ),
  wininetScope: fc.constantFrom('account', 'machine'),
});

describe('determinism', () => {
  it('the same request always renders the same bytes, whatever the key order', () => {
    fc.assert(
      fc.property(validRequest, (input) => {
        const reversed = JSON.parse(JSON.stringify(input), (_key, value: unknown) =>
          value && typeof value === 'object' && !Array.isArray(value) ? Object.fromEntries(Object.entries(value).reverse()) : value,
        );
        const a = renderDesiredState(parseRequest(input));
        const b = renderDesiredState(parseRequest(reversed));
        expect(canonicalJson(b)).toBe(canonicalJson(a));
        expect(documentParameters(b)).toEqual(documentParameters(a));
      }),
      { numRuns: 500 },
    );
  });
});
