import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../lambdas/core/canonical-json.js';

/** The same data with every object's keys in reverse insertion order. */
function reversed(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reversed);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).reverse().map(([key, entry]) => [key, reversed(entry)]));
  }
  return value;
}

describe('canonical JSON', () => {
  it('is valid JSON of the same data, with every object\'s keys in sorted order, whatever the input order', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalJson(value);
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(value)));
        expect(canonicalJson(reversed(value))).toBe(text);
      }),
      { numRuns: 2000 },
    );
  });

  it('orders keys by plain string order (integer-like keys too) and drops undefined members as JSON does', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { f: 2, e: 3 }], c: null } })).toBe('{"a":{"c":null,"d":[1,{"e":3,"f":2}]},"b":1}');
    expect(canonicalJson({ '10': 1, '9': 2, '': 3 })).toBe('{"":3,"10":1,"9":2}');
    expect(canonicalJson({ a: undefined, b: [undefined] })).toBe('{"b":[null]}');
  });

  it('drops function members as JSON does; a lone undefined or function is null', () => {
    expect(canonicalJson({ a: 1, b: () => 1 })).toBe('{"a":1}');
    expect(canonicalJson(undefined)).toBe('null');
    expect(canonicalJson([() => 1, 2])).toBe('[null,2]');
  });
});
