/**
 * The local twin: the pipeline that deploys to AWS, run on one machine. The request enters a local queue
 * and the real intake handler; each beacon's workflow is the state machine CDK synthesizes, run by
 * aws-local-stepfunctions with every Task state mapped to the real handler in-process; SSM is a shim that
 * runs the real generated document PowerShell under pwsh against modelled beacons; FNMS is the stub HTTP
 * server; status and audit live in the in-memory store behind the same RequestStore port.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { StateMachine } from 'aws-local-stepfunctions';

type JSONValue = Parameters<StateMachine['run']>[0];
import { BEACON_DOCUMENTS, type BeaconDocumentKind } from '../lambdas/core/document-contract.js';
import { createFnmsClient } from '../lambdas/core/fnms/index.js';
import {
  type Clock,
  type ReplyTo,
  type RequestQueue,
  type RequestSource,
  type WorkflowInput,
  type WorkflowStarter,
  workflowExecutionName,
} from '../lambdas/core/ports.js';
import { createIntakeHandler } from '../lambdas/intake/handler.js';
import { MESSAGE_ATTRIBUTES } from '../lambdas/intake/message-attributes.js';
import { MemoryBeaconLock, MemoryFleetMemory, MemoryNotifier, MemoryProfileStore, MemoryRequestStore } from '../lambdas/memory/ports.js';
import { type DriftCheckResult, createDriftCheckHandler } from '../lambdas/drift-check/handler.js';
import { type NewBeaconResult, createNewBeaconHandler } from '../lambdas/new-beacon/handler.js';
import { createAcquireLockHandler } from '../lambdas/acquire-lock/handler.js';
import { createJudgeResultHandler } from '../lambdas/judge-result/handler.js';
import { createNotifyRequesterHandler } from '../lambdas/notify-requester/handler.js';
import { createPinVersionHandler } from '../lambdas/pin-version/handler.js';
import { createPollCommandHandler } from '../lambdas/poll-command/handler.js';
import { createRecordOutcomeHandler } from '../lambdas/record-outcome/handler.js';
import { createReleaseLockHandler } from '../lambdas/release-lock/handler.js';
import { createResolveTargetHandler } from '../lambdas/resolve-target/handler.js';
import { createSendCommandHandler } from '../lambdas/send-command/handler.js';
import type { WorkflowState } from '../lambdas/workflow/state.js';
import { StackConfigSchema } from '../infra/config.js';
import { TASK_STATE_HANDLERS, WORKFLOW_TIMING, type WorkflowHandlerId } from '../infra/workflow-states.js';
import { type FnmsStub, type FnmsStubOptions, STUB_REFRESH_TOKEN, startFnmsStub } from './fnms-stub.js';
import type { Fleet } from './fleet.js';
import { type DocumentExecutor, LocalSsm, type ShimLimits } from './ssm-shim.js';
import { runBeaconDocument } from './run-document.js';
import { type Retrier, retryDelaysSeconds } from '../infra/workflow-definition.js';
import { loadProfiles } from './profiles.js';
import { loadWorkflow, type SynthesizedWorkflow } from './workflow-definition.js';

/** The profile the twin's new-beacon and drift triggers apply (examples/profiles/corp-https.json). */
export const DEFAULT_PROFILE = 'corp-https';

const STACK_DEFAULTS = StackConfigSchema.parse({});

/** The beacon tag the stack's IAM condition and the resolve step require (the stack's default); the built-in fleet carries it. */
export const LOCAL_BEACON_TAG = { key: STACK_DEFAULTS.beaconTagKey, value: STACK_DEFAULTS.beaconTagValue } as const;

export interface TwinOptions {
  fleet: Fleet;
  /** Where captures, the store dump and transcripts go. */
  workDir: string;
  /** Runs documents on beacons; default: the real PowerShell against each beacon's model. */
  executor?: DocumentExecutor;
  limits?: ShimLimits;
  fnms?: FnmsStubOptions;
  /** Milliseconds that stand for one second of the workflow's waits (polls, busy retries). Default 20. */
  msPerSecond?: number;
  /**
   * Spread each execution's retry interval uniformly over 0.5-1.5x the mean (benchmarks): without it a
   * throttled fleet retries in lockstep, which Step Functions' full jitter prevents in AWS. Default off.
   */
  retryJitter?: boolean;
  clock?: Clock;
  /** Called for every Task state a workflow enters, for progress display. */
  onState?: (instanceId: string, requestId: string, state: string) => void;
  /** Called when a workflow starts and when it ends. */
  onExecution?: (instanceId: string, requestId: string, event: 'started' | ExecutionStatus) => void;
  /** Named profiles for chat commands and the new-beacon/drift triggers; default examples/profiles/. */
  profiles?: Record<string, Record<string, unknown>>;
  /** The profile new and drifted beacons get (the stack's default profile). */
  defaultProfile?: string;
  /** Deliver queued messages as soon as they arrive (serve mode); otherwise `drain()` delivers. */
  autoDeliver?: boolean;
  /**
   * The beacons' network (local/http-proxy.ts): environment for the fake layer (BEACON_PROXY_HOSTS maps the
   * requests' proxy names to a real local proxy) and the FNMS stub path every configure run probes through it.
   */
  beaconNetwork?: { env: Record<string, string>; probePath: string };
  /** Test hook: stop the first execution that completes this Task state on this beacon, dead (simulates a crash). */
  interruptAfter?: { state: string; instanceId: string };
}

export type ExecutionStatus = 'SUCCEEDED' | 'FAILED' | 'ABORTED';

export interface ExecutionResult {
  status: ExecutionStatus;
  /** The final workflow state (SUCCEEDED only; a failed execution's data is in the store). */
  output: WorkflowState | null;
  /** For FAILED: the error of the Fail state that ended it, or the unexpected error. */
  error?: string;
}

interface QueuedMessage {
  messageId: string;
  body: string;
  source: RequestSource;
  replyTo?: ReplyTo;
  receiveCount: number;
}

export const MAX_RECEIVE_COUNT = 3;

export class LocalTwin implements WorkflowStarter {
  readonly store = new MemoryRequestStore();
  readonly lock: MemoryBeaconLock;
  readonly ssm: LocalSsm;
  /** What the requester was told, including chat answers a deployed stack would POST to Slack. */
  readonly notifier = new MemoryNotifier();
  readonly queue: QueuedMessage[] = [];
  readonly deadLetters: QueuedMessage[] = [];
  readonly executions = new Map<string, Promise<ExecutionResult>>();
  readonly results = new Map<string, ExecutionResult>();
  private messageCounter = 0;
  private readonly clock: Clock;
  private readonly intake: ReturnType<typeof createIntakeHandler>;
  private readonly tasks: Record<string, (input: unknown) => Promise<unknown>>;
  /** What the triggers remember (beacons seen, the last drift pass). */
  readonly fleetMemory = new MemoryFleetMemory();
  readonly profiles: MemoryProfileStore;
  /** The scheduled drift check: reviews the previous verify pass (re-applying where checks fail), then sends the next. */
  readonly driftCheck: () => Promise<DriftCheckResult>;
  /** The scheduled new-beacon poll: FNMS beacons matched to managed instances by computer name get the default profile. */
  readonly newBeaconPoll: () => Promise<NewBeaconResult>;
  private readonly failStateErrors: Set<string>;
  private machine: StateMachine | undefined;

  private constructor(
    private readonly options: TwinOptions,
    readonly fnms: FnmsStub,
    private readonly workflow: SynthesizedWorkflow,
  ) {
    this.clock = options.clock ?? { now: () => new Date() };
    this.lock = new MemoryBeaconLock(this.clock);
    const captureDir = join(options.workDir, 'captures');
    const executor: DocumentExecutor =
      options.executor ??
      (async (beacon, kind, parameters) =>
        runBeaconDocument({ document: kind, parameters, modelPath: beacon.modelPath, env: { BEACON_PROXY_CAPTURE_DIR: join(captureDir, beacon.instanceId), ...options.beaconNetwork?.env } }));
    this.ssm = new LocalSsm(options.fleet, executor, options.limits);
    this.intake = createIntakeHandler({ store: this.store, commands: this.ssm, workflows: this, notifier: this.notifier, clock: this.clock });
    const documentNames = { ...BEACON_DOCUMENTS } as Record<BeaconDocumentKind, string>;
    // The stub shares this process's event loop: under a large fleet a short timeout would fire on loop
    // delay, not on FNMS, and its retries would feed the load (waits stay short, the stub is local).
    const fnmsClient = createFnmsClient(fnms.clientConfig('refreshToken', { baseDelayMs: 20, maxDelayMs: 200, timeoutMs: 60_000 }), {
      getSecret: async () => options.fnms?.refreshToken ?? STUB_REFRESH_TOKEN,
    });
    this.profiles = new MemoryProfileStore(options.profiles ?? {});
    const triggerDeps = {
      commands: this.ssm,
      memory: this.fleetMemory,
      profiles: this.profiles,
      queue: this.requestQueue,
      beaconTag: LOCAL_BEACON_TAG,
      defaultProfile: options.defaultProfile ?? DEFAULT_PROFILE,
    };
    const drift = createDriftCheckHandler({ ...triggerDeps, clock: this.clock, verifyDocumentName: BEACON_DOCUMENTS.verify, checkEndpoint: 'none' });
    this.driftCheck = () => drift();
    const newBeacon = createNewBeaconHandler({ ...triggerDeps, fnms: fnmsClient });
    this.newBeaconPoll = () => newBeacon({ source: 'beacon-proxy.schedule' });
    const handlers: Record<WorkflowHandlerId, (input: never) => Promise<unknown>> = {
      ResolveTargetFn: createResolveTargetHandler({ commands: this.ssm, beaconTag: LOCAL_BEACON_TAG }),
      AcquireLockFn: createAcquireLockHandler({ lock: this.lock, store: this.store, clock: this.clock, ttlSeconds: WORKFLOW_TIMING.lockTtlSeconds }),
      SendCommandFn: createSendCommandHandler({
        commands: this.ssm,
        store: this.store,
        clock: this.clock,
        documentNames,
        probeUrl: options.beaconNetwork ? `${fnms.url}${options.beaconNetwork.probePath}` : null,
      }),
      PollCommandFn: createPollCommandHandler({
        commands: this.ssm,
        clock: this.clock,
        timeoutSeconds: WORKFLOW_TIMING.commandTimeoutSeconds,
        firstPollSeconds: 1,
        maxPollSeconds: 5,
      }),
      JudgeResultFn: createJudgeResultHandler(),
      PinVersionFn: createPinVersionHandler({ fnms: fnmsClient, store: this.store, clock: this.clock }),
      ReleaseLockFn: createReleaseLockHandler({ lock: this.lock }),
      RecordOutcomeFn: createRecordOutcomeHandler({ store: this.store, clock: this.clock }),
      NotifyRequesterFn: createNotifyRequesterHandler({ notifier: this.notifier }),
    };
    this.failStateErrors = new Set(
      Object.values(workflow.definition.States)
        .filter((state) => state.Type === 'Fail' && typeof state.Error === 'string')
        .map((state) => state.Error as string),
    );
    this.tasks = {};
    for (const [stateName, handlerId] of Object.entries(TASK_STATE_HANDLERS)) {
      const handler = handlers[handlerId] as (input: unknown) => Promise<unknown>;
      this.tasks[stateName] = handler;
    }
  }

  static async create(options: TwinOptions): Promise<LocalTwin> {
    const [fnms, workflow, profiles] = await Promise.all([startFnmsStub(options.fnms ?? {}), loadWorkflow(), options.profiles ?? loadProfiles()]);
    options = { ...options, profiles };
    await mkdir(options.workDir, { recursive: true });
    return new LocalTwin(options, fnms, workflow);
  }

  /** The intake queue as the API, ChatOps and new-beacon handlers see it (the RequestQueue port). */
  readonly requestQueue: RequestQueue = {
    enqueue: async (request, meta) => {
      this.submit(request, meta);
      if (this.options.autoDeliver) this.kick();
    },
  };

  private delivering: Promise<void> | null = null;
  private interrupted = false;

  private kick(): void {
    this.delivering ??= this.deliver().finally(() => {
      this.delivering = null;
      if (this.queue.length > 0) this.kick();
    });
  }

  /** Puts a request on the local intake queue, as SQS, the API, ChatOps or the new-beacon trigger would. */
  submit(request: unknown, meta: { source?: RequestSource; replyTo?: ReplyTo } = {}): string {
    this.messageCounter += 1;
    const messageId = `local-msg-${this.messageCounter.toString().padStart(6, '0')}`;
    this.queue.push({
      messageId,
      body: typeof request === 'string' ? request : JSON.stringify(request),
      source: meta.source ?? 'local',
      replyTo: meta.replyTo,
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
          SentTimestamp: String(Date.now()),
          SenderId: 'local',
          ApproximateFirstReceiveTimestamp: String(Date.now()),
        },
        messageAttributes: {
          [MESSAGE_ATTRIBUTES.source]: { stringValue: message.source, dataType: 'String', stringListValues: [], binaryListValues: [] },
          ...(message.replyTo
            ? { [MESSAGE_ATTRIBUTES.replyTo]: { stringValue: JSON.stringify(message.replyTo), dataType: 'String', stringListValues: [], binaryListValues: [] } }
            : {}),
        },
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:local-1:000000000000:beacon-proxy-intake',
        awsRegion: 'local-1',
      })),
    };
  }

  /** Delivers queued messages to the intake handler (batches of 10) until the queue is empty; failed messages are redelivered, then dead-lettered. */
  async deliver(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, 10);
      for (const message of batch) message.receiveCount += 1;
      const response = (await this.intake(this.sqsEvent(batch), localContext())) as SQSBatchResponse;
      const failed = new Set(response.batchItemFailures.map((failure) => failure.itemIdentifier));
      for (const message of batch) {
        if (!failed.has(message.messageId)) continue;
        if (message.receiveCount >= MAX_RECEIVE_COUNT) this.deadLetters.push(message);
        else this.queue.push(message);
      }
    }
  }

  /** Delivers everything and waits until every workflow started so far has ended. */
  async drain(): Promise<void> {
    do {
      await this.deliver();
      await Promise.all([...this.executions.values()]);
    } while (this.queue.length > 0);
  }

  async startBeaconWorkflow(input: WorkflowInput): Promise<{ executionName: string; started: boolean }> {
    const executionName = workflowExecutionName(input.requestId, input.instanceId);
    if (this.executions.has(executionName)) return { executionName, started: false };
    this.options.onExecution?.(input.instanceId, input.requestId, 'started');
    const execution = this.runExecution(executionName, input);
    this.executions.set(executionName, execution);
    void execution.then((result) => {
      this.results.set(executionName, result);
      this.options.onExecution?.(input.instanceId, input.requestId, result.status);
    });
    return { executionName, started: true };
  }

  private async runExecution(executionName: string, input: WorkflowInput): Promise<ExecutionResult> {
    const scale = this.options.msPerSecond ?? 20;
    // Validated once per twin: validating the definition costs ~100 ms of CPU, more than the rest of an execution.
    const machine = (this.machine ??= new StateMachine(this.workflow.definition as never, { validationOptions: { checkArn: false } }));
    const waitTimeOverrides: Record<string, number> = {};
    const retryIntervalOverrides: Record<string, number[]> = {};
    for (const [name, state] of Object.entries(this.workflow.definition.States)) {
      if (state.Type === 'Wait') waitTimeOverrides[name] = waitMs(state, scale);
      const retry = state.Retry as Retrier[] | undefined;
      // The interpreter takes one interval per retrier; the mean of its backoff series keeps the total wait of the deployed workflow, scaled.
      const jitter = this.options.retryJitter ? 0.5 + Math.random() : 1;
      if (retry) retryIntervalOverrides[name] = retry.map((r) => meanBackoffSeconds(r) * scale * jitter);
    }
    let abort: (() => void) | undefined;
    const taskResourceLocalHandlers: Record<string, (input: JSONValue) => Promise<JSONValue>> = {};
    for (const [stateName, handler] of Object.entries(this.tasks)) {
      taskResourceLocalHandlers[stateName] = (async (stateInput: unknown) => {
        this.options.onState?.(input.instanceId, input.requestId, stateName);
        const result = await handler(stateInput);
        const interrupt = this.options.interruptAfter;
        if (!this.interrupted && interrupt && interrupt.state === stateName && interrupt.instanceId === input.instanceId) {
          this.interrupted = true;
          abort?.();
        }
        return result as JSONValue;
      }) as (input: JSONValue) => Promise<JSONValue>;
    }
    const run = machine.run(input as never, {
      overrides: { taskResourceLocalHandlers, waitTimeOverrides, retryIntervalOverrides },
      noThrowOnAbort: true,
      context: {
        Execution: { Id: `arn:aws:states:local-1:000000000000:execution:BeaconWorkflow:${executionName}`, Name: executionName, Input: input as never, StartTime: new Date().toISOString() },
      },
    });
    let aborted = false;
    abort = () => {
      aborted = true;
      run.abort();
    };
    try {
      const output = (await run.result) as WorkflowState | null;
      return aborted ? { status: 'ABORTED', output: null } : { status: 'SUCCEEDED', output };
    } catch (error) {
      // The workflow's own Fail state ends a beacon that was not configured: a designed outcome, already
      // recorded and notified. Anything else is a defect of the workflow and is reported as such.
      const cause = (error as { cause?: { name?: string } }).cause;
      const designed = cause?.name !== undefined && this.failStateErrors.has(cause.name);
      return { status: 'FAILED', output: null, error: designed ? cause!.name! : `unexpected: ${(error as Error).message}` };
    }
  }

  async saveStore(): Promise<string> {
    const file = join(this.options.workDir, 'store.json');
    const dump = {
      requests: [...this.store.requests.values()],
      beacons: [...this.store.beacons.values()],
      audit: [...this.store.audit.values()],
      deadLetters: this.deadLetters,
    };
    await writeFile(file, `${JSON.stringify(dump, null, 2)}\n`);
    return file;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.executions.values()]);
    await this.ssm.settle();
    await this.fnms.stop();
  }
}

function waitMs(state: Record<string, unknown>, scale: number): number {
  const seconds = typeof state.Seconds === 'number' ? state.Seconds : 1;
  return Math.max(1, Math.round(seconds * scale));
}

/** The interpreter takes one interval per retrier: the mean of its (capped) backoff series keeps the deployed workflow's total wait. */
function meanBackoffSeconds(retrier: Retrier): number {
  const delays = retryDelaysSeconds(retrier);
  return delays.length === 0 ? 0 : delays.reduce((sum, delay) => sum + delay, 0) / delays.length;
}

function localContext() {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'beacon-proxy-intake-local',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:local-1:000000000000:function:beacon-proxy-intake-local',
    memoryLimitInMB: '512',
    awsRequestId: `local-${Date.now()}`,
    logGroupName: 'local',
    logStreamName: 'local',
    getRemainingTimeInMillis: () => 60_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
