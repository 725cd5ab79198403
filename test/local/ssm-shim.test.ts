import { describe, expect, it } from 'vitest';
import { BEACON_DOCUMENTS } from '../../lambdas/core/document-contract.js';
import { ThrottledError } from '../../lambdas/core/ports.js';
import type { Fleet, FleetBeacon } from '../../local/fleet.js';
import { type DocumentExecutor, LocalSsm, SSM_OUTPUT_LIMITS, documentExecutionTimeoutSeconds, documentKind } from '../../local/ssm-shim.js';

function fleetOf(...beacons: Array<Partial<FleetBeacon> & { instanceId: string }>): Fleet {
  return {
    dir: '/nowhere',
    beacons: beacons.map((b) => ({ computerName: b.instanceId, platformType: 'Windows', pingStatus: 'Online', tags: {}, model: 'm.json', modelPath: '/nowhere/m.json', ...b })),
  };
}

const ok: DocumentExecutor = async () => ({ stdout: '{"ok":true}', stderr: '', exitCode: 0 });
const A = 'i-00000000000000001';
const B = 'i-00000000000000002';
/** One SSM second = 1 real ms in these tests. */
const FAST = { msPerSecond: 1 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** A script that runs until the agent stops it. */
const hangs: DocumentExecutor = (_beacon, _kind, _parameters, control) =>
  new Promise((_, reject) => control.signal.addEventListener('abort', () => reject(new Error('stopped')), { once: true }));

describe('the local SSM shim behaves like Run Command where the pipeline depends on it', () => {
  it('maps deployed document names (with the stack suffix) to the three documents, and refuses others', () => {
    expect(documentKind(`${BEACON_DOCUMENTS.configure}-BeaconProxy`)).toBe('configure');
    expect(documentKind(BEACON_DOCUMENTS.rollback)).toBe('rollback');
    expect(() => documentKind('AWS-RunPowerShellScript')).toThrow(expect.objectContaining({ name: 'InvalidDocument' }));
  });

  it('refuses an instance that is not in the fleet, more than 50 ids, and a TimeoutSeconds outside 30-2592000', async () => {
    const ssm = new LocalSsm(fleetOf({ instanceId: A }), ok);
    await expect(ssm.sendCommand([B], BEACON_DOCUMENTS.verify, {})).rejects.toMatchObject({ name: 'InvalidInstanceId' });
    await expect(ssm.sendCommand(Array(51).fill(A), BEACON_DOCUMENTS.verify, {})).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(ssm.sendCommand([A], BEACON_DOCUMENTS.verify, {}, { deliveryTimeoutSeconds: 10 })).rejects.toMatchObject({ name: 'ValidationException' });
    ssm.close();
  });

  it('passes parameters to the executor and reports Success or Failed by exit code', async () => {
    const seen: Array<Record<string, string>> = [];
    const ssm = new LocalSsm(fleetOf({ instanceId: A }, { instanceId: B }), async (beacon, _kind, parameters) => {
      seen.push(parameters);
      return { stdout: 'out', stderr: '', exitCode: beacon.instanceId === A ? 0 : 1 };
    });
    const id = await ssm.sendCommand([A, B], BEACON_DOCUMENTS.configure, { DesiredState: ['abcd'] });
    await ssm.settle();
    expect(seen).toEqual([{ DesiredState: 'abcd' }, { DesiredState: 'abcd' }]);
    expect(await ssm.getInvocation(id, A)).toMatchObject({ status: 'Success', executionStartedAt: expect.any(String) });
    expect((await ssm.getInvocation(id, B))?.status).toBe('Failed');
    expect(await ssm.getInvocation('nope', A)).toBeNull();
    ssm.close();
  });

  it('TimeoutSeconds is the delivery deadline: an instance offline until then never runs the command (TimedOut / DeliveryTimedOut)', async () => {
    let runs = 0;
    const ssm = new LocalSsm(fleetOf({ instanceId: A, pingStatus: 'ConnectionLost' }), async () => {
      runs += 1;
      return { stdout: '', stderr: '', exitCode: 0 };
    }, FAST);
    const id = await ssm.sendCommand([A], BEACON_DOCUMENTS.configure, {}, { deliveryTimeoutSeconds: 30 });
    expect((await ssm.getInvocation(id, A))?.status).toBe('Pending');
    await sleep(60);
    await ssm.settle();
    expect(runs).toBe(0);
    expect(await ssm.getInvocation(id, A)).toMatchObject({ status: 'TimedOut', statusDetails: 'DeliveryTimedOut', executionStartedAt: null });
    ssm.close();
  });

  it('an agent that reconnects before the deadline runs everything still deliverable, several commands at once', async () => {
    let running = 0;
    let peak = 0;
    const ssm = new LocalSsm(fleetOf({ instanceId: A }), async () => {
      running += 1;
      peak = Math.max(peak, running);
      await sleep(20);
      running -= 1;
      return { stdout: '', stderr: '', exitCode: 0 };
    }, FAST);
    ssm.reconnectAfter(A, 40);
    const late = await ssm.sendCommand([A], BEACON_DOCUMENTS.configure, {}, { deliveryTimeoutSeconds: 30 });
    const first = await ssm.sendCommand([A], BEACON_DOCUMENTS.verify, {}, { deliveryTimeoutSeconds: 600 });
    const second = await ssm.sendCommand([A], BEACON_DOCUMENTS.rollback, {}, { deliveryTimeoutSeconds: 600 });
    await sleep(120);
    await ssm.settle();
    expect((await ssm.getInvocation(late, A))?.statusDetails).toBe('DeliveryTimedOut');
    expect((await ssm.getInvocation(first, A))?.status).toBe('Success');
    expect((await ssm.getInvocation(second, A))?.status).toBe('Success');
    expect(peak).toBe(2);
    expect(ssm.overlaps(['verify', 'rollback'])).toHaveLength(1);
    ssm.close();
  });

  it('the document\'s own timeoutSeconds is the execution limit: the agent stops a longer script (TimedOut / ExecutionTimedOut)', async () => {
    const ssm = new LocalSsm(fleetOf({ instanceId: A }), hangs, FAST);
    const id = await ssm.sendCommand([A], BEACON_DOCUMENTS.verify, {}, { deliveryTimeoutSeconds: 600 });
    await sleep(documentExecutionTimeoutSeconds('verify') + 50);
    await ssm.settle();
    expect(await ssm.getInvocation(id, A)).toMatchObject({ status: 'TimedOut', statusDetails: 'ExecutionTimedOut', executionStartedAt: expect.any(String) });
    ssm.close();
  });

  it('CancelCommand is asynchronous: Cancelling first, then Cancelled; a command that had not started never runs', async () => {
    let runs = 0;
    const ssm = new LocalSsm(fleetOf({ instanceId: A, pingStatus: 'Online' }), async () => {
      runs += 1;
      return ok(undefined as never, 'configure', {}, undefined as never);
    }, { ...FAST, cancelLatencySeconds: 20 });
    ssm.disconnect(A);
    const id = await ssm.sendCommand([A], BEACON_DOCUMENTS.configure, {}, { deliveryTimeoutSeconds: 600 });
    await ssm.cancelCommand(id, [A]);
    expect((await ssm.getInvocation(id, A))?.status).toBe('Cancelling');
    ssm.reconnect(A);
    await sleep(40);
    expect(await ssm.getInvocation(id, A)).toMatchObject({ status: 'Cancelled', executionStartedAt: null });
    expect(runs).toBe(0);
    ssm.close();
  });

  it('a running script told to stop may finish first; the invocation ends Cancelled with what it printed', async () => {
    const ssm = new LocalSsm(fleetOf({ instanceId: A }), async () => {
      await sleep(30);
      return { stdout: '{"ok":true}', stderr: '', exitCode: 0 };
    }, FAST);
    const id = await ssm.sendCommand([A], BEACON_DOCUMENTS.configure, {}, { deliveryTimeoutSeconds: 600 });
    await sleep(5);
    await ssm.cancelCommand(id, [A]);
    expect((await ssm.getInvocation(id, A))?.status).toBe('Cancelling');
    await ssm.settle();
    expect(await ssm.getInvocation(id, A)).toMatchObject({ status: 'Cancelled', stdout: '{"ok":true}' });
    ssm.close();
  });

  it('finds a command again by instance, document and comment (ListCommands)', async () => {
    const ssm = new LocalSsm(fleetOf({ instanceId: A }), ok);
    const id = await ssm.sendCommand([A], BEACON_DOCUMENTS.configure, {}, { comment: 'configure exec-1' });
    expect(await ssm.findCommand(A, BEACON_DOCUMENTS.configure, 'configure exec-1')).toBe(id);
    expect(await ssm.findCommand(A, BEACON_DOCUMENTS.rollback, 'configure exec-1')).toBeNull();
    expect(await ssm.findCommand(A, BEACON_DOCUMENTS.configure, 'configure exec-2')).toBeNull();
    await ssm.settle();
    ssm.close();
  });

  it('returns only the first 24,000 characters of stdout and 8,000 of stderr, as GetCommandInvocation does', async () => {
    const ssm = new LocalSsm(fleetOf({ instanceId: A }), async () => ({ stdout: 'o'.repeat(30_000), stderr: 'e'.repeat(9_000), exitCode: 0 }));
    const id = await ssm.sendCommand([A], BEACON_DOCUMENTS.verify, {});
    await ssm.settle();
    const invocation = await ssm.getInvocation(id, A);
    expect(invocation?.stdout).toHaveLength(SSM_OUTPUT_LIMITS.stdout);
    expect(invocation?.stderr).toHaveLength(SSM_OUTPUT_LIMITS.stderr);
    ssm.close();
  });

  it('throttles SendCommand beyond its rate with the error the workflow retries', async () => {
    const ssm = new LocalSsm(fleetOf({ instanceId: A }), ok, { sendCommandPerSecond: 2 });
    await ssm.sendCommand([A], BEACON_DOCUMENTS.verify, {});
    await ssm.sendCommand([A], BEACON_DOCUMENTS.verify, {});
    await expect(ssm.sendCommand([A], BEACON_DOCUMENTS.verify, {})).rejects.toBeInstanceOf(ThrottledError);
    expect(ssm.throttled).toBe(1);
    await ssm.settle();
    ssm.close();
  });

  it('never runs more invocations at once than its concurrency limit', async () => {
    let running = 0;
    let peak = 0;
    const ssm = new LocalSsm(fleetOf({ instanceId: A }, { instanceId: B }), async () => {
      running += 1;
      peak = Math.max(peak, running);
      await sleep(20);
      running -= 1;
      return { stdout: '', stderr: '', exitCode: 0 };
    }, { maxConcurrentInvocations: 1 });
    for (let i = 0; i < 4; i += 1) await ssm.sendCommand([A, B], BEACON_DOCUMENTS.verify, {});
    await ssm.settle();
    expect(peak).toBe(1);
    expect(ssm.executions).toHaveLength(8);
    ssm.close();
  });

  it('finds managed instances by id and by tag, with their ping status (an agent that disconnected reports ConnectionLost)', async () => {
    const ssm = new LocalSsm(fleetOf({ instanceId: A, tags: { role: 'beacon' } }, { instanceId: B, pingStatus: 'ConnectionLost' }), ok);
    expect((await ssm.findManagedInstances({ tag: { key: 'role', value: 'beacon' } })).map((i) => i.instanceId)).toEqual([A]);
    expect(await ssm.findManagedInstances({ instanceIds: [B] })).toEqual([{ instanceId: B, computerName: B, platformType: 'Windows', pingStatus: 'ConnectionLost' }]);
    ssm.disconnect(A);
    expect((await ssm.findManagedInstances({ instanceIds: [A] }))[0]!.pingStatus).toBe('ConnectionLost');
    ssm.close();
  });
});
