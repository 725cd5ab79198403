import { beforeEach, describe, expect, it } from 'vitest';
import { createPollCommandHandler } from '../../lambdas/poll-command/handler.js';
import { createSendCommandHandler } from '../../lambdas/send-command/handler.js';
import { ThrottledError } from '../../lambdas/core/ports.js';
import { validRequest } from '../lambdas/fixtures.js';
import { DOCUMENTS, TIMING, beaconStatus, newWorld, runWorkflow, workflowInput, type WorkflowWorld } from './workflow-harness.js';

let world: WorkflowWorld;
beforeEach(() => {
  world = newWorld();
});

describe('defect 3: a failed poll never rolls back a command that may have succeeded', () => {
  it('GetCommandInvocation throttled past the step\'s retries goes back to waiting; the configure that succeeded is kept', async () => {
    const poll = createPollCommandHandler({ commands: world.commands, store: world.store, clock: world.clock, documentNames: DOCUMENTS, timing: TIMING });
    let calls = 0;
    const result = await runWorkflow(world, workflowInput(), {
      PollCommandFn: async (event) => {
        calls += 1;
        if (calls <= 12) throw new ThrottledError('ThrottlingException: Rate exceeded (GetCommandInvocation)');
        return poll(event);
      },
    });
    expect(world.commands.sent.map((c) => c.documentName)).toEqual([DOCUMENTS.configure]);
    expect(beaconStatus(world)).toMatchObject({ state: 'ok' });
    expect(result.status).toBe('SUCCEEDED');
  });
});

describe('defect 4: a step error after SendCommand never leaves the command unsupervised', () => {
  it('a failed status write after the command was sent still polls the command to its result', async () => {
    let failed = false;
    const put = world.store.putBeaconStatus.bind(world.store);
    world.store.putBeaconStatus = async (status) => {
      if (status.state === 'sent' && !failed) {
        failed = true;
        throw Object.assign(new Error('ProvisionedThroughputExceededException'), { name: 'ProvisionedThroughputExceededException' });
      }
      return put(status);
    };
    await runWorkflow(world, workflowInput());
    expect(beaconStatus(world)).toMatchObject({ state: 'ok' });
  });

  it('a send step that fails after SendCommand: the poll loop finds the command by its comment, and nothing is sent twice', async () => {
    const send = createSendCommandHandler({ commands: world.commands, store: world.store, clock: world.clock, documentNames: DOCUMENTS, timing: TIMING });
    await runWorkflow(world, workflowInput(), {
      SendCommandFn: async (event) => {
        await send(event);
        throw new Error('the function crashed after SendCommand answered');
      },
    });
    expect(world.commands.sent.map((c) => c.documentName)).toEqual([DOCUMENTS.configure]);
    expect(beaconStatus(world)).toMatchObject({ state: 'ok', commandId: world.commands.sent[0]!.commandId });
  });
});

describe('defect 5: a request for a busy beacon waits as long as the other can hold it, in request order', () => {
  it('the busy wait covers the longest time another execution may hold the beacon\'s lock', async () => {
    expect(TIMING.busyWaitSeconds).toBeGreaterThanOrEqual(TIMING.lockTtlSeconds);
    expect(TIMING.lockTtlSeconds).toBeGreaterThanOrEqual(TIMING.worstHoldSeconds);
    // And the workflow really waits that long: a lock held just under the busy wait is outlasted.
    await world.lock.acquire(world.commands.sent.length === 0 ? 'i-0123456789abcdef0' : '', 'holder', TIMING.busyWaitSeconds - 600, '2025-12-31T00:00:00.000Z#older');
    await runWorkflow(world, workflowInput());
    expect(beaconStatus(world)).toMatchObject({ state: 'ok' });
  });

  it('an older request that gets the beacon after a newer one finished changes nothing (the newer result stands)', async () => {
    const newer = workflowInput({ requestId: 'req-newer', request: validRequest({ requestId: 'req-newer' }), receivedAt: '2026-01-01T00:10:00.000Z' });
    const older = workflowInput({ requestId: 'req-older', request: validRequest({ requestId: 'req-older', proxy: 'old-proxy.corp.example:3128' }), receivedAt: '2026-01-01T00:05:00.000Z' });
    await runWorkflow(world, newer);
    await runWorkflow(world, older);
    expect(world.commands.sent.filter((c) => c.documentName === DOCUMENTS.configure)).toHaveLength(1);
    expect(beaconStatus(world, 'req-older')?.state).toBe('superseded');
  });
});
