/**
 * The changes of one beacon's workflow, from its verdicts: what the configure run changed (a plan: what a
 * run would change) and what a rollback put back, each value before -> after. The record step keeps them on
 * the beacon's status and writes one audit record per change. Pure.
 */
import type { DiffEntry } from '../core/change-diff.js';
import type { AuditEvent } from '../core/ports.js';
import type { WorkflowState } from './state.js';

/** Audit events of the change trail. `change.planned`: a plan (dry run) found the value would change. */
export const CHANGE_EVENTS = { applied: 'change.applied', planned: 'change.planned', restored: 'change.restored' } as const;

export interface BeaconChanges {
  /** Configure: what it changed (undone again when the beacon was rolled back). A plan: what a run would change. */
  diff: DiffEntry[];
  /** What a rollback put back: the configure run's own, then the Rollback document's. */
  restored: DiffEntry[];
  /** Entries the verdicts left out past their limit. */
  omitted: number;
  /** Whether `diff` is a plan (read-only verify) rather than changes made. */
  planned: boolean;
  /** The command that made each list (for the audit trail). */
  commandId: string | null;
  rollbackCommandId: string | null;
}

export function beaconChanges(state: WorkflowState): BeaconChanges {
  const configure = state.poll?.verdict ?? null;
  const rollback = state.rollbackPoll?.verdict ?? null;
  const omitted =
    (configure?.diffOmitted?.diff ?? 0) + (configure?.diffOmitted?.restoredDiff ?? 0) + (rollback?.diffOmitted?.diff ?? 0) + (rollback?.diffOmitted?.restoredDiff ?? 0);
  return {
    diff: configure?.diff ?? [],
    restored: [...(configure?.restoredDiff ?? []), ...(rollback?.restoredDiff ?? [])],
    omitted,
    planned: state.command?.kind === 'verify' || state.dryRun,
    commandId: state.poll?.commandId ?? state.command?.commandId ?? null,
    rollbackCommandId: state.rollbackPoll?.commandId ?? state.rollbackCommand?.commandId ?? null,
  };
}

/**
 * One audit record per change: the beacon, the item, its value before and after, the request and the time.
 * Keys are the change's place in its list, so writing the trail again (a retried record step) changes nothing.
 */
export function changeAuditEvents(state: WorkflowState, changes: BeaconChanges, at: string): AuditEvent[] {
  const events: AuditEvent[] = [];
  const forward = changes.planned ? CHANGE_EVENTS.planned : CHANGE_EVENTS.applied;
  const document = changes.planned ? 'verify' : 'configure';
  changes.diff.forEach((change, index) => {
    events.push({
      requestId: state.requestId,
      instanceId: state.instanceId,
      at,
      event: forward,
      key: String(index).padStart(3, '0'),
      detail: { id: change.id, before: change.before, after: change.after, document, ...(changes.commandId ? { commandId: changes.commandId } : {}) },
    });
  });
  const ownRestores = state.poll?.verdict?.restoredDiff?.length ?? 0;
  changes.restored.forEach((change, index) => {
    const byConfigure = index < ownRestores;
    const commandId = byConfigure ? changes.commandId : changes.rollbackCommandId;
    events.push({
      requestId: state.requestId,
      instanceId: state.instanceId,
      at,
      event: CHANGE_EVENTS.restored,
      key: String(index).padStart(3, '0'),
      detail: { id: change.id, before: change.before, after: change.after, document: byConfigure ? 'configure' : 'rollback', ...(commandId ? { commandId } : {}) },
    });
  });
  return events;
}
