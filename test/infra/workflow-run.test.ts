import { beforeEach, describe, expect, it } from 'vitest';
import { outcomeText } from '../../lambdas/aws/notifier.js';
import { MemoryPinLedger, MemoryRolloutStore } from '../../lambdas/memory/ports.js';
import { createNotifyRequesterHandler } from '../../lambdas/notify-requester/handler.js';
import { createRecordOutcomeHandler } from '../../lambdas/record-outcome/handler.js';
import { PIN_MODE_NONE_WARNING } from '../../lambdas/workflow/state.js';
import { resultLine, validRequest, INSTANCE_A } from '../lambdas/fixtures.js';
import { DOCUMENTS, beaconStatus, newWorld, runWorkflow, workflowInput, type WorkflowWorld } from './workflow-harness.js';

let world: WorkflowWorld;
beforeEach(() => {
  world = newWorld();
});

describe('the synthesized workflow over the real handlers', () => {
  it('configures, pins the beacon version, records ok, releases the lock and notifies', async () => {
    const result = await runWorkflow(world, workflowInput());
    expect(result.status).toBe('SUCCEEDED');
    expect(beaconStatus(world)).toMatchObject({ state: 'ok', beaconVersion: '13.2.0' });
    expect(world.lock.locks.size).toBe(0);
    expect(world.notifier.sent.map((n) => n.outcome.state)).toEqual(['ok']);
    expect(await world.memory.isMarked(`notified:req-test-1--${INSTANCE_A}`)).toBe(true);
  });

  it('pinMode none: the beacon ends ok (execution succeeded, no alarm), nothing pinned, the warning in the status and the notification', async () => {
    const result = await runWorkflow(world, workflowInput(), { RecordOutcomeFn: createRecordOutcomeHandler({ store: world.store, rollouts: new MemoryRolloutStore(world.store), ledger: new MemoryPinLedger(), clock: world.clock, pinMode: 'none' }), NotifyRequesterFn: createNotifyRequesterHandler({ notifier: world.notifier, memory: world.memory, pinMode: 'none' }) });
    expect(result.status).toBe('SUCCEEDED');
    expect(beaconStatus(world)).toMatchObject({ state: 'ok', reasons: [], warnings: [PIN_MODE_NONE_WARNING] });
    expect(beaconStatus(world)?.pinnedVersion).toBeUndefined();
    expect(world.notifier.sent.map((n) => n.outcome)).toEqual([expect.objectContaining({ state: 'ok', warnings: [PIN_MODE_NONE_WARNING], summary: expect.stringMatching(/not pinned \(pinMode none\)/) })]);
    expect(outcomeText(world.notifier.sent[0]!.outcome)).toContain('warning: FNMS beacon version not pinned');
  });

  it('sends the rollback document when the beacon failed without rolling back by itself', async () => {
    world.commands.respond = (command) =>
      command.documentName === DOCUMENTS.configure
        ? { status: 'Failed', stdout: resultLine({ ok: false, error: { code: 'APPLY', message: 'registry write denied', step: 'registry' } }), stderr: '', executionStartedAt: 'x' }
        : { status: 'Success', stdout: resultLine({ changed: [] }), stderr: '', executionStartedAt: 'x' };
    const result = await runWorkflow(world, workflowInput());
    expect(result.status).toBe('FAILED');
    expect(world.commands.sent.map((c) => c.documentName)).toEqual([DOCUMENTS.configure, DOCUMENTS.rollback]);
    expect(world.commands.sent[1]!.parameters).toEqual({ CaptureId: ['req-test-1'] });
    expect(beaconStatus(world)).toMatchObject({ state: 'rolled-back' });
    expect(world.lock.locks.size).toBe(0);
  });

  it('does not send a rollback when the beacon rolled back by itself', async () => {
    world.commands.respond = () => ({ status: 'Failed', stdout: resultLine({ ok: false, error: { code: 'SERVICE', message: 'did not start', step: 'service' }, rollback: { attempted: true, ok: true, restored: [] } }), stderr: '' });
    await runWorkflow(world, workflowInput());
    expect(world.commands.sent.map((c) => c.documentName)).toEqual([DOCUMENTS.configure]);
    expect(beaconStatus(world)).toMatchObject({ state: 'rolled-back' });
  });

  it('a configure that was never delivered changed nothing: no rollback, outcome not-run', async () => {
    world.commands.respond = () => ({ status: 'TimedOut', statusDetails: 'DeliveryTimedOut', stdout: '', stderr: '', executionStartedAt: null });
    await runWorkflow(world, workflowInput());
    expect(world.commands.sent.map((c) => c.documentName)).toEqual([DOCUMENTS.configure]);
    expect(beaconStatus(world)).toMatchObject({ state: 'not-run', reasons: [expect.stringContaining('did not pick up')] });
  });

  it('a document that reports BEACON_BUSY did not run: nothing to roll back', async () => {
    world.commands.respond = () => ({ status: 'Failed', stdout: resultLine({ ok: false, changed: [], error: { code: 'BEACON_BUSY', message: 'another beacon-proxy document holds the beacon', step: 'start' } }), stderr: '', executionStartedAt: 'x' });
    await runWorkflow(world, workflowInput());
    expect(world.commands.sent.map((c) => c.documentName)).toEqual([DOCUMENTS.configure]);
    expect(beaconStatus(world)).toMatchObject({ state: 'not-run', reasons: [expect.stringContaining('BEACON_BUSY')] });
  });

  it('releases the lock when a step fails after it was taken', async () => {
    const result = await runWorkflow(world, workflowInput(), {
      CheckCancelledFn: async () => {
        throw Object.assign(new Error('AccessDenied: not allowed'), { name: 'AccessDeniedException' });
      },
    });
    expect(result.status).toBe('FAILED');
    expect(world.lock.locks.size).toBe(0);
    expect(beaconStatus(world)).toMatchObject({ state: 'error', reasons: [expect.stringContaining('not allowed')] });
    expect(world.commands.sent).toEqual([]);
    expect(world.notifier.sent).toHaveLength(1);
  });

  it('a dry run sends only the read-only verify document and takes no lock', async () => {
    let lockTaken = false;
    const acquire = world.lock.acquire.bind(world.lock);
    world.lock.acquire = async (...args) => {
      lockTaken = true;
      return acquire(...args);
    };
    const result = await runWorkflow(world, workflowInput({ dryRun: true, request: validRequest({ dryRun: true }) }));
    expect(result.status).toBe('SUCCEEDED');
    expect(world.commands.sent.map((sent) => sent.documentName)).toEqual([DOCUMENTS.verify]);
    expect(lockTaken).toBe(false);
    expect(beaconStatus(world)).toMatchObject({ state: 'dry-run' });
  });

  it('a beacon locked by another request: waited for, then given up with the busy status, the other lock untouched', async () => {
    await world.lock.acquire(INSTANCE_A, 'someone-else', 10 * 24 * 3600, '2020-01-01T00:00:00.000Z#older');
    const result = await runWorkflow(world, workflowInput());
    expect(result.status).toBe('FAILED');
    expect(beaconStatus(world)).toMatchObject({ state: 'busy', reasons: [expect.stringContaining('someone-else')] });
    expect(world.lock.locks.get(INSTANCE_A)?.owner).toBe('someone-else');
    expect(world.commands.sent).toEqual([]);
  });

  it('an offline beacon is skipped with the reason and nothing is sent', async () => {
    world.commands.instances.get(INSTANCE_A)!.pingStatus = 'ConnectionLost';
    const result = await runWorkflow(world, workflowInput());
    expect(result.status).toBe('SUCCEEDED');
    expect(beaconStatus(world)).toMatchObject({ state: 'skipped', reasons: [expect.stringContaining('offline')] });
    expect(world.commands.sent).toEqual([]);
  });
});
