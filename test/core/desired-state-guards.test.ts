/**
 * What reaches a beacon, pinned where the broader desired-state tests left room (issue 14's surviving
 * mutants): when the WinINet endpoint counts as "the same proxy", the last-line safety check of every string
 * and key that travels to a beacon, and the size the configure document accepts.
 */
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../lambdas/core/canonical-json.js';
import { BEACON_SAFE_TEXT, assertBeaconSafe, decodeDesiredState, encodeDesiredState, renderDesiredState } from '../../lambdas/core/desired-state.js';
import { LIMITS } from '../../lambdas/core/limits.js';
import { type BeaconRequest, parseRequest } from '../../lambdas/core/request.js';
import { validInput } from '../support/requests.js';

const proxyServer = (input: Record<string, unknown>) => renderDesiredState(parseRequest(validInput(input))).wininet.proxyServer;

describe('WinINet: the wininet endpoint is the main proxy only when both host and port are the same', () => {
  it('same host, other port: written per protocol (the request protocol to the wininet endpoint)', () => {
    expect(proxyServer({ endpoints: { wininet: 'proxy.corp.example:3128' } })).toBe('http=proxy.corp.example:8080;https=proxy.corp.example:3128');
    expect(proxyServer({ protocol: 'http', endpoints: { wininet: 'proxy.corp.example:3128' } })).toBe('http=proxy.corp.example:3128;https=proxy.corp.example:8080');
  });

  it('other host, same port: written per protocol', () => {
    expect(proxyServer({ endpoints: { wininet: 'batch.corp.example:8080' } })).toBe('http=proxy.corp.example:8080;https=batch.corp.example:8080');
  });

  it('the same proxy written another way (scheme, case) is one proxy for all: host:port', () => {
    expect(proxyServer({ endpoints: { wininet: 'HTTP://Proxy.Corp.Example:8080' } })).toBe('proxy.corp.example:8080');
  });
});

describe('the last-line check: nothing outside BEACON_SAFE_TEXT reaches a beacon, whatever a future rule lets through', () => {
  const request = (changes: Partial<BeaconRequest>): BeaconRequest => ({ ...parseRequest(validInput()), ...changes });

  it('the rules in one table: letters, digits and the listed punctuation pass; `$` only as the last character', () => {
    for (const safe of ['', 'CORP\\svc-beacon', 'svc-gmsa$', 'http=a.example:1;https=[2001:db8::1]:2', '<local>', '*.corp.example', 'a+b,c@d=e/f', 'Upload Flexera logs and inventories']) {
      expect(BEACON_SAFE_TEXT.test(safe), safe).toBe(true);
    }
    for (const unsafe of ['a"b', "a'b", 'a`b', 'a\tb', 'a\nb', 'a\rb', 'é', 'a$b', '$(whoami)', 'svc$$', '$ ', '%TEMP%', 'a&b', 'a|b', '(x)', '{x}', 'a!b', 'a?b', '#x', '~x', '"']) {
      expect(BEACON_SAFE_TEXT.test(unsafe), JSON.stringify(unsafe)).toBe(false);
    }
  });

  it('called directly with unsafe data it throws and names the first unsafe place: a string, an array entry, a nested value, a key', () => {
    expect(() => assertBeaconSafe('a"b', 'state')).toThrow('internal: state holds a character that must never reach a beacon');
    expect(() => assertBeaconSafe(['ok', 'fine', '$(x)', 'a`b'], 'state')).toThrow('internal: state[2] holds');
    expect(() => assertBeaconSafe({ a: { b: ['ok', { c: "it's" }] } }, 'state')).toThrow('internal: state.a.b[1].c holds');
    expect(() => assertBeaconSafe({ ok: 'x', 'bad"key': 'x' }, 'state')).toThrow('internal: state.bad"key holds');
    expect(() => assertBeaconSafe({ ok: 'x', nested: { 'bad`key': null } }, 'state')).toThrow('internal: state.nested.bad`key holds');
  });

  it('called directly with safe data it passes: strings, nulls, numbers, booleans, nested arrays and objects', () => {
    expect(() => assertBeaconSafe({ a: null, b: 1, c: true, d: [['x', 'y$'], []], e: { f: 'CORP\\svc' } }, 'state')).not.toThrow();
    expect(() => assertBeaconSafe(null, 'state')).not.toThrow();
    expect(() => assertBeaconSafe([], 'state')).not.toThrow();
  });

  it('the renderer refuses a request that carries an unsafe string past the rules (a bypass entry)', () => {
    expect(() => renderDesiredState(request({ bypass: ['ok.example', 'evil".example'] }))).toThrow('internal: desiredState.wininet.bypass[1] holds a character that must never reach a beacon');
  });

  it('the renderer refuses unsafe text from the stack configuration too (task names, probe URL)', () => {
    expect(() => renderDesiredState(request({}), { tasks: ['Upload `whoami`'] })).toThrow('internal: desiredState.tasks[0] holds');
    expect(() => renderDesiredState(request({}), { probeUrl: "https://fnms.example/'x" })).toThrow('internal: desiredState.probe.url holds');
    expect(() => renderDesiredState(request({ requestId: 'a$(b)' }))).toThrow('internal: desiredState.requestId holds');
  });
});

describe('the desired state fits the configure document: at most LIMITS.maxDesiredStateBase64Length base64 characters', () => {
  const state = renderDesiredState(parseRequest(validInput()));
  // Pads one task name so the canonical JSON is exactly `bytes` long.
  const padded = (bytes: number) => {
    const base = canonicalJson({ ...state, tasks: [''] }).length;
    return { ...state, tasks: ['x'.repeat(bytes - base)] };
  };
  const atLimit = (LIMITS.maxDesiredStateBase64Length / 4) * 3;

  it('exactly at the limit it is encoded and decodes to the same state', () => {
    const encoded = encodeDesiredState(padded(atLimit));
    expect(encoded).toHaveLength(LIMITS.maxDesiredStateBase64Length);
    expect(decodeDesiredState(encoded)).toEqual(padded(atLimit));
  });

  it('one byte more is refused with the size and the limit named', () => {
    expect(() => encodeDesiredState(padded(atLimit + 1))).toThrow(
      `the desired state encodes to ${LIMITS.maxDesiredStateBase64Length + 4} characters, over the ${LIMITS.maxDesiredStateBase64Length} the document accepts`,
    );
  });
});

describe('the upload tasks the beacon runs as the account', () => {
  it('the optional tasks are the known ones unless the stack names others', () => {
    const state = renderDesiredState(parseRequest(validInput()));
    expect(state.optionalTasks).toEqual(['Upload Flexera inventories', 'Upload FlexNet inventories', 'Upload FlexNet Beacon status']);
    expect(renderDesiredState(parseRequest(validInput()), { optionalTasks: ['Custom task'] }).optionalTasks).toEqual(['Custom task']);
  });
});

describe('the WinINet bypass list as written to the beacon', () => {
  const bypass = (input: Record<string, unknown>) => renderDesiredState(parseRequest(validInput(input))).wininet.bypass;

  it('lower case, each entry once (WinINet compares without case), <local> moved last', () => {
    expect(bypass({ bypass: ['<local>', '*.Corp.Example', 'HOST.example', '*.corp.example'] })).toEqual(['*.corp.example', 'host.example', '<local>']);
  });

  it('without <local> nothing is added; a request without a bypass list gets <local> only', () => {
    expect(bypass({ bypass: ['a.example', 'b.example'] })).toEqual(['a.example', 'b.example']);
    expect(bypass({})).toEqual(['<local>']);
  });
});
