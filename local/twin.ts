/**
 * The local twin: the pipeline that deploys to AWS, run on one machine, as strict as AWS where the pipeline
 * depends on it. The request enters a local queue (the template's maxReceiveCount and visibility timeout)
 * and the real intake handler; each beacon's workflow is the state machine CDK synthesizes, run by
 * aws-local-stepfunctions with every Task state mapped to the real handler in-process, stopped at the
 * function timeout of the template (Sandbox.Timedout), the state machine timeout and the 256 KB state limit
 * ending executions uncatchably; an execution that ends TIMED_OUT, ABORTED or FAILED goes to the cleanup
 * function through the template's EventBridge pattern. SSM is a shim with delivery and execution timeouts,
 * CancelCommand and reconnecting agents, running the real generated documents under pwsh against modelled
 * beacons; FNMS is the stub HTTP server; the request store, the lock and the idempotency table are dynalite
 * behind the real DynamoDB adapters. Every wait, retry interval, timeout and SSM deadline is scaled by
 * `msPerSecond`, so they keep their relative lengths and the timeout paths are reachable in tests.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { StateMachine } from 'aws-local-stepfunctions';
import { BEACON_DOCUMENTS, type BeaconDocumentKind } from '../lambdas/core/document-contract.js';
import { createFlexeraOneInventory, createFnmsClient } from '../lambdas/core/fnms/index.js';
import {
  type AuditEvent,
  type BeaconStatusRecord,
  type Clock,
  type Notifier,
  type Outcome,
  type ReplyTo,
  type RequestQueue,
  type RequestRecord,
  type RequestExecutionInput,
  type RequestSource,
  type RequestWorkflowStarter,
  type TaskTokens,
  ThrottledError,
  type WorkflowInput,
  type WorkflowStarter,
  requestExecutionName,
  workflowExecutionName,
} from '../lambdas/core/ports.js';
import type { OperatorCommand } from '../lambdas/core/rollout-control.js';
import type { RequestTiming } from '../lambdas/core/timing.js';
import { DynamoPinLedger, DynamoRolloutStore } from '../lambdas/aws/rollout-store.js';
import { createCheckCancelledHandler } from '../lambdas/check-cancelled/handler.js';
import { createPrepareTargetsHandler } from '../lambdas/prepare-targets/handler.js';
import { createAdvanceRolloutHandler } from '../lambdas/advance-rollout/handler.js';
import { createDecidePinHandler } from '../lambdas/decide-pin/handler.js';
import { createAwaitOperatorHandler } from '../lambdas/await-operator/handler.js';
import { createSummarizeRequestHandler } from '../lambdas/summarize-request/handler.js';
import { statusLinkFor } from '../lambdas/rollout/messages.js';
import { OPERATOR_WAIT_STATES, REQUEST_TASK_STATE_HANDLERS, type RequestHandlerId } from '../infra/request-states.js';
import { DynamoBaselineStore, DynamoBeaconHistory, DynamoBeaconLock, DynamoDriftPassStore, DynamoFleetMemory, DynamoRequestStore, documentClient } from '../lambdas/aws/dynamo.js';
import { powertoolsIdempotency } from '../lambdas/aws/idempotency.js';
import { BEACON_HISTORY_INDEX } from '../lambdas/aws/table-keys.js';
import { createIntakeHandler } from '../lambdas/intake/handler.js';
import type { BeaconRoutesDeps } from '../lambdas/requests-api/beacons.js';
import { MESSAGE_ATTRIBUTES, OPERATOR_MESSAGE_KIND } from '../lambdas/intake/message-attributes.js';
import { MemoryProfileStore } from '../lambdas/memory/ports.js';
import { SnsSlackNotifier } from '../lambdas/aws/notifier.js';
import type { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { type SlackStub, startSlackStub } from './slack-stub.js';
import { type DriftReport, type DriftTickResult, createDriftCheckHandler, readDriftReport } from '../lambdas/drift-check/handler.js';
import { type NewBeaconResult, type TagChangeEvent, createNewBeaconHandler } from '../lambdas/new-beacon/handler.js';
import type { TriggerMode } from '../lambdas/core/triggers.js';
import { createAcquireLockHandler } from '../lambdas/acquire-lock/handler.js';
import { type CleanupResult, createExecutionCleanupHandler, EXECUTION_STATUS_CHANGE, type ExecutionStatusEvent, type RequestCleanupResult } from '../lambdas/execution-cleanup/handler.js';
import { createNotifyRequesterHandler } from '../lambdas/notify-requester/handler.js';
import { createPollCommandHandler } from '../lambdas/poll-command/handler.js';
import { createRecordOutcomeHandler } from '../lambdas/record-outcome/handler.js';
import { createReleaseLockHandler } from '../lambdas/release-lock/handler.js';
import { createResolveTargetHandler } from '../lambdas/resolve-target/handler.js';
import { createSendCommandHandler } from '../lambdas/send-command/handler.js';
import type { WorkflowState } from '../lambdas/workflow/state.js';
import { StackConfigSchema } from '../infra/config.js';
import { FAIL_ERRORS, TASK_STATE_HANDLERS, type WorkflowHandlerId } from '../infra/workflow-states.js';
import { type FnmsStub, type FnmsStubOptions, STUB_REFRESH_TOKEN, startFnmsStub } from './fnms-stub.js';
import type { Fleet } from './fleet.js';
import { startLocalDynamo, type LocalDynamo } from './local-dynamo.js';
import { type DocumentExecutor, LocalSsm, type ShimLimits } from './ssm-shim.js';
import type { LocalModuleBucket } from './module-bucket.js';
import { runBeaconDocument } from './run-document.js';
import type { Retrier } from '../infra/workflow-definition.js';
import { loadProfiles } from './profiles.js';
import { type FunctionSpec, loadWorkflow, type SynthesizedWorkflow } from './workflow-definition.js';

type JSONValue = Parameters<StateMachine['run']>[0];

/** The profile the twin's new-beacon and drift triggers apply (examples/profiles/corp-https.json). */
export const DEFAULT_PROFILE = 'corp-https';

const STACK_DEFAULTS = StackConfigSchema.parse({});

/** The beacon tag the stack's IAM condition and the resolve step require (the stack's default); the built-in fleet carries it. */
export const LOCAL_BEACON_TAG = { key: STACK_DEFAULTS.beaconTagKey, value: STACK_DEFAULTS.beaconTagValue } as const;

/** The Step Functions limit of an execution's state (input or output of a state). */
export const STATE_PAYLOAD_LIMIT_BYTES = 256 * 1024;

/** A fault the crash matrix injects into a Task state: see `TwinOptions.faults`. */
export type TaskFault = 'error' | 'timeout' | 'throttle';

export interface FaultPlan {
  /** The Task state (STATES.*). */
  state: string;
  fault: TaskFault;
  /** Only executions for this beacon; default every beacon. */
  instanceId?: string;
}

export interface TwinOptions {
  fleet: Fleet;
  /** Where captures, the store dump and transcripts go. */
  workDir: string;
  /**
   * The module bucket the documents download from (default: the committed module under its content-addressed
   * key, as the stack deploys it). A missing or changed module fails there like on a beacon.
   */
  moduleBucket?: LocalModuleBucket;
  /** Runs documents on beacons; default: the real PowerShell against each beacon's model. */
  executor?: DocumentExecutor;
  limits?: ShimLimits;
  fnms?: FnmsStubOptions;
  /**
   * How the request's pin step pins (the stack's pinMode): `gateway` (the twin's default: the stub's pin
   * gateway), `operator` (an operator confirms through the local API; the stack's default) or `none`.
   */
  pinMode?: 'gateway' | 'operator' | 'none';
  /** Milliseconds that stand for one second of the workflow's time (waits, retries, timeouts, SSM deadlines). Default 20. */
  msPerSecond?: number;
  /**
   * Function and task timeouts never drop below this (real ms): the handlers run at the machine's speed, so a
   * scaled 30 s timeout of a few ms would stop healthy steps. Default 1000.
   */
  minFunctionTimeoutMs?: number;
  /**
   * Retry waits with the workflow's JitterStrategy FULL, as deployed: each drawn between 0 and its series
   * value (benchmarks; a throttled fleet without it retries in lockstep). Default off: each wait is its
   * series value, so tests see the same timing every run.
   */
  retryJitter?: boolean;
  /** The workflow's clock; default: real time sped up by 1000 / msPerSecond, so deadlines in workflow seconds pass as the scaled waits do. */
  clock?: Clock;
  /** Called for every Task state a workflow enters, for progress display. */
  onState?: (instanceId: string, requestId: string, state: string) => void;
  /** Called when a workflow starts and when it ends. */
  onExecution?: (instanceId: string, requestId: string, event: 'started' | ExecutionStatus) => void;
  /** Named profiles for chat commands and the new-beacon/drift triggers; default examples/profiles/. */
  profiles?: Record<string, Record<string, unknown>>;
  /** The profile new and never-configured beacons get (the stack's default profile). */
  defaultProfile?: string;
  /** The stack's triggerMode for the new-beacon, tag and drift triggers; default the stack's default (observe). */
  triggerMode?: TriggerMode;
  /** The stack's autoApplyTagOnly (default false: the FNMS inventory must list a tagged instance). */
  autoApplyTagOnly?: boolean;
  /** Hours between drift passes (the stack's driftCheckScheduleHours), in workflow time. */
  driftIntervalHours?: number;
  /** Deliver queued messages as soon as they arrive (serve mode); otherwise `drain()` delivers. */
  autoDeliver?: boolean;
  /**
   * The beacons' network (local/http-proxy.ts): environment for the fake layer (BEACON_PROXY_HOSTS maps the
   * requests' proxy names to a real local proxy) and the FNMS stub path every configure run probes through it.
   */
  beaconNetwork?: { env: Record<string, string>; probePath: string };
  /** Test hook: stop the first execution that completes this Task state on this beacon (an operator's StopExecution). */
  interruptAfter?: { state: string; instanceId: string };
  /**
   * Crash matrix: `error` makes the first invocation of the state fail after the handler ran (its side
   * effects happened, its answer is lost); `timeout` makes it hang after the handler ran until the function
   * timeout stops it (Sandbox.Timedout); `throttle` makes every invocation fail with ThrottledError before
   * the handler runs, beyond every retry.
   */
  faults?: FaultPlan[];
  /** DynamoDB (dynalite) in a child process, as it is a service of its own: the benchmarks measure the pipeline's CPU, not the engine's. */
  dynamoOwnProcess?: boolean;
  /** Scale runs: a beacon workflow is recorded as started and ends ok at once, without its state machine. */
  syntheticBeaconWorkflows?: boolean;
  /** Request workflow timing over the template's (waits in seconds, scaled like every wait): the go, the pin reminder and deadline; tests shorten iterationsPerExecution. */
  requestTiming?: Partial<RequestTiming>;
}

export type ExecutionStatus = 'SUCCEEDED' | 'FAILED' | 'ABORTED' | 'TIMED_OUT';

/** Which of the stack's state machines an execution runs. */
type MachineKind = 'beacon' | 'request';

export interface ExecutionResult {
  status: ExecutionStatus;
  /** The final workflow state (SUCCEEDED only; a failed execution's data is in the store). */
  output: WorkflowState | null;
  /** For FAILED: the error that ended it (a Fail state's error, States.DataLimitExceeded, or the unexpected error). */
  error?: string;
  cause?: string;
  /** What the cleanup function did for an execution that ended TIMED_OUT, ABORTED or FAILED. */
  cleanup?: CleanupResult | RequestCleanupResult | { error: string };
}

/**
 * SQS SenderId of the twin's senders. Each producer function of the stack has its own role, so SQS names it
 * `<role id>:<session>`; the intake believes a `caller` attribute only from those role ids. A message sent
 * straight to the queue (`submit`) comes from an operator's IAM user id.
 */
export const TWIN_SENDERS = {
  producerRoleIds: { api: 'AROATWINAPIFUNCTION01', chatops: 'AROATWINCHATOPSFUNC01', 'new-beacon': 'AROATWINNEWBEACONFN01', drift: 'AROATWINDRIFTCHECKF01' },
  operator: 'AIDATWINQUEUEOPERATOR',
} as const;

function producerSenderId(source: RequestSource): string {
  const roleId = (TWIN_SENDERS.producerRoleIds as Record<string, string>)[source];
  return roleId ? `${roleId}:beacon-proxy-${source}` : TWIN_SENDERS.operator;
}

interface QueuedMessage {
  messageId: string;
  body: string;
  source: RequestSource;
  replyTo?: ReplyTo;
  rerunOf?: string;
  /** The `caller` message attribute (JSON), as the sender set it. */
  callerAttribute?: string;
  /** SQS SenderId: set by SQS from the sender's credentials, never by the sender. */
  senderId: string;
  /** SQS SentTimestamp: set once when sent, the same on every redelivery. */
  sentTimestamp: number;
  /** `operator`: an operator's command from chat (cancel, go, confirm-pin). */
  kind?: typeof OPERATOR_MESSAGE_KIND;
  receiveCount: number;
}

/** A Step Functions task token's wait: resolved by SendTaskSuccess, gone once it ended. */
interface TokenWait {
  resolve: (output: Record<string, unknown>) => void;
}

/** An error Step Functions cannot catch or retry (States.DataLimitExceeded, States.Runtime). */
class UncatchableError extends Error {
  readonly isCatchable = false;
  readonly isRetryable = false;
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/** What Step Functions reports for a Lambda function stopped at its timeout. */
class SandboxTimedOut extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Sandbox.Timedout';
  }
}

/** Real time sped up: one real millisecond is 1 / msPerSecond workflow seconds. */
export function scaledClock(msPerSecond: number, start = Date.now()): Clock {
  return { now: () => new Date(start + (Date.now() - start) * (1000 / msPerSecond)) };
}

/** Does an EventBridge pattern (arrays of allowed values, nested objects) match the event? */
export function matchesEventPattern(pattern: Record<string, unknown>, event: Record<string, unknown>): boolean {
  const keyOf: Record<string, string> = { detailType: 'detail-type' };
  return Object.entries(pattern).every(([key, allowed]) => {
    const value = event[keyOf[key] ?? key];
    // An array in the event matches when any of its elements does.
    if (Array.isArray(allowed)) return Array.isArray(value) ? value.some((item) => allowed.includes(item as never)) : allowed.includes(value as never);
    if (allowed && typeof allowed === 'object') return value !== null && typeof value === 'object' && matchesEventPattern(allowed as Record<string, unknown>, value as Record<string, unknown>);
    return false;
  });
}

export class LocalTwin implements WorkflowStarter, RequestWorkflowStarter {
  readonly store: DynamoRequestStore;
  readonly lock: DynamoBeaconLock;
  /** Requests' rollouts (waves, counters, halt, cancel, pin, outcome) and the FNMS pin ledger, in dynalite. */
  readonly rollouts: DynamoRolloutStore;
  readonly ledger: DynamoPinLedger;
  /** Step Functions' task tokens of the request workflows' operator waits (SendTaskSuccess). */
  readonly tokens: TaskTokens;
  private readonly tokenWaits = new Map<string, TokenWait>();
  private readonly goneTokens = new Set<string>();
  private tokenCounter = 0;
  readonly ssm: LocalSsm;
  /**
   * What the requester was told (every notify call, recorded), delivered by the product's notifier: the
   * notification topic (`published`) and Slack's response_url through the Slack stand-in (`slack`), which
   * enforces its 5 posts in 30 minutes.
   */
  readonly notifier: RecordingNotifier;
  /** Messages published to the notification topic, with their attributes. */
  readonly published: PublishedMessage[] = [];
  readonly slack: SlackStub;
  readonly queue: QueuedMessage[] = [];
  readonly deadLetters: QueuedMessage[] = [];
  readonly executions = new Map<string, Promise<ExecutionResult>>();
  readonly results = new Map<string, ExecutionResult>();
  /** Every Task invocation: state, beacon, how it ended (for the crash matrix). */
  readonly taskLog: Array<{ execution: string; state: string; outcome: 'ok' | 'error' | 'timeout' | 'fault'; error?: string }> = [];
  private messageCounter = 0;
  private inFlightRedeliveries = 0;
  private readonly clock: Clock;
  private readonly scale: number;
  private readonly intake: ReturnType<typeof createIntakeHandler>;
  private readonly tasks: Record<string, (input: unknown, context: LambdaTime) => Promise<unknown>>;
  private readonly requestTasks: Record<string, (input: unknown, context: LambdaTime) => Promise<unknown>>;
  private readonly cleanup: ReturnType<typeof createExecutionCleanupHandler>;
  /** What the triggers remember (beacons seen, the last drift pass, notified executions). */
  readonly fleetMemory: DynamoFleetMemory;
  readonly profiles: MemoryProfileStore;
  /** Each beacon's drift baseline (written by RecordOutcome). */
  readonly baselines: DynamoBaselineStore;
  /** The drift pass's checkpoint and pages. */
  readonly driftPasses: DynamoDriftPassStore;
  /** Each beacon's history across requests (the byBeacon index of the state table). */
  readonly beaconHistory: DynamoBeaconHistory;
  /** One tick of the scheduled drift check, run like Lambda runs it: its template timeout (scaled) as the budget and the limit. */
  readonly driftCheck: () => Promise<DriftTickResult>;
  /** The scheduled new-beacon poll: FNMS beacons matched to managed instances by computer name get the default profile. */
  readonly newBeaconPoll: () => Promise<NewBeaconResult>;
  private readonly newBeacon: (event: TagChangeEvent) => Promise<NewBeaconResult>;
  private readonly failStateErrors: Set<string>;
  private machine: StateMachine | undefined;
  private requestMachine: StateMachine | undefined;

  private constructor(
    private readonly options: TwinOptions,
    readonly fnms: FnmsStub,
    readonly workflow: SynthesizedWorkflow,
    readonly dynamo: LocalDynamo,
    slack: SlackStub,
  ) {
    this.scale = options.msPerSecond ?? 20;
    this.slack = slack;
    this.notifier = new RecordingNotifier(new SnsSlackNotifier(recordingSns(this.published), LOCAL_TOPIC_ARN, { fetch: slack.fetch }));
    this.clock = options.clock ?? scaledClock(this.scale);
    const db = documentClient(dynamo.client);
    this.store = new DynamoRequestStore(db, dynamo.tables.state);
    this.lock = new DynamoBeaconLock(db, dynamo.tables.state, this.clock);
    this.fleetMemory = new DynamoFleetMemory(db, dynamo.tables.state, this.clock);
    this.baselines = new DynamoBaselineStore(db, dynamo.tables.state);
    this.driftPasses = new DynamoDriftPassStore(db, dynamo.tables.state, this.clock);
    this.beaconHistory = new DynamoBeaconHistory(db, dynamo.tables.state);
    this.rollouts = new DynamoRolloutStore(db, dynamo.tables.state);
    this.ledger = new DynamoPinLedger(db, dynamo.tables.state);
    this.tokens = {
      sendTaskSuccess: async (token, output) => {
        const wait = this.tokenWaits.get(token);
        if (!wait || this.goneTokens.has(token)) return 'gone';
        this.tokenWaits.delete(token);
        this.goneTokens.add(token);
        wait.resolve(output);
        return 'sent';
      },
    };
    const operator = { rollouts: this.rollouts, ledger: this.ledger, tokens: this.tokens };
    const timing = workflow.timing;
    const captureDir = join(options.workDir, 'captures');
    const executor: DocumentExecutor =
      options.executor ??
      (async (beacon, kind, parameters, control) =>
        runBeaconDocument({ document: kind, parameters, modelPath: beacon.modelPath, timeoutMs: control.timeoutMs, ...(options.moduleBucket ? { moduleBucket: options.moduleBucket } : {}), env: { BEACON_PROXY_CAPTURE_DIR: join(captureDir, beacon.instanceId), ...options.beaconNetwork?.env } }));
    // Real PowerShell runs at the machine's speed: it is never stopped sooner than 30 s (real) unless the caller says so.
    this.ssm = new LocalSsm(options.fleet, executor, { minExecutionMs: 30_000, ...options.limits, msPerSecond: this.scale });
    const intakeIdempotency = powertoolsIdempotency(dynamo.tables.idempotency, dynamo.client);
    this.intake = createIntakeHandler({
      store: this.store,
      requests: this,
      workflows: this,
      operator,
      notifier: this.notifier,
      clock: this.clock,
      idempotency: intakeIdempotency,
      trustedSenderRoleIds: Object.values(TWIN_SENDERS.producerRoleIds),
      history: this.beaconHistory,
    });
    const documentNames = { ...BEACON_DOCUMENTS } as Record<BeaconDocumentKind, string>;
    // The stub shares this process's event loop; the pin step budgets every call from its scaled function timeout.
    const fnmsClient = createFnmsClient(fnms.clientConfig('refreshToken', { baseDelayMs: 20, maxDelayMs: 200, timeoutMs: 60_000 }), {
      getSecret: async () => options.fnms?.refreshToken ?? STUB_REFRESH_TOKEN,
    });
    // The beacon inventory: the stub's saved report through Flexera One's report execute API.
    const inventory = createFlexeraOneInventory(fnms.flexeraOneConfig('refreshToken', { retry: { baseDelayMs: 20, maxDelayMs: 200, timeoutMs: 60_000 } }), {
      getSecret: async () => options.fnms?.refreshToken ?? STUB_REFRESH_TOKEN,
    });
    this.profiles = new MemoryProfileStore(options.profiles ?? {});
    const triggerDeps = {
      commands: this.ssm,
      profiles: this.profiles,
      queue: this.requestQueue,
      baselines: this.baselines,
      inventory,
      beaconTag: LOCAL_BEACON_TAG,
      defaultProfile: options.defaultProfile ?? DEFAULT_PROFILE,
      mode: options.triggerMode ?? STACK_DEFAULTS.triggerMode,
      autoApplyTagOnly: options.autoApplyTagOnly ?? STACK_DEFAULTS.autoApplyTagOnly,
    };
    const drift = createDriftCheckHandler({
      ...triggerDeps,
      passes: this.driftPasses,
      clock: this.clock,
      verifyDocumentName: BEACON_DOCUMENTS.verify,
      checkEndpoint: 'none',
      intervalSeconds: (options.driftIntervalHours ?? STACK_DEFAULTS.driftCheckScheduleHours) * 3600,
      timing,
    });
    this.driftCheck = async () => {
      const timeoutMs = this.functionTimeoutMs(workflow.triggers.driftFunction);
      const deadline = Date.now() + timeoutMs;
      return withTimeout(drift({ source: 'beacon-proxy.drift-check' }, { getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()) }), timeoutMs, 'the drift check function');
    };
    const newBeacon = createNewBeaconHandler({ ...triggerDeps, memory: this.fleetMemory, notifier: this.notifier });
    this.newBeacon = (event) => withTimeout(newBeacon(event), this.functionTimeoutMs(workflow.triggers.newBeaconFunction), 'the new-beacon function');
    this.newBeaconPoll = () => withTimeout(newBeacon({ source: 'beacon-proxy.schedule' }), this.functionTimeoutMs(workflow.triggers.newBeaconFunction), 'the new-beacon function');
    const handlers: Record<WorkflowHandlerId, (input: never, context: LambdaTime) => Promise<unknown>> = {
      ResolveTargetFn: createResolveTargetHandler({ commands: this.ssm, beaconTag: LOCAL_BEACON_TAG }),
      AcquireLockFn: createAcquireLockHandler({ lock: this.lock, store: this.store, clock: this.clock, timing }),
      SendCommandFn: createSendCommandHandler({
        commands: this.ssm,
        store: this.store,
        clock: this.clock,
        documentNames,
        timing,
        probeUrl: options.beaconNetwork ? `${fnms.url}${options.beaconNetwork.probePath}` : null,
      }),
      PollCommandFn: createPollCommandHandler({ commands: this.ssm, store: this.store, clock: this.clock, documentNames, timing }),
      CheckCancelledFn: createCheckCancelledHandler({ rollouts: this.rollouts }),
      ReleaseLockFn: createReleaseLockHandler({ lock: this.lock }),
      RecordOutcomeFn: createRecordOutcomeHandler({ store: this.store, rollouts: this.rollouts, ledger: this.ledger, clock: this.clock, pinMode: this.pinMode, baselines: this.baselines }),
      NotifyRequesterFn: createNotifyRequesterHandler({ notifier: this.notifier, memory: this.fleetMemory, pinMode: this.pinMode }),
    };
    const requestTiming = { ...workflow.request.timing, ...options.requestTiming };
    const statusUrl = statusLinkFor(null);
    const pinCommon = { rollouts: this.rollouts, store: this.store, ledger: this.ledger, lock: this.lock, clock: this.clock, timing: requestTiming };
    const requestHandlers: Record<RequestHandlerId, (input: never, context: LambdaTime) => Promise<unknown>> = {
      PrepareTargetsFn: createPrepareTargetsHandler({ rollouts: this.rollouts, store: this.store, commands: this.ssm, requests: this, clock: this.clock, timing: requestTiming }),
      AdvanceRolloutFn: createAdvanceRolloutHandler({
        rollouts: this.rollouts,
        store: this.store,
        workflows: this,
        requests: this,
        notifier: this.notifier,
        memory: this.fleetMemory,
        clock: this.clock,
        timing: requestTiming,
        statusUrl,
      }),
      DecidePinFn: createDecidePinHandler(
        this.pinMode === 'none'
          ? { ...pinCommon, mode: 'none' }
          : this.pinMode === 'operator'
            ? { ...pinCommon, mode: 'operator', inventory }
            : { ...pinCommon, mode: 'gateway', gateway: fnmsClient, inventory },
      ),
      AwaitOperatorFn: createAwaitOperatorHandler({
        rollouts: this.rollouts,
        ledger: this.ledger,
        tokens: this.tokens,
        notifier: this.notifier,
        memory: this.fleetMemory,
        clock: this.clock,
        timing: requestTiming,
        product: 'flexeraOne',
        statusUrl,
      }),
      SummarizeRequestFn: createSummarizeRequestHandler({ rollouts: this.rollouts, store: this.store, ledger: this.ledger, notifier: this.notifier, memory: this.fleetMemory, clock: this.clock, statusUrl }),
    };
    this.cleanup = createExecutionCleanupHandler({
      store: this.store,
      rollouts: this.rollouts,
      ledger: this.ledger,
      lock: this.lock,
      commands: this.ssm,
      notifier: this.notifier,
      memory: this.fleetMemory,
      clock: this.clock,
      timing,
      requestTiming,
      statusUrl,
    });
    this.failStateErrors = new Set(
      Object.values(workflow.definition.States)
        .filter((state) => state.Type === 'Fail' && typeof state.Error === 'string')
        .map((state) => state.Error as string),
    );
    this.tasks = {};
    for (const [stateName, handlerId] of Object.entries(TASK_STATE_HANDLERS)) {
      this.tasks[stateName] = handlers[handlerId] as (input: unknown, context: LambdaTime) => Promise<unknown>;
    }
    this.requestTasks = {};
    for (const [stateName, handlerId] of Object.entries(REQUEST_TASK_STATE_HANDLERS)) {
      const handler = requestHandlers[handlerId] as (input: unknown, context: LambdaTime) => Promise<unknown>;
      this.requestTasks[stateName] = OPERATOR_WAIT_STATES.includes(stateName) ? this.operatorWait(stateName, handler, requestTiming) : handler;
    }
  }

  static async create(options: TwinOptions): Promise<LocalTwin> {
    const [fnms, workflow, profiles, slack] = await Promise.all([
      startFnmsStub(options.fnms ?? {}),
      loadWorkflow(),
      options.profiles ?? loadProfiles(),
      startSlackStub({ msPerSecond: options.msPerSecond ?? 20 }),
    ]);
    const dynamo = await startLocalDynamo(workflow.tables, { ownProcess: options.dynamoOwnProcess === true });
    options = { ...options, profiles };
    await mkdir(options.workDir, { recursive: true });
    return new LocalTwin(options, fnms, workflow, dynamo, slack);
  }

  /** The stack's pinMode as the twin runs it (default gateway: the stub's pin gateway). */
  private get pinMode(): 'gateway' | 'operator' | 'none' {
    return this.options.pinMode ?? 'gateway';
  }

  /**
   * A `.waitForTaskToken` Task state: Step Functions hands the function a task token and waits for
   * SendTaskSuccess (an operator's action through the API, chat or CLI) or the state's timeout
   * (States.Timeout, scaled). The function itself runs within its own timeout.
   */
  private operatorWait(
    stateName: string,
    handler: (input: unknown, context: LambdaTime) => Promise<unknown>,
    timing: { goWaitSeconds: number; pinReminderSeconds: number; pinConfirmationSeconds: number },
  ): (input: unknown, context: LambdaTime) => Promise<unknown> {
    const waitSeconds =
      stateName === 'AwaitGo' ? timing.goWaitSeconds : stateName === 'AskPinConfirmation' ? timing.pinReminderSeconds : timing.pinConfirmationSeconds - timing.pinReminderSeconds;
    return async (input, context) => {
      const payload = (input as { Payload?: Record<string, unknown> }).Payload ?? (input as Record<string, unknown>);
      this.tokenCounter += 1;
      const token = `local-token-${this.tokenCounter.toString().padStart(6, '0')}-${stateName}`;
      let resolve!: (output: Record<string, unknown>) => void;
      const answered = new Promise<Record<string, unknown>>((done) => (resolve = done));
      this.tokenWaits.set(token, { resolve });
      const fnMs = this.functionTimeoutMs(this.workflow.request.taskFunctions[stateName]!);
      try {
        await withTimeout(handler({ ...payload, taskToken: token }, context) as Promise<unknown>, fnMs, stateName);
      } catch (error) {
        this.tokenWaits.delete(token);
        this.goneTokens.add(token);
        throw error;
      }
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          this.tokenWaits.delete(token);
          this.goneTokens.add(token);
          const error = new Error(`${stateName}: no SendTaskSuccess within ${waitSeconds} s`);
          error.name = 'States.Timeout';
          reject(error);
        }, waitSeconds * this.scale);
      });
      try {
        return await Promise.race([answered, timedOut]);
      } finally {
        clearTimeout(timer);
      }
    };
  }

  /** Real milliseconds a function of the template may run (its timeout, scaled, never below the floor). */
  functionTimeoutMs(spec: FunctionSpec): number {
    return Math.max(spec.timeoutSeconds * this.scale, this.options.minFunctionTimeoutMs ?? 1000);
  }

  /** What the API's per-beacon routes use (history, rollback, retry), as the deployed API Lambda has them. */
  get beaconRoutes(): BeaconRoutesDeps {
    return { history: this.beaconHistory, store: this.store, workflows: this, clock: this.clock };
  }

  /** The intake queue as the API, ChatOps and new-beacon handlers see it (the RequestQueue port). */
  readonly requestQueue: RequestQueue = {
    enqueue: async (request, meta) => {
      const { caller, ...rest } = meta;
      this.submit(request, { ...rest, senderId: producerSenderId(meta.source), ...(caller ? { callerAttribute: JSON.stringify(caller) } : {}) });
      if (this.options.autoDeliver) this.kick();
    },
    enqueueCommand: async (command, meta) => {
      const { caller, ...rest } = meta;
      this.submitCommand(command, { ...rest, senderId: producerSenderId(meta.source), ...(caller ? { callerAttribute: JSON.stringify(caller) } : {}) });
      if (this.options.autoDeliver) this.kick();
    },
  };

  /** Puts an operator's command (chat's cancel, go, confirm-pin) on the local intake queue (message attribute kind=operator). */
  submitCommand(command: OperatorCommand, meta: { source?: RequestSource; replyTo?: ReplyTo; senderId?: string; callerAttribute?: string } = {}): string {
    const messageId = this.submit(command, meta);
    this.queue.at(-1)!.kind = OPERATOR_MESSAGE_KIND;
    return messageId;
  }

  private delivering: Promise<void> | null = null;
  private interrupted = false;

  private kick(): void {
    this.delivering ??= this.deliver().finally(() => {
      this.delivering = null;
      if (this.queue.length > 0) this.kick();
    });
  }

  /**
   * Runs drift ticks until the pass in progress (or a new one, when due) is done, as the schedule would:
   * between ticks it waits for the verify commands the pass sent. Returns the pass's report.
   */
  async runDriftPass(options: { maxTicks?: number } = {}): Promise<{ ticks: DriftTickResult[]; report: DriftReport | null }> {
    const ticks: DriftTickResult[] = [];
    for (let n = 0; n < (options.maxTicks ?? 1000); n += 1) {
      const tick = await this.driftCheck();
      ticks.push(tick);
      if (tick.action !== 'worked' || tick.phase === 'done') break;
      if (tick.waitingForVerify) await this.ssm.settle();
    }
    return { ticks, report: await readDriftReport(this.driftPasses) };
  }

  /**
   * EventBridge "Tag Change on Resource" for these instances (the beacon tag now `value`), delivered to the
   * new-beacon function when the template's tag rule matches it. Null when the rule does not match.
   */
  async tagChange(instanceIds: string[], tags: Record<string, string> = { [LOCAL_BEACON_TAG.key]: LOCAL_BEACON_TAG.value }): Promise<NewBeaconResult | null> {
    const event = {
      version: '0',
      id: `local-tag-${Date.now()}`,
      'detail-type': 'Tag Change on Resource',
      source: 'aws.tag',
      account: '000000000000',
      time: new Date().toISOString(),
      region: 'local-1',
      resources: instanceIds.map((id) => (id.startsWith('mi-') ? `arn:aws:ssm:local-1:000000000000:managed-instance/${id}` : `arn:aws:ec2:local-1:000000000000:instance/${id}`)),
      detail: { 'changed-tag-keys': Object.keys(tags), service: instanceIds[0]?.startsWith('mi-') ? 'ssm' : 'ec2', 'resource-type': instanceIds[0]?.startsWith('mi-') ? 'managed-instance' : 'instance', version: 1, tags },
    };
    if (!matchesEventPattern(this.workflow.triggers.tagRulePattern, event)) return null;
    return this.newBeacon(event as unknown as TagChangeEvent);
  }

  /**
   * Puts a request on the local intake queue, as SQS, the API, ChatOps or the new-beacon trigger would.
   * `senderId` is what SQS would record for the sender (default: an operator's IAM user id);
   * `callerAttribute` is a `caller` message attribute as the sender set it.
   */
  submit(request: unknown, meta: { source?: RequestSource; replyTo?: ReplyTo; rerunOf?: string; senderId?: string; callerAttribute?: string } = {}): string {
    this.messageCounter += 1;
    const messageId = `local-msg-${this.messageCounter.toString().padStart(6, '0')}`;
    this.queue.push({
      messageId,
      body: typeof request === 'string' ? request : JSON.stringify(request),
      source: meta.source ?? 'local',
      replyTo: meta.replyTo,
      ...(meta.rerunOf ? { rerunOf: meta.rerunOf } : {}),
      ...(meta.callerAttribute !== undefined ? { callerAttribute: meta.callerAttribute } : {}),
      senderId: meta.senderId ?? TWIN_SENDERS.operator,
      sentTimestamp: this.clock.now().getTime(),
      receiveCount: 0,
    });
    return messageId;
  }

  private sqsEvent(batch: QueuedMessage[]): SQSEvent {
    return {
      Records: batch.map((message) => ({
        messageId: message.messageId,
        receiptHandle: message.messageId,
        body: message.body,
        attributes: {
          ApproximateReceiveCount: String(message.receiveCount),
          SentTimestamp: String(message.sentTimestamp),
          SenderId: message.senderId,
          ApproximateFirstReceiveTimestamp: String(Date.now()),
        },
        messageAttributes: {
          [MESSAGE_ATTRIBUTES.source]: { stringValue: message.source, dataType: 'String', stringListValues: [], binaryListValues: [] },
          ...(message.replyTo
            ? { [MESSAGE_ATTRIBUTES.replyTo]: { stringValue: JSON.stringify(message.replyTo), dataType: 'String', stringListValues: [], binaryListValues: [] } }
            : {}),
          ...(message.rerunOf ? { [MESSAGE_ATTRIBUTES.rerunOf]: { stringValue: message.rerunOf, dataType: 'String', stringListValues: [], binaryListValues: [] } } : {}),
          ...(message.callerAttribute !== undefined
            ? { [MESSAGE_ATTRIBUTES.caller]: { stringValue: message.callerAttribute, dataType: 'String', stringListValues: [], binaryListValues: [] } }
            : {}),
          ...(message.kind ? { [MESSAGE_ATTRIBUTES.kind]: { stringValue: message.kind, dataType: 'String', stringListValues: [], binaryListValues: [] } } : {}),
        },
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:local-1:000000000000:beacon-proxy-intake',
        awsRegion: 'local-1',
      })),
    };
  }

  /**
   * Delivers queued messages to the intake handler (batches of 10) until the queue is empty. A failed
   * message becomes visible again after the queue's visibility timeout and goes to the dead-letter queue
   * once it has been received maxReceiveCount times (both from the template).
   */
  async deliver(): Promise<void> {
    const { maxReceiveCount, visibilityTimeoutSeconds } = this.workflow.intakeQueue;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, 10);
      for (const message of batch) message.receiveCount += 1;
      const timeoutMs = this.functionTimeoutMs(this.workflow.intakeFunction);
      const context = localContext(timeoutMs);
      let response: SQSBatchResponse;
      try {
        response = (await withTimeout(this.intake(this.sqsEvent(batch), context) as Promise<SQSBatchResponse>, timeoutMs, 'the intake function')) ?? { batchItemFailures: [] };
      } catch {
        // A failed or timed-out invocation returns the whole batch to the queue.
        response = { batchItemFailures: batch.map((message) => ({ itemIdentifier: message.messageId })) };
      }
      const failed = new Set(response.batchItemFailures.map((failure) => failure.itemIdentifier));
      for (const message of batch) {
        if (!failed.has(message.messageId)) continue;
        if (message.receiveCount >= maxReceiveCount) {
          this.deadLetters.push(message);
          continue;
        }
        this.inFlightRedeliveries += 1;
        setTimeout(() => {
          this.inFlightRedeliveries -= 1;
          this.queue.push(message);
          if (this.options.autoDeliver) this.kick();
        }, visibilityTimeoutSeconds * this.scale);
      }
    }
  }

  /** Delivers everything (redeliveries included) and waits until every workflow started so far has ended. */
  async drain(): Promise<void> {
    let known = -1;
    do {
      await this.deliver();
      // Request workflows start beacon workflows (and continuations) while they run: wait until none is new.
      while (known !== this.executions.size) {
        known = this.executions.size;
        await Promise.all([...this.executions.values()]);
      }
      if (this.queue.length === 0 && this.inFlightRedeliveries > 0) await new Promise((resolve) => setTimeout(resolve, Math.max(5, this.scale)));
    } while (this.queue.length > 0 || this.inFlightRedeliveries > 0 || known !== this.executions.size);
  }

  /** Every StartExecution of a request workflow (duplicates included), by execution name. */
  readonly requestStarts = new Map<string, number>();

  async startRequestWorkflow(input: RequestExecutionInput): Promise<{ executionName: string; started: boolean }> {
    const executionName = requestExecutionName(input.requestId, input.generation);
    this.requestStarts.set(executionName, (this.requestStarts.get(executionName) ?? 0) + 1);
    if (this.executions.has(executionName)) return { executionName, started: false };
    const execution = this.runExecution('request', executionName, input).then(async (result) => {
      if (result.status !== 'SUCCEEDED') result.cleanup = await this.emitStatusChange('request', executionName, input, result);
      return result;
    });
    this.executions.set(executionName, execution);
    void execution.then((result) => this.results.set(executionName, result));
    return { executionName, started: true };
  }

  /** Every StartExecution of a beacon workflow (duplicates included), by execution name. */
  readonly beaconStarts = new Map<string, number>();

  async startBeaconWorkflow(input: WorkflowInput): Promise<{ executionName: string; started: boolean }> {
    const executionName = workflowExecutionName(input.requestId, input.instanceId);
    this.beaconStarts.set(executionName, (this.beaconStarts.get(executionName) ?? 0) + 1);
    if (this.options.syntheticBeaconWorkflows && !this.executions.has(executionName)) {
      // Ends ok at once, recorded as RecordOutcome would (the final row and the request's counters, once).
      const done = this.rollouts
        .recordBeaconFinal(
          { requestId: input.requestId, instanceId: input.instanceId, state: 'ok', updatedAt: this.clock.now().toISOString(), ...(input.rollout ? { seq: input.rollout.seq } : {}) },
          { error: false, canary: input.rollout?.canary ?? false, okVersion: null },
        )
        .then((): ExecutionResult => ({ status: 'SUCCEEDED', output: null }));
      this.executions.set(executionName, done);
      return { executionName, started: true };
    }
    if (this.executions.has(executionName)) return { executionName, started: false };
    this.options.onExecution?.(input.instanceId, input.requestId, 'started');
    const execution = this.runExecution('beacon', executionName, input).then(async (result) => {
      if (result.status !== 'SUCCEEDED') result.cleanup = await this.emitStatusChange('beacon', executionName, input, result);
      return result;
    });
    this.executions.set(executionName, execution);
    void execution.then((result) => {
      this.results.set(executionName, result);
      this.options.onExecution?.(input.instanceId, input.requestId, result.status);
    });
    return { executionName, started: true };
  }

  /**
   * The definition the interpreter runs, with every time scaled: Task timeouts (never below the function's
   * own, scaled); Waits on a number of seconds in the state (SecondsPath) become waits until a timestamp the
   * twin computes from those seconds, scaled (`waitUntil` next to each `waitSeconds`, see `withScaledWait`);
   * the first wait of a poll loop starts from the send step's `waitUntil`.
   */
  private scaledDefinition(kind: MachineKind): Record<string, unknown> {
    const source = kind === 'beacon' ? this.workflow.definition : this.workflow.request.definition;
    const taskFunctions = kind === 'beacon' ? this.workflow.taskFunctions : this.workflow.request.taskFunctions;
    const definition = structuredClone(source) as { States: Record<string, Record<string, any>>; TimeoutSeconds?: number };
    const untilOf = (secondsPath: string) => secondsPath.replace(/waitSeconds$/, 'waitUntil');
    const commandOfPoll = new Map<string, string>();
    for (const state of Object.values(definition.States)) {
      if (state.Type === 'Wait' && typeof state.SecondsPath === 'string') {
        if (!state.SecondsPath.endsWith('.waitSeconds')) throw new Error(`the twin cannot scale the wait on ${state.SecondsPath}`);
        state.TimestampPath = untilOf(state.SecondsPath);
        delete state.SecondsPath;
      }
      if (state.Type === 'Task' && typeof state.Parameters?.['poll.$'] === 'string') commandOfPoll.set(state.Parameters['poll.$'], state.Parameters['command.$']);
    }
    for (const state of Object.values(definition.States)) {
      if (state.Type !== 'Pass') continue;
      if (state.Result && typeof state.Result.waitSeconds === 'number' && commandOfPoll.has(state.ResultPath)) {
        // StartXPolling: the first wait ends when the send step said (its waitUntil).
        const { Result: result } = state;
        delete state.Result;
        state.Parameters = { ...result, 'waitUntil.$': `${commandOfPoll.get(state.ResultPath)}.waitUntil` };
      } else if (state.Parameters && [...commandOfPoll.values()].includes(state.ResultPath)) {
        // XSendUnconfirmed: no send answer, the poll loop looks at once.
        state.Parameters = { ...state.Parameters, 'waitUntil.$': '$$.Execution.StartTime' };
      }
    }
    for (const [name, state] of Object.entries(definition.States)) {
      if (state.Type !== 'Task' || typeof state.TimeoutSeconds !== 'number') continue;
      if (kind === 'request' && OPERATOR_WAIT_STATES.includes(name)) {
        // The wait (the twin's token, scaled) ends it; the interpreter has no $$.Task.Token.
        state.TimeoutSeconds = 2_000_000; // under setTimeout's 2^31 ms
        const { 'taskToken.$': _token, ...payload } = state.Parameters.Payload as Record<string, unknown>;
        state.Parameters = { ...state.Parameters, Payload: { ...payload, taskToken: 'twin' } };
        continue;
      }
      const fn = taskFunctions[name]!;
      const fnMs = this.functionTimeoutMs(fn);
      state.TimeoutSeconds = Math.max(state.TimeoutSeconds * this.scale, (fnMs * state.TimeoutSeconds) / fn.timeoutSeconds) / 1000;
    }
    // Retries wait as Step Functions' do: each retrier's series (IntervalSeconds, BackoffRate, MaxDelaySeconds),
    // scaled like every wait; the interpreter draws each wait between 0 and the series value when
    // JitterStrategy is FULL (as deployed), or waits the series value itself when the twin runs without jitter.
    for (const state of Object.values(definition.States)) {
      for (const retrier of (state.Retry ?? []) as Array<Retrier & { JitterStrategy?: string }>) {
        retrier.IntervalSeconds = (retrier.IntervalSeconds ?? 1) * (this.scale / 1000);
        if (retrier.MaxDelaySeconds !== undefined) retrier.MaxDelaySeconds *= this.scale / 1000;
        if (!this.options.retryJitter) delete retrier.JitterStrategy;
      }
    }
    // The execution timeout is enforced by the twin (see runExecution), scaled.
    delete definition.TimeoutSeconds;
    return definition;
  }

  private async runExecution(kind: MachineKind, executionName: string, input: WorkflowInput | RequestExecutionInput): Promise<ExecutionResult> {
    const scale = this.scale;
    const source = kind === 'beacon' ? this.workflow.definition : this.workflow.request.definition;
    const taskFunctions = kind === 'beacon' ? this.workflow.taskFunctions : this.workflow.request.taskFunctions;
    const tasks = kind === 'beacon' ? this.tasks : this.requestTasks;
    const instanceId = 'instanceId' in input ? input.instanceId : '';
    // Validated once per twin (validating costs ~100 ms of CPU, more than the rest of an execution); the
    // scaled copy has fractional timeouts, which the validator would refuse.
    if (kind === 'beacon' && !this.machine) {
      new StateMachine(source as never, { validationOptions: { checkArn: false } });
      this.machine = new StateMachine(this.scaledDefinition(kind) as never, { validationOptions: { noValidate: true } });
    }
    if (kind === 'request' && !this.requestMachine) {
      new StateMachine(source as never, { validationOptions: { checkArn: false } });
      this.requestMachine = new StateMachine(this.scaledDefinition(kind) as never, { validationOptions: { noValidate: true } });
    }
    const machine = (kind === 'beacon' ? this.machine : this.requestMachine)!;
    const waitTimeOverrides: Record<string, number> = {};
    for (const [name, state] of Object.entries(source.States)) {
      if (state.Type === 'Wait' && typeof state.Seconds === 'number') waitTimeOverrides[name] = Math.max(1, Math.round(state.Seconds * scale));
    }
    let stop: ((status: 'ABORTED' | 'TIMED_OUT' | 'FAILED', error?: string, cause?: string) => void) | undefined;
    let ended: { status: 'ABORTED' | 'TIMED_OUT' | 'FAILED'; error?: string; cause?: string } | null = null;
    const faultCount = new Map<string, number>();
    const taskResourceLocalHandlers: Record<string, (input: JSONValue) => Promise<JSONValue>> = {};
    for (const [stateName, handler] of Object.entries(tasks)) {
      // An operator wait enforces its function's timeout and its own wait itself.
      const timeoutMs = kind === 'request' && OPERATOR_WAIT_STATES.includes(stateName) ? 2 ** 31 - 1 : this.functionTimeoutMs(taskFunctions[stateName]!);
      const memoryMb = taskFunctions[stateName]!.memoryMb;
      const fault = this.options.faults?.find((f) => f.state === stateName && (!f.instanceId || f.instanceId === instanceId));
      taskResourceLocalHandlers[stateName] = (async (stateInput: unknown) => {
        // Lets the state-size check of the previous state land first (it runs on the event log).
        await new Promise((resolve) => setImmediate(resolve));
        if (ended) throw new UncatchableError(ended.error ?? 'States.Runtime', 'the execution has ended');
        this.options.onState?.(instanceId, input.requestId, stateName);
        const count = (faultCount.get(stateName) ?? 0) + 1;
        faultCount.set(stateName, count);
        const inject = fault && (fault.fault === 'throttle' || count === 1) ? fault.fault : null;
        if (inject === 'throttle') {
          this.taskLog.push({ execution: executionName, state: stateName, outcome: 'fault', error: 'ThrottledError' });
          throw new ThrottledError(`ThrottlingException: Rate exceeded (injected into ${stateName})`);
        }
        const deadline = Date.now() + timeoutMs;
        const context: LambdaTime = { getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()), memoryLimitInMB: String(memoryMb) };
        const run = (async () => {
          const result = await handler(stateInput, context);
          if (inject === 'error') throw new Error(`injected failure of ${stateName} after its handler ran`);
          // Hangs after its work: the answer never comes back.
          if (inject === 'timeout') await new Promise(() => undefined);
          return result;
        })();
        try {
          const result = this.withScaledWait(await withTimeout(run, timeoutMs, stateName, () => new SandboxTimedOut(JSON.stringify({ errorMessage: `${stateName}: Task timed out after ${(timeoutMs / scale).toFixed(2)} seconds` }))));
          this.taskLog.push({ execution: executionName, state: stateName, outcome: 'ok' });
          const interrupt = this.options.interruptAfter;
          if (!this.interrupted && interrupt && interrupt.state === stateName && interrupt.instanceId === instanceId) {
            this.interrupted = true;
            stop?.('ABORTED');
          }
          return result as JSONValue;
        } catch (error) {
          this.taskLog.push({ execution: executionName, state: stateName, outcome: error instanceof SandboxTimedOut ? 'timeout' : 'error', error: (error as Error).name });
          throw error;
        }
      }) as (input: JSONValue) => Promise<JSONValue>;
    }
    const run = machine.run(input as never, {
      overrides: { taskResourceLocalHandlers, waitTimeOverrides },
      noThrowOnAbort: true,
      context: {
        Execution: { Id: `arn:aws:states:local-1:000000000000:execution:${kind === 'beacon' ? 'BeaconWorkflow' : 'RequestRollout'}:${executionName}`, Name: executionName, Input: input as never, StartTime: new Date().toISOString() },
      },
    });
    stop = (status, error, cause) => {
      if (ended) return;
      ended = { status, ...(error ? { error } : {}), ...(cause ? { cause } : {}) };
      run.abort();
    };
    // The state machine timeout, scaled.
    const machineTimeoutSeconds = kind === 'beacon' ? this.workflow.timing.stateMachineTimeoutSeconds : this.workflow.request.timing.stateMachineTimeoutSeconds;
    const timer = setTimeout(() => stop?.('TIMED_OUT', 'States.Timeout'), Math.min(2 ** 31 - 1, machineTimeoutSeconds * scale));
    // The 256 KB limit on every state's input and output: over it, the execution fails uncatchably.
    void (async () => {
      for await (const event of run.eventLogs) {
        if (event.type !== 'StateEntered' && event.type !== 'StateExited') continue;
        const data = event.type === 'StateExited' ? event.state.output : event.state.input;
        const bytes = Buffer.byteLength(JSON.stringify(data ?? null), 'utf8');
        if (bytes > STATE_PAYLOAD_LIMIT_BYTES) {
          stop?.('FAILED', 'States.DataLimitExceeded', `The state/task '${event.state.name}' returned a result with a size exceeding the maximum number of bytes service limit (${bytes} bytes).`);
        }
      }
    })().catch(() => undefined);
    try {
      const output = (await run.result) as WorkflowState | null;
      if (ended !== null) {
        const { status, error, cause } = ended as { status: 'ABORTED' | 'TIMED_OUT' | 'FAILED'; error?: string; cause?: string };
        return { status, output: null, ...(error ? { error } : {}), ...(cause ? { cause } : {}) };
      }
      return { status: 'SUCCEEDED', output };
    } catch (error) {
      if (ended !== null) {
        const { status, error: name, cause } = ended as { status: 'ABORTED' | 'TIMED_OUT' | 'FAILED'; error?: string; cause?: string };
        return { status, output: null, ...(name ? { error: name } : {}), ...(cause ? { cause } : {}) };
      }
      // The workflow's own Fail states end a beacon that was not configured, or a finally that did not complete.
      const failure = (error as { cause?: { name?: string; message?: string } }).cause;
      const designed = failure?.name !== undefined && this.failStateErrors.has(failure.name);
      return designed
        ? { status: 'FAILED', output: null, error: failure!.name!, ...(failure?.message ? { cause: failure.message } : {}) }
        : { status: 'FAILED', output: null, error: `unexpected: ${(error as Error).message}` };
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Adds the scaled end of the wait a result asks for: `waitUntil` = now + waitSeconds (scaled); a send
   * result gets the end of the first poll wait.
   */
  private withScaledWait(result: unknown): unknown {
    if (!result || typeof result !== 'object') return result;
    const record = result as Record<string, unknown>;
    const seconds = typeof record.waitSeconds === 'number' ? record.waitSeconds : typeof record.comment === 'string' && typeof record.kind === 'string' ? this.workflow.timing.firstPollSeconds : null;
    return seconds === null ? result : { ...record, waitUntil: new Date(Date.now() + seconds * this.scale).toISOString() };
  }

  /** EventBridge: "Step Functions Execution Status Change" for an execution that did not succeed, to the cleanup function when the rule's pattern matches. */
  private async emitStatusChange(kind: MachineKind, executionName: string, input: WorkflowInput | RequestExecutionInput, result: ExecutionResult): Promise<CleanupResult | RequestCleanupResult | { error: string } | undefined> {
    const machineName = kind === 'beacon' ? 'BeaconWorkflow' : 'RequestRollout';
    const event = {
      version: '0',
      id: `local-${executionName}`,
      'detail-type': EXECUTION_STATUS_CHANGE,
      source: 'aws.states',
      account: '000000000000',
      time: new Date().toISOString(),
      region: 'local-1',
      resources: [],
      detail: {
        executionArn: `arn:aws:states:local-1:000000000000:execution:${machineName}:${executionName}`,
        stateMachineArn: `arn:aws:states:local-1:000000000000:stateMachine:${machineName}`,
        name: executionName,
        status: result.status,
        input: JSON.stringify(input),
        error: result.error ?? null,
        cause: result.cause ?? null,
        stopDate: Date.now(),
      },
    };
    // The rule is scoped to the stack's two state machines (tokens in the template): here both are.
    const pattern = structuredClone(this.workflow.cleanup.eventPattern) as { detail?: Record<string, unknown> };
    if (pattern.detail) delete pattern.detail.stateMachineArn;
    if (!matchesEventPattern(pattern, event)) return undefined;
    const timeoutMs = this.functionTimeoutMs(this.workflow.cleanup.function);
    // EventBridge retries a failed target; the twin tries three times.
    let lastError = '';
    for (let attempt = 0; attempt < 3; attempt += 1) {
      try {
        const deadline = Date.now() + timeoutMs;
        return await withTimeout(this.cleanup(event as ExecutionStatusEvent, { getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()) }), timeoutMs, 'the cleanup function');
      } catch (error) {
        lastError = (error as Error).message;
      }
    }
    return { error: lastError };
  }

  /** Everything in the state table, as the old in-memory store held it (for `npm start`'s report and tests). */
  async dump(): Promise<{ requests: RequestRecord[]; beacons: BeaconStatusRecord[]; audit: AuditEvent[] }> {
    const items = await this.dynamo.scan(this.dynamo.tables.state);
    const strip = <T>(item: Record<string, unknown>): T => {
      const { pk: _pk, sk: _sk, [BEACON_HISTORY_INDEX.partitionKey]: _beacon, [BEACON_HISTORY_INDEX.sortKey]: _at, ...rest } = item;
      return rest as T;
    };
    const of = (prefix: string) => items.filter((item) => String(item.pk).startsWith('REQ#') && String(item.sk).startsWith(prefix));
    return {
      requests: of('REQUEST').map((item) => strip<RequestRecord>(item)),
      beacons: of('BEACON#').map((item) => strip<BeaconStatusRecord>(item)),
      audit: of('AUDIT#').map((item) => strip<AuditEvent>(item)),
    };
  }

  async saveStore(): Promise<string> {
    const file = join(this.options.workDir, 'store.json');
    const dump = { ...(await this.dump()), deadLetters: this.deadLetters };
    await writeFile(file, `${JSON.stringify(dump, null, 2)}\n`);
    return file;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.executions.values()]);
    await this.ssm.settle();
    this.ssm.close();
    await this.fnms.stop();
    await this.slack.stop();
    await this.dynamo.close();
  }
}

/** The twin's notification topic. */
export const LOCAL_TOPIC_ARN = 'arn:aws:sns:local-1:000000000000:beacon-proxy-outcomes';

export interface PublishedMessage {
  topicArn: string;
  subject: string | undefined;
  message: Record<string, unknown>;
  attributes: Record<string, string>;
}

/** SNS as the notifier uses it: Publish, recorded. */
function recordingSns(published: PublishedMessage[]): SNSClient {
  return {
    send: async (command: PublishCommand) => {
      const input = command.input;
      published.push({
        topicArn: input.TopicArn ?? '',
        subject: input.Subject,
        message: JSON.parse(input.Message ?? '{}') as Record<string, unknown>,
        attributes: Object.fromEntries(Object.entries(input.MessageAttributes ?? {}).map(([name, value]) => [name, value.StringValue ?? ''])),
      });
      return { MessageId: `local-${published.length}` };
    },
  } as unknown as SNSClient;
}

/** Records every notify call (what tests read as `twin.notifier.sent`) and delivers it with the product's notifier. */
export class RecordingNotifier implements Notifier {
  readonly sent: Array<{ outcome: Outcome; replyTo?: ReplyTo }> = [];
  constructor(private readonly delivery: Notifier) {}
  async notify(outcome: Outcome, replyTo?: ReplyTo): Promise<void> {
    this.sent.push({ outcome: structuredClone(outcome), ...(replyTo ? { replyTo } : {}) });
    await this.delivery.notify(outcome, replyTo);
  }
}

/** The Lambda context a handler gets: its remaining time (the scaled timeout of the template) and its memory. */
interface LambdaTime {
  getRemainingTimeInMillis(): number;
  memoryLimitInMB?: string;
}

/** Resolves or rejects with `promise`, or rejects after `ms` (the Lambda runtime stopping a function). */
function withTimeout<T>(promise: Promise<T>, ms: number, what: string, error: () => Error = () => new SandboxTimedOut(`${what} timed out after ${ms} ms`)): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(error()), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function localContext(timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'beacon-proxy-intake-local',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:local-1:000000000000:function:beacon-proxy-intake-local',
    memoryLimitInMB: '512',
    awsRequestId: `local-${Date.now()}-${Math.random().toString(16).slice(2)}`,
    logGroupName: 'local',
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

export { FAIL_ERRORS };
