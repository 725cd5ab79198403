import { BEACON_DOCUMENTS, type BeaconDocumentKind } from '../lambdas/core/document-contract.js';
import {
  type BeaconCommands,
  type CommandInvocation,
  type DocumentParameters,
  type InstanceFilter,
  type ManagedInstance,
  ThrottledError,
} from '../lambdas/core/ports.js';
import type { Fleet, FleetBeacon } from './fleet.js';

/** GetCommandInvocation returns only the start of the output (platform-facts: SSM Run Command). */
export const SSM_OUTPUT_LIMITS = { stdout: 24_000, stderr: 8_000 } as const;

export interface ExecutionResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Runs one document on one simulated beacon: the real PowerShell, or a synthetic model for scale runs. */
export type DocumentExecutor = (beacon: FleetBeacon, kind: BeaconDocumentKind, parameters: Record<string, string>) => Promise<ExecutionResult>;

export interface ShimLimits {
  /** SendCommand calls allowed per second (token bucket, burst of one second); beyond: ThrottledError. */
  sendCommandPerSecond?: number;
  /** Invocations executing at once across the fleet; the rest wait as Pending. */
  maxConcurrentInvocations?: number;
  /** Modelled delivery latency before an invocation starts, in ms. */
  deliveryLatencyMs?: number;
}

interface Invocation {
  instanceId: string;
  status: string;
  stdout: string;
  stderr: string;
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

/**
 * SSM Run Command and the managed-instance inventory of a simulated fleet: the `BeaconCommands` port
 * the workflow handlers use, answered locally. Offline beacons never receive a command.
 */
export class LocalSsm implements BeaconCommands {
  private readonly invocations = new Map<string, Map<string, Invocation>>();
  private readonly beacons: Map<string, FleetBeacon>;
  private readonly fleetIndex: Map<string, number>;
  private commandCounter = 0;
  private tokens: number;
  private lastRefill = Date.now();
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly pending = new Set<Promise<void>>();
  /** SendCommand calls made, for tests and benchmarks. */
  readonly sent: Array<{ commandId: string; instanceIds: string[]; kind: BeaconDocumentKind; at: number }> = [];
  /** When each invocation ran on its beacon, for tests (serialization) and benchmarks. */
  readonly history: Array<{ commandId: string; instanceId: string; kind: BeaconDocumentKind; startedAt: number; endedAt: number; status: string }> = [];
  throttled = 0;

  constructor(
    fleet: Fleet,
    private readonly execute: DocumentExecutor,
    private readonly limits: ShimLimits = {},
  ) {
    this.beacons = new Map(fleet.beacons.map((beacon) => [beacon.instanceId, beacon]));
    this.fleetIndex = new Map(fleet.beacons.map((beacon, index) => [beacon.instanceId, index]));
    this.tokens = limits.sendCommandPerSecond ?? Number.POSITIVE_INFINITY;
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

  async sendCommand(instanceIds: string[], documentName: string, parameters: DocumentParameters, _comment?: string): Promise<string> {
    const kind = documentKind(documentName);
    if (instanceIds.length === 0 || instanceIds.length > 50) {
      throw new SsmApiError('ValidationException', 'SendCommand takes 1 to 50 instance ids');
    }
    for (const id of instanceIds) {
      if (!this.beacons.has(id)) throw new SsmApiError('InvalidInstanceId', `${id} is not a managed instance of this fleet`);
    }
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
    this.sent.push({ commandId, instanceIds: [...instanceIds], kind, at: Date.now() });
    for (const instanceId of instanceIds) {
      const invocation: Invocation = { instanceId, status: 'Pending', stdout: '', stderr: '' };
      perInstance.set(instanceId, invocation);
      const task = this.run(this.beacons.get(instanceId)!, kind, flat, invocation, commandId);
      this.pending.add(task);
      void task.finally(() => this.pending.delete(task));
    }
    return commandId;
  }

  private async run(beacon: FleetBeacon, kind: BeaconDocumentKind, parameters: Record<string, string>, invocation: Invocation, commandId: string): Promise<void> {
    const latency = this.limits.deliveryLatencyMs ?? 0;
    if (latency > 0) await new Promise((resolve) => setTimeout(resolve, latency));
    if (beacon.pingStatus !== 'Online') {
      invocation.status = 'DeliveryTimedOut';
      return;
    }
    await this.slot();
    invocation.status = 'InProgress';
    const startedAt = Date.now();
    try {
      const result = await this.execute(beacon, kind, parameters);
      invocation.stdout = result.stdout;
      invocation.stderr = result.stderr;
      invocation.status = result.exitCode === 0 ? 'Success' : 'Failed';
    } catch (error) {
      invocation.stderr = `the local twin could not run the document: ${(error as Error).message}`;
      invocation.status = 'Failed';
    } finally {
      this.history.push({ commandId, instanceId: beacon.instanceId, kind, startedAt, endedAt: Date.now(), status: invocation.status });
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

  async getInvocation(commandId: string, instanceId: string): Promise<CommandInvocation | null> {
    const invocation = this.invocations.get(commandId)?.get(instanceId);
    if (!invocation) return null;
    return {
      status: invocation.status,
      stdout: invocation.stdout.slice(0, SSM_OUTPUT_LIMITS.stdout),
      stderr: invocation.stderr.slice(0, SSM_OUTPUT_LIMITS.stderr),
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
        pingStatus: beacon.pingStatus,
      }));
  }

  /** Resolves when every invocation sent so far has finished (for tests and orderly shutdown). */
  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }
}
