/**
 * Flexera One adapter of the BeaconInventory port, on Flexera's documented report API:
 *   GET https://api.flexera.{com|eu|au}/fnms/v1/orgs/{orgId}/reports/{reportId}/execute[?skipToken=...]
 *   -> {"values": [{column: value, ...}], "nextPage": "...skipToken=..."}
 * authorised with a Bearer access token from POST https://login.flexera.{com|eu|au}/oidc/token
 * (`grant_type=refresh_token`, or a service account's `client_credentials`), valid about an hour: cached and
 * renewed shortly before it expires, and once more on a 401. Every page is read; only the skipToken is
 * taken from `nextPage` (the request always goes to the configured host, so a token is never sent elsewhere).
 */
import * as z from 'zod/mini';
import {
  type BeaconInventory,
  BeaconInventoryError,
  ColumnMappingSchema,
  type InventoryBeacon,
  beaconFromRow,
  requireColumns,
} from './inventory.js';
import { type HttpAnswer, type ReportAdapterDeps, RetryPolicySchema, createRedactor, createRetryingCaller, secureUrl } from './report-http.js';

/** Flexera One's regions: North America `com`, EMEA `eu`, APAC `au`. The org's region decides both hosts. */
export const FLEXERA_ONE_REGIONS = ['com', 'eu', 'au'] as const;
export type FlexeraOneRegion = (typeof FLEXERA_ONE_REGIONS)[number];

export const flexeraOneHosts = (region: FlexeraOneRegion) => ({
  api: `https://api.flexera.${region}`,
  token: `https://login.flexera.${region}/oidc/token`,
});

/** The path of the report execute call. */
export const reportExecutePath = (orgId: string, reportId: string): string => `/fnms/v1/orgs/${orgId}/reports/${reportId}/execute`;

const numericId = z.pipe(z.union([z.string().check(z.regex(/^[1-9][0-9]{0,18}$/, 'a numeric id')), z.int().check(z.positive())]), z.transform(String));

export const FlexeraOneConfigSchema = z.strictObject({
  kind: z.literal('flexeraOne'),
  region: z._default(z.enum(FLEXERA_ONE_REGIONS), 'com'),
  /** The Flexera One organization id (the number in the app's URL). */
  orgId: numericId,
  /** The id of the saved report (custom view) of beacons. */
  reportId: numericId,
  columns: ColumnMappingSchema,
  auth: z.discriminatedUnion('kind', [
    /** The secret is a user's refresh token (Flexera One > User Settings > API Credentials). */
    z.strictObject({ kind: z.literal('refreshToken') }),
    /** The secret is a service account client's secret; its client id is configuration. */
    z.strictObject({ kind: z.literal('clientCredentials'), clientId: z.string().check(z.minLength(1), z.maxLength(256)) }),
  ]),
  /** Overrides of the region's hosts (the local stub); https except on loopback. */
  apiBaseUrl: z.optional(secureUrl),
  tokenUrl: z.optional(secureUrl),
  /** Renew the access token this long before it expires (never more than half its lifetime). */
  refreshSkewSeconds: z._default(z.int().check(z.minimum(0), z.maximum(3600)), 300),
  /** Loop guard: more pages than this is a paging that does not end. */
  maxPages: z._default(z.int().check(z.minimum(1), z.maximum(100_000)), 1_000),
  retry: z._default(RetryPolicySchema, RetryPolicySchema.parse({})),
});
export type FlexeraOneConfig = z.infer<typeof FlexeraOneConfigSchema>;
export type FlexeraOneConfigInput = z.input<typeof FlexeraOneConfigSchema>;

const TokenAnswerSchema = z.looseObject({
  access_token: z.string().check(z.minLength(1)),
  expires_in: z.coerce.number().check(z.positive()),
});
const PageSchema = z.looseObject({
  values: z.array(z.record(z.string(), z.unknown())),
  nextPage: z.nullish(z.string()),
});

/** Where the operator configures these (infra/config.ts context keys), for error messages. */
const CONFIG_KEY = 'fnmsReportColumns';

/** The skipToken carried by `nextPage` (a URL or a query string); null when paging ends. */
export function skipTokenOf(nextPage: string | null | undefined): string | null {
  if (nextPage === null || nextPage === undefined || nextPage.trim() === '') return null;
  const text = nextPage.trim();
  const query = text.includes('?') ? text.slice(text.indexOf('?') + 1) : text;
  const token = new URLSearchParams(query).get('skipToken');
  return token === null || token === '' ? null : token;
}

interface Credential {
  value: string;
  renewAt: number;
}

/** Creates the Flexera One report adapter. Throws at once on an invalid configuration (at cold start). */
export function createFlexeraOneInventory(input: FlexeraOneConfigInput, deps: ReportAdapterDeps): BeaconInventory {
  const parsed = FlexeraOneConfigSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`invalid Flexera One inventory configuration at ${issue.path.join('.') || '$'}: ${issue.message}`);
  }
  const config = parsed.data;
  const hosts = flexeraOneHosts(config.region);
  const apiBase = (config.apiBaseUrl ?? hosts.api).replace(/\/+$/, '');
  const tokenUrl = config.tokenUrl ?? hosts.token;
  const executeUrl = apiBase + reportExecutePath(config.orgId, config.reportId);
  const doFetch = deps.fetch ?? globalThis.fetch;
  const caller = createRetryingCaller(config.retry, deps);
  const secrets = createRedactor();
  let credential: Credential | null = null;
  let pending: Promise<Credential> | null = null;

  async function send(url: string, init: RequestInit, signal: AbortSignal): Promise<HttpAnswer> {
    const response = await doFetch(url, { ...init, signal, redirect: 'error' });
    // The body is read under the same deadline: a server that stalls mid-answer is a timeout too.
    const text = await response.text();
    return { status: response.status, text, headers: response.headers };
  }

  async function fetchCredential(): Promise<Credential> {
    let secret: string;
    try {
      secret = (await deps.getSecret()).trim();
    } catch (error) {
      const name = error instanceof Error ? error.name : typeof error;
      throw new BeaconInventoryError('INVENTORY_AUTH', 'token', `Flexera One token request: the secret could not be read (${name})`, { field: 'fnmsSecretName', retriable: true });
    }
    if (secret.length === 0) throw new BeaconInventoryError('INVENTORY_AUTH', 'token', 'Flexera One token request: the secret is empty', { field: 'fnmsSecretName' });
    secrets.remember(secret);
    const form: Record<string, string> =
      config.auth.kind === 'refreshToken'
        ? { grant_type: 'refresh_token', refresh_token: secret }
        : { grant_type: 'client_credentials', client_id: config.auth.clientId, client_secret: secret };
    const issuedAt = caller.now();
    const what = `Flexera One token request (POST ${tokenUrl})`;
    const answer = await caller.call(
      {
        operation: 'token',
        what,
        redact: secrets.redact,
        inspect: (refused) =>
          refused.status >= 400 && refused.status < 500 && refused.status !== 429
            ? new BeaconInventoryError(
                'INVENTORY_AUTH',
                'token',
                `${what} was refused with ${refused.status}: ${
                  config.auth.kind === 'refreshToken'
                    ? 'the refresh token in the secret is revoked or expired; create a new one in Flexera One and store it in the secret'
                    : 'the service account client id or secret is wrong or revoked; create a new client secret and store it in the secret'
                }`,
                { field: 'fnmsSecretName', status: refused.status },
              )
            : null,
      },
      (signal) =>
        send(
          tokenUrl,
          { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: new URLSearchParams(form).toString() },
          signal,
        ),
    );
    const token = TokenAnswerSchema.safeParse(safeJson(answer.text));
    if (!token.success) {
      throw new BeaconInventoryError('INVENTORY_UNREADABLE', 'token', `${what} answered ${answer.status} without access_token/expires_in`, { status: answer.status });
    }
    secrets.remember(token.data.access_token);
    const lifetime = token.data.expires_in;
    const margin = Math.min(config.refreshSkewSeconds, lifetime / 2);
    return { value: token.data.access_token, renewAt: issuedAt + (lifetime - margin) * 1000 };
  }

  async function accessToken(): Promise<string> {
    if (credential !== null && caller.now() < credential.renewAt) return credential.value;
    pending ??= fetchCredential().finally(() => {
      pending = null;
    });
    credential = await pending;
    return credential.value;
  }

  async function page(pageNumber: number, skipToken: string | null): Promise<z.infer<typeof PageSchema>> {
    const url = skipToken === null ? executeUrl : `${executeUrl}?skipToken=${encodeURIComponent(skipToken)}`;
    const what = `Flexera One report execute (GET ${reportExecutePath(config.orgId, config.reportId)}, page ${pageNumber})`;
    const answer = await caller.call(
      {
        operation: 'executeReport',
        what,
        redact: secrets.redact,
        renewOn401: () => {
          credential = null;
        },
        hints: {
          401: 'the access token was refused even after renewing it; check the secret and that the account may use the FNMS API',
          403: 'the account lacks an FNMS role that may run reports; grant it one (see the README, "FNMS set-up")',
          404: `org ${config.orgId} or report ${config.reportId} not found; check fnmsOrgId, fnmsReportId and fnmsRegion`,
        },
      },
      async (signal) => send(url, { method: 'GET', headers: { accept: 'application/json', authorization: `Bearer ${await accessToken()}` } }, signal),
    );
    const body = PageSchema.safeParse(safeJson(answer.text));
    if (!body.success) {
      const issue = body.error.issues[0];
      const where = issue ? `${issue.path.join('.') || '$'}: ${issue.message}` : 'not JSON';
      throw new BeaconInventoryError('INVENTORY_UNREADABLE', 'executeReport', `${what} answered ${answer.status} with a body that is not a report page (${where})`, {
        status: answer.status,
      });
    }
    return body.data;
  }

  return {
    source: 'flexeraOne',
    async listBeacons(): Promise<InventoryBeacon[]> {
      const rows: Array<Record<string, unknown>> = [];
      const seenTokens = new Set<string>();
      let skipToken: string | null = null;
      const where = `Flexera One report ${config.reportId}`;
      for (let pageNumber = 1; ; pageNumber++) {
        if (pageNumber > config.maxPages) {
          throw new BeaconInventoryError(
            'INVENTORY_PAGING_LOOP',
            'executeReport',
            `${where}: paging did not end after ${config.maxPages} pages; check the report (or raise the page guard if the fleet is that large)`,
            { field: 'maxPages' },
          );
        }
        const { values, nextPage } = await page(pageNumber, skipToken);
        rows.push(...values);
        const next = skipTokenOf(nextPage);
        if (next === null) break;
        if (seenTokens.has(next)) {
          throw new BeaconInventoryError('INVENTORY_PAGING_LOOP', 'executeReport', `${where}: page ${pageNumber} pointed back to a page already read (repeated skipToken); paging stopped`, {});
        }
        seenTokens.add(next);
        skipToken = next;
      }
      if (rows.length === 0) {
        throw new BeaconInventoryError('INVENTORY_EMPTY', 'executeReport', `${where} answered no rows; FNMS knows at least one beacon, so check the report's filters and that the account may see beacons`, {
          field: 'fnmsReportId',
        });
      }
      // Rows may omit empty cells: a column is missing when no row of any page carries it.
      const columns = new Set<string>();
      for (const row of rows) for (const key of Object.keys(row)) columns.add(key);
      requireColumns('executeReport', config.columns, columns, where, CONFIG_KEY);
      const beacons = rows.map((row, index) => beaconFromRow('executeReport', config.columns, row, index + 1, where, CONFIG_KEY));
      return beacons;
    },
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
