/** Environment variables the stack sets on the functions: one list for the CDK code and the adapters. */
export const ENV = {
  tableName: 'TABLE_NAME',
  idempotencyTableName: 'IDEMPOTENCY_TABLE_NAME',
  /** Comma-separated IAM role ids (AROA...) of the stack's producers whose `caller` message attribute the intake believes. */
  trustedSenderRoleIds: 'TRUSTED_SENDER_ROLE_IDS',
  stateMachineArn: 'STATE_MACHINE_ARN',
  /** The request-level workflow (one execution per request). */
  requestStateMachineArn: 'REQUEST_STATE_MACHINE_ARN',
  /** The request workflow's derived timing (lambdas/core/timing.ts deriveRequestTiming), as JSON. */
  requestTiming: 'REQUEST_TIMING',
  /** The API's base URL (…/v1/): status links in summaries. */
  apiUrl: 'API_URL',
  /** Secrets Manager name of a Slack bot token (optional): request messages go by chat.postMessage to the command's channel. */
  slackBotTokenSecretName: 'SLACK_BOT_TOKEN_SECRET_NAME',
  /** Which FNMS web interface operators use (`flexeraOne` or `onPremises`): the pin instruction names it. */
  fnmsProduct: 'FNMS_PRODUCT',
  queueUrl: 'QUEUE_URL',
  topicArn: 'NOTIFICATION_TOPIC_ARN',
  documentNames: 'DOCUMENT_NAMES',
  commandLogGroup: 'COMMAND_LOG_GROUP',
  beaconTagKey: 'BEACON_TAG_KEY',
  beaconTagValue: 'BEACON_TAG_VALUE',
  /** The derived timing model (lambdas/core/timing.ts), as JSON: one source for every deadline. */
  workflowTiming: 'WORKFLOW_TIMING',
  /** How the approved beacon version is pinned: `gateway` or `none` (infra/config.ts pinMode). */
  pinMode: 'PIN_MODE',
  /** The pin gateway client's configuration (JSON, lambdas/core/fnms/config.ts); set in gateway mode only. */
  gatewayConfig: 'PIN_GATEWAY_CONFIG',
  gatewaySecretName: 'PIN_GATEWAY_SECRET_NAME',
  /** The beacon inventory report adapter's configuration (JSON, lambdas/core/fnms/report-inventory.ts); absent when none. */
  inventoryConfig: 'FNMS_INVENTORY_CONFIG',
  inventorySecretName: 'FNMS_SECRET_NAME',
  profilePrefix: 'PROFILE_PARAMETER_PREFIX',
  defaultProfile: 'DEFAULT_PROFILE',
  slackSecretName: 'SLACK_SIGNING_SECRET_NAME',
  teamsSecretName: 'TEAMS_SECRET_NAME',
  chatAllowlist: 'CHAT_ALLOWLIST',
  verifyCheckEndpoint: 'VERIFY_CHECK_ENDPOINT',
  /** How far the automatic triggers go: `off`, `observe` (dry runs only) or `apply` (infra/config.ts triggerMode). */
  triggerMode: 'TRIGGER_MODE',
  /** `true`: the beacon tag alone configures an instance (infra/config.ts autoApplyTagOnly); otherwise FNMS must list it. */
  autoApplyTagOnly: 'AUTO_APPLY_TAG_ONLY',
  /** Hours between the starts of two drift passes (infra/config.ts driftCheckScheduleHours). */
  driftIntervalHours: 'DRIFT_INTERVAL_HOURS',
  /** FNMS URL the configure document probes through the proxy after applying (stack config beaconProbeUrl). */
  endpointProbeUrl: 'ENDPOINT_PROBE_URL',
  /** `true`: the intake traces each AWS SDK call as an X-Ray subsegment (stack config traceSdkCalls). */
  traceSdkCalls: 'TRACE_SDK_CALLS',
} as const;

export type EnvName = (typeof ENV)[keyof typeof ENV];

/** Custom metrics (Powertools EMF, default dimension service=beacon-proxy) that the alarms and the dashboard watch. */
export const METRICS = {
  namespace: 'BeaconProxy',
  service: 'beacon-proxy',
  fnmsErrors: 'FnmsErrors',
  /** One per request the intake or the API decided on; dimensions source and outcome. */
  requests: 'Requests',
  /** One per beacon whose workflow ended; dimension outcome (the terminal beacon state). */
  beaconOutcomes: 'BeaconOutcomes',
  /** One per SSM API call answered with throttling (SDK retries included). */
  ssmThrottles: 'SsmThrottles',
  /** One per request that ended; dimension outcome (completed, halted, cancelled, pin-unconfirmed, pin-failed, failed). */
  requestOutcomes: 'RequestOutcomes',
  /** One per request whose FNMS pin nobody confirmed in time (pinMode operator): alarmed. */
  pinUnconfirmed: 'PinUnconfirmed',
} as const;

/** Dimension names of those metrics (besides Powertools' service). */
export const METRIC_DIMENSIONS = { source: 'source', outcome: 'outcome' } as const;

/** What the Requests metric's outcome dimension says about a request. */
export type RequestOutcome = 'accepted' | 'invalid' | 'no-targets' | 'conflict';
