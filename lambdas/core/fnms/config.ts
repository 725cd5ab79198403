import * as z from 'zod/mini';

/**
 * Default paths of the pin gateway contract, relative to `baseUrl`. This is OUR contract, served by a
 * gateway the customer provides (Flexera publishes no API for the approved beacon version); a deployment
 * may map the paths to its gateway's.
 */
export const DEFAULT_FNMS_PATHS = {
  /** GET -> `{ "approvedVersion": "13.2.0" | "latest", "availableVersions": string[] }` */
  beaconSettings: '/api/beacon-settings',
  /** PUT `{ "version": "13.2.0" }` -> 200 `{ "approvedVersion": ... }` or 204 */
  approvedVersion: '/api/beacon-settings/approved-version',
} as const;

/** Flexera One's token endpoint (EU and APAC tenants use login.flexera.eu / login.flexera.au). */
export const FLEXERA_ONE_TOKEN_URL = 'https://login.flexera.com/oidc/token';

const path = z.string().check(z.regex(/^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/, 'a path starting with /'));
const httpUrl = z.url({ protocol: /^https?$/ });

export const FnmsConfigSchema = z.strictObject({
  /** Root of the customer-provided pin gateway (our contract, not a Flexera API), e.g. https://pin-gateway.corp.example. */
  baseUrl: httpUrl,
  paths: z.prefault(
    z.strictObject({
      beaconSettings: z._default(path, DEFAULT_FNMS_PATHS.beaconSettings),
      approvedVersion: z._default(path, DEFAULT_FNMS_PATHS.approvedVersion),
    }),
    {},
  ),
  auth: z.discriminatedUnion('kind', [
    /** The secret is a refresh token, exchanged at the gateway's `tokenUrl` for a short-lived access token. */
    z.strictObject({
      kind: z.literal('refreshToken'),
      tokenUrl: z._default(httpUrl, FLEXERA_ONE_TOKEN_URL),
      /** Renew the access token this long before it expires. */
      refreshSkewSeconds: z._default(z.int().check(z.minimum(0), z.maximum(3600)), 60),
    }),
    /** The secret is a static bearer token of the gateway. */
    z.strictObject({ kind: z.literal('bearer') }),
  ]),
  /** Per-attempt timeout of every HTTP call (token calls included). */
  timeoutMs: z._default(z.int().check(z.minimum(1), z.maximum(120_000)), 10_000),
  /** Attempts per call, the first included; 1 disables retries. */
  maxAttempts: z._default(z.int().check(z.minimum(1), z.maximum(10)), 4),
  /** First backoff delay; doubles per retry, with jitter, capped at `maxDelayMs`. */
  baseDelayMs: z._default(z.int().check(z.minimum(0), z.maximum(60_000)), 250),
  maxDelayMs: z._default(z.int().check(z.minimum(0), z.maximum(300_000)), 8_000),
  /** A Retry-After longer than this is capped to it (the workflow retries later anyway). */
  maxRetryAfterMs: z._default(z.int().check(z.minimum(0), z.maximum(300_000)), 30_000),
});

/** Validated FNMS client configuration, defaults filled in. */
export type FnmsConfig = z.infer<typeof FnmsConfigSchema>;
/** FNMS client configuration as written in a stack or environment (defaults optional). */
export type FnmsConfigInput = z.input<typeof FnmsConfigSchema>;
export type FnmsPaths = FnmsConfig['paths'];

/** Validates a configuration once (at cold start); throws with the offending field on error. */
export function parseFnmsConfig(input: unknown): FnmsConfig {
  const parsed = FnmsConfigSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`invalid FNMS configuration at ${issue.path.join('.') || '$'}: ${issue.message}`);
  }
  return parsed.data;
}

/** What the client needs from its host: the secret, and (for tests) time and randomness. */
export interface FnmsClientDeps {
  /** The refresh token or bearer token (the handler reads it from Secrets Manager). Called again after a 401. */
  getSecret(): Promise<string>;
  /** Defaults to global fetch. */
  fetch?: typeof fetch;
  /** Defaults to setTimeout-based waiting. */
  sleep?: (ms: number) => Promise<void>;
  /** In [0, 1); defaults to Math.random. */
  random?: () => number;
  /** Epoch milliseconds; defaults to Date.now. */
  now?: () => number;
}
