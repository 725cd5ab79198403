import { BEACON_DOCUMENTS, type BeaconDocumentKind } from '../lambdas/core/document-contract.js';
import {
  type BeaconCommands,
  type CommandInvocation,
  type DocumentParameters,
  type InstanceFilter,
  type ManagedInstance,
  type SendCommandOptions,
  ThrottledError,
} from '../lambdas/core/ports.js';
import { loadBeaconDocuments, scriptStep } from '../ssm-documents/documents.js';
import type { Fleet, FleetBeacon } from './fleet.js';

/** GetCommandInvocation returns only the start of the output (platform-facts: SSM Run Command). */
export const SSM_OUTPUT_LIMITS = { stdout: 24_000, stderr: 8_000 } as const;

/** SendCommand's TimeoutSeconds when the caller gives none (the SSM default). */
export const SSM_DEFAULT_DELIVERY_TIMEOUT_SECONDS = 3600;

export interface ExecutionResult {
  stdout: string;
  stderr: string;
  exitCode: number;
  /** A simulated script that ran into its execution limit (the agent stopped it): TimedOut / ExecutionTimedOut. */
  executionTimedOut?: boolean;
}

/** How the agent runs one script: `signal` aborts when the agent stops it (cancel, execution timeout); `timeoutMs` is what is left of the execution limit. */
export interface ExecutionControl {
  signal: AbortSignal;
  timeoutMs: number;
}

/** Runs one document on one simulated beacon: the real PowerShell, or a synthetic model for scale runs. */
export type DocumentExecutor = (beacon: FleetBeacon, kind: BeaconDocumentKind, parameters: Record<string, string>, control: ExecutionControl) => Promise<ExecutionResult>;

export interface ShimLimits {
  /** SendCommand calls allowed per second (token bucket, burst of one second); beyond: ThrottledError. */
  sendCommandPerSecond?: number;
  /** Invocations executing at once across the fleet; the rest wait as Pending. */
  maxConcurrentInvocations?: number;
  /** Modelled delivery latency before an invocation starts, in ms. */
  deliveryLatencyMs?: number;
  /** Real milliseconds that stand for one second of SSM's deadlines (delivery, execution, cancel). Default 1000. */
  msPerSecond?: number;
  /**
   * The execution limit never kills a script sooner than this (real ms): real PowerShell runs at its own
   * speed, so a scaled limit alone would stop healthy runs on a loaded machine. Default 0.
   */
  minExecutionMs?: number;
  /** Seconds (scaled) between CancelCommand and Cancelled for a command that had not started. Default 5. */
  cancelLatencySeconds?: number;
}

export type InvocationStatus = 'Pending' | 'InProgress' | 'Success' | 'Failed' | 'Cancelling' | 'Cancelled' | 'TimedOut';
const TERMINAL = new Set<InvocationStatus>(['Success', 'Failed', 'Cancelled', 'TimedOut']);

interface Invocation {
  commandId: string;
  instanceId: string;
  kind: BeaconDocumentKind;
  documentName: string;
  comment: string | null;
  parameters: Record<string, string>;
  status: InvocationStatus;
  statusDetails: string;
  stdout: string;
  stderr: string;
  sentAt: number;
  /** Real ms after which a command that has not started is never delivered. */
  deliverBy: number;
  startedAt: number | null;
  /** The agent picked the command up (it may still wait for a free slot of the twin). */
  picked: boolean;
  cancelRequested: boolean;
  abort: AbortController;
}

/** One script run on one beacon, start to end (real ms): what the chaos matrix checks for overlaps. */
export interface ExecutionRecord {
  commandId: string;
  instanceId: string;
  kind: BeaconDocumentKind;
  startedAt: number;
  endedAt: number;
  status: string;
  statusDetails: string;
}

/** An error as the SSM API names it, so adapters and handlers treat it like the real one. */
export class SsmApiError extends Error {
  constructor(
    override readonly name: string,
    message: string,
  ) {
    super(message);
  }
}

export function documentKind(documentName: string): BeaconDocumentKind {
  for (const [kind, name] of Object.entries(BEACON_DOCUMENTS) as Array<[BeaconDocumentKind, string]>) {
    if (documentName === name || documentName.startsWith(`${name}-`)) return kind;
  }
  throw new SsmApiError('InvalidDocument', `document ${documentName} does not exist in the local twin`);
}

let documentTimeouts: Record<BeaconDocumentKind, number> | undefined;
/** Each committed document's step timeoutSeconds: the execution limit the agent enforces. */
export function documentExecutionTimeoutSeconds(kind: BeaconDocumentKind): number {
  documentTimeouts ??= Object.fromEntries(
    Object.entries(loadBeaconDocuments()).map(([name, document]) => [name, Number(scriptStep(document).inputs.timeoutSeconds)]),
  ) as Record<BeaconDocumentKind, number>;
  return documentTimeouts[kind];
}

/**
 * SSM Run Command and the managed-instance inventory of a simulated fleet: the `BeaconCommands` port the
 * workflow handlers use, with the semantics the pipeline depends on:
 * - TimeoutSeconds is the delivery deadline: an instance offline until then never runs the command
 *   (TimedOut / DeliveryTimedOut); one that reconnects earlier runs whatever is still deliverable, several
 *   commands at once if several wait.
 * - The document's step timeoutSeconds is the execution limit: the agent stops a longer script (TimedOut /
 *   ExecutionTimedOut).
 * - CancelCommand is asynchronous: Cancelling first; a command that had not started becomes Cancelled
 *   without running; a running script is told to stop and may finish first, then Cancelled.
 * - The agent runs several commands on one instance at once (no queueing per instance).
 * Every script run is recorded per instance (`executions`) with its start and end.
 */
export class LocalSsm implements BeaconCommands {
  private readonly invocations = new Map<string, Map<string, Invocation>>();
  private readonly beacons: Map<string, FleetBeacon>;
  private readonly fleetIndex: Map<string, number>;
  private readonly online = new Map<string, boolean>();
  private commandCounter = 0;
  private tokens: number;
  private lastRefill = Date.now();
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly pending = new Set<Promise<void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** SendCommand calls made, for tests and benchmarks. */
  readonly sent: Array<{ commandId: string; instanceIds: string[]; kind: BeaconDocumentKind; at: number; comment: string | null; deliveryTimeoutSeconds: number }> = [];
  /** CancelCommand calls made. */
  readonly cancels: Array<{ commandId: string; instanceIds: string[]; at: number }> = [];
  /** Every script run on a beacon, start to end (real ms). */
  readonly executions: ExecutionRecord[] = [];
  throttled = 0;

  constructor(
    fleet: Fleet,
    private readonly execute: DocumentExecutor,
    private readonly limits: ShimLimits = {},
  ) {
    this.beacons = new Map(fleet.beacons.map((beacon) => [beacon.instanceId, beacon]));
    this.fleetIndex = new Map(fleet.beacons.map((beacon, index) => [beacon.instanceId, index]));
    for (const beacon of fleet.beacons) this.online.set(beacon.instanceId, beacon.pingStatus === 'Online');
    this.tokens = limits.sendCommandPerSecond ?? Number.POSITIVE_INFINITY;
  }

  /** Kept for callers of the former name: every script run with its start and end. */
  get history(): ExecutionRecord[] {
    return this.executions;
  }

  private ms(seconds: number): number {
    return seconds * (this.limits.msPerSecond ?? 1000);
  }

  private later(ms: number, action: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      action();
    }, Math.max(0, ms));
    this.timers.add(timer);
  }

  private takeToken(): boolean {
    const rate = this.limits.sendCommandPerSecond;
    if (rate === undefined) return true;
    const now = Date.now();
    this.tokens = Math.min(rate, this.tokens + ((now - this.lastRefill) / 1000) * rate);
    this.lastRefill = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Whether the instance's agent is connected now (ping status Online). */
  isOnline(instanceId: string): boolean {
    return this.online.get(instanceId) ?? false;
  }

  /** The agent loses its connection: nothing new is delivered until it reconnects. */
  disconnect(instanceId: string): void {
    this.online.set(instanceId, false);
  }

  /** The agent reconnects and starts every command still deliverable for it (several at once if several wait). */
  reconnect(instanceId: string): void {
    this.online.set(instanceId, true);
    for (const perInstance of this.invocations.values()) {
      const invocation = perInstance.get(instanceId);
      if (invocation && invocation.status === 'Pending' && !invocation.cancelRequested && Date.now() < invocation.deliverBy) this.deliver(invocation);
    }
  }

  /** The agent reconnects after `seconds` (scaled like every SSM deadline). */
  reconnectAfter(instanceId: string, seconds: number): void {
    this.disconnect(instanceId);
    this.later(this.ms(seconds), () => this.reconnect(instanceId));
  }

  async sendCommand(instanceIds: string[], documentName: string, parameters: DocumentParameters, options: SendCommandOptions = {}): Promise<string> {
    const kind = documentKind(documentName);
    if (instanceIds.length === 0 || instanceIds.length > 50) {
      throw new SsmApiError('ValidationException', 'SendCommand takes 1 to 50 instance ids');
    }
    for (const id of instanceIds) {
      if (!this.beacons.has(id)) throw new SsmApiError('InvalidInstanceId', `${id} is not a managed instance of this fleet`);
    }
    const deliveryTimeoutSeconds = options.deliveryTimeoutSeconds ?? SSM_DEFAULT_DELIVERY_TIMEOUT_SECONDS;
    if (!Number.isInteger(deliveryTimeoutSeconds) || deliveryTimeoutSeconds < 30 || deliveryTimeoutSeconds > 2_592_000) {
      throw new SsmApiError('ValidationException', `TimeoutSeconds ${deliveryTimeoutSeconds} is outside 30-2592000`);
    }
    if (options.comment !== undefined && options.comment.length > 100) throw new SsmApiError('ValidationException', 'Comment is longer than 100 characters');
    if (!this.takeToken()) {
      this.throttled += 1;
      throw new ThrottledError('ThrottlingException: Rate exceeded (SendCommand)');
    }
    const flat: Record<string, string> = {};
    for (const [name, values] of Object.entries(parameters)) flat[name] = values.join(',');
    this.commandCounter += 1;
    const commandId = `local-${this.commandCounter.toString().padStart(8, '0')}-${kind}`;
    const perInstance = new Map<string, Invocation>();
    this.invocations.set(commandId, perInstance);
    const now = Date.now();
    this.sent.push({ commandId, instanceIds: [...instanceIds], kind, at: now, comment: options.comment ?? null, deliveryTimeoutSeconds });
    for (const instanceId of instanceIds) {
      const invocation: Invocation = {
        commandId,
        instanceId,
        kind,
        documentName,
        comment: options.comment ?? null,
        parameters: flat,
        status: 'Pending',
        statusDetails: 'Pending',
        stdout: '',
        stderr: '',
        sentAt: now,
        deliverBy: now + this.ms(deliveryTimeoutSeconds),
        startedAt: null,
        picked: false,
        cancelRequested: false,
        abort: new AbortController(),
      };
      perInstance.set(instanceId, invocation);
      // SSM marks a command that was never delivered at its deadline.
      this.later(invocation.deliverBy - now, () => {
        if ((invocation.status === 'Pending' && !invocation.picked) || (invocation.status === 'Cancelling' && invocation.startedAt === null && !invocation.picked)) {
          this.finish(invocation, invocation.cancelRequested ? 'Cancelled' : 'TimedOut', invocation.cancelRequested ? 'Cancelled' : 'DeliveryTimedOut');
        }
      });
      if (this.isOnline(instanceId)) this.deliver(invocation);
    }
    return commandId;
  }

  private deliver(invocation: Invocation): void {
    const task = this.run(invocation);
    this.pending.add(task);
    void task.finally(() => this.pending.delete(task));
  }

  private finish(invocation: Invocation, status: InvocationStatus, details: string): void {
    invocation.status = status;
    invocation.statusDetails = details;
  }

  private async run(invocation: Invocation): Promise<void> {
    const latency = this.limits.deliveryLatencyMs ?? 0;
    if (latency > 0) await new Promise((resolve) => setTimeout(resolve, latency));
    // Picked up only while still deliverable, connected and not cancelled (another reconnect may have started it).
    if (invocation.status !== 'Pending' || invocation.picked || invocation.cancelRequested || !this.isOnline(invocation.instanceId) || Date.now() >= invocation.deliverBy) return;
    // Delivered: the agent has it. Waiting for the fleet-wide slot (the twin's CPU) no longer counts against delivery.
    invocation.picked = true;
    await this.slot();
    try {
      if (invocation.cancelRequested) return;
      const beacon = this.beacons.get(invocation.instanceId)!;
      const startedAt = Date.now();
      invocation.startedAt = startedAt;
      this.finish(invocation, 'InProgress', 'InProgress');
      const limitMs = Math.max(this.ms(documentExecutionTimeoutSeconds(invocation.kind)), this.limits.minExecutionMs ?? 0);
      let timedOut = false;
      const killer = setTimeout(() => {
        timedOut = true;
        invocation.abort.abort(new Error('execution timed out'));
      }, limitMs);
      const stopped = new Promise<'stopped'>((resolve) => invocation.abort.signal.addEventListener('abort', () => resolve('stopped'), { once: true }));
      let result: ExecutionResult | 'stopped';
      try {
        const run = this.execute(beacon, invocation.kind, invocation.parameters, { signal: invocation.abort.signal, timeoutMs: limitMs });
        // A timed-out script is stopped by the agent; a cancelled one is told to stop and may still finish.
        result = await Promise.race([run, stopped.then(async (value) => (timedOut ? value : run.catch(() => value)))]);
      } catch (error) {
        result = { stdout: '', stderr: `the local twin could not run the document: ${(error as Error).message}`, exitCode: 1 };
      } finally {
        clearTimeout(killer);
      }
      if (result !== 'stopped') {
        invocation.stdout = result.stdout;
        invocation.stderr = result.stderr;
      }
      if (timedOut || (result !== 'stopped' && result.executionTimedOut)) this.finish(invocation, 'TimedOut', 'ExecutionTimedOut');
      else if (invocation.cancelRequested) this.finish(invocation, 'Cancelled', 'Cancelled');
      else if (result !== 'stopped' && result.exitCode === 0) this.finish(invocation, 'Success', 'Success');
      else this.finish(invocation, 'Failed', 'Failed');
      this.executions.push({
        commandId: invocation.commandId,
        instanceId: invocation.instanceId,
        kind: invocation.kind,
        startedAt,
        endedAt: Date.now(),
        status: invocation.status,
        statusDetails: invocation.statusDetails,
      });
    } finally {
      this.running -= 1;
      this.waiting.shift()?.();
    }
  }

  private async slot(): Promise<void> {
    const max = this.limits.maxConcurrentInvocations ?? Number.POSITIVE_INFINITY;
    if (this.running < max) {
      this.running += 1;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running += 1;
  }

  async cancelCommand(commandId: string, instanceIds: string[]): Promise<void> {
    const perInstance = this.invocations.get(commandId);
    if (!perInstance) throw new SsmApiError('InvalidCommandId', `no command ${commandId}`);
    this.cancels.push({ commandId, instanceIds: [...instanceIds], at: Date.now() });
    for (const instanceId of instanceIds) {
      const invocation = perInstance.get(instanceId);
      if (!invocation || TERMINAL.has(invocation.status) || invocation.cancelRequested) continue;
      invocation.cancelRequested = true;
      const started = invocation.status === 'InProgress';
      this.finish(invocation, 'Cancelling', 'Cancelling');
      if (started) {
        // The agent tells the script to stop; the run settles the final status when the script ends.
        invocation.abort.abort(new Error('cancelled'));
      } else {
        this.later(this.ms(this.limits.cancelLatencySeconds ?? 5), () => {
          if (invocation.startedAt === null && invocation.status === 'Cancelling') this.finish(invocation, 'Cancelled', 'Cancelled');
        });
      }
    }
  }

  async findCommand(instanceId: string, documentName: string, comment: string): Promise<string | null> {
    const found = this.sent.find((command) => command.instanceIds.includes(instanceId) && command.comment === comment && this.invocations.get(command.commandId)?.get(instanceId)?.documentName === documentName);
    return found?.commandId ?? null;
  }

  async getInvocation(commandId: string, instanceId: string): Promise<CommandInvocation | null> {
    const invocation = this.invocations.get(commandId)?.get(instanceId);
    if (!invocation) return null;
    return {
      status: invocation.status,
      statusDetails: invocation.statusDetails,
      stdout: invocation.stdout.slice(0, SSM_OUTPUT_LIMITS.stdout),
      stderr: invocation.stderr.slice(0, SSM_OUTPUT_LIMITS.stderr),
      executionStartedAt: invocation.startedAt === null ? null : new Date(invocation.startedAt).toISOString(),
    };
  }

  async listInvocations(commandId: string): Promise<Array<{ instanceId: string; status: string }>> {
    return [...(this.invocations.get(commandId)?.values() ?? [])].map(({ instanceId, status }) => ({ instanceId, status }));
  }

  async findManagedInstances(filter: InstanceFilter): Promise<ManagedInstance[]> {
    // Look ids up instead of scanning the fleet: every workflow asks about its one beacon (O(fleet) per call made big fleets quadratic).
    const candidates = filter.instanceIds
      ? [...new Set(filter.instanceIds)].flatMap((id) => this.beacons.get(id) ?? []).sort((a, b) => this.fleetIndex.get(a.instanceId)! - this.fleetIndex.get(b.instanceId)!)
      : [...this.beacons.values()];
    return candidates
      .filter((beacon) => !filter.tag || beacon.tags[filter.tag.key] === filter.tag.value)
      .map((beacon) => ({
        instanceId: beacon.instanceId,
        computerName: beacon.computerName,
        platformType: beacon.platformType,
        // A beacon listed offline stays so; one whose agent disconnected here reports ConnectionLost.
        pingStatus: beacon.pingStatus !== 'Online' ? beacon.pingStatus : this.isOnline(beacon.instanceId) ? 'Online' : 'ConnectionLost',
      }));
  }

  /** DescribeInstanceInformation calls made (tag pages), for tests and benchmarks. */
  describeCalls = 0;

  /**
   * DescribeInstanceInformation with a tag filter, one page: MaxResults 5 to 50 as SSM allows, an opaque
   * token that a later call must hand back unchanged.
   */
  async listManagedInstancesPage(tag: { key: string; value: string }, nextToken: string | null, pageSize: number): Promise<{ instances: ManagedInstance[]; nextToken: string | null }> {
    if (!Number.isInteger(pageSize) || pageSize < 5 || pageSize > 50) throw new SsmApiError('ValidationException', 'MaxResults must be between 5 and 50');
    this.describeCalls += 1;
    let offset = 0;
    if (nextToken !== null) {
      const decoded = /^tag:(\d+):(.*)$/.exec(Buffer.from(nextToken, 'base64').toString('utf8'));
      if (!decoded || decoded[2] !== `${tag.key}=${tag.value}`) throw new SsmApiError('InvalidNextToken', 'the next token is not valid for this filter');
      offset = Number(decoded[1]);
    }
    this.tagged ??= new Map();
    const key = `${tag.key}=${tag.value}`;
    let matching = this.tagged.get(key);
    if (!matching) {
      matching = [...this.beacons.values()].filter((beacon) => beacon.tags[tag.key] === tag.value).map((beacon) => beacon.instanceId);
      this.tagged.set(key, matching);
    }
    const ids = matching.slice(offset, offset + pageSize);
    const instances = await this.findManagedInstances({ instanceIds: ids });
    const next = offset + pageSize < matching.length ? Buffer.from(`tag:${offset + pageSize}:${key}`).toString('base64') : null;
    return { instances, nextToken: next };
  }

  private tagged: Map<string, string[]> | undefined;

  /**
   * Pairs of script runs on one instance that overlapped in time, among the given document kinds
   * (default: configure and rollback, which must never run at once on a beacon).
   */
  overlaps(kinds: BeaconDocumentKind[] = ['configure', 'rollback']): Array<[ExecutionRecord, ExecutionRecord]> {
    const found: Array<[ExecutionRecord, ExecutionRecord]> = [];
    const runs = this.executions.filter((run) => kinds.includes(run.kind));
    for (let i = 0; i < runs.length; i += 1) {
      for (let j = i + 1; j < runs.length; j += 1) {
        const a = runs[i]!;
        const b = runs[j]!;
        if (a.instanceId === b.instanceId && a.startedAt < b.endedAt && b.startedAt < a.endedAt) found.push([a, b]);
      }
    }
    return found;
  }

  /** Resolves when every invocation sent so far has finished (for tests and orderly shutdown); pending deadlines are dropped. */
  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  /** Stops the shim's timers (delivery deadlines, reconnects) so a finished twin lets the process exit. */
  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}
