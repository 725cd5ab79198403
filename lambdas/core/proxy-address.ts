import { isIPv4, isIPv6 } from 'node:net';
import { RequestError } from './errors.js';

/** An anonymous forward proxy: the only kind FlexNet Beacon supports. */
export interface ProxyAddress {
  /** Lower-case DNS name, dotted IPv4, or IPv6 in brackets. */
  host: string;
  port: number;
}

export const MAX_PROXY_INPUT_LENGTH = 300;
const DNS_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
// A PAC script is named by a path ending in .pac or wpad.dat (http://wpad/wpad.dat, file://c:/proxy.pac).
const PAC_HINT = /(\.pac|wpad\.dat)(?=$|[?#/])/i;

/** `host:port` as WinINet and the registry want it. */
export function formatHostPort(address: ProxyAddress): string {
  return `${address.host}:${address.port}`;
}

export function proxyUrl(scheme: 'http' | 'https', address: ProxyAddress): string {
  return `${scheme}://${formatHostPort(address)}`;
}

function isDnsName(host: string): boolean {
  if (host.length > 253) return false;
  const labels = host.replace(/\.$/, '').split('.');
  // An all-numeric dotted name is a malformed IPv4 address, not a DNS name.
  if (labels.every((label) => /^\d+$/.test(label))) return false;
  return labels.every((label) => DNS_LABEL.test(label));
}

/**
 * Parses `host:port`, `http://host:port`, `https://host:port` or `[v6]:port` (an optional trailing `/`
 * is tolerated). The scheme is ignored: the request's `protocol` decides what is written.
 */
export function parseProxyAddress(input: string, field: string): ProxyAddress {
  function refuse(message: string): never {
    throw new RequestError('INVALID_PROXY_URL', message, field);
  }
  if (input.length === 0 || input.length > MAX_PROXY_INPUT_LENGTH) {
    refuse(`give the proxy as host:port (1-${MAX_PROXY_INPUT_LENGTH} characters), for example proxy.corp.example:8080`);
  }
  if (/[\u0000-\u001f\u007f-\uffff\s"'`\\]/.test(input)) {
    refuse('the proxy contains spaces, quotes, backslashes or control characters; give it as host:port');
  }
  if (PAC_HINT.test(input)) {
    throw new RequestError(
      'PAC_UNSUPPORTED',
      'FlexNet Beacon cannot use a proxy auto-configuration (PAC/WPAD) script; give the proxy server itself as host:port',
      field,
    );
  }

  let rest = input;
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(rest);
  if (scheme) {
    const name = scheme[1]!.toLowerCase();
    if (name === 'file') {
      throw new RequestError(
        'PAC_UNSUPPORTED',
        'a file: URL points at a PAC script, which FlexNet Beacon cannot use; give the proxy server as host:port',
        field,
      );
    }
    if (name !== 'http' && name !== 'https') {
      refuse(`the ${name}:// scheme is not supported; give host:port, http://host:port or https://host:port`);
    }
    rest = rest.slice(scheme[0].length);
  }

  const at = rest.lastIndexOf('@');
  const slash = rest.indexOf('/');
  if (at !== -1 && (slash === -1 || at < slash)) {
    throw new RequestError(
      'PROXY_AUTH_UNSUPPORTED',
      'FlexNet Beacon supports anonymous proxies only; remove the user name and password from the proxy address',
      field,
    );
  }
  if (!scheme && /^[a-zA-Z][a-zA-Z0-9+.-]*:(?!\d)/.test(rest)) {
    const name = rest.slice(0, rest.indexOf(':')).toLowerCase();
    if (name === 'file') {
      throw new RequestError('PAC_UNSUPPORTED', 'a file: URL points at a PAC script; give the proxy server as host:port', field);
    }
    refuse(`the ${name}: scheme is not supported; give host:port, http://host:port or https://host:port`);
  }
  if (/[?#]/.test(rest)) refuse('a proxy address has no query or fragment; give host:port');
  if (slash !== -1) {
    if (slash !== rest.length - 1) refuse('a proxy address has no path; give host:port');
    rest = rest.slice(0, -1);
  }

  let host: string;
  let portText: string;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close === -1) refuse('an IPv6 proxy is written [address]:port');
    host = rest.slice(1, close);
    if (!isIPv6(host)) refuse(`${host} is not an IPv6 address; write IPv6 proxies as [address]:port`);
    host = `[${host.toLowerCase()}]`;
    if (rest[close + 1] !== ':') refuse('the proxy port is required: write [address]:port, for example [2001:db8::1]:8080');
    portText = rest.slice(close + 2);
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon === -1) refuse('the proxy port is required: write host:port, for example proxy.corp.example:8080');
    host = rest.slice(0, colon).toLowerCase();
    portText = rest.slice(colon + 1);
    if (host.includes(':')) refuse('write an IPv6 proxy in brackets: [address]:port');
    if (!isIPv4(host) && !isDnsName(host)) {
      refuse(`${host || '(empty)'} is not a DNS name or an IPv4 address`);
    }
  }
  if (!/^\d{1,5}$/.test(portText)) refuse('the proxy port must be a number from 1 to 65535');
  const port = Number(portText);
  if (port < 1 || port > 65535) refuse('the proxy port must be a number from 1 to 65535');
  return { host, port };
}
