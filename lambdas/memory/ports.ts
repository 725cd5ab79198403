/**
 * In-memory implementations of the ports: for handler tests and for the local twin. They keep the same
 * rules as the AWS adapters (first record wins, conditional lock, release safe twice).
 */
import type { BeaconBaseline } from '../core/baseline.js';
import type { DriftCheckpoint, DriftPage } from '../core/drift-pass.js';
import type {
  AuditEvent,
  BaselineStore,
  BeaconCommands,
  BeaconLock,
  BeaconStatusRecord,
  Clock,
  CommandInvocation,
  DocumentParameters,
  DriftPassStore,
  EnqueueMeta,
  FleetMemory,
  InstanceFilter,
  LockResult,
  ManagedInstance,
  Notifier,
  Outcome,
  ProfileStore,
  ReplyTo,
  RequestQueue,
  RequestRecord,
  RequestSource,
  RequestStatus,
  RequestStore,
  SecretSource,
  SendCommandOptions,
  WorkflowInput,
  WorkflowStarter,
} from '../core/ports.js';
import { LIMITS } from '../core/limits.js';
import { requestExecutionName, statusWriteAllowed, TERMINAL_BEACON_STATES, workflowExecutionName } from '../core/ports.js';
import type {
  BeaconFinalEffect,
  BeaconState,
  PinLedger,
  PinLedgerState,
  RequestExecutionInput,
  RequestWorkflowStarter,
  RolloutCondition,
  RolloutPatch,
  RolloutRecord,
  RolloutStore,
  TaskTokens,
} from '../core/ports.js';
import { EMPTY_PIN_LEDGER } from '../core/fnms/pin-ledger.js';
import type { OperatorCommand } from '../core/rollout-control.js';

export class FixedClock implements Clock {
  constructor(private current = new Date('2026-01-01T00:00:00.000Z')) {}
  now(): Date {
    return new Date(this.current);
  }
  advance(seconds: number): void {
    this.current = new Date(this.current.getTime() + seconds * 1000);
  }
}

/**
 * The size DynamoDB counts for an item (its documented rule: attribute names plus values; a string by its
 * UTF-8 bytes, a number by about one byte per two digits, a list or map 3 bytes plus one per element plus its
 * elements): the memory store refuses what DynamoDB would refuse (400 KB), as dynalite does in the twin.
 */
export function dynamoItemBytes(value: unknown): number {
  if (value === null || value === undefined || typeof value === 'boolean') return 1;
  if (typeof value === 'string') return Buffer.byteLength(value, 'utf8');
  if (typeof value === 'number') return Math.ceil(String(Math.abs(value)).replace(/[.-]/g, '').length / 2) + 1;
  if (Array.isArray(value)) return 3 + value.reduce((sum: number, entry) => sum + 1 + dynamoItemBytes(entry), 0);
  if (typeof value === 'object') {
    return 3 + Object.entries(value as Record<string, unknown>).reduce((sum, [name, entry]) => (entry === undefined ? sum : sum + 1 + Buffer.byteLength(name, 'utf8') + dynamoItemBytes(entry)), 0);
  }
  return Buffer.byteLength(String(value), 'utf8');
}

/** The error DynamoDB answers for an item over its size limit (a ValidationException). */
function assertItemSize(item: Record<string, unknown>): void {
  const bytes = dynamoItemBytes(item) - 3;
  if (bytes > LIMITS.maxStoreItemBytes) {
    throw Object.assign(new Error(`Item size has exceeded the maximum allowed size (${bytes} bytes)`), { name: 'ValidationException' });
  }
}

export class MemoryRequestStore implements RequestStore {
  readonly requests = new Map<string, RequestRecord>();
  readonly beacons = new Map<string, BeaconStatusRecord>();
  readonly audit = new Map<string, AuditEvent>();
  /** Rollouts and target pages (MemoryRolloutStore keeps them here, beside the rows it makes final). */
  readonly rollouts = new Map<string, RolloutRecord>();
  readonly pages = new Map<string, Array<{ from: number; instanceIds: string[] }>>();

  async recordRequest(record: RequestRecord): Promise<'created' | 'exists'> {
    if (this.requests.has(record.requestId)) return 'exists';
    assertItemSize({ pk: `REQ#${record.requestId}`, sk: 'REQUEST', ...record });
    this.requests.set(record.requestId, structuredClone(record));
    return 'created';
  }

  async putBeaconStatus(status: BeaconStatusRecord): Promise<void> {
    assertItemSize({ pk: `REQ#${status.requestId}`, sk: `BEACON#${status.instanceId}`, ...status });
    // As the DynamoDB adapter's condition: a final state is never replaced by one that is not.
    if (!statusWriteAllowed(this.beacons.get(`${status.requestId}\u0000${status.instanceId}`)?.state, status.state)) return;
    this.beacons.set(`${status.requestId}\u0000${status.instanceId}`, structuredClone(status));
  }

  async appendAudit(event: AuditEvent): Promise<void> {
    const key = [event.requestId, event.at, event.event, event.instanceId ?? '', event.key ?? ''].join('\u0000');
    assertItemSize({ pk: `REQ#${event.requestId}`, sk: `AUDIT#${key}`, ...event });
    if (!this.audit.has(key)) this.audit.set(key, structuredClone(event));
  }

  async getRequestStatus(requestId: string): Promise<RequestStatus | null> {
    const request = this.requests.get(requestId);
    if (!request) return null;
    const beacons = [...this.beacons.values()].filter((b) => b.requestId === requestId).sort((a, b) => (a.instanceId < b.instanceId ? -1 : 1));
    const audit = [...this.audit.values()].filter((e) => e.requestId === requestId).sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
    return structuredClone({ request, beacons, audit, rollout: this.rollouts.get(requestId) ?? null });
  }
}

export class MemoryBeaconLock implements BeaconLock {
  readonly locks = new Map<string, { owner: string; expiresAt: number }>();
  /** The newest request order that took each beacon (the Dynamo item keeps it after release too). */
  readonly latestOrder = new Map<string, string>();
  constructor(private readonly clock: Clock) {}

  async acquire(instanceId: string, owner: string, ttlSeconds: number, order: string): Promise<LockResult> {
    const now = this.clock.now().getTime();
    const latest = this.latestOrder.get(instanceId);
    if (latest !== undefined && latest > order) return { acquired: false, reason: 'superseded', newer: latest };
    const held = this.locks.get(instanceId);
    if (held && held.owner !== owner && held.expiresAt > now) {
      return { acquired: false, reason: 'busy', holder: held.owner, expiresAt: new Date(held.expiresAt).toISOString() };
    }
    const expiresAt = now + ttlSeconds * 1000;
    this.locks.set(instanceId, { owner, expiresAt });
    this.latestOrder.set(instanceId, order);
    return { acquired: true, expiresAt: new Date(expiresAt).toISOString() };
  }

  async release(instanceId: string, owner: string): Promise<{ released: boolean }> {
    const held = this.locks.get(instanceId);
    if (!held || held.owner !== owner) return { released: false };
    this.locks.delete(instanceId);
    return { released: true };
  }

  async holdUntil(instanceId: string, owner: string, until: Date): Promise<{ held: boolean }> {
    const held = this.locks.get(instanceId);
    if (!held || held.owner !== owner) return { held: false };
    held.expiresAt = until.getTime();
    return { held: true };
  }
}

export interface SentCommand {
  commandId: string;
  instanceIds: string[];
  documentName: string;
  parameters: DocumentParameters;
  comment?: string;
  deliveryTimeoutSeconds?: number;
}

/** Managed instances and Run Command, scripted by the test: `respond` decides what each command prints. */
export class MemoryBeaconCommands implements BeaconCommands {
  readonly instances = new Map<string, ManagedInstance & { tags: Record<string, string> }>();
  readonly sent: SentCommand[] = [];
  private readonly invocations = new Map<string, CommandInvocation>();
  respond: (command: SentCommand, instanceId: string) => CommandInvocation | null = () => ({ status: 'Success', stdout: '', stderr: '' });

  addInstance(instance: Partial<ManagedInstance> & { instanceId: string; tags?: Record<string, string> }): void {
    this.instances.set(instance.instanceId, {
      computerName: instance.instanceId,
      platformType: 'Windows',
      pingStatus: 'Online',
      tags: {},
      ...instance,
    });
  }

  readonly cancelled: Array<{ commandId: string; instanceIds: string[] }> = [];

  async sendCommand(instanceIds: string[], documentName: string, parameters: DocumentParameters, options: SendCommandOptions = {}): Promise<string> {
    const commandId = `cmd-${String(this.sent.length + 1).padStart(4, '0')}`;
    const command: SentCommand = { commandId, instanceIds: [...instanceIds], documentName, parameters: structuredClone(parameters), ...options };
    this.sent.push(command);
    for (const instanceId of instanceIds) {
      const invocation = this.respond(command, instanceId);
      if (invocation) this.invocations.set(`${commandId}\u0000${instanceId}`, invocation);
    }
    return commandId;
  }

  async getInvocation(commandId: string, instanceId: string): Promise<CommandInvocation | null> {
    return this.invocations.get(`${commandId}\u0000${instanceId}`) ?? null;
  }

  async cancelCommand(commandId: string, instanceIds: string[]): Promise<void> {
    this.cancelled.push({ commandId, instanceIds: [...instanceIds] });
    for (const instanceId of instanceIds) {
      const invocation = this.invocations.get(`${commandId}\u0000${instanceId}`);
      if (invocation && ['Pending', 'InProgress', 'Delayed'].includes(invocation.status)) invocation.status = 'Cancelling';
    }
  }

  async findCommand(instanceId: string, documentName: string, comment: string): Promise<string | null> {
    return this.sent.find((c) => c.instanceIds.includes(instanceId) && c.documentName === documentName && c.comment === comment)?.commandId ?? null;
  }

  setInvocation(commandId: string, instanceId: string, invocation: CommandInvocation): void {
    this.invocations.set(`${commandId}\u0000${instanceId}`, invocation);
  }

  async findManagedInstances(filter: InstanceFilter): Promise<ManagedInstance[]> {
    return [...this.instances.values()]
      .filter((i) => !filter.instanceIds || filter.instanceIds.includes(i.instanceId))
      .filter((i) => !filter.tag || i.tags[filter.tag.key] === filter.tag.value)
      .map(({ tags: _tags, ...instance }) => ({ ...instance }));
  }

  async listManagedInstancesPage(tag: { key: string; value: string }, nextToken: string | null, pageSize: number): Promise<{ instances: ManagedInstance[]; nextToken: string | null }> {
    const all = await this.findManagedInstances({ tag });
    const offset = nextToken ? Number(nextToken) : 0;
    const next = offset + pageSize;
    return { instances: all.slice(offset, next), nextToken: next < all.length ? String(next) : null };
  }

  async listInvocations(commandId: string): Promise<Array<{ instanceId: string; status: string }>> {
    const command = this.sent.find((c) => c.commandId === commandId);
    if (!command) return [];
    return command.instanceIds.map((instanceId) => ({ instanceId, status: this.invocations.get(`${commandId}\u0000${instanceId}`)?.status ?? 'Pending' }));
  }
}

export class MemoryWorkflowStarter implements WorkflowStarter {
  readonly executions = new Map<string, WorkflowInput>();
  async startBeaconWorkflow(input: WorkflowInput): Promise<{ executionName: string; started: boolean }> {
    const executionName = workflowExecutionName(input.requestId, input.instanceId);
    if (this.executions.has(executionName)) return { executionName, started: false };
    this.executions.set(executionName, structuredClone(input));
    return { executionName, started: true };
  }
}

export class MemoryRequestQueue implements RequestQueue {
  readonly messages: Array<{ body: string; source: RequestSource; replyTo?: ReplyTo; rerunOf?: string; caller?: EnqueueMeta['caller']; kind?: 'operator' }> = [];
  async enqueue(request: Record<string, unknown>, meta: EnqueueMeta): Promise<void> {
    this.messages.push({
      body: JSON.stringify(request),
      source: meta.source,
      ...(meta.replyTo ? { replyTo: meta.replyTo } : {}),
      ...(meta.rerunOf ? { rerunOf: meta.rerunOf } : {}),
      ...(meta.caller ? { caller: meta.caller } : {}),
    });
  }
  async enqueueCommand(command: OperatorCommand, meta: Omit<EnqueueMeta, 'rerunOf'>): Promise<void> {
    this.messages.push({ body: JSON.stringify(command), source: meta.source, kind: 'operator', ...(meta.replyTo ? { replyTo: meta.replyTo } : {}), ...(meta.caller ? { caller: meta.caller } : {}) });
  }
}

export class MemoryNotifier implements Notifier {
  readonly sent: Array<{ outcome: Outcome; replyTo?: ReplyTo }> = [];
  async notify(outcome: Outcome, replyTo?: ReplyTo): Promise<void> {
    this.sent.push({ outcome: structuredClone(outcome), ...(replyTo ? { replyTo } : {}) });
  }
}

export class MemoryProfileStore implements ProfileStore {
  constructor(readonly profiles: Record<string, Record<string, unknown>> = {}) {}
  async getProfile(name: string): Promise<Record<string, unknown> | null> {
    const profile = this.profiles[name];
    return profile ? structuredClone(profile) : null;
  }
}

export class MemorySecretSource implements SecretSource {
  readonly reads: string[] = [];
  constructor(readonly secrets: Record<string, string> = {}) {}
  async getSecret(name: string): Promise<string> {
    this.reads.push(name);
    const value = this.secrets[name];
    if (value === undefined) throw new Error(`secret ${name} is not granted`);
    return value;
  }
}

export class MemoryFleetMemory implements FleetMemory {
  readonly marks = new Set<string>();
  readonly values = new Map<string, Record<string, unknown>>();
  async markOnce(key: string): Promise<boolean> {
    if (this.marks.has(key)) return false;
    this.marks.add(key);
    return true;
  }
  async isMarked(key: string): Promise<boolean> {
    return this.marks.has(key);
  }
  async getValue(key: string): Promise<Record<string, unknown> | null> {
    const value = this.values.get(key);
    return value ? structuredClone(value) : null;
  }
  async putValue(key: string, value: Record<string, unknown>): Promise<void> {
    this.values.set(key, structuredClone(value));
  }
}

/** Baselines by instance id, with the adapter's rules: newer order wins, the same content keeps its origin. */
export class MemoryBaselineStore implements BaselineStore {
  readonly baselines = new Map<string, BeaconBaseline>();
  async getBaselines(instanceIds: string[]): Promise<Map<string, BeaconBaseline>> {
    const found = new Map<string, BeaconBaseline>();
    for (const id of instanceIds) {
      const baseline = this.baselines.get(id);
      if (baseline) found.set(id, structuredClone(baseline));
    }
    return found;
  }
  async recordBaseline(baseline: BeaconBaseline): Promise<'recorded' | 'refreshed' | 'older'> {
    const stored = this.baselines.get(baseline.instanceId);
    if (stored && stored.order > baseline.order) return 'older';
    if (stored && stored.digest === baseline.digest) {
      Object.assign(stored, { lastAppliedBy: baseline.lastAppliedBy, appliedAt: baseline.appliedAt, order: baseline.order });
      return 'refreshed';
    }
    this.baselines.set(baseline.instanceId, structuredClone(baseline));
    return 'recorded';
  }
}

export class MemoryDriftPassStore implements DriftPassStore {
  checkpoint: DriftCheckpoint | null = null;
  readonly pages = new Map<string, DriftPage>();
  async getCheckpoint(): Promise<DriftCheckpoint | null> {
    return this.checkpoint ? structuredClone(this.checkpoint) : null;
  }
  async saveCheckpoint(checkpoint: DriftCheckpoint, expectedVersion: number | null): Promise<boolean> {
    if ((this.checkpoint?.version ?? null) !== expectedVersion) return false;
    this.checkpoint = structuredClone(checkpoint);
    return true;
  }
  async putPage(page: DriftPage): Promise<void> {
    this.pages.set(`${page.passId}#${page.index}`, structuredClone(page));
  }
  async getPage(passId: string, index: number): Promise<DriftPage | null> {
    const page = this.pages.get(`${passId}#${index}`);
    return page ? structuredClone(page) : null;
  }
}

/** The rollout store's rules over the memory request store: conditional patches, pages, counters moved once. */
export class MemoryRolloutStore implements RolloutStore {
  constructor(readonly store: MemoryRequestStore) {}

  async createRollout(record: RolloutRecord): Promise<'created' | 'exists'> {
    if (this.store.rollouts.has(record.requestId)) return 'exists';
    this.store.rollouts.set(record.requestId, structuredClone(record));
    return 'created';
  }

  async getRollout(requestId: string): Promise<RolloutRecord | null> {
    const record = this.store.rollouts.get(requestId);
    return record ? structuredClone(record) : null;
  }

  async patchRollout(requestId: string, patch: RolloutPatch, condition: RolloutCondition = {}): Promise<boolean> {
    const record = this.store.rollouts.get(requestId);
    if (!record) return false;
    if (condition.phaseIn && !condition.phaseIn.includes(record.phase)) return false;
    if ((condition.unset ?? []).some((field) => record[field] !== null && record[field] !== undefined)) return false;
    if (condition.startedEquals !== undefined && record.started !== condition.startedEquals) return false;
    if (condition.generationEquals !== undefined && record.generation !== condition.generationEquals) return false;
    if (condition.pagesEquals !== undefined && record.expansion.pages !== condition.pagesEquals) return false;
    Object.assign(record, structuredClone(patch));
    return true;
  }

  async recordTargetPage(requestId: string, page: { index: number; instanceIds: string[]; nextToken: string | null; pageSize: number }, at: string): Promise<'recorded' | 'stale'> {
    const record = this.store.rollouts.get(requestId);
    if (!record) throw new Error(`no rollout for request ${requestId}`);
    if (record.expansion.pages !== page.index) return 'stale';
    const from = record.expansion.total;
    const kept = [...new Set(page.instanceIds)].filter((id) => !this.store.beacons.has(`${requestId}\u0000${id}`));
    kept.forEach((instanceId, index) => this.store.beacons.set(`${requestId}\u0000${instanceId}`, { requestId, instanceId, state: 'queued', updatedAt: at, seq: from + index }));
    const pages = this.store.pages.get(requestId) ?? [];
    pages[page.index] = { from, instanceIds: kept };
    this.store.pages.set(requestId, pages);
    record.expansion = { pages: page.index + 1, total: from + kept.length, nextToken: page.nextToken, done: page.nextToken === null };
    record.updatedAt = at;
    return 'recorded';
  }

  async targetsAt(requestId: string, from: number, to: number): Promise<Array<{ seq: number; instanceId: string }>> {
    const out: Array<{ seq: number; instanceId: string }> = [];
    for (const page of this.store.pages.get(requestId) ?? []) {
      page?.instanceIds.forEach((instanceId, index) => {
        const seq = page.from + index;
        if (seq >= from && seq < to) out.push({ seq, instanceId });
      });
    }
    return out;
  }

  async recordBeaconFinal(status: BeaconStatusRecord, effect: BeaconFinalEffect): Promise<'recorded' | 'already-final'> {
    const key = `${status.requestId}\u0000${status.instanceId}`;
    const existing = this.store.beacons.get(key);
    if (existing && TERMINAL_BEACON_STATES.includes(existing.state)) return 'already-final';
    this.store.beacons.set(key, structuredClone(status));
    const record = this.store.rollouts.get(status.requestId);
    if (record) {
      record.finished += 1;
      if (effect.error) record.failed += 1;
      if (effect.error && effect.canary) record.canaryFailed += 1;
      record.counts[status.state] = (record.counts[status.state] ?? 0) + 1;
      if (effect.okVersion === null) record.unknownVersions += 1;
      else if (effect.okVersion !== undefined) record.okVersions[effect.okVersion] = (record.okVersions[effect.okVersion] ?? 0) + 1;
    }
    return 'recorded';
  }

  async finalizeNotStarted(requestId: string, targets: Array<{ seq: number; instanceId: string }>, state: 'not-started' | 'cancelled', reasons: string[], at: string): Promise<number> {
    let changed = 0;
    for (const { instanceId } of targets) {
      const row = this.store.beacons.get(`${requestId}\u0000${instanceId}`);
      if (row?.state !== 'queued') continue;
      Object.assign(row, { state, reasons: [...reasons], updatedAt: at });
      changed += 1;
    }
    return changed;
  }

  async beaconsInStates(requestId: string, states: readonly BeaconState[], limit: number): Promise<BeaconStatusRecord[]> {
    return [...this.store.beacons.values()].filter((b) => b.requestId === requestId && states.includes(b.state)).slice(0, limit).map((b) => structuredClone(b));
  }
}

export class MemoryPinLedger implements PinLedger {
  state: PinLedgerState = structuredClone(EMPTY_PIN_LEDGER);
  async get(): Promise<PinLedgerState> {
    return structuredClone(this.state);
  }
  async update(next: Pick<PinLedgerState, 'confirmed' | 'pending' | 'waiters'>, expected: number): Promise<boolean> {
    if (this.state.revision !== expected) return false;
    this.state = { ...structuredClone(next), configuredVersions: this.state.configuredVersions, revision: expected + 1 };
    return true;
  }
  async noteConfiguredVersion(version: string): Promise<void> {
    if (!this.state.configuredVersions.includes(version)) this.state.configuredVersions = [...this.state.configuredVersions, version].sort();
  }
  async resetConfiguredVersions(version: string): Promise<void> {
    this.state.configuredVersions = [version];
  }
}

/** Task tokens as tests drive them: a token is waiting until it is completed or dropped. */
export class MemoryTaskTokens implements TaskTokens {
  readonly waiting = new Set<string>();
  readonly completed: Array<{ token: string; output: Record<string, unknown> }> = [];
  async sendTaskSuccess(token: string, output: Record<string, unknown>): Promise<'sent' | 'gone'> {
    if (!this.waiting.delete(token)) return 'gone';
    this.completed.push({ token, output: structuredClone(output) });
    return 'sent';
  }
}

export class MemoryRequestWorkflowStarter implements RequestWorkflowStarter {
  readonly executions = new Map<string, RequestExecutionInput>();
  async startRequestWorkflow(input: RequestExecutionInput): Promise<{ executionName: string; started: boolean }> {
    const executionName = requestExecutionName(input.requestId, input.generation);
    if (this.executions.has(executionName)) return { executionName, started: false };
    this.executions.set(executionName, structuredClone(input));
    return { executionName, started: true };
  }
}
