/**
 * Deployment settings: from CDK context (`-c key=value` or cdk.json), validated once. The defaults let
 * `npx cdk synth` run offline with no AWS account; a real deployment sets at least the FNMS base URL.
 */
import { z } from 'zod';
import { DOCUMENT_PARAMETERS } from '../lambdas/core/document-contract.js';

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
  commandTimeoutMinutes: positiveInt.max(180).default(30),
  newBeaconScheduleMinutes: positiveInt.default(60),
  driftCheckScheduleHours: positiveInt.default(24),
  /** `none` or an FNMS URL the verify document requests through the proxy during the drift check. */
  verifyCheckEndpoint: z.string().default('none'),
  /**
   * `none` or the FNMS URL every configure run requests through the proxy it just configured (for example
   * https://fnms.corp.example/ManageSoftRL/); unreachable rolls the beacon back. A request's probeUrl wins.
   */
  beaconProbeUrl: z.string().regex(DOCUMENT_PARAMETERS.checkEndpoint.pattern).default('none'),
  /** Unique suffix of the SSM document names (defaults to the stack name). */
  documentNameSuffix: z.string().regex(/^[A-Za-z0-9_.-]{1,40}$/).optional(),
});

export type StackConfig = z.infer<typeof StackConfigSchema>;

export const CONTEXT_KEYS = Object.keys(StackConfigSchema.shape) as Array<keyof StackConfig>;

/** Reads every config key from CDK context; unknown or malformed values fail the synth with the key named. */
export function stackConfigFrom(tryGetContext: (key: string) => unknown): StackConfig {
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
  return parsed.data;
}
