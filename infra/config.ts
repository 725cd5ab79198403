/**
 * Deployment settings: from CDK context (`-c key=value` or cdk.json), validated once. The defaults let
 * `npx cdk synth` run offline with no AWS account; a real deployment sets at least the FNMS base URL.
 */
import { z } from 'zod';
import type { FnmsConfigInput } from '../lambdas/core/fnms/config.js';
import { FLEXERA_ONE_REGIONS } from '../lambdas/core/fnms/flexera-one.js';
import { parseColumnMapping } from '../lambdas/core/fnms/inventory.js';
import { InventoryConfigSchema, type InventoryConfigInput } from '../lambdas/core/fnms/report-inventory.js';
import { deriveRequestTiming, deriveWorkflowTiming, type RequestTiming, TimingConfigError, type WorkflowTiming } from '../lambdas/core/timing.js';
import { DEFAULT_TRIGGER_MODE, TRIGGER_MODES } from '../lambdas/core/triggers.js';
import { ACCESS_CONFIG_FIELDS } from './access-config.js';

/** FNMS and the pin gateway carry a bearer token or a password: never over plain http. */
const httpsUrl = (key: string) => z.url({ protocol: /^https$/, error: `${key} must be an https:// URL (the call carries a token or a password)` });
import { DOCUMENT_PARAMETERS } from '../lambdas/core/document-contract.js';

const csv = z
  .union([z.string(), z.array(z.string())])
  .transform((value) => (Array.isArray(value) ? value : value.split(',')).map((item) => item.trim()).filter(Boolean));

const positiveInt = z.coerce.number().int().positive();

/** `-c key=true` arrives as text, cdk.json as a boolean; anything else is refused (z.coerce.boolean would read "false" as true). */
const contextBoolean = (key: string) =>
  z.union([z.boolean(), z.enum(['true', 'false']).transform((value) => value === 'true')], { error: `${key} must be true or false` });

export const StackConfigSchema = z.object({
  ...ACCESS_CONFIG_FIELDS,
  beaconTagKey: z.string().regex(/^[A-Za-z0-9_.:/=+@-]{1,128}$/).default('beacon-proxy:role'),
  beaconTagValue: z.string().regex(/^[A-Za-z0-9_.:/=+@-]{0,256}$/).default('flexnet-beacon'),
  /**
   * How "Beacon version approved for use" is kept on a release (Flexera publishes no API for it):
   * `operator` (default) asks an operator to set the release the request decided (chat + notification with
   * the exact value) and waits for the confirmation (POST /pins/{id}/confirm, chat or CLI); `gateway` calls
   * a customer-provided gateway implementing our contract; `none` pins nothing and warns.
   */
  pinMode: z.enum(['operator', 'gateway', 'none']).default('operator'),
  /** Request workflow waits: the go after a canary (pauseAfterCanary), the pin reminder and the pin's deadline (seconds). */
  goWaitSeconds: positiveInt.optional(),
  pinReminderSeconds: positiveInt.optional(),
  pinConfirmationSeconds: positiveInt.optional(),
  /** Secrets Manager name of a Slack bot token (optional): request messages go by chat.postMessage to the command's channel. */
  slackBotTokenSecretName: z.string().min(1).optional(),
  /** The pin gateway (pinMode gateway): its root URL, auth and the secret holding its token. */
  gatewayUrl: httpsUrl('gatewayUrl').optional(),
  gatewayAuthMode: z.enum(['bearer', 'refreshToken']).default('bearer'),
  gatewayTokenUrl: httpsUrl('gatewayTokenUrl').optional(),
  gatewaySecretName: z.string().min(1).default('beacon-proxy/pin-gateway-token'),
  /** The beacon inventory: a saved FNMS report read through Flexera One's REST API or the on-premises SOAP API. */
  fnmsInventory: z.enum(['flexeraOne', 'onPremises', 'none']).default('none'),
  fnmsRegion: z.enum(FLEXERA_ONE_REGIONS).default('com'),
  fnmsOrgId: z.coerce.string().regex(/^[1-9][0-9]{0,18}$/, 'the numeric Flexera One organization id').optional(),
  fnmsReportId: z.coerce.number().int().positive().optional(),
  fnmsReportColumns: z
    .union([z.string(), z.record(z.string(), z.unknown())])
    .transform((value, ctx) => {
      try {
        return parseColumnMapping(value);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    })
    .optional(),
  fnmsAuth: z.enum(['refreshToken', 'clientCredentials']).default('refreshToken'),
  fnmsClientId: z.string().min(1).max(256).optional(),
  fnmsUrl: httpsUrl('fnmsUrl').optional(),
  fnmsAccount: z.string().optional(),
  fnmsRowLimit: positiveInt.max(1_000_000).default(50_000),
  /** Secrets Manager: the Flexera One refresh token or client secret, or the on-premises account's password. */
  fnmsSecretName: z.string().min(1).default('beacon-proxy/fnms-api'),
  /** The VPC the FNMS-reading functions run in (on premises: subnets routed to the FNMS server). */
  fnmsVpcId: z.string().regex(/^vpc-[0-9a-f]{8,17}$/).optional(),
  fnmsSubnetIds: csv.pipe(z.array(z.string().regex(/^subnet-[0-9a-f]{8,17}$/, 'subnet ids (subnet-...)'))).default([]),
  fnmsSecurityGroupIds: csv.pipe(z.array(z.string().regex(/^sg-[0-9a-f]{8,17}$/, 'security group ids (sg-...)'))).default([]),
  profileParameterPrefix: z.string().regex(/^\/[A-Za-z0-9_.\-/]+[A-Za-z0-9_.-]$/).default('/beacon-proxy/profiles'),
  defaultProfile: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/).default('default'),
  slackSigningSecretName: z.string().min(1).default('beacon-proxy/slack-signing-secret'),
  teamsSecretName: z.string().min(1).default('beacon-proxy/teams-security-token'),
  chatAllowedUsers: csv.default([]),
  chatAllowedChannels: csv.default([]),
  /**
   * Deploy the ChatOps webhook (function URL, chat secrets)? Default: only when chatAllowedUsers or
   * chatAllowedChannels names someone. `true` deploys it admitting nobody yet; `false` with an allowlist is refused.
   */
  chatEnabled: contextBoolean('chatEnabled').optional(),
  /**
   * How far the automatic triggers (new beacon from FNMS, the beacon tag, the drift re-apply) go: `observe`
   * (the default after a deploy: dry runs that show what would change, nothing changes), `apply`, or `off`.
   */
  triggerMode: z.enum(TRIGGER_MODES).default(DEFAULT_TRIGGER_MODE),
  /**
   * `true`: the beacon tag alone is enough to configure an instance automatically. Default false: only instances
   * whose computer name the FNMS beacon inventory lists (protect the tag key either way: README, "The beacon tag").
   */
  autoApplyTagOnly: contextBoolean('autoApplyTagOnly').default(false),
  notificationEmail: z.email().optional(),
  alarmEmail: z.email().optional(),
  /** SendCommand TimeoutSeconds: how long a command may wait for an offline beacon before it never runs. */
  deliveryTimeoutSeconds: positiveInt.min(30).max(3600).default(600),
  /** Added to delivery + the document's execution timeout before the workflow stops waiting for a command. */
  pollMarginSeconds: z.coerce.number().int().min(0).max(3600).default(120),
  /** After CancelCommand, how long the workflow waits for the command's terminal status. */
  cancelWaitSeconds: z.coerce.number().int().min(0).max(3600).default(300),
  /** How many times the rollback document is sent when a rollback did not run or did not confirm. */
  rollbackAttempts: positiveInt.max(5).default(2),
  /** Optional: the lock TTL, the busy wait and the state machine timeout are derived; a value given must cover them. */
  lockTtlMinutes: positiveInt.optional(),
  busyWaitMinutes: positiveInt.optional(),
  executionTimeoutMinutes: positiveInt.optional(),
  newBeaconScheduleMinutes: positiveInt.default(60),
  /** A drift pass starts this often; the drift function runs every driftTickMinutes and continues the pass in progress. */
  driftCheckScheduleHours: positiveInt.default(24),
  /** 5-60 minutes: never longer than the shortest drift interval (1 h). */
  driftTickMinutes: positiveInt.min(5).max(60).default(15),
  /** `none` or an FNMS URL the verify document requests through the proxy during the drift check. */
  verifyCheckEndpoint: z.string().default('none'),
  /**
   * `none` or the FNMS URL every configure run requests through the proxy it just configured (for example
   * https://fnms.corp.example/ManageSoftRL/); unreachable rolls the beacon back. A request's probeUrl wins.
   */
  beaconProbeUrl: z.string().regex(DOCUMENT_PARAMETERS.checkEndpoint.pattern).default('none'),
  /** X-Ray subsegments for each AWS SDK call of the intake (Powertools Tracer); adds about 60 ms to its cold init. */
  traceSdkCalls: z
    .union([z.boolean(), z.enum(['true', 'false'])])
    .transform((value) => value === true || value === 'true')
    .default(false),
  /** Unique suffix of the SSM document names (defaults to the stack name). */
  documentNameSuffix: z.string().regex(/^[A-Za-z0-9_.-]{1,40}$/).optional(),
});

export type StackConfig = z.infer<typeof StackConfigSchema>;

export const CONTEXT_KEYS = Object.keys(StackConfigSchema.shape) as Array<keyof StackConfig>;

/** The chat resources are deployed when chat is configured: someone is allowlisted, or chatEnabled=true. */
export function chatConfigured(config: StackConfig): boolean {
  return config.chatEnabled ?? (config.chatAllowedUsers.length > 0 || config.chatAllowedChannels.length > 0);
}

/** The pin gateway client's configuration, or null when pinMode is not gateway. */
export function gatewayConfigFrom(config: StackConfig): FnmsConfigInput | null {
  if (config.pinMode !== 'gateway' || config.gatewayUrl === undefined) return null;
  return {
    baseUrl: config.gatewayUrl,
    auth: config.gatewayAuthMode === 'bearer' ? { kind: 'bearer' } : { kind: 'refreshToken', ...(config.gatewayTokenUrl ? { tokenUrl: config.gatewayTokenUrl } : {}) },
  };
}

/** The report adapter's configuration, or null when fnmsInventory is none. Validated by the core (the same parse as at cold start). */
export function inventoryConfigFrom(config: StackConfig, source = 'context value'): InventoryConfigInput | null {
  if (config.fnmsInventory === 'none') return null;
  const input: InventoryConfigInput =
    config.fnmsInventory === 'flexeraOne'
      ? {
          kind: 'flexeraOne',
          region: config.fnmsRegion,
          orgId: config.fnmsOrgId!,
          reportId: String(config.fnmsReportId!),
          columns: config.fnmsReportColumns!,
          auth: config.fnmsAuth === 'refreshToken' ? { kind: 'refreshToken' } : { kind: 'clientCredentials', clientId: config.fnmsClientId! },
        }
      : {
          kind: 'onPremises',
          url: config.fnmsUrl!,
          reportId: config.fnmsReportId!,
          rowLimit: config.fnmsRowLimit,
          account: config.fnmsAccount!,
          columns: config.fnmsReportColumns!,
        };
  const parsed = InventoryConfigSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.join('.');
    const key = INVENTORY_CONTEXT_KEYS[path.split('.')[0] === 'auth' ? 'auth' : path.split('.')[0] ?? ''] ?? path;
    throw new Error(`invalid ${source} ${key}: ${issue.message}`);
  }
  return input;
}

/** The context key behind each field of the report adapter's configuration, for messages. */
const INVENTORY_CONTEXT_KEYS: Record<string, string> = {
  region: 'fnmsRegion',
  orgId: 'fnmsOrgId',
  reportId: 'fnmsReportId',
  columns: 'fnmsReportColumns',
  auth: 'fnmsClientId',
  url: 'fnmsUrl',
  account: 'fnmsAccount',
  rowLimit: 'fnmsRowLimit',
};

/** Which context values each choice needs; checked after the per-key validation so the message names the key. */
function requireTogether(config: StackConfig, ctx: z.RefinementCtx<StackConfig>): void {
  const need = (key: keyof StackConfig, why: string): void => {
    if (config[key] === undefined) ctx.addIssue({ code: 'custom', path: [key], message: `required ${why}` });
  };
  if (config.pinMode === 'gateway') {
    need('gatewayUrl', 'when pinMode is gateway (the root URL of your pin gateway)');
    if (config.gatewayAuthMode === 'refreshToken') need('gatewayTokenUrl', 'when gatewayAuthMode is refreshToken (your gateway\'s token endpoint)');
  }
  if (config.fnmsInventory !== 'none') {
    need('fnmsReportId', `when fnmsInventory is ${config.fnmsInventory} (the id of the saved beacon report)`);
    need('fnmsReportColumns', `when fnmsInventory is ${config.fnmsInventory} (name=...,computerName=...,version=...,status=...,lastContact=...)`);
  }
  if (config.fnmsInventory === 'flexeraOne') {
    need('fnmsOrgId', 'when fnmsInventory is flexeraOne');
    if (config.fnmsAuth === 'clientCredentials') need('fnmsClientId', 'when fnmsAuth is clientCredentials (the service account client id)');
  }
  if (config.fnmsInventory === 'onPremises') {
    need('fnmsUrl', 'when fnmsInventory is onPremises (https://<FNMS web server>)');
    need('fnmsAccount', 'when fnmsInventory is onPremises (DOMAIN\\account with the Webservice role)');
  }
  if (config.chatEnabled === false && (config.chatAllowedUsers.length > 0 || config.chatAllowedChannels.length > 0)) {
    ctx.addIssue({ code: 'custom', path: ['chatEnabled'], message: 'is false while chatAllowedUsers / chatAllowedChannels name chat callers: remove the allowlists, or drop chatEnabled=false to deploy the chat webhook' });
  }
  const vpcGiven = config.fnmsVpcId !== undefined || config.fnmsSubnetIds.length > 0 || config.fnmsSecurityGroupIds.length > 0;
  if (vpcGiven) {
    need('fnmsVpcId', 'with fnmsSubnetIds / fnmsSecurityGroupIds');
    if (config.fnmsSubnetIds.length === 0) ctx.addIssue({ code: 'custom', path: ['fnmsSubnetIds'], message: 'required with fnmsVpcId (the subnets routed to FNMS)' });
  }
}

/** Context keys of earlier versions, refused with what replaces them (a silently ignored timeout is worse than an error). */
const REPLACED_KEYS: Record<string, string> = {
  commandTimeoutMinutes: 'deliveryTimeoutSeconds (how long a command may wait for the beacon); the execution limit is each document\'s own timeoutSeconds',
};

/** The workflow's timing model for a config: every deadline derived, refused with the key to change when they do not nest. */
export function workflowTimingFor(config: StackConfig): WorkflowTiming {
  try {
    return deriveWorkflowTiming({
      deliveryTimeoutSeconds: config.deliveryTimeoutSeconds,
      pollMarginSeconds: config.pollMarginSeconds,
      cancelWaitSeconds: config.cancelWaitSeconds,
      rollbackAttempts: config.rollbackAttempts,
      ...(config.lockTtlMinutes ? { lockTtlSeconds: config.lockTtlMinutes * 60 } : {}),
      ...(config.busyWaitMinutes ? { busyWaitSeconds: config.busyWaitMinutes * 60 } : {}),
      ...(config.executionTimeoutMinutes ? { executionTimeoutSeconds: config.executionTimeoutMinutes * 60 } : {}),
    });
  } catch (error) {
    if (error instanceof TimingConfigError) throw new Error(`invalid workflow timing (${error.code}, ${error.field}): ${error.message}`);
    throw error;
  }
}

/** The request workflow's timing for a config (the go wait, the pin reminder and deadline), refused with the key when they do not nest. */
export function requestTimingFor(config: StackConfig): RequestTiming {
  try {
    return deriveRequestTiming({
      ...(config.goWaitSeconds ? { goWaitSeconds: config.goWaitSeconds } : {}),
      ...(config.pinReminderSeconds ? { pinReminderSeconds: config.pinReminderSeconds } : {}),
      ...(config.pinConfirmationSeconds ? { pinConfirmationSeconds: config.pinConfirmationSeconds } : {}),
    });
  } catch (error) {
    if (error instanceof TimingConfigError) throw new Error(`invalid request timing (${error.code}, ${error.field}): ${error.message}`);
    throw error;
  }
}

/**
 * The settings a BeaconProxy takes as props (README "Use it in your own CDK app"): the context keys, typed,
 * each optional with its default.
 */
export type BeaconProxyOptions = z.input<typeof StackConfigSchema>;

/** Validates settings once, with the same rules for CDK context and construct props; `source` names where a bad value came from. */
export function beaconProxyConfig(options: BeaconProxyOptions | Record<string, unknown>, source = 'BeaconProxy prop'): StackConfig {
  const given = options as Record<string, unknown>;
  for (const [key, replacement] of Object.entries(REPLACED_KEYS)) {
    if (given[key] !== undefined) throw new Error(`${source} ${key} is no longer used: set ${replacement}`);
  }
  const known = new Set<string>(CONTEXT_KEYS);
  const unknown = Object.keys(given).filter((key) => !known.has(key));
  if (unknown.length > 0) throw new Error(`unknown ${source} ${unknown[0]}: the settings are the context values of README "Deploying to AWS"`);
  const raw: Record<string, unknown> = {};
  for (const key of CONTEXT_KEYS) {
    const value = given[key];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const parsed = StackConfigSchema.superRefine(requireTogether).safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`invalid ${source} ${issue.path.join('.')}: ${issue.message}`);
  }
  inventoryConfigFrom(parsed.data, source);
  workflowTimingFor(parsed.data);
  requestTimingFor(parsed.data);
  return parsed.data;
}

/** Reads every config key from CDK context; unknown or malformed values fail the synth with the key named. */
export function stackConfigFrom(tryGetContext: (key: string) => unknown): StackConfig {
  const raw: Record<string, unknown> = {};
  for (const key of [...CONTEXT_KEYS, ...Object.keys(REPLACED_KEYS)]) {
    const value = tryGetContext(key);
    if (value !== undefined) raw[key] = value;
  }
  return beaconProxyConfig(raw, 'context value');
}
