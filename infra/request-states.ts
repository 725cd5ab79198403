/**
 * Names of the request workflow's states (one execution per request: expand the target, start the beacons
 * in waves, wait for an operator's go, decide the pin, wait for its confirmation, summarize), defined once:
 * the CDK definition uses them and the local twin maps each Task state to the handler its Lambda runs.
 * Plain data, no CDK import.
 */
export const REQUEST_STATES = {
  startRequest: 'StartRequest',
  prepareTargets: 'PrepareTargets',
  checkExpanded: 'CheckExpanded',
  waitToExpand: 'WaitToExpand',
  advanceRollout: 'AdvanceRollout',
  checkRollout: 'CheckRollout',
  waitForBeacons: 'WaitForBeacons',
  awaitGo: 'AwaitGo',
  goTimedOut: 'GoTimedOut',
  decidePin: 'DecidePin',
  checkPin: 'CheckPin',
  waitForPinLock: 'WaitForPinLock',
  askPinConfirmation: 'AskPinConfirmation',
  checkPinAsk: 'CheckPinAsk',
  remindPinConfirmation: 'RemindPinConfirmation',
  summarizeRequest: 'SummarizeRequest',
  requestEnded: 'RequestEnded',
  continuedAsNew: 'ContinuedAsNew',
} as const;

/** The request workflow's Lambda handlers (construct id = key): folder under lambdas/ and the factory its handler.ts exports. */
export const REQUEST_HANDLERS = {
  PrepareTargetsFn: { folder: 'prepare-targets', factory: 'createPrepareTargetsHandler' },
  AdvanceRolloutFn: { folder: 'advance-rollout', factory: 'createAdvanceRolloutHandler' },
  DecidePinFn: { folder: 'decide-pin', factory: 'createDecidePinHandler' },
  AwaitOperatorFn: { folder: 'await-operator', factory: 'createAwaitOperatorHandler' },
  SummarizeRequestFn: { folder: 'summarize-request', factory: 'createSummarizeRequestHandler' },
} as const;

export type RequestHandlerId = keyof typeof REQUEST_HANDLERS;

/** Which Lambda each Task state invokes. */
export const REQUEST_TASK_STATE_HANDLERS: Record<string, RequestHandlerId> = {
  [REQUEST_STATES.prepareTargets]: 'PrepareTargetsFn',
  [REQUEST_STATES.advanceRollout]: 'AdvanceRolloutFn',
  [REQUEST_STATES.awaitGo]: 'AwaitOperatorFn',
  [REQUEST_STATES.goTimedOut]: 'AdvanceRolloutFn',
  [REQUEST_STATES.decidePin]: 'DecidePinFn',
  [REQUEST_STATES.askPinConfirmation]: 'AwaitOperatorFn',
  [REQUEST_STATES.remindPinConfirmation]: 'AwaitOperatorFn',
  [REQUEST_STATES.summarizeRequest]: 'SummarizeRequestFn',
};

/** Task states that wait for an operator (`.waitForTaskToken`): their TimeoutSeconds is the wait, not a function timeout. */
export const OPERATOR_WAIT_STATES: readonly string[] = [REQUEST_STATES.awaitGo, REQUEST_STATES.askPinConfirmation, REQUEST_STATES.remindPinConfirmation];
