import * as z from 'zod/mini';
import { WININET_LOCAL_BYPASS } from './beacon-facts.js';
import { type ErrorCode, RequestError } from './errors.js';
import { DOCUMENT_PARAMETERS } from './document-contract.js';
import { LIMITS } from './limits.js';
import { type ProxyAddress, parseProxyAddress } from './proxy-address.js';
import { derivedRequestId } from './request-identity.js';
import { RolloutInputSchema, type RolloutSpec, parseRollout } from './rollout.js';

// Patterns for everything that may travel to a beacon. None admits a quote, backtick, `$(`, whitespace
// other than none at all, a newline, NUL or a control character.
export const PATTERNS = {
  /** Starts with a letter or digit: `.` and `..` are path segments, never ids (a status URL must name the request). */
  requestId: /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
  instanceId: /^(i-([0-9a-f]{8}|[0-9a-f]{17})|mi-[0-9a-f]{17})$/,
  tagKey: /^[A-Za-z0-9_.:/=+@-]{1,128}$/,
  tagValue: /^[A-Za-z0-9_.:/=+@-]{0,256}$/,
  netbiosDomain: /^[A-Za-z0-9][A-Za-z0-9-]{0,14}$/,
  samAccountName: /^[A-Za-z0-9][A-Za-z0-9._-]{0,19}$/,
  gmsaSamAccountName: /^[A-Za-z0-9][A-Za-z0-9._-]{0,14}\$$/,
  upn: /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/,
  secretArn: /^arn:aws(-[a-z]+)*:secretsmanager:[a-z]{2}(-[a-z]+)+-\d:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}$/,
  parameterName: /^(arn:aws(-[a-z]+)*:ssm:[a-z]{2}(-[a-z]+)+-\d:\d{12}:parameter)?\/?[A-Za-z0-9_.-]{1,128}(\/[A-Za-z0-9_.-]{1,128}){0,14}$/,
  bypassEntry: /^(<local>|<-loopback>|[A-Za-z0-9*.:[\]-]{1,253})$/,
  beaconVersion: /^\d{1,5}(\.\d{1,5}){1,3}$/,
  /** Free text kept in the audit trail only (never sent to a beacon): printable ASCII. */
  auditText: /^[\x20-\x7e]*$/,
} as const;

/** What a request id is, in words (every refusal of an id says this). */
export const REQUEST_ID_RULE = '1-64 letters, digits, . _ or -, starting with a letter or digit';

const RESERVED_ACCOUNT_NAMES = new Set(['system', 'localsystem', 'localservice', 'networkservice']);
const PASSWORD_LIKE_KEY = /pass|pwd|secret|credential|token/i;

const proxyString = z.string().check(z.maxLength(400));

// zod/mini: the same validation as classic zod at a fraction of the bundle (every Lambda carries this).
export const RequestInputSchema = z.strictObject({
  requestId: z.optional(z.string()),
  target: z.strictObject({
    instanceIds: z.optional(z.array(z.string())),
    tag: z.optional(z.strictObject({ key: z.string(), value: z.string() })),
  }),
  protocol: z.enum(['https', 'http']),
  proxy: proxyString,
  endpoints: z.optional(
    z.strictObject({
      download: z.optional(proxyString),
      upload: z.optional(proxyString),
      launcher: z.optional(proxyString),
      wininet: z.optional(proxyString),
    }),
  ),
  bypass: z.optional(z.array(z.string())),
  account: z.strictObject({
    kind: z.enum(['domain', 'local', 'gmsa']),
    name: z.string(),
    passwordSecretArn: z.optional(z.string()),
    passwordParameterName: z.optional(z.string()),
    interactiveLogon: z.optional(z.boolean()),
  }),
  /** The account the service or tasks run as today, when it has a password: its secret lets a rollback restore it. */
  previousAccount: z.optional(
    z.strictObject({
      name: z.string(),
      passwordSecretArn: z.optional(z.string()),
      passwordParameterName: z.optional(z.string()),
    }),
  ),
  /** FNMS URL the configure document requests through the proxy after applying (overrides the stack's). */
  probeUrl: z.optional(z.string()),
  wininetScope: z.optional(z.enum(['account', 'machine'])),
  checkCertificateRevocation: z.optional(
    z.strictObject({
      disable: z.boolean(),
      acknowledgeRisk: z.optional(z.boolean()),
      reason: z.optional(z.string()),
    }),
  ),
  beaconVersion: z.optional(
    z.strictObject({
      pin: z.string(),
      allowDowngrade: z.optional(z.boolean()),
    }),
  ),
  dryRun: z.optional(z.boolean()),
  rollout: z.optional(RolloutInputSchema),
});

export type RequestInput = z.infer<typeof RequestInputSchema>;

export type Target = { kind: 'instances'; instanceIds: string[] } | { kind: 'tag'; key: string; value: string };
export type AccountKind = 'domain' | 'local' | 'gmsa';
export type Protocol = 'https' | 'http';

/** A request that passed every rule: normalised, with defaults filled in. */
export interface BeaconRequest {
  requestId: string;
  target: Target;
  protocol: Protocol;
  proxy: ProxyAddress;
  /** Every endpoint resolved: an endpoint not given uses `proxy`. */
  endpoints: { download: ProxyAddress; upload: ProxyAddress; launcher: ProxyAddress; wininet: ProxyAddress };
  bypass: string[];
  account: { kind: AccountKind; name: string; passwordRef: string | null; interactiveLogon: boolean };
  /** The password account the beacon runs as today (a rollback restores it with this secret), or null. */
  previousAccount: { name: string; passwordRef: string } | null;
  /** FNMS URL probed through the proxy after configure, or null (the stack's default applies). */
  probeUrl: string | null;
  wininetScope: 'account' | 'machine';
  /** `set`: the request said something about the CRL check; otherwise the beacon's value is left as it is. */
  crl: { set: boolean; disable: boolean; reason: string | null };
  beaconVersion: { pin: 'current' | string; allowDowngrade: boolean };
  dryRun: boolean;
  /** How the beacons are started: canary, waves, concurrency and error limits (defaults by target kind). */
  rollout: RolloutSpec;
}

function jsonPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || '$';
}

function codeForField(field: string): ErrorCode {
  if (field.startsWith('target')) return 'INVALID_TARGET';
  if (field.startsWith('account')) return 'INVALID_ACCOUNT';
  if (field === 'proxy' || field.startsWith('endpoints')) return 'INVALID_PROXY_URL';
  return 'INVALID_REQUEST';
}

function fromZodIssue(issue: z.core.$ZodIssue): RequestError {
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    const field = jsonPath([...issue.path, key]);
    if (PASSWORD_LIKE_KEY.test(key)) {
      return new RequestError(
        codeForField(field),
        `${field} is refused: a request never carries a password or secret. Store the password in Secrets Manager ` +
          'or as a SecureString parameter and give account.passwordSecretArn or account.passwordParameterName.',
        field,
      );
    }
    return new RequestError(codeForField(field), `${field} is not a known field; remove it (see the request schema in the README)`, field);
  }
  const field = jsonPath(issue.path);
  return new RequestError(codeForField(field), `${field}: ${issue.message}`, field);
}

function requirePattern(value: string, pattern: RegExp, code: ErrorCode, field: string, what: string): string {
  if (!pattern.test(value)) throw new RequestError(code, `${field} must be ${what}`, field);
  return value;
}

function parseTarget(target: RequestInput['target']): Target {
  const hasIds = target.instanceIds !== undefined;
  const hasTag = target.tag !== undefined;
  if (hasIds === hasTag) {
    throw new RequestError('INVALID_TARGET', 'target takes exactly one of instanceIds or tag', 'target');
  }
  if (target.tag) {
    const key = requirePattern(target.tag.key, PATTERNS.tagKey, 'INVALID_TARGET', 'target.tag.key', 'a tag key of 1-128 letters, digits or _.:/=+@-');
    const value = requirePattern(target.tag.value, PATTERNS.tagValue, 'INVALID_TARGET', 'target.tag.value', 'a tag value of letters, digits or _.:/=+@-');
    return { kind: 'tag', key, value };
  }
  const ids = target.instanceIds ?? [];
  if (ids.length === 0 || ids.length > LIMITS.maxInstanceIds) {
    throw new RequestError('INVALID_TARGET', `target.instanceIds takes 1 to ${LIMITS.maxInstanceIds} ids; use a tag target for larger fleets`, 'target.instanceIds');
  }
  const seen = new Set<string>();
  ids.forEach((id, index) => {
    const field = `target.instanceIds[${index}]`;
    requirePattern(id, PATTERNS.instanceId, 'INVALID_TARGET', field, 'an SSM managed instance id: i- with 8 or 17 hex digits, or mi- with 17');
    if (seen.has(id)) throw new RequestError('INVALID_TARGET', `${field} repeats ${id}; list each beacon once`, field);
    seen.add(id);
  });
  return { kind: 'instances', instanceIds: [...ids] };
}

function parseAccount(account: RequestInput['account']): BeaconRequest['account'] {
  const { kind, name } = account;
  const passwordRefs = [account.passwordSecretArn, account.passwordParameterName].filter((ref) => ref !== undefined);
  const interactiveLogon = account.interactiveLogon ?? false;
  const bad = (message: string, field = 'account.name'): never => {
    throw new RequestError('INVALID_ACCOUNT', message, field);
  };
  let normalised = name;
  if (kind === 'gmsa') {
    const [domain, sam, extra] = name.split('\\');
    if (extra !== undefined || sam === undefined || !PATTERNS.netbiosDomain.test(domain ?? '') || !PATTERNS.gmsaSamAccountName.test(sam)) {
      bad('a gMSA is written DOMAIN\\name$ (NetBIOS domain, account name of up to 15 characters ending in $)');
    }
    if (passwordRefs.length > 0) {
      bad('a gMSA has no password (Windows manages it); remove the password reference', account.passwordSecretArn !== undefined ? 'account.passwordSecretArn' : 'account.passwordParameterName');
    }
    if (interactiveLogon) bad('a gMSA cannot log on interactively; remove account.interactiveLogon', 'account.interactiveLogon');
    normalised = `${domain!.toUpperCase()}\\${sam}`;
  } else {
    // Before the name patterns (which refuse $): a gMSA given as another kind gets the message that says so.
    if (name.endsWith('$')) bad('a name ending in $ is a gMSA; set account.kind to gmsa');
    if (kind === 'domain') {
      if (name.includes('\\')) {
        const [domain, sam, extra] = name.split('\\');
        if (extra !== undefined || !PATTERNS.netbiosDomain.test(domain ?? '') || !PATTERNS.samAccountName.test(sam ?? '')) {
          bad('a domain account is written NETBIOS\\name or name@dns.domain (letters, digits, . _ -)');
        }
        normalised = `${domain!.toUpperCase()}\\${sam}`;
      } else if (!PATTERNS.upn.test(name)) {
        bad('a domain account is written NETBIOS\\name or name@dns.domain (letters, digits, . _ -)');
      }
    } else {
      if (!PATTERNS.samAccountName.test(name)) {
        bad('a local account is a plain name of up to 20 letters, digits, . _ - (no domain part)');
      }
      if (RESERVED_ACCOUNT_NAMES.has(name.toLowerCase())) {
        bad(`${name} is a built-in account; the beacon needs a named account (the procedure's point is to leave LocalSystem)`);
      }
    }
    if (passwordRefs.length !== 1) {
      bad(
        `a ${kind} account needs exactly one password reference: account.passwordSecretArn (Secrets Manager) or ` +
          'account.passwordParameterName (SecureString); the beacon fetches it at run time',
        'account.passwordSecretArn',
      );
    }
    if (account.passwordSecretArn !== undefined) {
      requirePattern(account.passwordSecretArn, PATTERNS.secretArn, 'INVALID_ACCOUNT', 'account.passwordSecretArn', 'a Secrets Manager secret ARN (arn:aws:secretsmanager:region:account:secret:name)');
    }
    if (account.passwordParameterName !== undefined) {
      requirePattern(account.passwordParameterName, PATTERNS.parameterName, 'INVALID_ACCOUNT', 'account.passwordParameterName', 'an SSM parameter name (/path/name) or parameter ARN');
    }
  }
  return { kind, name: normalised, passwordRef: passwordRefs[0] ?? null, interactiveLogon };
}

function parseBypass(bypass: string[] | undefined): string[] {
  const entries = bypass ?? [WININET_LOCAL_BYPASS];
  if (entries.length > LIMITS.maxBypassEntries) {
    throw new RequestError('INVALID_REQUEST', `bypass takes at most ${LIMITS.maxBypassEntries} entries`, 'bypass');
  }
  const unique: string[] = [];
  entries.forEach((entry, index) => {
    requirePattern(entry, PATTERNS.bypassEntry, 'INVALID_REQUEST', `bypass[${index}]`, 'a host, domain (wildcards allowed: *.corp.example), IP address, <local> or <-loopback>');
    const lower = entry.toLowerCase();
    if (!unique.includes(lower)) unique.push(lower);
  });
  // WinINet convention: <local> comes last.
  const local = unique.filter((entry) => entry === WININET_LOCAL_BYPASS);
  return [...unique.filter((entry) => entry !== WININET_LOCAL_BYPASS), ...local];
}

function parseCrl(crl: RequestInput['checkCertificateRevocation']): BeaconRequest['crl'] {
  if (!crl) return { set: false, disable: false, reason: null };
  if (!crl.disable) return { set: true, disable: false, reason: null };
  const reason = (crl.reason ?? '').trim();
  if (crl.acknowledgeRisk !== true || reason.length === 0) {
    throw new RequestError(
      'CRL_ACK_REQUIRED',
      'disabling the certificate revocation check means revoked certificates go unnoticed; set ' +
        'checkCertificateRevocation.acknowledgeRisk to true and give a reason (it is kept in the audit trail), or fix access to the CA',
      crl.acknowledgeRisk !== true ? 'checkCertificateRevocation.acknowledgeRisk' : 'checkCertificateRevocation.reason',
    );
  }
  if (reason.length > LIMITS.maxReasonLength || !PATTERNS.auditText.test(reason)) {
    throw new RequestError('INVALID_REQUEST', `checkCertificateRevocation.reason must be printable ASCII of at most ${LIMITS.maxReasonLength} characters`, 'checkCertificateRevocation.reason');
  }
  return { set: true, disable: true, reason };
}

function passwordRefOf(field: string, refs: { passwordSecretArn?: string | undefined; passwordParameterName?: string | undefined }): string {
  const given = [refs.passwordSecretArn, refs.passwordParameterName].filter((ref) => ref !== undefined);
  if (given.length !== 1) {
    throw new RequestError('INVALID_ACCOUNT', `${field} needs exactly one of passwordSecretArn or passwordParameterName`, `${field}.passwordSecretArn`);
  }
  if (refs.passwordSecretArn !== undefined) {
    requirePattern(refs.passwordSecretArn, PATTERNS.secretArn, 'INVALID_ACCOUNT', `${field}.passwordSecretArn`, 'a Secrets Manager secret ARN (arn:aws:secretsmanager:region:account:secret:name)');
  }
  if (refs.passwordParameterName !== undefined) {
    requirePattern(refs.passwordParameterName, PATTERNS.parameterName, 'INVALID_ACCOUNT', `${field}.passwordParameterName`, 'an SSM parameter name (/path/name) or parameter ARN');
  }
  return given[0]!;
}

function parsePreviousAccount(previous: RequestInput['previousAccount'], account: BeaconRequest['account']): BeaconRequest['previousAccount'] {
  if (!previous) return null;
  const name = previous.name;
  let normalised = name;
  if (name.includes('\\')) {
    const [domain, sam, extra] = name.split('\\');
    if (extra !== undefined || !PATTERNS.netbiosDomain.test(domain ?? '') || !PATTERNS.samAccountName.test(sam ?? '')) {
      throw new RequestError('INVALID_ACCOUNT', 'previousAccount.name is written DOMAIN\\name, name@dns.domain or a plain local name', 'previousAccount.name');
    }
    normalised = `${domain!.toUpperCase()}\\${sam}`;
  } else if (!PATTERNS.upn.test(name) && !PATTERNS.samAccountName.test(name)) {
    throw new RequestError('INVALID_ACCOUNT', 'previousAccount.name is written DOMAIN\\name, name@dns.domain or a plain local name', 'previousAccount.name');
  }
  if (normalised.toLowerCase() === account.name.toLowerCase()) {
    throw new RequestError('INVALID_ACCOUNT', 'previousAccount names the account being configured; leave it out', 'previousAccount.name');
  }
  return { name: normalised, passwordRef: passwordRefOf('previousAccount', previous) };
}

/** Hybrid (mi-) nodes have no instance metadata, so a parameter given by name has no region there: its ARN is needed. */
function requireParameterArnsOffEc2(target: Target, refs: Array<{ field: string; ref: string | null | undefined }>): void {
  if (target.kind !== 'instances' || !target.instanceIds.some((id) => id.startsWith('mi-'))) return;
  for (const { field, ref } of refs) {
    if (ref && !ref.startsWith('arn:')) {
      throw new RequestError('INVALID_ACCOUNT', `${field} must be the parameter's ARN for hybrid (mi-) nodes: they have no instance metadata to tell the region`, field);
    }
  }
}

function parseProbeUrl(url: string | undefined): string | null {
  if (url === undefined) return null;
  if (url === 'none' || !DOCUMENT_PARAMETERS.checkEndpoint.pattern.test(url)) {
    throw new RequestError('INVALID_REQUEST', 'probeUrl must be an http(s) URL of FNMS: host, optional port and a plain path', 'probeUrl');
  }
  return url;
}

function parseBeaconVersion(version: RequestInput['beaconVersion']): BeaconRequest['beaconVersion'] {
  const pin = version?.pin ?? 'current';
  if (/^(always[- ]?use[- ]?the[- ])?latest/i.test(pin)) {
    throw new RequestError(
      'INVALID_REQUEST',
      'beaconVersion.pin cannot be "latest": an automatic upgrade resets the beacon service account to LocalSystem. Pin "current" or a release such as 13.2.0',
      'beaconVersion.pin',
    );
  }
  if (pin !== 'current') {
    requirePattern(pin, PATTERNS.beaconVersion, 'INVALID_REQUEST', 'beaconVersion.pin', '"current" or a release number such as 13.2.0');
  }
  return { pin, allowDowngrade: version?.allowDowngrade ?? false };
}

/**
 * The idempotency key of a request that has none: a digest of its content and of the window it was sent in
 * (see request-identity.ts), so a resent request is the same request and the same request weeks later runs again.
 */
export function contentRequestId(input: RequestInput, sentAt: Date): string {
  return derivedRequestId(input as Record<string, unknown>, sentAt);
}

export interface ParseOptions {
  /** When the request was sent (an SQS message's SentTimestamp, the API call): dates a content-derived id. Default: now. */
  sentAt?: Date;
}

/** Validates any untrusted value as a request. Throws RequestError; never changes anything. */
export function parseRequest(input: unknown, options: ParseOptions = {}): BeaconRequest {
  const parsed = RequestInputSchema.safeParse(input, {
    error: (issue) => (issue.input === undefined ? 'is required' : undefined),
  });
  if (!parsed.success) {
    throw fromZodIssue(parsed.error.issues[0]!);
  }
  const raw = parsed.data;
  const requestId =
    raw.requestId === undefined
      ? contentRequestId(raw, options.sentAt ?? new Date())
      : requirePattern(raw.requestId, PATTERNS.requestId, 'INVALID_REQUEST', 'requestId', REQUEST_ID_RULE);
  const target = parseTarget(raw.target);
  const proxy = parseProxyAddress(raw.proxy, 'proxy');
  const endpoint = (name: 'download' | 'upload' | 'launcher' | 'wininet'): ProxyAddress => {
    const value = raw.endpoints?.[name];
    return value === undefined ? proxy : parseProxyAddress(value, `endpoints.${name}`);
  };
  const account = parseAccount(raw.account);
  const previousAccount = parsePreviousAccount(raw.previousAccount, account);
  requireParameterArnsOffEc2(target, [
    { field: 'account.passwordParameterName', ref: raw.account.passwordParameterName },
    { field: 'previousAccount.passwordParameterName', ref: raw.previousAccount?.passwordParameterName },
  ]);
  return {
    requestId,
    target,
    protocol: raw.protocol,
    proxy,
    endpoints: { download: endpoint('download'), upload: endpoint('upload'), launcher: endpoint('launcher'), wininet: endpoint('wininet') },
    bypass: parseBypass(raw.bypass),
    account,
    previousAccount,
    probeUrl: parseProbeUrl(raw.probeUrl),
    wininetScope: raw.wininetScope ?? 'account',
    crl: parseCrl(raw.checkCertificateRevocation),
    beaconVersion: parseBeaconVersion(raw.beaconVersion),
    dryRun: raw.dryRun ?? false,
    rollout: parseRollout(raw.rollout, target.kind),
  };
}

/** Parses JSON text from any trigger, with the size limit applied first. */
export function parseRequestJson(text: string, options: ParseOptions = {}): BeaconRequest {
  if (Buffer.byteLength(text, 'utf8') > LIMITS.maxRequestBytes) {
    throw new RequestError('INVALID_REQUEST', `the request is larger than ${LIMITS.maxRequestBytes} bytes`, '$');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new RequestError('INVALID_REQUEST', `the request is not valid JSON (${(error as Error).message})`, '$');
  }
  return parseRequest(value, options);
}
