/**
 * The change trail of one beacon's run (lambdas/workflow/changes.ts), from its verdicts: what the configure
 * run changed (or a plan would change), what was put back and by which command, what the verdicts left out.
 */
import { describe, expect, it } from 'vitest';
import type { CommandVerdict } from '../../lambdas/core/command-result.js';
import { CHANGE_EVENTS, beaconChanges, changeAuditEvents } from '../../lambdas/workflow/changes.js';
import type { PollState, WorkflowState } from '../../lambdas/workflow/state.js';
import { INSTANCE_A } from './fixtures.js';

const base = { requestId: 'r1', instanceId: INSTANCE_A, request: {}, source: 'api', dryRun: false, replyTo: null, receivedAt: '2026-01-01T00:00:00.000Z' };
const change = (id: string) => ({ id, before: `${id}-old`, after: `${id}-new` });
const verdict = (changes: Partial<CommandVerdict>): CommandVerdict => ({ status: 'ok', notRun: null, reasons: [], changed: [], checks: [], beaconVersion: null, captureId: null, ...changes });
const poll = (commandId: string | null, v: CommandVerdict | null): PollState => ({
  attempt: 1,
  waitSeconds: 5,
  done: true,
  commandId,
  status: 'Success',
  statusDetails: null,
  since: null,
  cancelRequestedAt: null,
  recorded: true,
  failures: { count: 0 },
  verdict: v,
});
const state = (changes: Partial<WorkflowState>): WorkflowState => ({ ...base, ...changes }) as WorkflowState;
const AT = '2026-01-01T01:00:00.000Z';

describe('beaconChanges', () => {
  it('nothing ran: nothing changed, no command', () => {
    expect(beaconChanges(state({}))).toEqual({ diff: [], restored: [], omitted: 0, planned: false, commandId: null, rollbackCommandId: null });
  });

  it('configure changed values and restored some itself; the rollback document put back more; omitted entries of all four lists add up', () => {
    const changes = beaconChanges(
      state({
        command: { kind: 'configure', commandId: 'cmd-send', comment: 'c' },
        poll: poll('cmd-1', verdict({ diff: [change('a'), change('b')], restoredDiff: [change('a')], diffOmitted: { diff: 1, restoredDiff: 2 } })),
        rollbackCommand: { kind: 'rollback', commandId: 'cmd-rb-send', comment: 'r' },
        rollbackPoll: poll('cmd-2', verdict({ restoredDiff: [change('b')], diffOmitted: { diff: 4, restoredDiff: 8 } })),
      }),
    );
    expect(changes).toEqual({ diff: [change('a'), change('b')], restored: [change('a'), change('b')], omitted: 15, planned: false, commandId: 'cmd-1', rollbackCommandId: 'cmd-2' });
  });

  it('the command ids come from the send step when no poll knew them', () => {
    const changes = beaconChanges(state({ command: { kind: 'configure', commandId: 'cmd-send', comment: 'c' }, rollbackCommand: { kind: 'rollback', commandId: 'cmd-rb', comment: 'r' } }));
    expect(changes).toMatchObject({ commandId: 'cmd-send', rollbackCommandId: 'cmd-rb' });
    expect(beaconChanges(state({ poll: poll(null, null), command: { kind: 'configure', comment: 'c' } }))).toMatchObject({ commandId: null });
  });

  it('a plan: the verify document, or a dry run', () => {
    expect(beaconChanges(state({ command: { kind: 'verify', commandId: 'v', comment: 'v' } })).planned).toBe(true);
    expect(beaconChanges(state({ dryRun: true })).planned).toBe(true);
    expect(beaconChanges(state({ command: { kind: 'configure', commandId: 'c', comment: 'c' } })).planned).toBe(false);
  });
});

describe('changeAuditEvents: one record per change, keyed by its place in its list', () => {
  it('applied changes by the configure command; restores by the command that made them (configure first, then rollback)', () => {
    const s = state({
      poll: poll('cmd-1', verdict({ diff: [change('a')], restoredDiff: [change('a')] })),
      rollbackPoll: poll('cmd-2', verdict({ restoredDiff: [change('b')] })),
    });
    expect(changeAuditEvents(s, beaconChanges(s), AT)).toEqual([
      { requestId: 'r1', instanceId: INSTANCE_A, at: AT, event: CHANGE_EVENTS.applied, key: '000', detail: { id: 'a', before: 'a-old', after: 'a-new', document: 'configure', commandId: 'cmd-1' } },
      { requestId: 'r1', instanceId: INSTANCE_A, at: AT, event: CHANGE_EVENTS.restored, key: '000', detail: { id: 'a', before: 'a-old', after: 'a-new', document: 'configure', commandId: 'cmd-1' } },
      { requestId: 'r1', instanceId: INSTANCE_A, at: AT, event: CHANGE_EVENTS.restored, key: '001', detail: { id: 'b', before: 'b-old', after: 'b-new', document: 'rollback', commandId: 'cmd-2' } },
    ]);
    expect(CHANGE_EVENTS).toEqual({ applied: 'change.applied', planned: 'change.planned', restored: 'change.restored' });
  });

  it('a plan writes change.planned by the verify document; without a command id none is named', () => {
    const s = state({ dryRun: true, poll: poll(null, verdict({ diff: Array.from({ length: 11 }, (_, n) => change(`v${n}`)) })) });
    const events = changeAuditEvents(s, beaconChanges(s), AT);
    expect(events).toHaveLength(11);
    expect(events[10]).toEqual({ requestId: 'r1', instanceId: INSTANCE_A, at: AT, event: 'change.planned', key: '010', detail: { id: 'v10', before: 'v10-old', after: 'v10-new', document: 'verify' } });
  });

  it('a configure poll without a verdict (it never ended) leaves every restore to the rollback document', () => {
    const s = state({ poll: poll('cmd-1', null), rollbackPoll: poll('cmd-2', verdict({ restoredDiff: [change('x')] })) });
    expect(changeAuditEvents(s, beaconChanges(s), AT).map((event) => event.detail)).toEqual([{ id: 'x', before: 'x-old', after: 'x-new', document: 'rollback', commandId: 'cmd-2' }]);
  });

  it('restores of the rollback document without its command id name none', () => {
    const s = state({ poll: poll('cmd-1', verdict({})), rollbackPoll: poll(null, verdict({ restoredDiff: [change('x')] })) });
    expect(changeAuditEvents(s, beaconChanges(s), AT)).toEqual([
      { requestId: 'r1', instanceId: INSTANCE_A, at: AT, event: 'change.restored', key: '000', detail: { id: 'x', before: 'x-old', after: 'x-new', document: 'rollback' } },
    ]);
  });
});
