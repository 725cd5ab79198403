/**
 * What a proxy address may be (lambdas/core/proxy-address.ts): each refusal with its code and words, and the
 * bounds (length, DNS names, ports) exactly at and one past the limit.
 */
import { describe, expect, it } from 'vitest';
import { MAX_PROXY_INPUT_LENGTH, parseProxyAddress } from '../../lambdas/core/proxy-address.js';
import type { RequestError } from '../../lambdas/core/errors.js';

function refusal(input: string): { code: string; message: string; field: string } {
  try {
    parseProxyAddress(input, 'proxy');
  } catch (error) {
    const { code, message, field } = error as RequestError;
    return { code, message, field };
  }
  throw new Error(`${input} was accepted`);
}

describe('refused, with the code and what to do', () => {
  it.each([
    ['', 'INVALID_PROXY_URL', `give the proxy as host:port (1-${MAX_PROXY_INPUT_LENGTH} characters), for example proxy.corp.example:8080`],
    ['proxy .example:80', 'INVALID_PROXY_URL', 'the proxy contains spaces, quotes, backslashes or control characters; give it as host:port'],
    ['http://wpad/wpad.dat', 'PAC_UNSUPPORTED', 'FlexNet Beacon cannot use a proxy auto-configuration (PAC/WPAD) script; give the proxy server itself as host:port'],
    ['http://config.example/proxy.pac', 'PAC_UNSUPPORTED', 'FlexNet Beacon cannot use a proxy auto-configuration (PAC/WPAD) script; give the proxy server itself as host:port'],
    ['http://config.example/PROXY.PAC?v=1', 'PAC_UNSUPPORTED', 'FlexNet Beacon cannot use a proxy auto-configuration (PAC/WPAD) script; give the proxy server itself as host:port'],
    ['file://c:/proxy', 'PAC_UNSUPPORTED', 'a file: URL points at a PAC script, which FlexNet Beacon cannot use; give the proxy server as host:port'],
    ['socks5://proxy.example:1080', 'INVALID_PROXY_URL', 'the socks5:// scheme is not supported; give host:port, http://host:port or https://host:port'],
    ['user:secret@proxy.example:8080', 'PROXY_AUTH_UNSUPPORTED', 'FlexNet Beacon supports anonymous proxies only; remove the user name and password from the proxy address'],
    ['file:c:proxy', 'PAC_UNSUPPORTED', 'a file: URL points at a PAC script; give the proxy server as host:port'],
    ['ftp:proxy.example', 'INVALID_PROXY_URL', 'the ftp: scheme is not supported; give host:port, http://host:port or https://host:port'],
    ['proxy.example:8080?x=1', 'INVALID_PROXY_URL', 'a proxy address has no query or fragment; give host:port'],
    ['proxy.example:8080#f', 'INVALID_PROXY_URL', 'a proxy address has no query or fragment; give host:port'],
    ['proxy.example:8080/path', 'INVALID_PROXY_URL', 'a proxy address has no path; give host:port'],
    ['[2001:db8::1:8080', 'INVALID_PROXY_URL', 'an IPv6 proxy is written [address]:port'],
    ['[proxy.example]:8080', 'INVALID_PROXY_URL', 'proxy.example is not an IPv6 address; write IPv6 proxies as [address]:port'],
    ['[2001:db8::1]8080', 'INVALID_PROXY_URL', 'the proxy port is required: write [address]:port, for example [2001:db8::1]:8080'],
    ['proxy.example', 'INVALID_PROXY_URL', 'the proxy port is required: write host:port, for example proxy.corp.example:8080'],
    ['2001:db8::1:8080', 'INVALID_PROXY_URL', 'write an IPv6 proxy in brackets: [address]:port'],
    [':8080', 'INVALID_PROXY_URL', '(empty) is not a DNS name or an IPv4 address'],
    ['bad_host.example:8080', 'INVALID_PROXY_URL', 'bad_host.example is not a DNS name or an IPv4 address'],
    ['10.0.0.999:8080', 'INVALID_PROXY_URL', '10.0.0.999 is not a DNS name or an IPv4 address'],
    ['-lead.example:8080', 'INVALID_PROXY_URL', '-lead.example is not a DNS name or an IPv4 address'],
    ['trail-.example:8080', 'INVALID_PROXY_URL', 'trail-.example is not a DNS name or an IPv4 address'],
    ['proxy.example:80a', 'INVALID_PROXY_URL', 'the proxy port must be a number from 1 to 65535'],
    ['proxy.example:123456', 'INVALID_PROXY_URL', 'the proxy port must be a number from 1 to 65535'],
    ['proxy.example:0', 'INVALID_PROXY_URL', 'the proxy port must be a number from 1 to 65535'],
    ['proxy.example:65536', 'INVALID_PROXY_URL', 'the proxy port must be a number from 1 to 65535'],
    // The port is digits only, start to end: JavaScript would read these as numbers (1000, 80).
    ['proxy.example:1e3', 'INVALID_PROXY_URL', 'the proxy port must be a number from 1 to 65535'],
    ['[2001:db8::1]:+80', 'INVALID_PROXY_URL', 'the proxy port must be a number from 1 to 65535'],
    // A scheme counts only at the start: one later in the text is part of a path.
    ['proxy.example:8080/socks://x', 'INVALID_PROXY_URL', 'a proxy address has no path; give host:port'],
    // User and password before the host, with a scheme and a trailing slash too.
    ['http://user:pw@proxy.example:8080/', 'PROXY_AUTH_UNSUPPORTED', 'FlexNet Beacon supports anonymous proxies only; remove the user name and password from the proxy address'],
  ])('%j: %s', (input, code, message) => {
    expect(refusal(input)).toEqual({ code, message, field: 'proxy' });
  });
});

describe('accepted, at the bounds', () => {
  it('up to 300 characters; 301 refused', () => {
    const label = 'a'.repeat(63);
    const host = `${label}.${label}.${label}.${'b'.repeat(61)}`;
    expect(host).toHaveLength(253);
    expect(parseProxyAddress(`${host}:8080`, 'proxy')).toEqual({ host, port: 8080 });
    expect(refusal(`${host}x:8080`).message).toBe(`${host}x is not a DNS name or an IPv4 address`);
    const long = `http://${host}:8080/`.padEnd(MAX_PROXY_INPUT_LENGTH, '/');
    expect(refusal(long).message).toBe('a proxy address has no path; give host:port');
    expect(refusal(`${long}/`).message).toBe(`give the proxy as host:port (1-${MAX_PROXY_INPUT_LENGTH} characters), for example proxy.corp.example:8080`);
  });

  it('names with digit-only labels as long as not every label is digits; a trailing dot; ports 1 and 65535', () => {
    expect(parseProxyAddress('proxy.123:1', 'p')).toEqual({ host: 'proxy.123', port: 1 });
    expect(parseProxyAddress('123.example:65535', 'p')).toEqual({ host: '123.example', port: 65535 });
    // Labels that end or start with digits are names all the same: only all-digit labels make a malformed IPv4.
    expect(parseProxyAddress('proxy1.rack2:8080', 'p')).toEqual({ host: 'proxy1.rack2', port: 8080 });
    expect(parseProxyAddress('1proxy.2rack:8080', 'p')).toEqual({ host: '1proxy.2rack', port: 8080 });
    expect(parseProxyAddress('proxy.example.:80', 'p').host).toBe('proxy.example.');
    expect(parseProxyAddress('http://proxy.example:80/', 'p')).toEqual({ host: 'proxy.example', port: 80 });
    expect(parseProxyAddress('proxy.pac.example:80', 'p').host).toBe('proxy.pac.example');
  });

  it('an @ after the path start is not a user name', () => {
    expect(refusal('proxy.example:80/a@b').message).toBe('a proxy address has no path; give host:port');
  });
});
