/** Environment variables the stack sets on the functions: one list for the CDK code and the adapters. */
export const ENV = {
  tableName: 'TABLE_NAME',
  idempotencyTableName: 'IDEMPOTENCY_TABLE_NAME',
  stateMachineArn: 'STATE_MACHINE_ARN',
  queueUrl: 'QUEUE_URL',
  topicArn: 'NOTIFICATION_TOPIC_ARN',
  documentNames: 'DOCUMENT_NAMES',
  commandLogGroup: 'COMMAND_LOG_GROUP',
  beaconTagKey: 'BEACON_TAG_KEY',
  beaconTagValue: 'BEACON_TAG_VALUE',
  lockTtlSeconds: 'LOCK_TTL_SECONDS',
  commandTimeoutSeconds: 'COMMAND_TIMEOUT_SECONDS',
  firstPollSeconds: 'FIRST_POLL_SECONDS',
  maxPollSeconds: 'MAX_POLL_SECONDS',
  fnmsConfig: 'FNMS_CONFIG',
  fnmsSecretName: 'FNMS_SECRET_NAME',
  profilePrefix: 'PROFILE_PARAMETER_PREFIX',
  defaultProfile: 'DEFAULT_PROFILE',
  slackSecretName: 'SLACK_SIGNING_SECRET_NAME',
  teamsSecretName: 'TEAMS_SECRET_NAME',
  chatAllowlist: 'CHAT_ALLOWLIST',
  verifyCheckEndpoint: 'VERIFY_CHECK_ENDPOINT',
  /** FNMS URL the configure document probes through the proxy after applying (stack config beaconProbeUrl). */
  endpointProbeUrl: 'ENDPOINT_PROBE_URL',
} as const;

export type EnvName = (typeof ENV)[keyof typeof ENV];

/** Custom metrics (Powertools EMF, default dimension service=beacon-proxy) that the alarms watch. */
export const METRICS = { namespace: 'BeaconProxy', service: 'beacon-proxy', fnmsErrors: 'FnmsErrors' } as const;
