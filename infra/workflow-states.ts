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
  startLocking: 'StartLocking',
  acquireLock: 'AcquireLock',
  checkLock: 'CheckLock',
  waitForLock: 'WaitForLock',
  beaconBusy: 'BeaconBusy',
  superseded: 'Superseded',
  checkAction: 'CheckAction',
  startBeaconRollback: 'StartBeaconRollback',
  sendConfigure: 'SendConfigure',
  configureSendUnconfirmed: 'ConfigureSendUnconfirmed',
  startConfigurePolling: 'StartConfigurePolling',
  waitForConfigure: 'WaitForConfigure',
  pollConfigure: 'PollConfigure',
  checkConfigureDone: 'CheckConfigureDone',
  configurePollFailed: 'ConfigurePollFailed',
  checkConfigurePollFailures: 'CheckConfigurePollFailures',
  waitAfterConfigurePollFailure: 'WaitAfterConfigurePollFailure',
  configureUnconfirmed: 'ConfigureUnconfirmed',
  checkVerdict: 'CheckVerdict',
  configureNotRun: 'ConfigureNotRun',
  beaconRolledBack: 'BeaconRolledBack',
  checkCancelledBeforeConfigure: 'CheckCancelledBeforeConfigure',
  checkCancelBeforeConfigure: 'CheckCancelBeforeConfigure',
  cancelledBeforeConfigure: 'CancelledBeforeConfigure',
  checkCancelledAfterConfigure: 'CheckCancelledAfterConfigure',
  checkCancelAfterConfigure: 'CheckCancelAfterConfigure',
  configured: 'Configured',
  startRollback: 'StartRollback',
  sendRollback: 'SendRollback',
  rollbackSendUnconfirmed: 'RollbackSendUnconfirmed',
  startRollbackPolling: 'StartRollbackPolling',
  waitForRollback: 'WaitForRollback',
  pollRollback: 'PollRollback',
  checkRollbackDone: 'CheckRollbackDone',
  rollbackPollFailed: 'RollbackPollFailed',
  checkRollbackPollFailures: 'CheckRollbackPollFailures',
  waitAfterRollbackPollFailure: 'WaitAfterRollbackPollFailure',
  rollbackUnconfirmed: 'RollbackUnconfirmed',
  checkRollbackVerdict: 'CheckRollbackVerdict',
  checkRollbackAttempts: 'CheckRollbackAttempts',
  nextRollbackAttempt: 'NextRollbackAttempt',
  waitBeforeRollbackRetry: 'WaitBeforeRollbackRetry',
  rolledBackByPipeline: 'RolledBackByPipeline',
  rollbackFailed: 'RollbackFailed',
  stepFailed: 'StepFailed',
  releaseLock: 'ReleaseLock',
  recordOutcome: 'RecordOutcome',
  notifyRequester: 'NotifyRequester',
  checkFinally: 'CheckFinally',
  finallyIncomplete: 'FinallyIncomplete',
  checkOutcome: 'CheckOutcome',
  workflowSucceeded: 'WorkflowSucceeded',
  workflowFailed: 'WorkflowFailed',
} as const;

export type StateName = (typeof STATES)[keyof typeof STATES];

/** Error names of the workflow's Fail states. BeaconNotConfigured: by design, after the finally ran. */
export const FAIL_ERRORS = {
  beaconNotConfigured: 'BeaconNotConfigured',
  /** ReleaseLock, RecordOutcome or NotifyRequester failed: the cleanup function finishes the job. */
  finallyIncomplete: 'WorkflowFinallyIncomplete',
} as const;

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
  CheckCancelledFn: { folder: 'check-cancelled', factory: 'createCheckCancelledHandler' },
  RecordOutcomeFn: { folder: 'record-outcome', factory: 'createRecordOutcomeHandler' },
  NotifyRequesterFn: { folder: 'notify-requester', factory: 'createNotifyRequesterHandler' },
} as const;

export type WorkflowHandlerId = keyof typeof WORKFLOW_HANDLERS;

/** Which Lambda each Task state invokes (the twin overrides Task states by these names). */
export const TASK_STATE_HANDLERS: Record<string, WorkflowHandlerId> = {
  [STATES.resolveTarget]: 'ResolveTargetFn',
  [STATES.sendPlan]: 'SendCommandFn',
  [STATES.pollPlan]: 'PollCommandFn',
  [STATES.acquireLock]: 'AcquireLockFn',
  [STATES.sendConfigure]: 'SendCommandFn',
  [STATES.pollConfigure]: 'PollCommandFn',
  [STATES.checkCancelledBeforeConfigure]: 'CheckCancelledFn',
  [STATES.checkCancelledAfterConfigure]: 'CheckCancelledFn',
  [STATES.sendRollback]: 'SendCommandFn',
  [STATES.pollRollback]: 'PollCommandFn',
  [STATES.releaseLock]: 'ReleaseLockFn',
  [STATES.recordOutcome]: 'RecordOutcomeFn',
  [STATES.notifyRequester]: 'NotifyRequesterFn',
};

export { maxPollFailures, pollFailureWaitSeconds } from '../lambdas/core/timing.js';
