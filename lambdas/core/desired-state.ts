import {
  BEACON_SERVICE_DISPLAY_NAME,
  CRL_CHECK_DISABLED_VALUE,
  FLEXNET_REGISTRY_ROOTS,
  MACHINE_SCOPE_BYPASS,
  OPTIONAL_UPLOAD_TASKS,
  REGISTRY_PATHS,
  REGISTRY_VALUE_NAMES,
  REQUIRED_UPLOAD_TASKS,
  SERVICE_START_TIMEOUT_SECONDS,
  UPLOAD_TASK_ALIASES,
  USER_RIGHTS,
  WININET_LOCAL_BYPASS,
} from './beacon-facts.js';
import { canonicalJson } from './canonical-json.js';
import { DOCUMENT_PARAMETERS } from './document-contract.js';
import { LIMITS } from './limits.js';
import { formatHostPort, proxyUrl, type ProxyAddress } from './proxy-address.js';
import type { AccountKind, BeaconRequest, Protocol } from './request.js';

export const DESIRED_STATE_SCHEMA = 1;

/**
 * Every string that travels to a beacon matches this: no quote, backtick, whitespace other than a plain
 * space, control character, non-ASCII character or `$(`; `$` only as the last character (a gMSA name).
 * The request rules already guarantee it; the renderer checks again so no future rule can slip one through.
 */
export const BEACON_SAFE_TEXT = /^[A-Za-z0-9 ._:/\\@*<>=;,[\]+-]*\$?$/;

export interface RegistryValue {
  /** Path relative to the FlexNet registry root. */
  path: string;
  name: string;
  type: 'String';
  /** null: ensure the value is absent. */
  value: string | null;
}

export interface DesiredState {
  schema: typeof DESIRED_STATE_SCHEMA;
  requestId: string;
  protocol: Protocol;
  registryRoots: string[];
  registry: RegistryValue[];
  wininet: {
    scope: 'account' | 'machine';
    enable: true;
    /** `host:port`, or `http=host:port;https=host:port` when the protocols go to different proxies. */
    proxyServer: string;
    bypass: string[];
    /** Always null: PAC scripts are not supported, so any automatic configuration URL is removed. */
    autoConfigUrl: null;
    /** "Automatically detect settings" is left as the beacon had it. */
    autoDetect: 'keep';
  };
  account: {
    kind: AccountKind;
    name: string;
    passwordRef: string | null;
    rights: string[];
    localAdmin: true;
    createIfMissing: boolean;
  };
  /** The password account the beacon runs as today and its secret, so a rollback can restore it; or null. */
  previousAccount: { name: string; passwordRef: string } | null;
  /** FNMS URL the configure document requests through the proxy after applying; null: no probe. */
  probe: { url: string } | null;
  service: { displayName: string; restart: true; startTimeoutSeconds: number };
  tasks: string[];
  taskAliases: Record<string, string[]>;
  optionalTasks: string[];
}

export interface RenderOptions {
  /** The required upload tasks; defaults to the two the procedure names. */
  tasks?: readonly string[];
  optionalTasks?: readonly string[];
  serviceStartTimeoutSeconds?: number;
  /** The stack's FNMS probe URL (infra/config.ts `beaconProbeUrl`); a request's own probeUrl wins. */
  probeUrl?: string | null;
}

// Ordinal comparison: the order must not depend on the machine's locale.
function ordinal(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function byPathThenName(a: RegistryValue, b: RegistryValue): number {
  return ordinal(a.path, b.path) || ordinal(a.name, b.name);
}

function sameAddress(a: ProxyAddress, b: ProxyAddress): boolean {
  return a.host === b.host && a.port === b.port;
}

/**
 * The FlexNet registry values for a request: exactly one of http_proxy/https_proxy in Common and in
 * Launcher\CurrentVersion (the other ensured absent), both ReplicatorParent Proxy values, and the CRL switch.
 * The Launcher always gets an http:// URL: for https this is the documented quirk of the vendor procedure.
 */
export function renderRegistry(request: BeaconRequest): RegistryValue[] {
  const { protocol, proxy, endpoints } = request;
  const chosen = protocol === 'https' ? REGISTRY_VALUE_NAMES.httpsProxy : REGISTRY_VALUE_NAMES.httpProxy;
  const other = protocol === 'https' ? REGISTRY_VALUE_NAMES.httpProxy : REGISTRY_VALUE_NAMES.httpsProxy;
  const value = (path: string, name: string, data: string | null): RegistryValue => ({ path, name, type: 'String', value: data });
  const values = [
    value(REGISTRY_PATHS.common, chosen, proxyUrl(protocol, proxy)),
    value(REGISTRY_PATHS.common, other, null),
    value(REGISTRY_PATHS.downloadReplicator, REGISTRY_VALUE_NAMES.replicatorProxy, proxyUrl(protocol, endpoints.download)),
    value(REGISTRY_PATHS.uploadReplicator, REGISTRY_VALUE_NAMES.replicatorProxy, proxyUrl(protocol, endpoints.upload)),
    value(REGISTRY_PATHS.launcher, chosen, proxyUrl('http', endpoints.launcher)),
    value(REGISTRY_PATHS.launcher, other, null),
  ];
  // The CRL switch is the administrator's unless the request sets it (the seed procedure leaves it alone).
  if (request.crl.set) {
    values.push(value(REGISTRY_PATHS.common, REGISTRY_VALUE_NAMES.checkCertificateRevocation, request.crl.disable ? CRL_CHECK_DISABLED_VALUE : null));
  }
  return values.sort(byPathThenName);
}

/**
 * WinINet carries the batch-server traffic. One proxy for all: `host:port`. When the wininet endpoint
 * differs from the main proxy, the request's protocol goes to the wininet endpoint and the other protocol
 * to the main proxy, written per protocol (`http=...;https=...`).
 */
export function renderWininetProxyServer(request: BeaconRequest): string {
  const { proxy, protocol } = request;
  const wininet = request.endpoints.wininet;
  if (sameAddress(proxy, wininet)) return formatHostPort(proxy);
  const http = protocol === 'http' ? wininet : proxy;
  const https = protocol === 'https' ? wininet : proxy;
  return `http=${formatHostPort(http)};https=${formatHostPort(https)}`;
}

/**
 * The WinINet bypass list. In machine scope the proxy also applies to LocalSystem, so IMDS and the SSM
 * endpoints are always bypassed (the agent must keep reaching them); `<local>` stays last.
 */
export function renderBypass(request: BeaconRequest): string[] {
  const entries = request.wininetScope === 'machine' ? [...MACHINE_SCOPE_BYPASS, ...request.bypass] : [...request.bypass];
  const unique = [...new Set(entries.map((entry) => entry.toLowerCase()))];
  return [...unique.filter((entry) => entry !== WININET_LOCAL_BYPASS), ...unique.filter((entry) => entry === WININET_LOCAL_BYPASS)];
}

export function accountRights(request: BeaconRequest): string[] {
  const rights: string[] = [USER_RIGHTS.service, USER_RIGHTS.batch];
  if (request.account.interactiveLogon) rights.push(USER_RIGHTS.interactive);
  return rights;
}

/** The desired state of one beacon for a valid request: plain data, the same bytes for the same request. */
export function renderDesiredState(request: BeaconRequest, options: RenderOptions = {}): DesiredState {
  const state = buildDesiredState(request, options);
  assertBeaconSafe(state, 'desiredState');
  return state;
}

/** True when every key and string in the value matches BEACON_SAFE_TEXT (no paths built: this runs per request). */
function beaconSafe(value: unknown): boolean {
  if (typeof value === 'string') return BEACON_SAFE_TEXT.test(value);
  if (Array.isArray(value)) return value.every(beaconSafe);
  if (value !== null && typeof value === 'object') {
    for (const key in value) if (!BEACON_SAFE_TEXT.test(key) || !beaconSafe((value as Record<string, unknown>)[key])) return false;
  }
  return true;
}

function unsafePath(value: unknown, path: string): string | null {
  if (typeof value === 'string') return BEACON_SAFE_TEXT.test(value) ? null : path;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i += 1) {
      const found = unsafePath(value[i], `${path}[${i}]`);
      if (found) return found;
    }
  } else if (value !== null && typeof value === 'object') {
    for (const [key, entry] of Object.entries(value)) {
      const found = BEACON_SAFE_TEXT.test(key) ? unsafePath(entry, `${path}.${key}`) : `${path}.${key}`;
      if (found) return found;
    }
  }
  return null;
}

/**
 * The last-line check: throws when any key or string of the value holds a character outside BEACON_SAFE_TEXT,
 * naming the first such place. No valid request reaches it (the request rules refuse first); exported so a
 * test can hand it unsafe data directly.
 */
export function assertBeaconSafe(value: unknown, path: string): void {
  if (!beaconSafe(value)) throw new Error(`internal: ${unsafePath(value, path)} holds a character that must never reach a beacon`);
}

function buildDesiredState(request: BeaconRequest, options: RenderOptions): DesiredState {
  const tasks = [...(options.tasks ?? REQUIRED_UPLOAD_TASKS)];
  const taskAliases: Record<string, string[]> = {};
  for (const task of tasks) {
    const aliases = UPLOAD_TASK_ALIASES[task];
    if (aliases) taskAliases[task] = [...aliases];
  }
  return {
    schema: DESIRED_STATE_SCHEMA,
    requestId: request.requestId,
    protocol: request.protocol,
    registryRoots: [...FLEXNET_REGISTRY_ROOTS],
    registry: renderRegistry(request),
    wininet: {
      scope: request.wininetScope,
      enable: true,
      proxyServer: renderWininetProxyServer(request),
      bypass: renderBypass(request),
      autoConfigUrl: null,
      autoDetect: 'keep',
    },
    account: {
      kind: request.account.kind,
      name: request.account.name,
      passwordRef: request.account.passwordRef,
      rights: accountRights(request),
      localAdmin: true,
      createIfMissing: request.account.kind === 'local',
    },
    previousAccount: request.previousAccount ? { ...request.previousAccount } : null,
    probe: probeOf(request, options),
    service: {
      displayName: BEACON_SERVICE_DISPLAY_NAME,
      restart: true,
      startTimeoutSeconds: options.serviceStartTimeoutSeconds ?? SERVICE_START_TIMEOUT_SECONDS,
    },
    tasks,
    taskAliases,
    optionalTasks: [...(options.optionalTasks ?? OPTIONAL_UPLOAD_TASKS)],
  };
}

function probeOf(request: BeaconRequest, options: RenderOptions): DesiredState['probe'] {
  const url = request.probeUrl ?? options.probeUrl ?? null;
  return url && url !== 'none' ? { url } : null;
}

/** The desired state as it travels: canonical JSON, base64, checked against the document's allowedPattern. */
export function encodeDesiredState(state: DesiredState): string {
  // Base64 output only holds the pattern's characters: the length is the part of the allowedPattern left to check.
  const encoded = Buffer.from(canonicalJson(state), 'utf8').toString('base64');
  if (encoded.length > LIMITS.maxDesiredStateBase64Length) {
    throw new Error(`the desired state encodes to ${encoded.length} characters, over the ${LIMITS.maxDesiredStateBase64Length} the document accepts`);
  }
  return encoded;
}

export function decodeDesiredState(encoded: string): DesiredState {
  return JSON.parse(Buffer.from(encoded, 'base64').toString('utf8')) as DesiredState;
}

/** SendCommand `Parameters` of the configure document for this desired state. */
export function documentParameters(state: DesiredState): Record<string, [string]> {
  return { [DOCUMENT_PARAMETERS.desiredState.name]: [encodeDesiredState(state)] };
}
