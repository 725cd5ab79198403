/**
 * Deployment settings: from CDK context (`-c key=value` or cdk.json), validated once. The defaults let
 * `npx cdk synth` run offline with no AWS account; a real deployment sets at least the FNMS base URL.
 */
import { z } from 'zod';
import { deriveWorkflowTiming, TimingConfigError, type WorkflowTiming } from '../lambdas/core/timing.js';

const csv = z
  .union([z.string(), z.array(z.string())])
  .transform((value) => (Array.isArray(value) ? value : value.split(',')).map((item) => item.trim()).filter(Boolean));

const positiveInt = z.coerce.number().int().positive();

export const StackConfigSchema = z.object({
  beaconTagKey: z.string().regex(/^[A-Za-z0-9_.:/=+@-]{1,128}$/).default('beacon-proxy:role'),
  beaconTagValue: z.string().regex(/^[A-Za-z0-9_.:/=+@-]{0,256}$/).default('flexnet-beacon'),
  fnmsBaseUrl: z.url({ protocol: /^https?$/ }).default('https://fnms.example.invalid'),
  fnmsAuthMode: z.enum(['bearer', 'refreshToken']).default('bearer'),
  fnmsTokenUrl: z.url({ protocol: /^https$/ }).optional(),
  fnmsSecretName: z.string().min(1).default('beacon-proxy/fnms-token'),
  profileParameterPrefix: z.string().regex(/^\/[A-Za-z0-9_.\-/]+[A-Za-z0-9_.-]$/).default('/beacon-proxy/profiles'),
  defaultProfile: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/).default('default'),
  slackSigningSecretName: z.string().min(1).default('beacon-proxy/slack-signing-secret'),
  teamsSecretName: z.string().min(1).default('beacon-proxy/teams-security-token'),
  chatAllowedUsers: csv.default([]),
  chatAllowedChannels: csv.default([]),
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
  driftCheckScheduleHours: positiveInt.default(24),
  /** `none` or an FNMS URL the verify document requests through the proxy during the drift check. */
  verifyCheckEndpoint: z.string().default('none'),
  /** Unique suffix of the SSM document names (defaults to the stack name). */
  documentNameSuffix: z.string().regex(/^[A-Za-z0-9_.-]{1,40}$/).optional(),
});

export type StackConfig = z.infer<typeof StackConfigSchema>;

export const CONTEXT_KEYS = Object.keys(StackConfigSchema.shape) as Array<keyof StackConfig>;

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

/** Reads every config key from CDK context; unknown or malformed values fail the synth with the key named. */
export function stackConfigFrom(tryGetContext: (key: string) => unknown): StackConfig {
  for (const [key, replacement] of Object.entries(REPLACED_KEYS)) {
    if (tryGetContext(key) !== undefined) throw new Error(`context value ${key} is no longer used: set ${replacement}`);
  }
  const raw: Record<string, unknown> = {};
  for (const key of CONTEXT_KEYS) {
    const value = tryGetContext(key);
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const parsed = StackConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`invalid context value ${issue.path.join('.')}: ${issue.message}`);
  }
  workflowTimingFor(parsed.data);
  return parsed.data;
}
