/**
 * Names of the per-beacon workflow's states, defined once: the CDK definition uses them, and the local
 * twin maps each Task state to the handler module that the deployed Lambda runs. Plain data, no CDK import.
 */
export const STATES = {
  resolveTarget: 'ResolveTarget',
  checkTargetEligible: 'CheckTargetEligible',
  targetSkipped: 'TargetSkipped',
  checkDryRun: 'CheckDryRun',
  dryRunPlanned: 'DryRunPlanned',
  sendPlan: 'SendPlan',
  startPlanPolling: 'StartPlanPolling',
  waitForPlan: 'WaitForPlan',
  pollPlan: 'PollPlan',
  checkPlanDone: 'CheckPlanDone',
  judgePlan: 'JudgePlan',
  acquireLock: 'AcquireLock',
  beaconBusy: 'BeaconBusy',
  sendConfigure: 'SendConfigure',
  startConfigurePolling: 'StartConfigurePolling',
  waitForConfigure: 'WaitForConfigure',
  pollConfigure: 'PollConfigure',
  checkConfigureDone: 'CheckConfigureDone',
  configureUnconfirmed: 'ConfigureUnconfirmed',
  judgeConfigure: 'JudgeConfigure',
  checkVerdict: 'CheckVerdict',
  beaconRolledBack: 'BeaconRolledBack',
  pinVersion: 'PinVersion',
  checkPin: 'CheckPin',
  configured: 'Configured',
  pinFailed: 'PinFailed',
  sendRollback: 'SendRollback',
  startRollbackPolling: 'StartRollbackPolling',
  waitForRollback: 'WaitForRollback',
  pollRollback: 'PollRollback',
  checkRollbackDone: 'CheckRollbackDone',
  judgeRollback: 'JudgeRollback',
  checkRollbackVerdict: 'CheckRollbackVerdict',
  rolledBackByPipeline: 'RolledBackByPipeline',
  rollbackFailed: 'RollbackFailed',
  stepFailed: 'StepFailed',
  releaseLock: 'ReleaseLock',
  recordOutcome: 'RecordOutcome',
  notifyRequester: 'NotifyRequester',
  checkOutcome: 'CheckOutcome',
  workflowSucceeded: 'WorkflowSucceeded',
  workflowFailed: 'WorkflowFailed',
} as const;

export type StateName = (typeof STATES)[keyof typeof STATES];

/**
 * The workflow's Lambda handlers: folder under lambdas/ and the factory its handler.ts exports.
 * Each is one Lambda function in the stack (construct id = the key).
 */
export const WORKFLOW_HANDLERS = {
  ResolveTargetFn: { folder: 'resolve-target', factory: 'createResolveTargetHandler' },
  AcquireLockFn: { folder: 'acquire-lock', factory: 'createAcquireLockHandler' },
  ReleaseLockFn: { folder: 'release-lock', factory: 'createReleaseLockHandler' },
  SendCommandFn: { folder: 'send-command', factory: 'createSendCommandHandler' },
  PollCommandFn: { folder: 'poll-command', factory: 'createPollCommandHandler' },
  JudgeResultFn: { folder: 'judge-result', factory: 'createJudgeResultHandler' },
  PinVersionFn: { folder: 'pin-version', factory: 'createPinVersionHandler' },
  RecordOutcomeFn: { folder: 'record-outcome', factory: 'createRecordOutcomeHandler' },
  NotifyRequesterFn: { folder: 'notify-requester', factory: 'createNotifyRequesterHandler' },
} as const;

export type WorkflowHandlerId = keyof typeof WORKFLOW_HANDLERS;

/** Which Lambda each Task state invokes (the twin overrides Task states by these names). */
export const TASK_STATE_HANDLERS: Record<string, WorkflowHandlerId> = {
  [STATES.resolveTarget]: 'ResolveTargetFn',
  [STATES.acquireLock]: 'AcquireLockFn',
  [STATES.sendPlan]: 'SendCommandFn',
  [STATES.pollPlan]: 'PollCommandFn',
  [STATES.judgePlan]: 'JudgeResultFn',
  [STATES.sendConfigure]: 'SendCommandFn',
  [STATES.pollConfigure]: 'PollCommandFn',
  [STATES.judgeConfigure]: 'JudgeResultFn',
  [STATES.pinVersion]: 'PinVersionFn',
  [STATES.sendRollback]: 'SendCommandFn',
  [STATES.pollRollback]: 'PollCommandFn',
  [STATES.judgeRollback]: 'JudgeResultFn',
  [STATES.releaseLock]: 'ReleaseLockFn',
  [STATES.recordOutcome]: 'RecordOutcomeFn',
  [STATES.notifyRequester]: 'NotifyRequesterFn',
};

/** Timing of the workflow, defaults of the stack props. */
export const WORKFLOW_TIMING = {
  /** Lock TTL: longer than the whole execution, so a crashed execution frees the beacon eventually. */
  lockTtlSeconds: 3 * 60 * 60,
  executionTimeoutMinutes: 120,
  /** How long the pipeline waits for one document run before it gives up and rolls back. */
  commandTimeoutSeconds: 30 * 60,
  firstPollSeconds: 5,
  maxPollSeconds: 60,
  busyRetry: { intervalSeconds: 30, backoffRate: 2, maxAttempts: 5, maxDelaySeconds: 300 },
  /**
   * SendCommand throttling across a large fleet: SSM has no published rate, so every workflow of a big tag
   * target competes for it. Short, jittered, capped waits and many attempts keep the rate in use (a long
   * backoff leaves it idle) and cover about nine minutes, enough for 10,000 beacons at 20 sends a second.
   */
  sendThrottleRetry: { intervalSeconds: 1, backoffRate: 1.5, maxAttempts: 40, maxDelaySeconds: 15 },
} as const;
