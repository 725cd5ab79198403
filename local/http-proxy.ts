/**
 * A real HTTP proxy on 127.0.0.1 for tests and the local twin: the `proxy` package (plain HTTP forwarding
 * and CONNECT tunnels, as a corporate proxy does), with a log of what it was asked. `refuse: true` makes it
 * answer 407 to everything, as a proxy that does not let the beacon through.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createProxy } from 'proxy';
import { renderDesiredState } from '../lambdas/core/desired-state.js';
import { parseRequest } from '../lambdas/core/request.js';

export interface ProxyRequestRecord {
  method: string;
  /** The absolute URL of a forwarded request, or host:port of a CONNECT. */
  target: string;
}

export interface LocalHttpProxy {
  /** `127.0.0.1:<port>`, as a desired state's ProxyServer names a proxy. */
  hostPort: string;
  port: number;
  readonly requests: ProxyRequestRecord[];
  stop(): Promise<void>;
}

export async function startHttpProxy(options: { refuse?: boolean; port?: number } = {}): Promise<LocalHttpProxy> {
  const server = createServer();
  const requests: ProxyRequestRecord[] = [];
  server.on('request', (request) => requests.push({ method: request.method ?? '', target: request.url ?? '' }));
  server.on('connect', (request) => requests.push({ method: 'CONNECT', target: request.url ?? '' }));
  const proxy = createProxy(server);
  if (options.refuse) proxy.authenticate = () => false;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    hostPort: `127.0.0.1:${port}`,
    port,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The FNMS stub path the twin's configure runs probe (a beacon's upload location on FNMS). */
export const TWIN_PROBE_PATH = '/ManageSoftRL/';

/**
 * The hosts file of the twin's network: every proxy host:port the requests configure for WinINet maps to
 * the one local proxy, so the beacons' probe really goes through a proxy. Requests that do not parse are
 * left to the intake, which refuses them.
 */
export function proxyHostMap(requests: unknown[], hostPort: string): Record<string, string> {
  const hosts: Record<string, string> = {};
  for (const request of requests) {
    try {
      const proxyServer = renderDesiredState(parseRequest(typeof request === 'string' ? JSON.parse(request) : request)).wininet.proxyServer;
      for (const entry of proxyServer.split(';')) hosts[entry.replace(/^[a-z]+=/, '')] = hostPort;
    } catch {
      // not a valid request: nothing to route
    }
  }
  return hosts;
}
